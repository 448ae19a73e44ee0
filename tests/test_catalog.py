"""The catalog: schema version, runs, records, interrupted runs.

Every test that takes ``catalog`` runs twice: on a SQLite file and on a real
PostgreSQL server (``catalog_url`` in conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from assets_core.catalog import Catalog, CatalogState, Record
from assets_core.catalog import schema as t
from assets_core.errors import AssetsError, CatalogError


@pytest.fixture
def db(catalog_url: str) -> str:
    """The catalog's URL (a SQLite file, or a schema of a PostgreSQL server)."""
    return catalog_url


@pytest.fixture
def catalog(db: str) -> Iterator[Catalog]:
    cat = Catalog.open(db)
    yield cat
    cat.close()


def sql(url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the catalog database behind ``url``, as another client would."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def start(cat: Catalog, planned: int = 2) -> str:
    return cat.start_run(command="materialize", selection="", planned=planned, definitions={})


def success(run_id: str, key: str, dv: str, **kw) -> Record:
    return Record(
        run_id=run_id,
        key=key,
        status="success",
        code_version=kw.pop("code_version", "c1"),
        code_parts={f"defs.{key}": ["defs.py", "d1"]},
        input_versions=kw.pop("input_versions", {}),
        data_version=dv,
        value_ref=f"blob:{dv}",
        inline=kw.pop("inline", b"payload-" + dv.encode()),
        started_at=10.0,
        ended_at=11.5,
        **kw,
    )


def test_a_new_catalog_records_its_schema_version(catalog: Catalog, db: str) -> None:
    assert sql(db, "select version_num from alembic_version") == [(f"{t.SCHEMA_VERSION:04d}",)]


def test_reopening_a_catalog_keeps_its_data(catalog: Catalog, db: str) -> None:
    run = start(catalog)
    catalog.record(success(run, "a", "dv-a"))
    again = Catalog.open(db)
    try:
        assert again.state().assets["a"].data_version == "dv-a"
    finally:
        again.close()


def test_a_catalog_of_another_schema_version_is_refused_with_a_clear_message(
    catalog: Catalog, db: str
) -> None:
    catalog.close()
    sql(db, "update alembic_version set version_num = '0999'")
    with pytest.raises(CatalogError) as ei:
        Catalog.open(db)
    err = ei.value
    assert isinstance(err, AssetsError) and err.exit_code == 2
    assert "has schema version 999, which this assets-core does not know" in str(err)
    assert db.split("?")[0].rsplit("/", 1)[-1] in str(err)
    assert err.hint is not None and err.hint.startswith("upgrade assets-core")


def test_an_invalid_catalog_url_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError, match="invalid catalog URL"):
        Catalog.open("not a url")


def test_an_unknown_database_driver_is_a_catalog_error_with_an_install_hint() -> None:
    with pytest.raises(CatalogError) as ei:
        Catalog.open("nosuchdb://user:secret@host/db")
    assert "secret" not in str(ei.value)
    assert ei.value.hint is not None and "install the database driver" in ei.value.hint


def test_a_new_catalog_has_an_empty_state(catalog: Catalog) -> None:
    assert catalog.state() == CatalogState.empty()
    assert catalog.runs() == []


def test_a_success_publishes_the_version_with_its_provenance(catalog: Catalog) -> None:
    run = start(catalog)
    mid = catalog.record(success(run, "b", "dv-b", input_versions={"a": "dv-a"}, rows=3))
    st = catalog.state().assets["b"]
    assert st.published
    assert st.data_version == "dv-b"
    assert st.code_version == "c1"
    assert st.code_parts == {"defs.b": ["defs.py", "d1"]}
    assert st.input_versions == {"a": "dv-a"}
    assert st.value_ref == "blob:dv-b"
    assert st.last_status == "success"
    assert st.materialization_id == mid
    assert catalog.blob("dv-b") == b"payload-dv-b"
    (row,) = catalog.history("b")
    assert row["status"] == "success"
    assert row["run_id"] == run
    assert row["duration_s"] == pytest.approx(1.5)
    assert row["rows"] == 3
    assert json.loads(row["input_versions"]) == {"a": "dv-a"}


def test_a_failed_attempt_keeps_the_published_version(catalog: Catalog) -> None:
    run = start(catalog)
    catalog.record(success(run, "a", "dv-1"))
    catalog.record(Record(run_id=run, key="a", status="failed", error="ValueError: boom"))
    st = catalog.state().assets["a"]
    assert st.data_version == "dv-1"
    assert st.value_ref == "blob:dv-1"
    assert st.last_status == "failed"
    newest = catalog.history("a")[0]
    assert newest["status"] == "failed"
    assert newest["error"] == "ValueError: boom"


