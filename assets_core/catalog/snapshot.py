"""The catalog's state read without SQLAlchemy, when nothing in it needs settling.

Every ``assets plan`` (and every ``materialize`` that finds nothing stale) reads the
state of every asset once, and importing SQLAlchemy costs more than that whole plan.
So on a SQLite file catalog (the default) the read is made with the ``sqlite3``
module alone, in one snapshot that also checks what opening the catalog would do:
the schema must be this version's, no run of a dead process may wait to be marked
``interrupted``, and no table publication (by a run or by a release) may wait to be
settled. When any of that does not hold (or the catalog is another database),
:func:`read_state` returns None and the caller opens the catalog with
:meth:`Catalog.open`, which settles it.
"""

from __future__ import annotations

import itertools
import operator
import os
import socket
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assets_core import collector
from assets_core.catalog.state import (
    PLAN_COLUMNS,
    PUBLISHING,
    RELEASING,
    SCHEMA_VERSION,
    SOURCES_SQL,
    STATE_COLUMNS,
    CatalogState,
    asset_states,
)

VERSION_SQL = "SELECT version_num FROM alembic_version"
# a table being published (by a run, or by a release) outside the catalog
ANY_PUBLISHING_SQL = (
    f"SELECT 1 FROM materializations WHERE status IN ('{PUBLISHING}', '{RELEASING}') LIMIT 1"
)
MMAP_SQL = f"PRAGMA mmap_size = {256 << 20}"
RUNNING_SQL = "SELECT id, pid, host, started_at FROM runs WHERE status = 'running'"
# each column read costs the same for every row: a plan reads those it compares
PLAN_SQL = f"SELECT {', '.join(PLAN_COLUMNS)} FROM asset_state"
_NOT_READ = (None,) * (len(STATE_COLUMNS) - len(PLAN_COLUMNS))
CODE_PARTS_SQL = "SELECT key, code_parts FROM asset_state WHERE key IN ({})"
_MAX_PARAMS = 500  # keys per IN (...) list


def sqlite_file(url: str) -> str | None:
    """The database path of a plain SQLite file URL (``sqlite:///path``), else None."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not any(c in url for c in "?%#"):
        return url[len(prefix) :]
    return None


def read_state(url: str, code_versions: Mapping[str, str]) -> CatalogState | None:
    """What a plan reads of the state of the catalog at ``url`` (see
    :func:`fetch_plan_state`; ``code_versions``: the current
    code version of each asset), if it can be read without opening the catalog.

    None when the catalog is not a SQLite file at this schema version, or when opening
    it would write (an interrupted run to mark, a publication to settle). A file not
    created yet has the empty state (a new catalog's); looking does not create it.
    """
    path = sqlite_file(url)
    if not path or path == ":memory:":
        return None
    if not os.path.lexists(path):  # not created yet: the state of a new catalog
        return CatalogState.empty()
    if not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        cur = conn.cursor()
        # pages read from the file's mapping: no copy into a cache allocated for this read
        cur.execute(MMAP_SQL)
        cur.execute("BEGIN")  # one snapshot: what is checked is what is read
        row = cur.execute(VERSION_SQL).fetchone()
        if row is None or not str(row[0]).isdigit() or int(row[0]) != SCHEMA_VERSION:
            return None
        if cur.execute(ANY_PUBLISHING_SQL).fetchone() is not None:
            return None
        for _run, pid, host, started in cur.execute(RUNNING_SQL).fetchall():
            if died_here(host, pid, started):
                return None
        with collector.paused():  # many rows, none garbage
            state = fetch_plan_state(cur, code_versions)
        cur.execute("COMMIT")
        return state
    except sqlite3.Error:  # an older or damaged catalog: Catalog.open explains it
        return None
    finally:
        conn.close()


def fetch_plan_state(cur: Any, code_versions: Mapping[str, str]) -> CatalogState:
    """What a plan reads of the state (not complete: see :attr:`CatalogState.complete`).

    ``code_versions`` holds the current code version of each asset: the recorded code
    parts (which a plan names when the code changed) are read only for the published
    assets whose code version is another. The reads share one snapshot when the caller
    has begun a transaction.
    """
    cur.execute(PLAN_SQL)
    rows = cur.fetchall()
    cur.execute(SOURCES_SQL)
    sources = cur.fetchall()
    # each row padded with what was not read: made in C, no call per row
    assets = asset_states(map(tuple.__add__, rows, itertools.repeat(_NOT_READ)))
    # (key, recorded code version) pairs that are not current, compared in C; then the
    # few left that name a published asset of the project
    other = dict(map(operator.itemgetter(0, 2), rows)).items() - code_versions.items()
    changed = [k for k, _ in other if k in code_versions and assets[k].data_version is not None]
    for i in range(0, len(changed), _MAX_PARAMS):
        keys = changed[i : i + _MAX_PARAMS]
        cur.execute(CODE_PARTS_SQL.format(", ".join("?" * len(keys))), keys)
        for key, parts in cur.fetchall():
            assets[key] = assets[key]._replace(code_parts_json=parts)
    return CatalogState(assets=assets, sources=dict(sources), complete=False)


def died_here(host: str | None, pid: int | None, since: float) -> bool:
    """Did the process ``pid`` of ``host``, started at ``since``, end? Known only on
    ``host`` itself: a process of another host is taken as alive."""
    return host == socket.gethostname() and not process_alive(pid, since)


def process_alive(pid: int | None, since: float) -> bool:
    """Is ``pid`` alive and the same process that started at ``since``?"""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = _process_start_time(pid)
    return started is None or started <= since + 2.0


def _process_start_time(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        state = stat.rsplit(")", 1)[1].split()[0]
        if state == "Z":  # a zombie has finished
            return float("inf")
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
