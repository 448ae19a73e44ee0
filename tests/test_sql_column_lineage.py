"""Column-level lineage: sqlglot for SQL assets, declared for Python ones, walked upstream."""

from __future__ import annotations

import json

import pytest

from assets_core.errors import AssetsError, DefinitionError
from assets_core.executor import execute, make_plan, open_catalog
from assets_core.lineage_columns import column_lineage, render_text
from assets_core.sql.column_lineage import column_edges

DEFS = """
import pandas as pd
from assets_core import asset, source

shop = source("raw/shop", path="data/shop.csv")

@asset(key_prefix="staging", ins={"files": "raw/shop"},
       columns={"amount_usd": ["files.amount", "files.currency"], "day": ["files.day"]})
def orders(files) -> pd.DataFrame:
    df = pd.concat(pd.read_csv(p) for p in files)
    df["amount_usd"] = df["amount"] * df["currency"].map({"EUR": 1.1, "USD": 1.0})
    return df[["day", "channel", "amount_usd"]]

@asset(key_prefix="ads")
def spend() -> pd.DataFrame:
    return pd.DataFrame({"day": ["d1", "d2"], "channel": ["search", "social"], "cost": [4.0, 6.0]})
"""
SHOP = "day,channel,amount,currency\nd1,search,10,EUR\nd2,social,20,USD\n"
ROAS = """
WITH revenue AS (
    SELECT day, channel, SUM(amount_usd) AS revenue FROM staging.orders GROUP BY ALL
)
SELECT r.day, r.channel, r.revenue / NULLIF(s.cost, 0) AS roas, COUNT(*) OVER () AS n
FROM revenue AS r JOIN ads.spend AS s USING (day, channel)
"""


@pytest.fixture
def project(make_project):
    return make_project(
        {
            "defs.py": DEFS,
            "data/shop.csv": SHOP,
            "models/bi/roas.sql": ROAS,
            "models/bi/wide.sql": "SELECT * FROM (SELECT * FROM ads.spend) AS x",
        },
        extra_toml='sql_paths = ["models"]\n',
    )


@pytest.fixture
def built(project, load_project):
    p = load_project(project)
    catalog = open_catalog(p)
    execute(p, make_plan(p, catalog), catalog)
    yield p, catalog
    catalog.close()


def test_sql_lineage_follows_ctes_joins_and_aggregates():
    edges = column_edges(
        ROAS,
        "duckdb",
        {"staging.orders": "staging/orders", "ads.spend": "ads/spend"},
        {
            "staging/orders": [
                ("day", "VARCHAR"),
                ("channel", "VARCHAR"),
                ("amount_usd", "DOUBLE"),
            ],
            "ads/spend": [("day", "VARCHAR"), ("channel", "VARCHAR"), ("cost", "DOUBLE")],
        },
    )
    assert edges["roas"] == [("ads/spend", "cost"), ("staging/orders", "amount_usd")]
    assert edges["day"] == [("staging/orders", "day")]
    assert edges["n"] == []


def test_select_star_is_expanded_from_the_upstreams_recorded_columns(built):
    p, catalog = built
    tree = column_lineage(p, catalog, "bi/wide", "cost")
    assert [(u.key, u.column) for u in tree.upstream] == [("ads/spend", "cost")]
    with pytest.raises(AssetsError) as ei:
        column_lineage(p, catalog, "bi/wide", "price")
    assert "its columns are: channel, cost, day" in ei.value.hint


