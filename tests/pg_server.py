"""A throwaway PostgreSQL server for the tests (and the benchmarks).

``PostgresServer`` runs ``initdb`` and ``pg_ctl`` from the PostgreSQL server binaries
(on PATH or under /usr/lib/postgresql/*/bin) in a temporary folder, on a free
loopback port, and removes everything when stopped. As root, the server runs as
the ``postgres`` OS user (PostgreSQL refuses to run as root).

Fixtures (exported through tests/conftest.py):

- ``pg_url`` (session): ``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres``.
  Under pytest-xdist every worker starts its own server, so workers never share one.
- ``pg_database`` (function): the URL of a fresh, empty database for one test.

``new_database(pg_url)`` creates a fresh database from any code and returns its URL;
``new_schema(pg_url)`` is the faster way to isolate tables: a fresh schema in the
server's database, made the connection's only search path by the URL it returns.
Set ``ASSETS_TEST_PG_URL`` to use an existing server instead of starting one.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_START_ATTEMPTS = 3


def pg_bin(name: str) -> str:
    """The path of the PostgreSQL server program ``name`` (initdb, pg_ctl, ...)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise RuntimeError(
        f"PostgreSQL server program {name!r} not found (PATH, /usr/lib/postgresql/*/bin); "
        "install it with `make sysdeps` (apt-get install postgresql) or set ASSETS_TEST_PG_URL"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL server in a temporary folder; a context manager."""

    def __init__(self) -> None:
        self.base: Path | None = None
        self.port: int | None = None
        self._as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        argv = ["runuser", "-u", "postgres", "--", *cmd] if self._as_root else list(cmd)
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    def start(self) -> PostgresServer:
        # not under pytest's tmp folders: those are private to the current user, and the
        # server runs as the postgres user
        self.base = Path(tempfile.mkdtemp(prefix="assets-pg-", dir="/tmp"))
        data = self.base / "data"
        if self._as_root:
            shutil.chown(self.base, "postgres", "postgres")
        done = self._run(
            pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        # durability is not under test here; speed is welcome
        opts = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for _ in range(_START_ATTEMPTS):  # another process may take the free port first
            self.port = free_port()
            done = self._run(
                pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(self.base / "server.log"),
                "-o",
                f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 {opts}",
                "-w",
                "-t",
                "60",
                "start",
            )
            if done.returncode == 0:
                return self
        log = (self.base / "server.log").read_text(errors="replace")
        self.stop()
        raise RuntimeError(f"pg_ctl start failed:\n{done.stdout}\n{done.stderr}\n{log}")

    def stop(self) -> None:
        if self.base is None:
            return
        data = self.base / "data"
        if (data / "postmaster.pid").exists():
            self._run(pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def new_database(server_url: str, prefix: str = "t") -> str:
    """Create an empty database on the server of ``server_url``; return its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    # CREATE DATABASE cannot run in a transaction, and two at once on one template may
    # collide ("source database is being accessed by other users"): retry briefly
    for attempt in range(20):
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}" STRATEGY = FILE_COPY')
            break
        except psycopg.errors.ObjectInUse:
            if attempt == 19:
                raise
            time.sleep(0.1)
    return url.set(database=name).render_as_string(hide_password=False)


def new_schema(server_url: str, prefix: str = "s") -> str:
    """Create an empty schema; the URL returned makes it the only search path."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    url = url.update_query_dict({"options": f"-csearch_path={name}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of a PostgreSQL server for this test session (database ``postgres``)."""
    given = os.environ.get("ASSETS_TEST_PG_URL")
    if given:
        yield given
        return
    with PostgresServer() as server:
        yield server.url


@pytest.fixture
def pg_database(pg_url: str) -> str:
    """The URL of a fresh, empty PostgreSQL database for one test."""
    return new_database(pg_url)
