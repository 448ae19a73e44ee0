"""Reading the catalog's state without opening it (catalog/snapshot.py).

A plan, and a materialize with nothing to do, read the state with the sqlite3 module
alone, unless opening the catalog would change something: then they open it, and it
settles what a dead run left.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_env

from assets_core.catalog.snapshot import read_state
from assets_core.catalog.state import PLAN_COLUMNS, CatalogState
from assets_core.executor import execute, make_plan, open_catalog, open_store, peek_state

DEFS = """
from assets_core import asset

@asset
def a():
    return 1

@asset
def b(a):
    return a + 1
"""

# runs the CLI in this process, then says whether SQLAlchemy was imported
_SAYS_IMPORTED = """
import sys
from assets_core.cli import main
sys.argv = ["assets", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
sys.stderr.write("sqlalchemy imported: %s" % ("sqlalchemy" in sys.modules))
sys.stderr.write(" rich imported: %s" % ("rich" in sys.modules))
"""


def _url(root: Path) -> str:
    return f"sqlite:///{root / '.assets' / 'catalog.db'}"


def _update(root: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(root / ".assets" / "catalog.db")
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


@pytest.fixture
def materialized(make_project, run_cli) -> Path:
    root = make_project({"defs.py": DEFS})
    assert run_cli(root, "materialize").returncode == 0
    return root


def test_the_peeked_state_is_what_a_plan_reads_of_the_opened_catalogs(materialized, load_project):
    project = load_project(materialized)
    peeked = peek_state(project)
    catalog = open_catalog(project)
    try:
        full = catalog.state()
    finally:
        catalog.close()
    assert peeked is not None and full.complete and not peeked.complete
    assert set(peeked.assets) == {"a", "b"} and peeked.sources == full.sources
    compared = len(PLAN_COLUMNS)
    for key, st in peeked.assets.items():
        assert st[:compared] == full.assets[key][:compared]
        assert st.published and st.code_version == project.code_versions.texts[key]
        assert set(st[compared:]) == {None}  # what only a run reads is left out
        assert full.assets[key].value_ref is not None


def test_the_peek_reads_the_code_parts_of_the_assets_whose_code_changed(materialized, load_project):
    (materialized / "defs.py").write_text(DEFS.replace("return a + 1", "return a + 2"))
    project = load_project(materialized)
    peeked = peek_state(project)
    catalog = open_catalog(project)
    try:
        full = catalog.state()
        from_full = make_plan(project, catalog, state=full)
    finally:
        catalog.close()
    assert peeked is not None
    assert peeked.assets["b"].code_parts_json == full.assets["b"].code_parts_json is not None
    assert peeked.assets["a"].code_parts_json is None  # its code is as recorded
    from_peek = make_plan(project, None, state=peeked)
    assert from_peek.as_dict() == from_full.as_dict()
    (reason,) = from_peek.steps[0].reasons
    assert (from_peek.keys, reason.kind) == (["b"], "code_changed")
    assert "defs.b" in reason.detail


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE alembic_version SET version_num = '0001'",
        "UPDATE materializations SET status = 'publishing' WHERE key = 'b'",
        "UPDATE runs SET status = 'running', pid = ?, host = ?",
    ],
    ids=["other-schema-version", "unsettled-publication", "run-of-a-dead-process"],
)
def test_a_catalog_that_opening_would_change_is_not_peeked(materialized, change):
    params = (_dead_pid(), socket.gethostname()) if "?" in change else ()
    _update(materialized, change, *params)
    assert read_state(_url(materialized), {}) is None


def test_a_run_still_going_elsewhere_does_not_stop_the_peek(materialized):
    # this test's own process stands for a live run
    _update(
        materialized,
        "UPDATE runs SET status = 'running', pid = ?, host = ?, started_at = ?",
        os.getpid(),
        socket.gethostname(),
        time.time(),
    )
    state = read_state(_url(materialized), {})
    assert state is not None and set(state.assets) == {"a", "b"}


def test_only_a_sqlite_file_is_peeked_and_one_not_created_yet_is_empty(tmp_path):
    missing = tmp_path / "none" / "catalog.db"
    assert read_state(f"sqlite:///{missing}", {}) == CatalogState.empty()
    assert not missing.parent.exists()  # looking did not create it
    missing.mkdir(parents=True)  # not a file
    assert read_state(f"sqlite:///{missing}", {}) is None
    assert read_state("sqlite://", {}) is None
    assert read_state("postgresql+psycopg://nobody@127.0.0.1:1/none", {}) is None


def test_plan_and_materialize_with_nothing_to_do_load_no_sqlalchemy_and_json_no_rich(materialized):
    for args in (
        ["plan", "--json"],
        ["plan"],
        ["materialize"],
        ["materialize", "--json"],
        ["materialize", "--dry-run"],
    ):
        cmd = [sys.executable, "-c", _SAYS_IMPORTED, "-p", str(materialized), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(), timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "sqlalchemy imported: False" in proc.stderr, (args, proc.stderr)
        json_out = "--json" in args  # output for machines does not load the terminal's
        assert f"rich imported: {not json_out}" in proc.stderr, (args, proc.stderr)
        assert proc.stdout.strip(), args


def test_the_next_plan_still_marks_a_dead_run_interrupted(materialized, cli_json, catalog_rows):
    _update(
        materialized,
        "UPDATE runs SET status = 'running', pid = ?, host = ?",
        _dead_pid(),
        socket.gethostname(),
    )
    assert cli_json(materialized, "plan", "--json") == {"steps": [], "fresh": ["a", "b"]}
    assert catalog_rows(materialized, "SELECT status FROM runs") == [("interrupted",)]


def test_a_materialize_after_a_peek_runs_what_is_stale(materialized, cli_json, write_file):
    write_file(materialized / "defs.py", DEFS.replace("return a + 1", "return a + 2"))
    out = cli_json(materialized, "materialize", "--json")
    assert [(s["key"], s["status"]) for s in out["steps"]] == [("b", "success")]
    assert cli_json(materialized, "plan", "--json")["steps"] == []


def test_a_run_given_the_peeked_state_reads_the_whole_state_itself(materialized, load_project):
    (materialized / "defs.py").write_text(DEFS.replace("return a + 1", "return a * 10"))
    project = load_project(materialized)
    peeked = peek_state(project)
    assert peeked is not None and peeked.assets["a"].value_ref is None
    the_plan = make_plan(project, None, state=peeked)
    catalog = open_catalog(project)
    try:
        result = execute(project, the_plan, catalog, state=peeked)
        # b read a's published value, which only the whole state locates
        assert result.status == "success" and result.count("success") == 1
        assert open_store(project, catalog).load("b", catalog.state().assets["b"].value_ref) == 10
    finally:
        catalog.close()


def test_a_plan_reads_the_code_parts_only_of_assets_whose_code_changed(materialized, load_project):
    project = load_project(materialized)  # served from the cache the run wrote
    assert "2 without their parts" in repr(project.code_versions)
    forced = make_plan(project, None, force=True, state=peek_state(project))
    assert [s.reasons[0].kind for s in forced.steps] == ["forced", "forced"]
    assert "2 without their parts" in repr(project.code_versions)  # none was needed

    (materialized / "defs.py").write_text(DEFS.replace("return a + 1", "return a + 3"))
    edited = load_project(materialized)
    changed = make_plan(edited, None, state=peek_state(edited))
    assert [r.kind for r in changed.steps[0].reasons] == ["code_changed"]
    assert "0 without their parts" in repr(edited.code_versions)
