"""The same runs on every executor: in-process, local worker processes, a Dask LocalCluster.

Planning, early cutoff, failures, write-audit-publish and the catalog records must
not depend on where asset functions run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

EXECUTORS = {
    "inprocess": (),
    "processes": ("--workers", "2"),
    "dask": ("--executor", "dask", "--workers", "2"),
}

DEFS = """
import json
from pathlib import Path

import pandas as pd

from assets_core import asset, source
from assets_core import checks as c

data = source("raw/data", path="data.json")


@asset
def frame(data):
    rows = json.loads(Path(data[0]).read_text())
    return pd.DataFrame(rows)


@asset
def parity(frame):  # the same after a change that keeps the sum's parity
    return int(frame["v"].sum()) % 2


@asset
def after_parity(parity):
    return parity + 10


@asset(checks=[c.not_null("id")])
def clean(frame):
    return frame


@asset
def report(clean):
    return len(clean)


@asset
def boom(parity):
    raise ValueError("boom")


@asset
def after_boom(boom):
    return 1
"""


def _write_data(root, rows) -> None:
    (root / "data.json").write_text(json.dumps(rows))


def _steps(out: dict) -> dict[str, tuple[str, str | None]]:
    return {s["key"]: (s["status"], s["reason"]) for s in out["steps"]}


def _records(catalog_rows, root) -> list[tuple[Any, ...]]:
    return sorted(
        catalog_rows(
            root,
            "select key, status, reason, data_version, input_versions, code_version "
            "from materializations where status != 'skipped' or reason is not null",
        ),
        key=repr,
    )


def _scenario(root, cli_json, args) -> tuple[dict, dict]:
    _write_data(root, [{"id": 1, "v": 1}, {"id": 2, "v": 2}])
    first = cli_json(root, "materialize", "--json", *args, expect=1)
    # v sums 3 -> 5: parity is recomputed but unchanged, so after_parity is cut off;
    # a null id makes clean fail its blocking check
    _write_data(root, [{"id": 1, "v": 3}, {"id": None, "v": 2}])
    second = cli_json(root, "materialize", "--json", *args, expect=1)
    return first, second


@pytest.fixture(scope="module")
def inprocess_records(tmp_path_factory) -> list[tuple[Any, ...]]:
    """The catalog records of the scenario run in-process (once per test process)."""
    import sqlite3
    import subprocess

    from conftest import CLI, cli_env

    root = tmp_path_factory.mktemp("reference")
    (root / "pyproject.toml").write_text('[tool.assets]\nmodules = ["defs"]\n')
    (root / "defs.py").write_text(DEFS)

    def cli(*args: str) -> dict:
        proc = subprocess.run([*CLI, "-p", str(root), *args], env=cli_env(), text=True,
                              capture_output=True, timeout=300)  # fmt: skip
        return json.loads(proc.stdout)

    _scenario(root, lambda _root, *args, expect: cli(*args), ())
    conn = sqlite3.connect(root / ".assets" / "catalog.db")
    try:
        return _records(lambda _root, sql: conn.execute(sql).fetchall(), root)
    finally:
        conn.close()


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_every_executor_plans_cuts_off_audits_and_records_alike(
    executor, make_project, cli_json, catalog_rows, inprocess_records
):
    root = make_project({"defs.py": DEFS}, name=executor)
    first, second = _scenario(root, cli_json, EXECUTORS[executor])

    assert _steps(first) == {
        "frame": ("success", None),
        "parity": ("success", None),
        "after_parity": ("success", None),
        "clean": ("success", None),
        "report": ("success", None),
        "boom": ("failed", None),
        "after_boom": ("skipped", "upstream_failed: boom"),
    }
    assert "ValueError: boom" in {s["key"]: s for s in first["steps"]}["boom"]["error"]
    assert _steps(second) == {
        "frame": ("success", None),
        "parity": ("success", None),
        "after_parity": ("skipped", "unchanged_upstream"),
        "clean": ("quarantined", "not_null(id)"),
        "report": ("skipped", "blocked_by_check: clean (not_null(id))"),
        "boom": ("failed", None),
        "after_boom": ("skipped", "upstream_failed: boom"),
    }
    assert catalog_rows(root, "select count(*) from leases") == [(0,)]
    assert [s for (s,) in catalog_rows(root, "select status from runs")] == ["failed", "failed"]
    # the catalog holds exactly what an in-process run writes
    assert _records(catalog_rows, root) == inprocess_records


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_worker_executors_run_independent_assets_at_the_same_time(
    executor, make_project, cli_json, catalog_rows
):
    defs = """
    import time
    from assets_core import asset

    @asset
    def left():
        time.sleep(1.0)
        return 1

    @asset
    def right():
        time.sleep(1.0)
        return 2

    @asset
    def both(left, right):
        return left + right
    """
    root = make_project({"defs.py": defs})
    cli_json(root, "materialize", "--json", *EXECUTORS[executor])
    spans = dict(
        (k, (s, e))
        for k, s, e in catalog_rows(
            root, "select key, started_at, ended_at from materializations where status='success'"
        )
    )
    assert spans["left"][0] < spans["right"][1] and spans["right"][0] < spans["left"][1]
    assert spans["both"][0] >= max(spans["left"][1], spans["right"][1])