def test_a_failed_first_attempt_publishes_nothing(catalog: Catalog) -> None:
    run = start(catalog)
    catalog.record(Record(run_id=run, key="a", status="failed", error="boom"))
    st = catalog.state().assets["a"]
    assert not st.published
    assert st.last_status == "failed"


def test_a_skip_is_recorded_in_the_run_but_changes_no_state(catalog: Catalog) -> None:
    run = start(catalog)
    catalog.record(success(run, "a", "dv-1"))
    catalog.record(Record(run_id=run, key="a", status="skipped", reason="unchanged_upstream"))
    assert catalog.state().assets["a"].last_status == "success"
    assert [(s["key"], s["status"], s["reason"]) for s in catalog.steps(run)] == [
        ("a", "success", None),
        ("a", "skipped", "unchanged_upstream"),
    ]


def test_equal_values_share_one_inline_blob(catalog: Catalog) -> None:
    run = start(catalog)
    catalog.record(success(run, "a", "same", inline=b"x"))
    catalog.record(success(run, "b", "same", inline=b"x"))
    assert sql(catalog.url, "select count(*) from blobs") == [(1,)]
    assert catalog.blob("same") == b"x"


def test_runs_are_listed_newest_first_with_their_counts(catalog: Catalog) -> None:
    first = start(catalog, planned=1)
    catalog.finish_run(first, "success", {"materialized": 1, "skipped": 0, "failed": 0})
    time.sleep(0.01)  # started_at orders the list
    second = start(catalog, planned=3)
    catalog.finish_run(second, "failed", {"materialized": 1, "skipped": 1, "failed": 1})
    runs = catalog.runs()
    assert [r["id"] for r in runs] == [second, first]
    assert runs[0]["status"] == "failed"
    assert (runs[0]["planned"], runs[0]["materialized"], runs[0]["skipped"]) == (3, 1, 1)
    assert runs[0]["pid"] == os.getpid()
    assert runs[0]["ended_at"] >= runs[0]["started_at"]
    assert catalog.runs(limit=1)[0]["id"] == second
    assert catalog.run(first)["status"] == "success"
    assert catalog.run("no-such-run") is None


def test_the_definitions_of_a_run_are_stored_once_per_distinct_content(
    catalog: Catalog,
) -> None:
    defs = {"a": {"kind": "python", "upstream": []}}
    r1 = catalog.start_run(command="materialize", selection="", planned=0, definitions=defs)
    r2 = catalog.start_run(command="materialize", selection="", planned=0, definitions=defs)
    assert catalog.run(r1)["definitions"] == catalog.run(r2)["definitions"]
    ((body,),) = sql(catalog.url, "select body from definition_sets")
    assert json.loads(body) == defs


def test_a_run_whose_process_died_is_marked_interrupted_when_the_catalog_opens(
    catalog: Catalog, db: str
) -> None:
    run = start(catalog, planned=3)
    catalog.record(success(run, "a", "dv-a"))
    catalog.record(Record(run_id=run, key="b", status="failed", error="boom"))
    sql(db, "update runs set pid = :pid where id = :run", pid=dead_pid(), run=run)
    reopened = Catalog.open(db)
    try:
        r = reopened.run(run)
        assert r["status"] == "interrupted"
        assert r["ended_at"] is not None
        assert (r["materialized"], r["failed"], r["skipped"]) == (1, 1, 0)
        # what it published stays published
        assert reopened.state().assets["a"].data_version == "dv-a"
    finally:
        reopened.close()


def test_a_run_of_a_live_process_is_not_marked_interrupted(catalog: Catalog, db: str) -> None:
    run = start(catalog)
    assert catalog.mark_interrupted() == []
    reopened = Catalog.open(db)
    try:
        assert reopened.run(run)["status"] == "running"
    finally:
        reopened.close()


def test_a_run_on_another_host_is_left_alone(catalog: Catalog, db: str) -> None:
    run = start(catalog)
    sql(db, "update runs set pid = :pid, host = 'some-other-host' where id = :run",
        pid=dead_pid(), run=run)  # fmt: skip
    assert catalog.mark_interrupted() == []
    assert catalog.run(run)["status"] == "running"


