"""More of the catalog on SQLite and PostgreSQL: concurrent writers, group commit, passwords."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import start_run
from sqlalchemy import func, select

from assets_core.catalog import schema as t
from assets_core.catalog.catalog import Catalog, Record, safe_url
from assets_core.errors import CatalogError


def _run(cat: Catalog, planned: int = 1, definitions: dict | None = None) -> str:
    return start_run(
        cat, planned, definitions if definitions is not None else {"a": {"kind": "python"}}
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


def test_records_in_a_group_commit_are_all_written(cat):
    rid = _run(cat, planned=50)
    with cat.group_commit(window_s=10.0):
        for i in range(50):
            cat.record(_success(rid, f"k{i:02d}", f"dv{i}"))
    assert len(cat.state().assets) == 50
    assert len(cat.steps(rid)) == 50


def test_finish_run_stores_status_and_counts(cat):
    rid = _run(cat, planned=3)
    cat.finish_run(rid, "failed", {"materialized": 1, "skipped": 1, "failed": 1})
    run = cat.run(rid)
    assert run["status"] == "failed"
    assert (run["materialized"], run["skipped"], run["failed"]) == (1, 1, 1)
    assert run["ended_at"] >= run["started_at"]


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


def test_openlineage_urls_are_shown_without_their_password():
    from assets_core.openlineage import shown_url

    shown = shown_url("http://bob:s3cret-pw@lineage.example:5000/api/v1/lineage")
    assert "s3cret-pw" not in shown
    assert shown == "http://bob:***@lineage.example:5000/api/v1/lineage"
    assert shown_url("file:///var/events.jsonl") == "file:///var/events.jsonl"