def test_the_walk_crosses_sql_and_declared_python_lineage_down_to_sources(built):
    p, catalog = built
    tree = column_lineage(p, catalog, "bi/roas", "roas")
    assert tree.edges() == [
        {"from_key": "ads/spend", "from_column": "cost", "to_key": "bi/roas", "to_column": "roas",
         "how": "sql"},
        {"from_key": "staging/orders", "from_column": "amount_usd", "to_key": "bi/roas",
         "to_column": "roas", "how": "sql"},
        {"from_key": "raw/shop", "from_column": "amount", "to_key": "staging/orders",
         "to_column": "amount_usd", "how": "declared"},
        {"from_key": "raw/shop", "from_column": "currency", "to_key": "staging/orders",
         "to_column": "amount_usd", "how": "declared"},
    ]  # fmt: skip
    text = render_text(tree)
    assert text.splitlines()[0] == "bi/roas.roas  (sql)"
    assert "ads/spend.cost  (python)  -- python asset without declared column lineage" in text
    assert "raw/shop.currency  (source)" in text


def test_lineage_is_stored_with_the_published_version_and_recomputed_for_a_new_one(
    built, project, catalog_rows, write_file, load_project
):
    p, catalog = built
    column_lineage(p, catalog, "bi/roas", "roas")
    query = (
        "SELECT materialization_id, column, upstream, upstream_column, how "
        "FROM column_lineage WHERE key = 'bi/roas' ORDER BY id"
    )
    rows = catalog_rows(project, query)
    (first,) = {r[0] for r in rows}
    assert first == catalog.state().assets["bi/roas"].materialization_id
    assert ("day", "staging/orders", "day") in [r[1:4] for r in rows]
    assert (first, "n", None, None, "sql") in rows  # a column fed by no upstream column
    column_lineage(p, catalog, "bi/roas", "roas")  # asked again: read back, not recomputed
    assert catalog_rows(project, query) == rows

    write_file(project / "models/bi/roas.sql", ROAS.replace("SUM(amount_usd)", "MAX(amount_usd)"))
    p2 = load_project(project)
    execute(p2, make_plan(p2, catalog), catalog)
    column_lineage(p2, catalog, "bi/roas", "roas")
    versions = [r[0] for r in catalog_rows(project, query)]
    second = catalog.state().assets["bi/roas"].materialization_id
    assert second != first
    assert set(versions) == {first, second}  # each version keeps its own lineage


def test_lineage_of_a_version_never_published_comes_from_the_definitions(
    project, load_project, catalog_rows
):
    p = load_project(project)
    catalog = open_catalog(p)
    try:
        tree = column_lineage(p, catalog, "bi/roas", "day")
    finally:
        catalog.close()
    assert [(u.key, u.column) for u in tree.upstream] == [("staging/orders", "day")]
    assert catalog_rows(project, "SELECT * FROM column_lineage") == []


def test_a_declared_lineage_naming_no_parameter_or_upstream_is_an_error(make_project, load_project):
    root = make_project(
        {
            "defs.py": """
                from assets_core import asset

                @asset
                def a():
                    return 1

                @asset(columns={"x": ["nope.y"]})
                def b(a):
                    return a
            """
        }
    )
    p = load_project(root)
    catalog = open_catalog(p)
    try:
        with pytest.raises(DefinitionError) as ei:
            column_lineage(p, catalog, "b", "x")
    finally:
        catalog.close()
    assert "'nope' is neither a parameter nor an upstream" in ei.value.message
    assert ei.value.hint == "qualify with a parameter name: a"


def test_assets_lineage_column_prints_the_tree_and_json(built, project, run_cli):
    text = run_cli(project, "lineage", "bi/roas", "--column", "roas")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0] == "bi/roas.roas  (sql)"
    assert "    ├── raw/shop.amount  (source)" in text.stdout
    js = run_cli(project, "lineage", "bi/roas", "--column", "roas", "--json")
    body = json.loads(js.stdout)
    assert (body["key"], body["column"]) == ("bi/roas", "roas")
    assert {(e["from_key"], e["from_column"]) for e in body["edges"]} >= {
        ("ads/spend", "cost"),
        ("raw/shop", "amount"),
    }
    assert body["tree"]["upstream"][1]["how"] == "declared"
    bad = run_cli(project, "lineage", "bi/roas", "--column", "rosa")
    assert bad.returncode == 2
    assert "did you mean roas?" in bad.stderr
