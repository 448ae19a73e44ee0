"""SQL assets on the embedded DuckDB engine: materialize, stale or not, WAP on tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import cli_env, warehouse_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from assets_core.executor import execute, make_plan, open_catalog

DEFS = """
import pandas as pd
import polars as pl
from assets_core import asset, source

orders_csv = source("raw/orders", path="data/orders.csv")

@asset(key_prefix="staging", ins={"files": "raw/orders"})
def orders(files) -> pd.DataFrame:
    return pd.concat(pd.read_csv(p) for p in files).sort_values("id")

@asset(key_prefix="staging")
def fx() -> pl.DataFrame:
    return pl.DataFrame({"currency": ["EUR", "USD"], "usd": [1.1, 1.0]})

@asset(key_prefix="bi")
def report(revenue) -> dict:
    return {"days": len(revenue), "total": float(revenue["revenue"].sum())}
"""
ORDERS = """id,day,amount,currency
1,2024-01-01,5,EUR
2,2024-01-01,15,USD
3,2024-01-02,25,EUR
4,2024-01-03,40,USD
"""
REVENUE = """
-- asset: tags=[finance]
-- Revenue per day in US dollars
SELECT o.day, ROUND(SUM(o.amount * f.usd), 2) AS revenue, COUNT(*) AS orders
FROM staging.orders o
JOIN staging.fx f ON f.currency = o.currency
WHERE o.amount > 10
GROUP BY o.day
"""
TOML = 'sql_paths = ["models"]\n'


@pytest.fixture
def bi(make_project):
    return make_project(
        {
            "defs.py": DEFS,
            "data/orders.csv": ORDERS,
            "models/bi/revenue.sql": REVENUE,
            "models/bi/big_days.sql": "SELECT day FROM bi.revenue WHERE revenue > 20",
        },
        extra_toml=TOML,
    )


@pytest.fixture
def run(load_project):
    """``run(root, selection=None, force=False)``: plan and materialize in this process."""

    def go(root, selection=None, force=False):
        project = load_project(root)
        catalog = open_catalog(project)
        try:
            p = make_plan(project, catalog, selection, force=force)
            if not p.steps:
                return {}
            result = execute(project, p, catalog)
            return {r.key: r for r in result.results}
        finally:
            catalog.close()

    return go


def test_sql_reads_python_frames_and_python_reads_sql_tables(bi, run):
    results = run(bi)
    assert {k: r.status for k, r in results.items()} == {
        "staging/orders": "success",
        "staging/fx": "success",
        "bi/revenue": "success",
        "bi/big_days": "success",
        "bi/report": "success",
    }
    assert sorted(warehouse_rows(bi, "SELECT * FROM bi.revenue")) == [
        ("2024-01-01", 15.0, 1),
        ("2024-01-02", 27.5, 1),
        ("2024-01-03", 40.0, 1),
    ]
    assert warehouse_rows(bi, "SELECT * FROM bi.big_days ORDER BY day") == [
        ("2024-01-02",),
        ("2024-01-03",),
    ]
    # Python assets reach SQL as views over their parquet files, named like their keys
    kinds = dict(warehouse_rows(bi, "SELECT table_name, table_type FROM information_schema.tables"))
    assert kinds["orders"] == "VIEW" and kinds["revenue"] == "BASE TABLE"
    assert "revenue__staging" not in kinds


def test_second_run_and_comment_only_edits_rebuild_nothing(bi, run, write_file):
    run(bi)
    assert run(bi) == {}
    write_file(
        bi / "models/bi/revenue.sql",
        REVENUE.replace("-- Revenue per day in US dollars", "-- reviewed by finance, 2024")
        .replace("SELECT o.day", "select   o.day")
        .replace("GROUP BY o.day", "group by\n    O.DAY  -- one row per day"),
    )
    assert run(bi) == {}


def test_a_semantic_edit_rebuilds_the_asset_and_its_downstream(bi, run, write_file, load_project):
    run(bi)
    write_file(bi / "models/bi/revenue.sql", REVENUE.replace("> 10", "> 20"))
    project = load_project(bi)
    catalog = open_catalog(project)
    p = make_plan(project, catalog)
    catalog.close()
    reasons = {s.key: [r.kind for r in s.reasons] for s in p.steps}
    assert reasons == {
        "bi/revenue": ["code_changed"],
        "bi/big_days": ["upstream_will_change"],
        "bi/report": ["upstream_will_change"],
    }
    assert "bi/revenue (SQL) changed (models/bi/revenue.sql)" in p.steps[0].reasons[0].detail
    results = run(bi)
    assert {k for k, r in results.items() if r.status == "success"} == {
        "bi/revenue",
        "bi/big_days",
        "bi/report",
    }
    assert sorted(warehouse_rows(bi, "SELECT day FROM bi.revenue")) == [
        ("2024-01-02",),
        ("2024-01-03",),
    ]


def test_same_rows_in_another_order_keep_the_data_version_and_cut_off_downstream(
    bi, run, write_file
):
    first = run(bi)
    # a different query with the same result, in another row order
    write_file(
        bi / "models/bi/revenue.sql",
        REVENUE.replace("> 10", ">= 11") + "ORDER BY o.day DESC\n",
    )
    second = run(bi)
    assert second["bi/revenue"].status == "success"
    assert second["bi/revenue"].data_version == first["bi/revenue"].data_version
    assert second["bi/revenue"].changed is False
    assert second["bi/big_days"].status == "skipped"
    assert second["bi/big_days"].reason == "unchanged_upstream"


def test_a_failing_blocking_check_keeps_the_published_table_and_quarantines_staging(
    bi, run, write_file, run_cli
):
    run(bi)
    published = sorted(warehouse_rows(bi, "SELECT * FROM bi.revenue"))
    write_file(
        bi / "models/bi/revenue.sql",
        "-- asset: checks=[not_null(day), unique(day), row_count(min=1)]\n"
        + REVENUE
        + "UNION ALL SELECT NULL, 1.0, 1\n",
    )
    results = run(bi)
    assert results["bi/revenue"].status == "quarantined"
    assert results["bi/revenue"].reason == "not_null(day)"
    assert results["bi/big_days"].status == "skipped"
    assert results["bi/big_days"].reason.startswith("blocked_by_check: bi/revenue")
    assert sorted(warehouse_rows(bi, "SELECT * FROM bi.revenue")) == published
    staging = warehouse_rows(bi, "SELECT * FROM bi.revenue__staging WHERE day IS NULL")
    assert staging == [(None, 1.0, 1)]
    outcome = {o.check.name: o for o in results["bi/revenue"].checks}
    assert outcome["not_null(day)"].result.failing_rows == 1
    assert outcome["not_null(day)"].result.sample == [{"day": None, "revenue": 1.0, "orders": 1}]
    assert outcome["not_null(day)"].result.metadata["in"] == "sql"
    assert outcome["unique(day)"].passed and outcome["row_count(min=1)"].passed

    proc = run_cli(bi, "quarantine", "release", "bi/revenue", "--reason", "a test row")
    assert proc.returncode == 0, proc.stderr
    assert (None, 1.0, 1) in warehouse_rows(bi, "SELECT * FROM bi.revenue")
    tables = {t for (t,) in warehouse_rows(bi, "SELECT table_name FROM information_schema.tables")}
    assert "revenue__staging" not in tables


def test_discarding_a_quarantined_table_drops_its_staging_table(bi, run, write_file, run_cli):
    run(bi)
    write_file(
        bi / "models/bi/revenue.sql",
        "-- asset: checks=[row_count(max=1)]\n" + REVENUE.replace("> 10", "> 0"),
    )
    assert run(bi)["bi/revenue"].status == "quarantined"
    assert warehouse_rows(bi, "SELECT sum(orders) FROM bi.revenue__staging") == [(4,)]
    proc = run_cli(bi, "quarantine", "discard", "bi/revenue")
    assert proc.returncode == 0, proc.stderr
    tables = {t for (t,) in warehouse_rows(bi, "SELECT table_name FROM information_schema.tables")}
    assert "revenue__staging" not in tables and "revenue" in tables


def test_a_warning_check_publishes_and_records_the_failure(bi, run, write_file):
    run(bi)
    write_file(
        bi / "models/bi/revenue.sql",
        "-- asset: checks=[accepted_values(day, ['2024-01-01'], blocking=False)]\n"
        + REVENUE.replace("> 10", "> 0"),
    )
    results = run(bi)
    assert results["bi/revenue"].status == "success"
    (outcome,) = results["bi/revenue"].checks
    assert not outcome.passed and not outcome.blocks
    assert outcome.result.failing_rows == 2
    assert warehouse_rows(bi, "SELECT count(*) FROM bi.revenue") == [(3,)]


def test_a_query_that_fails_in_the_engine_names_the_asset_and_the_database_error(bi, run_cli):
    (bi / "models/bi/broken.sql").write_text("SELECT no_such_column FROM staging.orders\n")
    proc = run_cli(bi, "materialize", "--json")
    assert proc.returncode == 1
    steps = {s["key"]: s for s in json.loads(proc.stdout)["steps"]}
    error = steps["bi/broken"]["error"]
    assert "asset bi/broken failed on engine duckdb while running its query" in error
    assert 'Referenced column "no_such_column" not found' in error
    assert steps["bi/revenue"]["status"] == "success"  # independent branches still run


def test_a_query_in_another_dialect_is_transpiled_for_duckdb(bi, run, write_file):
    write_file(
        bi / "defs2.py",
        """
        from assets_core import sql_asset

        flags = sql_asset(
            "bi/flags",
            "SELECT day, IFF(revenue > 20, 'high', 'low') AS level, "
            "DATEADD(day, 1, TO_DATE(day)) AS next_day FROM bi.revenue",
            dialect="snowflake",
        )
        """,
    )
    toml = bi / "pyproject.toml"
    toml.write_text(toml.read_text().replace('modules = ["defs"]', 'modules = ["defs", "defs2"]'))
    results = run(bi)
    assert results["bi/flags"].status == "success", results["bi/flags"].error
    rows = sorted(
        warehouse_rows(bi, "SELECT day, level, CAST(next_day::DATE AS VARCHAR) FROM bi.flags")
    )
    assert rows[0] == ("2024-01-01", "low", "2024-01-02")
    assert rows[2] == ("2024-01-03", "high", "2024-01-04")


def test_a_python_asset_with_io_duckdb_is_stored_as_a_table(bi, run, write_file):
    write_file(
        bi / "defs2.py",
        """
        import pandas as pd
        from assets_core import asset

        @asset(key_prefix="ref", io="duckdb")
        def calendar() -> pd.DataFrame:
            return pd.DataFrame({"day": ["2024-01-01", "2024-01-02"], "holiday": [True, False]})

        @asset(key_prefix="ref")
        def holidays(calendar: pd.DataFrame) -> int:
            return int(calendar["holiday"].sum())
        """,
    )
    write_file(
        bi / "models/bi/open_days.sql",
        "SELECT day FROM ref.calendar WHERE NOT holiday",
    )
    toml = bi / "pyproject.toml"
    toml.write_text(toml.read_text().replace('modules = ["defs"]', 'modules = ["defs", "defs2"]'))
    results = run(bi)
    assert results["ref/calendar"].status == "success"
    assert results["ref/holidays"].status == "success"
    kinds = dict(warehouse_rows(bi, "SELECT table_name, table_type FROM information_schema.tables"))
    assert kinds["calendar"] == "BASE TABLE"
    assert warehouse_rows(bi, "SELECT * FROM bi.open_days") == [("2024-01-02",)]


def test_sql_reading_a_pickled_python_value_fails_with_the_reason(make_project, run):
    root = make_project(
        {
            "defs.py": """
                from assets_core import asset

                @asset
                def settings() -> dict:
                    return {"a": 1}
            """,
            "models/uses.sql": "SELECT * FROM settings",
        },
        extra_toml=TOML,
    )
    results = run(root)
    assert results["uses"].status == "failed"
    assert "whose value is a pickled Python object, not a DataFrame" in results["uses"].error


def _steps_in_order(root, load_project):
    project = load_project(root)
    catalog = open_catalog(project)
    try:
        return [s.key for s in make_plan(project, catalog).steps]
    finally:
        catalog.close()


def test_a_failure_in_a_shared_transaction_publishes_the_tables_written_before_it(
    make_project, run_cli, load_project
):
    """Direct writes share one DuckDB transaction, which any error aborts: the tables
    written before the failing one are written again alone and published."""
    files = {f"models/ok_{i}.sql": f"SELECT {i} AS v" for i in range(3)}
    files["models/ok_3.sql"] = "SELECT v + 1 AS v FROM ok_0"
    files["models/zz_broken.sql"] = "SELECT error('boom') AS v FROM ok_3"
    root = make_project(files, modules=[], extra_toml=TOML)
    order = _steps_in_order(root, load_project)
    assert order.index("zz_broken") > order.index("ok_3")  # they shared its transaction

    proc = run_cli(root, "materialize", "--json")
    assert proc.returncode == 1
    steps = {s["key"]: s for s in json.loads(proc.stdout)["steps"]}
    assert "boom" in steps["zz_broken"]["error"]
    assert all(steps[f"ok_{i}"]["status"] == "success" for i in range(4))
    assert warehouse_rows(root, "SELECT v FROM ok_3") == [(1,)]
    catalog = open_catalog(load_project(root))
    try:
        statuses = {r["key"]: r["status"] for r in catalog.steps(catalog.runs(1)[0]["id"])}
        state = catalog.state().assets
    finally:
        catalog.close()
    assert statuses == {**{f"ok_{i}": "success" for i in range(4)}, "zz_broken": "failed"}
    assert warehouse_rows(root, "SELECT count(*) FROM ok_2") == [(1,)]
    assert state["ok_2"].published and "zz_broken" not in {
        k for k, s in state.items() if s.published
    }


def test_a_query_whose_result_changes_is_not_published_when_written_again(
    make_project, run_cli, load_project
):
    """After a later failure in its shared transaction, a query reading random() gives
    other data when written again: it fails instead of publishing unchecked data.
    (zz_broken reads a_random so that a_random is recorded before zz_broken runs.)"""
    root = make_project(
        {
            "models/a_random.sql": "SELECT random() AS v",
            "models/zz_broken.sql": "SELECT error('x') FROM a_random",
        },
        modules=[],
        extra_toml=TOML,
    )
    order = _steps_in_order(root, load_project)
    assert order == ["a_random", "zz_broken"]
    proc = run_cli(root, "materialize", "--json")
    steps = {s["key"]: s for s in json.loads(proc.stdout)["steps"]}
    assert steps["a_random"]["status"] == "success"  # as it was when it ran
    catalog = open_catalog(load_project(root))
    try:
        rows = catalog.history("a_random")
        published = catalog.state().assets["a_random"].published
    finally:
        catalog.close()
    assert [r["status"] for r in rows] == ["failed"]
    assert "gave different data" in rows[0]["error"]
    assert not published


@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12).filter(lambda s: "\x00" not in s), max_size=20))
def test_duckdb_quotes_names_as_sqlglot_does_and_duckdb_reads_them_back(names):
    from assets_core.sql.duckdb_engine import DuckDBEngine
    from assets_core.sql.engines import Engine, EngineSpec

    engine = DuckDBEngine(EngineSpec(name="duckdb", url="duckdb:///:memory:", dialect="duckdb"))
    try:
        for name in ['a"b', "x.y", "Ünï cödé", *names]:
            assert engine._ident(name) == Engine._ident(engine, name)  # sqlglot's quoting
            assert engine.qualify("main", name) == ".".join(
                Engine._ident(engine, p) for p in ("memory", "main", name)
            )
            engine.run(f"CREATE OR REPLACE TABLE {engine.qualify('main', name)} AS SELECT 1 AS v")
            assert engine.table_exists("main", name)
    finally:
        engine.close()


# releases the quarantined bi/revenue and dies: before its engine swap, or right after it
_RELEASE_AND_DIE = """
import os, sys
from assets_core.catalog.checks import release
from assets_core.executor import open_catalog
from assets_core.project import Project
from assets_core.sql.table_store import release_table

