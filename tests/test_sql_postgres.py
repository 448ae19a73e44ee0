"""SQL assets on a real PostgreSQL server: engine, table store, WAP swap, transpiling."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from assets_core.executor import execute, make_plan, open_catalog

DEFS = """
import pandas as pd
from assets_core import asset

@asset(key_prefix="staging")
def orders() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [1, 2, 3, 4],
        "day": ["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-03"],
        "amount": [5.0, 15.0, 25.0, 40.0],
    })

@asset(key_prefix="bi")
def report(revenue) -> dict:
    return {"days": len(revenue), "total": float(revenue["revenue"].sum())}
"""
# written for DuckDB (the default dialect), run on PostgreSQL: sqlglot transpiles
REVENUE = """
-- asset: engine=warehouse
SELECT day, SUM(amount) AS revenue, COUNT(*) AS orders, LIST(id ORDER BY id) AS ids
FROM staging.orders
WHERE amount > 10
GROUP BY day
"""
BIG_DAYS = """
-- asset: engine=warehouse, dialect=postgres
SELECT day, revenue::int % 7 AS bucket FROM bi.revenue WHERE revenue > 20
"""


@pytest.fixture
def pg_project(make_project, pg_database):
    root = make_project(
        {
            "defs.py": DEFS,
            "models/bi/revenue.sql": REVENUE,
            "models/bi/big_days.sql": BIG_DAYS,
        },
        extra_toml=f'sql_paths = ["models"]\n[tool.assets.engines]\nwarehouse = "{pg_database}"\n',
    )
    return root, pg_database


@pytest.fixture
def run(load_project):
    def go(root, selection=None):
        project = load_project(root)
        catalog = open_catalog(project)
        try:
            p = make_plan(project, catalog, selection)
            return {r.key: r for r in execute(project, p, catalog).results} if p.steps else {}
        finally:
            catalog.close()

    return go


def query(url, sql):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_sql_assets_run_on_postgresql_reading_python_frames_and_each_other(pg_project, run):
    root, url = pg_project
    results = run(root)
    assert {k: r.status for k, r in results.items()} == dict.fromkeys(
        ["staging/orders", "bi/revenue", "bi/big_days", "bi/report"], "success"
    )
    assert sorted(query(url, "SELECT day, revenue, orders, ids FROM bi.revenue")) == [
        ("2024-01-01", 15.0, 1, [2]),
        ("2024-01-02", 25.0, 1, [3]),
        ("2024-01-03", 40.0, 1, [4]),
    ]
    assert sorted(query(url, "SELECT * FROM bi.big_days")) == [
        ("2024-01-02", 4),
        ("2024-01-03", 5),
    ]
    # the Python asset was copied in under its key's name; no staging table is left over
    tables = {
        (s, t)
        for s, t in query(
            url,
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('bi', 'staging')",
        )
    }
    assert tables == {("bi", "revenue"), ("bi", "big_days"), ("staging", "orders")}
    assert run(root) == {}


def test_data_versions_are_computed_in_postgresql_and_ignore_row_order(pg_project, run, write_file):
    root, url = pg_project
    first = run(root)["bi/revenue"]
    write_file(root / "models/bi/revenue.sql", REVENUE.replace("> 10", ">= 11") + "ORDER BY 1 DESC")
    second = run(root)
    assert second["bi/revenue"].status == "success"
    assert second["bi/revenue"].data_version == first.data_version
    assert second["bi/big_days"].reason == "unchanged_upstream"


def test_a_blocking_check_on_postgresql_leaves_the_published_table_and_keeps_staging(
    pg_project, run, write_file
):
    root, url = pg_project
    run(root)
    before = sorted(query(url, "SELECT day, revenue FROM bi.revenue"))
    write_file(
        root / "models/bi/revenue.sql",
        REVENUE.replace(
            "-- asset: engine=warehouse",
            "-- asset: engine=warehouse, checks="
            "[unique(orders), accepted_values(day, ['2024-01-01'])]",
        ).replace("> 10", "> 0"),
    )
    results = run(root)
    rev = results["bi/revenue"]
    assert rev.status == "quarantined"
    by_name = {o.check.name: o.result for o in rev.checks}
    assert by_name["unique(orders)"].failing_rows == 2  # 2024-01-02 and -03: one order each
    assert by_name["accepted_values(day)"].failing_rows == 2
    assert by_name["accepted_values(day)"].metadata["in"] == "sql"
    assert results["bi/big_days"].reason.startswith("blocked_by_check: bi/revenue")
    assert sorted(query(url, "SELECT day, revenue FROM bi.revenue")) == before
    assert sorted(query(url, "SELECT day, orders FROM bi.revenue__staging")) == [
        ("2024-01-01", 2),
        ("2024-01-02", 1),
        ("2024-01-03", 1),
    ]


def test_publishing_on_postgresql_swaps_the_table_in_one_transaction(pg_project, run, write_file):
    root, url = pg_project
    run(root)
    write_file(
        root / "models/bi/revenue.sql",
        REVENUE.replace(
            "-- asset: engine=warehouse", "-- asset: engine=warehouse, checks=[not_null(day)]"
        ).replace("> 10", "> 0"),
    )
    assert run(root)["bi/revenue"].status == "success"
    assert sorted(query(url, "SELECT day, orders FROM bi.revenue")) == [
        ("2024-01-01", 2),
        ("2024-01-02", 1),
        ("2024-01-03", 1),
    ]
    names = [t for (t,) in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'bi'")]
    assert sorted(names) == ["big_days", "revenue"]


def test_a_postgresql_error_names_the_asset_and_the_database_message(pg_project, run_cli):
    root, url = pg_project
    (root / "models/bi/broken.sql").write_text(
        "-- asset: engine=warehouse, dialect=postgres\nSELECT 1 / 0 AS boom\n"
    )
    proc = run_cli(root, "materialize", "--json")
    assert proc.returncode == 1
    steps = {s["key"]: s for s in json.loads(proc.stdout)["steps"]}
    error = steps["bi/broken"]["error"]
    assert "asset bi/broken failed on engine warehouse while running its query" in error
    assert "division by zero" in error
    assert steps["bi/revenue"]["status"] == "success"


def test_a_column_named_t_does_not_hide_the_other_columns_from_the_data_version(
    pg_project, run, write_file
):
    root, url = pg_project
    sql = "-- asset: engine=warehouse, dialect=postgres\nSELECT 1 AS t, {} AS v\n"
    write_file(root / "models/bi/with_t.sql", sql.format(2))
    first = run(root, "bi/with_t")["bi/with_t"]
    write_file(root / "models/bi/with_t.sql", sql.format(3))
    second = run(root, "bi/with_t")["bi/with_t"]
    assert second.status == "success" and second.changed
    assert second.data_version != first.data_version
