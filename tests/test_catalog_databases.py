"""The catalog on SQLite and on a real PostgreSQL server (``catalog_url`` runs each test on both)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import func, select, update

from assets_core.catalog import schema as t
from assets_core.catalog.catalog import Catalog, Record, safe_url
from assets_core.errors import CatalogError


@pytest.fixture
def cat(catalog_url: str):
    c = Catalog.open(catalog_url)
    yield c
    c.close()


def _run(cat: Catalog, planned: int = 1, definitions: dict | None = None) -> str:
    return cat.start_run(
        command="materialize",
        selection="",
        planned=planned,
        definitions=definitions if definitions is not None else {"a": {"kind": "python"}},
    )


def _success(run_id: str, key: str, dv: str, **kw) -> Record:
    return Record(
        run_id=run_id,
        key=key,
        status="success",
        reason='[{"kind": "never_materialized", "detail": "x"}]',
        code_version=kw.pop("code_version", "c1"),
        code_parts={key: ["defs.py", "c1"]},
        input_versions=kw.pop("input_versions", {}),
        data_version=dv,
        value_ref=kw.pop("value_ref", f"blob:{dv}"),
        inline=kw.pop("inline", b"payload-" + dv.encode()),
        started_at=10.0,
        ended_at=12.5,
        **kw,
    )


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def test_opening_an_empty_database_creates_every_table(catalog_url):
    cat = Catalog.open(catalog_url)
    with cat.engine.connect() as conn:
        from sqlalchemy import inspect

        names = set(inspect(conn).get_table_names())
    cat.close()
    assert set(t.metadata.tables) <= names


def test_a_success_is_published_with_its_versions_and_timings(cat):
    rid = _run(cat)
    mid = cat.record(_success(rid, "a", "dv1", input_versions={"raw": "s1"}, rows=3))
    st = cat.state().assets["a"]
    assert st.published and st.data_version == "dv1"
    assert st.materialization_id == mid
    assert st.input_versions == {"raw": "s1"}
    assert st.code_parts == {"a": ["defs.py", "c1"]}
    (h,) = cat.history("a")
    assert (h["status"], h["rows"], h["duration_s"]) == ("success", 3, 2.5)
    assert cat.blob("dv1") == b"payload-dv1"


def test_a_failure_keeps_the_published_version_and_records_the_error(cat):
    rid = _run(cat)
    cat.record(_success(rid, "a", "dv1"))
    cat.record(Record(run_id=rid, key="a", status="failed", error="ValueError: boom"))
    st = cat.state().assets["a"]
    assert st.data_version == "dv1"
    assert st.last_status == "failed"
    assert [h["status"] for h in cat.history("a")] == ["failed", "success"]
    assert cat.history("a")[0]["error"] == "ValueError: boom"


def test_a_skip_is_recorded_but_changes_no_state(cat):
    rid = _run(cat)
    cat.record(Record(run_id=rid, key="b", status="skipped", reason="upstream_failed: a"))
    assert "b" not in cat.state().assets
    assert [(s["key"], s["reason"]) for s in cat.steps(rid)] == [("b", "upstream_failed: a")]


def test_the_same_inline_value_is_stored_once(cat):
    rid = _run(cat)
    cat.record(_success(rid, "a", "same"))
    cat.record(_success(rid, "b", "same"))
    with cat.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.blobs)).scalar() == 1
    assert {k: s.data_version for k, s in cat.state().assets.items()} == {"a": "same", "b": "same"}


def test_records_in_a_group_commit_are_all_written(cat):
    rid = _run(cat, planned=50)
    with cat.group_commit(window_s=10.0):
        for i in range(50):
            cat.record(_success(rid, f"k{i:02d}", f"dv{i}"))
    assert len(cat.state().assets) == 50
    assert len(cat.steps(rid)) == 50


def test_definitions_are_stored_once_per_distinct_content(cat):
    a = _run(cat, definitions={"x": {"kind": "python"}})
    b = _run(cat, definitions={"x": {"kind": "python"}})
    c = _run(cat, definitions={"x": {"kind": "sql"}})
    runs = {r["id"]: r for r in cat.runs()}
    assert runs[a]["definitions"] == runs[b]["definitions"] != runs[c]["definitions"]
    with cat.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.definition_sets)).scalar() == 2


def test_finish_run_stores_status_and_counts(cat):
    rid = _run(cat, planned=3)
    cat.finish_run(rid, "failed", {"materialized": 1, "skipped": 1, "failed": 1})
    run = cat.run(rid)
    assert run["status"] == "failed"
    assert (run["materialized"], run["skipped"], run["failed"]) == (1, 1, 1)
    assert run["ended_at"] >= run["started_at"]


def test_runs_of_dead_processes_are_marked_interrupted_with_their_counts(cat):
    dead = _run(cat, planned=2)
    alive = _run(cat, planned=2)
    cat.record(_success(dead, "a", "dv1"))
    with cat.writer.begin() as conn:
        conn.execute(update(t.runs).where(t.runs.c.id == dead).values(pid=_dead_pid()))
    assert cat.mark_interrupted() == [dead]
    assert cat.run(dead)["status"] == "interrupted"
    assert cat.run(dead)["materialized"] == 1
    assert cat.run(alive)["status"] == "running"  # this test's own process is alive


def test_runs_on_other_hosts_are_left_alone(cat):
    rid = _run(cat)
    with cat.writer.begin() as conn:
        conn.execute(
            update(t.runs).where(t.runs.c.id == rid).values(pid=_dead_pid(), host="elsewhere")
        )
    assert cat.mark_interrupted() == []
    assert cat.run(rid)["status"] == "running"


def test_value_refs_list_published_and_older_versions_newest_first(cat):
    rid = _run(cat)
    cat.record(_success(rid, "a", "v1"))
    cat.record(_success(rid, "a", "v2"))
    published, per_key = cat.value_refs()
    assert published == {"blob:v2"}
    assert per_key == {"a": ["blob:v2", "blob:v1"]}
    cat.delete_blobs(["v1"])
    assert cat.blob("v1") is None and cat.blob("v2") is not None


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys
    from assets_core.catalog.catalog import Catalog, Record
    url, me, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cat = Catalog.open(url)
    rid = cat.start_run(command="materialize", selection="", planned=n, definitions={"w": me})
    with cat.group_commit(window_s=0.005):
        for i in range(n):
            cat.record(Record(run_id=rid, key=f"{me}/k{i}", status="success",
                              data_version=f"{me}-{i}", value_ref=f"blob:{me}-{i}",
                              inline=b"x", started_at=0.0, ended_at=1.0))
    cat.finish_run(rid, "success", {"materialized": n})
    """
)


def test_processes_creating_and_writing_one_catalog_at_once_lose_nothing(catalog_url):
    n, writers = 40, 4
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WRITER, catalog_url, f"w{i}", str(n)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(writers)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * writers, errors
    cat = Catalog.open(catalog_url)
    assert len(cat.state().assets) == n * writers
    assert sorted(r["status"] for r in cat.runs()) == ["success"] * writers
    with cat.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.materializations)).scalar() == (
            n * writers
        )
    cat.close()


def test_safe_url_masks_the_password():
    shown = safe_url("postgresql+psycopg://alice:s3cret-pw@db.example:5432/assets")
    assert "s3cret-pw" not in shown
    assert "alice" in shown and "db.example" in shown


def test_an_unreachable_catalog_is_an_error_without_the_password(pg_url):
    from pg_server import free_port
    from sqlalchemy.engine import make_url

    url = make_url(pg_url).set(password="s3cret-pw", port=free_port())
    with pytest.raises(CatalogError) as err:
        Catalog.open(url.render_as_string(hide_password=False))
    assert "s3cret-pw" not in str(err.value)
    assert "cannot open catalog" in str(err.value)