project = Project.load(sys.argv[1])
catalog = open_catalog(project)

def publish(ref, data_version):
    if sys.argv[2] == "after-swap":
        release_table(project, "bi/revenue", ref, data_version)
    os._exit(3)

release(catalog, "bi/revenue", user="auditor", reason="a test row", publish=publish)
"""


@pytest.mark.parametrize("died", ["before-swap", "after-swap"])
def test_a_release_that_died_is_settled_from_the_table_by_the_next_command(
    bi, run, write_file, cli_json, catalog_rows, died
):
    run(bi)
    published = sorted(warehouse_rows(bi, "SELECT * FROM bi.revenue"))
    write_file(
        bi / "models/bi/revenue.sql",
        "-- asset: checks=[not_null(day)]\n" + REVENUE + "UNION ALL SELECT NULL, 1.0, 1\n",
    )
    assert run(bi)["bi/revenue"].status == "quarantined"
    proc = subprocess.run(
        [sys.executable, "-c", _RELEASE_AND_DIE, str(bi), died],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    assert catalog_rows(bi, "SELECT status FROM materializations WHERE status = 'releasing'")

    cli_json(bi, "plan", "--json")  # the next command settles the release
    statuses = catalog_rows(
        bi, "SELECT status FROM materializations WHERE key = 'bi/revenue' ORDER BY id"
    )
    kinds = [k for (k,) in catalog_rows(bi, "SELECT kind FROM events ORDER BY id")]
    state = catalog_rows(bi, "SELECT data_version FROM asset_state WHERE key = 'bi/revenue'")
    versions = catalog_rows(
        bi, "SELECT data_version FROM materializations WHERE key = 'bi/revenue' ORDER BY id"
    )
    if died == "after-swap":  # the engine holds the released table: the catalog says so now
        assert statuses[-1] == ("released",)
        assert kinds[-1] == "quarantine_released"
        assert state == [versions[-1]]
        assert (None, 1.0, 1) in warehouse_rows(bi, "SELECT * FROM bi.revenue")
    else:  # nothing was swapped: quarantined again, the previous table still published
        assert statuses[-1] == ("quarantined",)
        assert kinds[-1] == "quarantine_release_interrupted"
        assert state == [versions[0]]
        assert sorted(warehouse_rows(bi, "SELECT * FROM bi.revenue")) == published
        again = cli_json(bi, "quarantine", "list", "--json")["quarantined"]
        assert [q["key"] for q in again] == ["bi/revenue"]


def test_a_release_still_going_in_another_process_is_left_to_it(
    bi, run, write_file, cli_json, catalog_rows
):
    import sqlite3

    run(bi)
    write_file(
        bi / "models/bi/revenue.sql",
        "-- asset: checks=[not_null(day)]\n" + REVENUE + "UNION ALL SELECT NULL, 1.0, 1\n",
    )
    assert run(bi)["bi/revenue"].status == "quarantined"
    proc = subprocess.run(
        [sys.executable, "-c", _RELEASE_AND_DIE, str(bi), "before-swap"],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    # the release's process is this test's own, still alive
    conn = sqlite3.connect(bi / ".assets" / "catalog.db")
    with conn:
        (payload,) = conn.execute(
            "SELECT payload FROM events WHERE kind = 'quarantine_release_started'"
        ).fetchone()
        alive = {**json.loads(payload), "pid": os.getpid(), "started_at": time.time()}
        conn.execute(
            "UPDATE events SET payload = ? WHERE kind = 'quarantine_release_started'",
            (json.dumps(alive),),
        )
    conn.close()
    cli_json(bi, "plan", "--json")
    assert catalog_rows(
        bi, "SELECT status FROM materializations WHERE key = 'bi/revenue' ORDER BY id DESC LIMIT 1"
    ) == [("releasing",)]


def test_tables_written_before_a_python_asset_runs_are_committed_before_it(
    make_project, run, published_values
):
    root = make_project(
        {
            "defs.py": """
            from pathlib import Path

            import duckdb

            from assets_core import asset, sql_asset

            first = sql_asset("first", "SELECT 1 AS v UNION ALL SELECT 2")

            @asset(deps=["first"])
            def seen_from_outside():
                # a connection of its own sees committed tables only
                db = Path(__file__).parent / ".assets" / "warehouse.duckdb"
                conn = duckdb.connect(str(db))
                try:
                    return conn.execute("SELECT count(*) FROM main.first").fetchone()[0]
                finally:
                    conn.close()
            """
        }
    )
    results = run(root)
    assert results["seen_from_outside"].status == "success", results["seen_from_outside"].error
    assert published_values(root, "seen_from_outside") == {"seen_from_outside": 2}