def test_records_written_in_a_group_commit_are_visible_to_other_readers_soon(
    catalog: Catalog, db: str
) -> None:
    # The promise of group_commit: records share transactions of at most window_s
    # seconds. A record must not stay invisible while the next (slow) step runs.
    run = start(catalog)
    other = Catalog.open(db, mark_interrupted=False)
    try:
        with catalog.group_commit(window_s=0.01):
            catalog.record(success(run, "a", "dv-a"))
            # the next asset's user code runs here, for as long as it takes; meanwhile
            # another process looks (a generous bound, far beyond the 0.01 s window)
            deadline = time.monotonic() + 10
            seen = None
            while seen is None and time.monotonic() < deadline:
                time.sleep(0.05)
                seen = other.state().assets.get("a")
    finally:
        other.close()
    assert seen is not None and seen.data_version == "dv-a"


def test_value_refs_list_published_and_older_versions_per_key(catalog: Catalog) -> None:
    run = start(catalog)
    catalog.record(success(run, "a", "v1"))
    catalog.record(success(run, "a", "v2"))
    catalog.record(success(run, "b", "v3"))
    published, per_key = catalog.value_refs()
    assert published == {"blob:v2", "blob:v3"}
    assert per_key == {"a": ["blob:v2", "blob:v1"], "b": ["blob:v3"]}
    catalog.delete_blobs(["v1"])
    assert catalog.blob("v1") is None
    assert catalog.blob("v2") is not None


def test_records_of_a_group_are_numbered_in_order_and_the_state_points_at_them(
    catalog: Catalog, db: str
) -> None:
    # On SQLite the plain records of a group commit are held and numbered at the commit
    # (Deferred); a publication settled in between must still find every earlier record
    from dataclasses import replace

    run = start(catalog, planned=5)
    with catalog.group_commit(window_s=60):
        held = catalog.record(success(run, "a", "dv-a"))
        catalog.record(Record(run_id=run, key="b", status="skipped", reason="x"))
        pending = replace(success(run, "p", "dv-p"), status="publishing", inline=None)
        mid_p = catalog.record(pending)
        assert mid_p is not None  # a publication is settled by its id: written at once
        if db.startswith("sqlite"):
            assert held is None  # held for the commit
        catalog.settle_publication(mid_p, pending, published=True)
        catalog.record(replace(success(run, "c", "dv-c"), status="failed"))
        catalog.record(success(run, "d", "dv-d"))
        if db.startswith("sqlite"):  # not written yet, even on the group's connection
            assert catalog._group is not None and len(catalog._group.deferred.records) == 2
    rows = sql(db, "SELECT id, key, status FROM materializations ORDER BY id")
    assert [(r[1], r[2]) for r in rows] == [
        ("a", "success"),
        ("b", "skipped"),
        ("p", "success"),
        ("c", "failed"),
        ("d", "success"),
    ]
    mids = {r[1]: r[0] for r in rows}
    assert mids["p"] == mid_p
    state = catalog.state().assets
    assert state["a"].materialization_id == mids["a"] and state["a"].data_version == "dv-a"
    assert state["p"].materialization_id == mids["p"] and state["p"].data_version == "dv-p"
    assert state["c"].last_status == "failed" and state["c"].materialization_id is None
    assert state["d"].materialization_id == mids["d"]
    assert "b" not in state
    assert catalog.blobs(["dv-a", "dv-d"]) == {"dv-a": b"payload-dv-a", "dv-d": b"payload-dv-d"}
    attempts = dict(sql(db, "SELECT key, last_attempt_id FROM asset_state"))
    assert attempts == {"a": mids["a"], "p": mids["p"], "c": mids["c"], "d": mids["d"]}
    # a later group numbers on from what is there
    with catalog.group_commit(window_s=60):
        catalog.record(success(run, "a", "dv-a2"))
    assert sql(db, "SELECT max(id) FROM materializations") == [(mids["d"] + 1,)]


def test_a_record_that_cannot_be_written_rolls_its_window_back_and_raises(
    catalog: Catalog, db: str
) -> None:
    # held statements fail at the commit, immediate ones at the record: either way the
    # records of that window are not written (as if the process had died), and it raises
    run = start(catalog)
    with pytest.raises(Exception, match="(?i)null"):
        with catalog.group_commit(window_s=60):
            catalog.record(success(run, "a", "dv-a"))
            catalog.record(success(run, None, "dv-b"))  # type: ignore[arg-type]
    assert sql(db, "SELECT count(*) FROM materializations") == [(0,)]
    assert catalog.state().assets == {}
