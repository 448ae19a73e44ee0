"""SQL assets as definitions: .sql files and sql_asset(), their headers, the upstreams
inferred from the query, and the load-time errors for bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assets_core import sql_asset
from assets_core.errors import DefinitionError, ProjectError, UnknownUpstreamError
from assets_core.sql.parse import SqlSyntaxError, known_dialects

DEFS = """
import pandas as pd
from assets_core import asset, source

crm = source("raw/crm", path="data/crm.csv")

@asset(key_prefix="bi")
def customer_journey() -> pd.DataFrame:
    return pd.DataFrame({"day": [1], "revenue": [2.0]})

@asset(key_prefix="ads")
def spend() -> pd.DataFrame:
    return pd.DataFrame({"day": [1], "spend": [1.0]})
"""
SQL_TOML = 'sql_paths = ["models"]\n'


def project(make_project, files: dict[str, str]):
    return make_project({"defs.py": DEFS, **files}, extra_toml=SQL_TOML)


def test_a_sql_file_is_an_asset_keyed_by_its_path_with_upstreams_from_the_query(
    make_project, load_project
):
    root = project(
        make_project,
        {
            "models/bi/roas_daily.sql": """
                SELECT d.day, SUM(o.revenue) / NULLIF(SUM(s.spend), 0) AS roas
                FROM bi.customer_journey o JOIN ads.spend s ON o.day = s.day
                GROUP BY 1
            """
        },
    )
    p = load_project(root)
    d = p.graph.defs["bi/roas_daily"]
    assert d.kind == "sql"
    assert d.group == "bi"
    assert p.graph.upstream["bi/roas_daily"] == ("bi/customer_journey", "ads/spend")
    assert p.definitions_snapshot()["bi/roas_daily"]["file"] == "models/bi/roas_daily.sql"


def test_cte_names_and_subquery_aliases_are_not_upstreams(make_project, load_project):
    root = project(
        make_project,
        {
            "models/bi/paid.sql": """
                WITH journey AS (SELECT * FROM bi.customer_journey),
                     spend AS (SELECT day, SUM(spend) AS spend FROM ads.spend GROUP BY day)
                SELECT j.day, j.revenue, x.spend
                FROM journey j
                JOIN (SELECT * FROM spend) AS x ON x.day = j.day
                WHERE j.day IN (SELECT day FROM raw.crm)
                  AND EXISTS (SELECT 1 FROM journey)
            """
        },
    )
    p = load_project(root)
    assert set(p.graph.upstream["bi/paid"]) == {"bi/customer_journey", "ads/spend", "raw/crm"}


def test_table_functions_are_not_upstreams_and_a_bare_name_finds_its_key(
    make_project, load_project
):
    root = project(
        make_project,
        {
            "models/report.sql": """
                SELECT * FROM customer_journey, range(3) AS r(i), read_csv('data/crm.csv')
            """
        },
    )
    p = load_project(root)
    assert p.graph.upstream["report"] == ("bi/customer_journey",)


def test_the_header_sets_group_tags_dialect_engine_and_checks(make_project, load_project):
    root = project(
        make_project,
        {
            "models/bi/roas.sql": """
                -- asset: group=finance, tags=[daily, pii], dialect=postgres
                -- asset: checks=[not_null(day), unique(day), accepted_values(day, [1, 2]),
                --   row_count(min=1)]
                -- a plain comment line
                SELECT day FROM bi.customer_journey
            """
        },
    )
    # a header line that wraps must stay on '-- asset:' lines: the last one above does not
    with pytest.raises(DefinitionError, match="cannot read the '-- asset:' header"):
        load_project(root)
    (root / "models/bi/roas.sql").write_text(
        "-- asset: group=finance, tags=[daily, pii], dialect=postgres\n"
        "-- asset: group=other\n"
        "SELECT day FROM bi.customer_journey\n"
    )
    with pytest.raises(DefinitionError, match="header field 'group' is given twice"):
        load_project(root)
    (root / "models/bi/roas.sql").write_text(
        "-- asset: group=finance, tags=[daily, pii], dialect=postgres\n"
        "-- asset: checks=[not_null(day), unique(day), accepted_values(day, [1, 2])]\n"
        "-- asset: checks=[row_count(min=1)], description='ROAS per day'\n"
        "SELECT day FROM bi.customer_journey\n"
    )
    p = load_project(root)
    d = p.graph.defs["bi/roas"]
    assert (d.group, d.tags, d.dialect, d.engine) == (
        "finance",
        frozenset({"daily", "pii"}),
        "postgres",
        "duckdb",
    )
    names = [c.name for c in p.graph.checks_of("bi/roas")]
    assert names == ["not_null(day)", "unique(day)", "accepted_values(day)", "row_count(min=1)"]
    assert p.graph.checks_of("bi/roas")[2].spec.values == (1, 2)


def test_sql_asset_declares_a_query_from_python(make_project, load_project):
    root = make_project(
        {
            "defs.py": DEFS
            + """
