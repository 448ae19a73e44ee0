"""Shared fixtures: throwaway projects on disk, the real ``assets`` CLI in a subprocess,
and in-process project loading that cleans up ``sys.modules`` and ``sys.path``.

Every fixture works inside the test's own ``tmp_path``, so tests run in any order
and in parallel (``pytest -n 2``).
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pg_server import new_schema, pg_database, pg_url  # noqa: F401  (PostgreSQL fixtures)

CLI = (sys.executable, "-m", "assets_core.cli")
TIMEOUT_S = 120
# a Python asset raw/spend (a DataFrame) for SQL assets to read: column lineage tests
RAW_SPEND_DEFS = """
import pandas as pd
from assets_core import asset

@asset(key_prefix="raw")
def spend():
    return pd.DataFrame({"day": [1, 2], "spend": [3.0, 4.0], "clicks": [5, 6]})
"""

# Loads published values in a fresh process, the way a reader would.
_LOAD_PUBLISHED = """
import base64, pickle, sys
from assets_core.executor import open_catalog, open_store
from assets_core.project import Project

project = Project.load(sys.argv[1])
catalog = open_catalog(project)
store = open_store(project, catalog)
state = catalog.state().assets
values = {key: store.load(key, state[key].value_ref) for key in sys.argv[2:]}
sys.stdout.write(base64.b64encode(pickle.dumps(values)).decode())
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def rows_at(url: str, statement: str) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` on the catalog at ``url`` (any dialect)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(statement))]
    finally:
        engine.dispose()


@pytest.fixture
def cat(catalog_url: str) -> Iterator[Any]:
    """The catalog at ``catalog_url`` (SQLite and PostgreSQL), opened for the test."""
    from assets_core.catalog.catalog import Catalog

    c = Catalog.open(catalog_url)
    yield c
    c.close()


def warehouse_rows(project: Path, sql: str) -> list[Any]:
    """The rows of ``sql`` in a project's default DuckDB warehouse, opened read-only."""
    import duckdb

    conn = duckdb.connect(str(project / ".assets" / "warehouse.duckdb"), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def start_run(cat: Any, planned: int = 1, definitions: dict[str, Any] | None = None) -> str:
    """A run recorded in ``cat``, as ``assets materialize`` starts one."""
    return cat.start_run(
        command="materialize", selection="", planned=planned, definitions=definitions or {}
    )


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a CLI subprocess: no inherited catalog URL, no bytecode files."""
    env = {k: v for k, v in os.environ.items() if k != "ASSETS_CATALOG_URL"}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1", NO_COLOR="1", TERM="dumb")
    env.update(extra or {})
    return env


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """``make_project(files, modules=None, extra_toml="", name="proj") -> project folder``.

    ``files`` maps paths relative to the project folder to their (dedented) text.
    ``modules`` defaults to every top-level ``.py`` file of ``files``.
    """

    def make(
        files: Mapping[str, str],
        *,
        modules: Sequence[str] | None = None,
        extra_toml: str = "",
        name: str = "proj",
    ) -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        if modules is None:
            modules = sorted(n[:-3] for n in files if n.endswith(".py") and "/" not in n)
        listed = ", ".join(f'"{m}"' for m in modules)
        (root / "pyproject.toml").write_text(
            f"[tool.assets]\nmodules = [{listed}]\n{textwrap.dedent(extra_toml)}",
            encoding="utf-8",
        )
        for rel, text in files.items():
            _write(root / rel, text)
        return root

    return make


@pytest.fixture
def write_file() -> Callable[[Path, str], None]:
    """``write_file(path, text)``: write dedented ``text``, creating folders."""
    return _write


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_cli(project, *args, cwd=None, env=None)``: the real CLI in a subprocess.

    ``project`` is passed as ``-p`` unless it is ``None``. The default working folder
    is ``tmp_path`` (not the project), as for a user running ``assets -p DIR``.
    """

    def run(
        project: Path | None,
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [*CLI, *(("-p", str(project)) if project is not None else ()), *args]
        return subprocess.run(
            cmd,
            cwd=cwd or tmp_path,
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )

    return run


@pytest.fixture
def start_cli(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``start_cli(project, *args)``: the CLI started in the background (stdout+stderr piped).

    Any process still running when the test ends is killed.
    """
    started: list[subprocess.Popen[str]] = []

    def start(project: Path, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [*CLI, "-p", str(project), *args],
            cwd=tmp_path,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def cli_json(run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> Callable[..., Any]:
    """``cli_json(project, *args, expect=0)``: run the CLI, check its exit code, parse stdout."""

    def run(project: Path | None, *args: str, expect: int = 0, **kw: Any) -> Any:
        proc = run_cli(project, *args, **kw)
        assert proc.returncode == expect, (
            f"assets {' '.join(args)} exited {proc.returncode}, expected {expect}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
        return json.loads(proc.stdout)

    return run


@pytest.fixture
def published_values(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``published_values(project, *keys)``: {key: published value}, loaded in a new process."""

    def load(project: Path, *keys: str) -> dict[str, Any]:
        proc = subprocess.run(
            [sys.executable, "-c", _LOAD_PUBLISHED, str(project), *keys],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        assert proc.returncode == 0, proc.stderr
        return pickle.loads(base64.b64decode(proc.stdout))

    return load


@pytest.fixture
def catalog_rows() -> Callable[[Path, str], list[tuple[Any, ...]]]:
    """``catalog_rows(project, sql)``: rows of a read-only query on the project's SQLite catalog."""

    def query(project: Path, sql: str) -> list[tuple[Any, ...]]:
        db = project / ".assets" / "catalog.db"
        if not db.exists():
            return []
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            conn.close()

    return query


@pytest.fixture
def load_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``load_project(folder)``: ``Project.load`` in this process, undone after the test.

    Each call first forgets the modules an earlier call imported from ``tmp_path`` (so
    edited files are read again); at the end those modules and the ``sys.path`` entries
    the loads added are removed.
    """
    from assets_core.project import Project

    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    path_before = list(sys.path)
    root = str(tmp_path.resolve())

    def forget() -> None:
        for name, mod in list(sys.modules.items()):
            file = getattr(mod, "__file__", None) or ""
            paths = list(getattr(mod, "__path__", []) or [])
            if file.startswith(root) or any(str(p).startswith(root) for p in paths):
                del sys.modules[name]

    def load(folder: Path) -> Any:
        forget()
        return Project.load(folder)

    yield load
    forget()
    sys.path[:] = [p for p in sys.path if p in path_before]


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty catalog URL: a SQLite file, then a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return new_schema(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def dask_address() -> Iterator[str]:
    """A Dask ``LocalCluster`` (2 worker processes, 1 thread each), one per test process.

    Runs reach it with ``--dask-address``, so that each does not start a cluster of its
    own. Its workers load each test's project from that project's folder.
    """
    from assets_core.executors.dask_cluster import local_cluster

    cluster = local_cluster(2)  # the kind of cluster ``--executor dask`` starts
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(params=["inprocess", "processes", "dask"])
def executor(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """The ``assets materialize`` options of each executor, for tests that must hold on all."""
    if request.param == "inprocess":
        return ()
    if request.param == "processes":
        return ("--workers", "2")
    return ("--executor", "dask", "--dask-address", request.getfixturevalue("dask_address"))