from assets_core import sql_asset
from assets_core import checks as c

roas = sql_asset(
    "bi/roas",
    "SELECT o.day, o.revenue / s.spend AS roas FROM bi.customer_journey o JOIN ads.spend s USING (day)",
    dialect="snowflake",
    tags=["finance"],
    checks=[c.not_null("roas")],
)
"""
        }
    )
    p = load_project(root)
    d = p.graph.defs["bi/roas"]
    assert (d.kind, d.dialect, d.tags) == ("sql", "snowflake", frozenset({"finance"}))
    assert p.graph.upstream["bi/roas"] == ("bi/customer_journey", "ads/spend")
    call_line = (root / "defs.py").read_text().splitlines().index("roas = sql_asset(") + 1
    assert str(d.location).endswith(f"defs.py:{call_line}")
    assert [c.name for c in p.graph.checks_of("bi/roas")] == ["not_null(roas)"]


def test_an_unknown_table_is_a_load_time_error_with_position_and_closest_keys(
    make_project, load_project
):
    root = project(
        make_project,
        {"models/bi/roas.sql": "SELECT day\nFROM bi.customer_journy\n"},
    )
    with pytest.raises(UnknownUpstreamError) as ei:
        load_project(root)
    msg = ei.value.render()
    assert "models/bi/roas.sql:2:" in msg
    assert "bi.customer_journy" in msg
    assert "bi.customer_journey (bi/customer_journey)" in ei.value.hint
    assert 'source("bi/customer_journy"' in ei.value.hint


def test_a_bare_table_name_matching_two_keys_asks_to_qualify_it(make_project, load_project):
    root = project(
        make_project,
        {
            "models/other/spend.sql": "SELECT 1 AS spend",
            "models/total.sql": "SELECT * FROM spend",
        },
    )
    with pytest.raises(DefinitionError) as ei:
        load_project(root)
    assert "ads.spend (ads/spend), other.spend (other/spend)" in ei.value.message
    assert ei.value.hint.startswith("qualify it")


def test_a_query_reading_its_own_table_is_refused(make_project, load_project):
    root = project(make_project, {"models/bi/loop.sql": "SELECT * FROM bi.loop"})
    with pytest.raises(DefinitionError, match="reads its own table"):
        load_project(root)


def test_sql_that_does_not_parse_names_file_line_column_and_sqlglot_message(
    make_project, load_project
):
    root = project(
        make_project,
        {"models/bad.sql": "-- asset: group=x\nSELECT day,\n  revenue\nFROM WHERE x = 1\n"},
    )
    with pytest.raises(SqlSyntaxError) as ei:
        load_project(root)
    err = ei.value
    assert (err.line, err.col) == (4, 10)
    assert err.location.endswith("models/bad.sql:4:10")
    assert "Expected table name" in err.message


def test_a_parse_error_in_python_sql_names_the_call_and_the_query_position():
    with pytest.raises(SqlSyntaxError) as ei:
        sql_asset("bad", "SELECT a\nFROM (b")
    assert "test_sql_definitions.py:" in ei.value.location
    assert "(line 2, column 7 of the query)" in ei.value.location


def test_an_unknown_dialect_lists_the_known_ones():
    with pytest.raises(DefinitionError) as ei:
        sql_asset("x", "SELECT 1 AS v", dialect="postgress")
    assert "unknown SQL dialect 'postgress'" in ei.value.message
    assert "postgres" in known_dialects() and "snowflake" in known_dialects()
    assert all(name in ei.value.hint for name in ("duckdb", "postgres", "snowflake"))


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("SELECT 1 AS a; SELECT 2 AS b", "holds 2 statements"),
        ("CREATE TABLE t AS SELECT 1", "is a CREATE statement"),
        ("-- only a comment", "is empty"),
    ],
)
def test_a_sql_asset_is_exactly_one_select(sql, what):
    with pytest.raises(SqlSyntaxError, match=what):
        sql_asset("x", sql)


def test_an_unknown_engine_or_header_field_is_a_load_time_error(make_project, load_project):
    root = project(make_project, {"models/a.sql": "-- asset: engine=warehous\nSELECT 1 AS v\n"})
    (root / "pyproject.toml").write_text(
        (root / "pyproject.toml").read_text()
        + '[tool.assets.engines]\nwarehouse = "postgresql+psycopg://nobody@127.0.0.1:1/x"\n'
    )
    with pytest.raises(DefinitionError) as ei:
        load_project(root)
    assert "engine 'warehous'" in ei.value.message and "did you mean warehouse" in ei.value.hint
    (root / "models/a.sql").write_text("-- asset: colour=blue\nSELECT 1 AS v\n")
    with pytest.raises(DefinitionError) as ei:
        load_project(root)
    assert "unknown header field 'colour'" in ei.value.message
    assert "group, tags, dialect, engine, checks" in ei.value.hint


def test_an_unknown_check_in_the_header_lists_the_built_ins(make_project, load_project):
    root = project(make_project, {"models/a.sql": "-- asset: checks=[non_null(v)]\nSELECT 1 AS v"})
    with pytest.raises(DefinitionError) as ei:
        load_project(root)
    assert "unknown check 'non_null'" in ei.value.message
    assert "not_null" in ei.value.hint and "relationships" in ei.value.hint


def test_a_missing_sql_folder_is_a_project_error(make_project, load_project):
    root = make_project({"defs.py": DEFS}, extra_toml='sql_paths = ["nowhere"]\n')
    with pytest.raises(ProjectError, match="'nowhere' listed in \\[tool.assets\\] sql_paths"):
        load_project(root)


def test_projects_without_sql_do_not_import_sqlglot_and_sql_asset_imports_it_lazily(tmp_path):
    code = (
        "import sys\n"
        "from assets_core import sql_asset\n"
        "before = 'sqlglot' in sys.modules\n"
        "sql_asset('x', 'SELECT 1 AS v')\n"
        "print(before, 'sqlglot' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.split() == ["False", "True"]


def test_unchanged_sql_files_load_from_the_cache_without_sqlglot(make_project, tmp_path):
    root = project(make_project, {"models/bi/a.sql": "SELECT day FROM bi.customer_journey"})
    code = (
        "import sys\n"
        "from assets_core.project import Project\n"
        f"p = Project.load({str(root)!r})\n"
        "print(p.graph.upstream['bi/a'], 'sqlglot' in sys.modules)\n"
    )
    run = [sys.executable, "-c", code]
    first = subprocess.run(run, capture_output=True, text=True, check=True, cwd=tmp_path)
    second = subprocess.run(run, capture_output=True, text=True, check=True, cwd=tmp_path)
    assert first.stdout.strip() == "('bi/customer_journey',) True"
    assert second.stdout.strip() == "('bi/customer_journey',) False"


def test_the_parse_cache_is_kept_per_sqlglot_version(tmp_path, monkeypatch):
    import importlib.machinery
    import importlib.util

    from assets_core.sql import loader
    from assets_core.sql.definition import sql_format

    path = tmp_path / "cache.pickle"
    loader._write_cache(path, {"models/a.sql": "an entry"})
    assert loader._read_cache(path) == {"models/a.sql": "an entry"}
    # another sqlglot installed: its _version.py differs, the parses are not reused
    other = tmp_path / "site" / "sqlglot"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    (other / "_version.py").write_text("__version__ = version = '0.0.1'\n")
    spec = importlib.machinery.ModuleSpec("sqlglot", None, origin=str(other / "__init__.py"))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: spec if name == "sqlglot" else real(name, *a)
    )
    sql_format.cache_clear()  # read once per process: this test installs another sqlglot
    try:
        assert loader._read_cache(path) == {}
    finally:
        monkeypatch.undo()
        sql_format.cache_clear()


def test_a_comment_or_layout_edit_reuses_the_parse_without_sqlglot(make_project, tmp_path):
    root = project(
        make_project, {"models/bi/a.sql": "SELECT day, 1+2 AS n FROM bi.customer_journey"}
    )
    code = (
        "import sys\n"
        "from assets_core.project import Project\n"
        f"p = Project.load({str(root)!r})\n"
        "print(p.code_versions['bi/a'].version, p.graph.upstream['bi/a'], 'sqlglot' in sys.modules)\n"
    )
    run = [sys.executable, "-c", code]

    def load() -> list[str]:
        done = subprocess.run(run, capture_output=True, text=True, check=True, cwd=tmp_path)
        return done.stdout.split(" ", 1)[0], done.stdout.split(" ", 1)[1].strip()

    version, _ = load()
    sql = root / "models/bi/a.sql"
    sql.write_text(
        "-- reviewed\nSELECT day,\n  1 + 2 AS n -- three\nFROM /* the journey */\n  bi.customer_journey\n"
    )
    assert load() == (version, "('bi/customer_journey',) False")
    sql.write_text("SELECT day, 1+3 AS n FROM bi.customer_journey")  # a semantic edit
    changed, rest = load()
    assert changed != version and rest.endswith("True")


def test_a_reused_parse_still_points_errors_at_the_table_where_it_is_now(
    make_project, load_project
):
    root = project(
        make_project,
        {"models/bi/x.sql": "SELECT * FROM bi.y", "models/bi/y.sql": "SELECT 1 AS v"},
    )
    load_project(root)  # parsed and cached
    (root / "models/bi/x.sql").write_text("-- moved\nSELECT *\n\nFROM   bi.y\n")
    (root / "models/bi/y.sql").unlink()
    with pytest.raises(DefinitionError) as ei:
        load_project(root)
    assert str(ei.value.location).endswith("x.sql:4:11"), ei.value.location


def test_the_header_sets_freshness_and_the_engine_is_part_of_the_code_version(
    make_project, load_project
):
    root = project(
        make_project,
        {"models/bi/a.sql": "-- asset: freshness='26h'\nSELECT day FROM bi.customer_journey\n"},
    )
    (root / "pyproject.toml").write_text(
        (root / "pyproject.toml").read_text()
        + '[tool.assets.engines]\nwarehouse = "postgresql+psycopg://nobody@127.0.0.1:1/x"\n'
    )
    p = load_project(root)
    assert p.graph.defs["bi/a"].freshness.max_lag == 26 * 3600
    before = p.code_versions["bi/a"]
    (root / "models/bi/a.sql").write_text(
        "-- asset: freshness='26h', engine=warehouse\nSELECT day FROM bi.customer_journey\n"
    )
    after = load_project(root).code_versions["bi/a"]
    assert after.version != before.version
    from assets_core.code_version import diff_parts

    assert diff_parts(before.as_mapping(), after.as_mapping()) == [
        "engine=warehouse added",
        "engine=duckdb removed",
    ]


def test_a_sql_code_version_records_how_it_was_made(make_project, load_project):
    import sqlglot

    from assets_core.sql.definition import sql_format

    root = project(make_project, {"models/bi/a.sql": "SELECT day FROM bi.customer_journey"})
    cv = load_project(root).code_versions["bi/a"]
    assert cv.format == sql_format() == f"sql/1+sqlglot {sqlglot.__version__}"
    assert '"#format": ["", "sql/1+sqlglot ' in cv.parts_json()
