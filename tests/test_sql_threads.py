"""Queries over small tables run on one DuckDB thread, without the optimizer; every
other query runs with the database's own settings. The size bound comes from the query
(how many row sources it reads, none when it makes rows itself) and from the rows of
the tables it reads."""

from __future__ import annotations

import pytest
from conftest import warehouse_rows

from assets_core.sql.duckdb_engine import ROW_GROUP, DuckDBEngine
from assets_core.sql.engines import EngineSpec, Reads, version_of
from assets_core.sql.parse import parse_query


@pytest.mark.parametrize(
    ("sql", "sources"),
    [
        ("SELECT 31 AS v", 0),
        ("SELECT (1 + u0.v + u1.v) % 7 AS v FROM a u0 CROSS JOIN b u1", 2),
        ("SELECT a.x FROM a JOIN a AS again USING (x)", 2),  # a self-join reads a twice
        ("WITH x AS (SELECT * FROM a) SELECT * FROM x JOIN x AS y ON true", 3),
        ("SELECT * FROM a WHERE a.x IN (SELECT x FROM b)", 2),
        ("SELECT * FROM (VALUES (1), (2)) AS t(a)", 1),
        ("SELECT * FROM range(100000000)", None),
        ("SELECT * FROM read_parquet('big/*.parquet')", None),
        ("SELECT unnest(l) FROM a", None),
        ("SELECT my_macro(x) FROM a", None),  # a function sqlglot does not know
        ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT n FROM t", None),
    ],
)
def test_a_query_counts_its_row_sources_unless_it_makes_rows_itself(sql, sources):
    assert parse_query(sql, "duckdb").sources == sources


@pytest.fixture
def engine(tmp_path):
    e = DuckDBEngine(EngineSpec("duckdb", f"duckdb:///{tmp_path / 'w.duckdb'}", "duckdb"))
    yield e
    e.close()


def _threads(e: DuckDBEngine) -> int:
    """The engine's threads setting, after checking that the optimizer is off exactly when
    the statements run on one thread (small mode)."""
    threads, optimizer = e._exec(  # as the engine's own statements run: in its mode
        "SELECT current_setting('threads'), current_setting('enable_optimizer')"
    )[0]
    assert optimizer is (e._small_mode is False)
    return int(threads)


def test_small_inputs_run_on_one_thread_and_the_rest_with_the_setting(engine):
    e = engine
    setting = _threads(e)
    e.run(f"CREATE TABLE big AS SELECT range AS v FROM range({ROW_GROUP})")  # found, not made
    assert _threads(e) == setting
    q = e.qualify
    e.create_table_as(q("main", "small"), "SELECT 1 AS v UNION ALL SELECT 2", Reads(sources=0))
    assert _threads(e) == 1
    e.data_version(q("main", "small"), "main", "small")  # 2 rows, now known
    assert _threads(e) == 1

    e.create_table_as(q("main", "big2"), "SELECT v FROM big", Reads((q("main", "big"),), 1))
    assert _threads(e) == setting  # one row group or more: the database's setting

    e.create_table_as(
        q("main", "pairs"),
        "SELECT a.v AS x, b.v AS y FROM small a CROSS JOIN small b",
        Reads((q("main", "small"),), 2),
    )
    assert _threads(e) == 1  # (2 + 1) ** 2 rows at most

    e.create_table_as(q("main", "gen"), "SELECT * FROM range(10)", Reads(sources=None))
    assert _threads(e) == setting  # makes rows of its own: no bound

    e.run("CREATE VIEW files AS SELECT 1 AS v")  # as Python assets' parquet files are read
    e.create_table_as(q("main", "f"), "SELECT v FROM files", Reads((q("main", "files"),), 1))
    assert _threads(e) == setting  # a view's rows are not known

    e.create_table_as(q("main", "p"), "SELECT x FROM pairs", Reads((q("main", "pairs"),), 1))
    assert _threads(e) == 1  # written in small mode, not described yet: at most 9 rows
    e.create_table_as(q("main", "g2"), "SELECT * FROM gen", Reads((q("main", "gen"),), 1))
    assert _threads(e) == setting  # written in the usual mode, not described yet: not known
    assert e.run("SELECT count(*), sum(x) FROM pairs") == [(4, 6)]
    assert e.run("SELECT count(*) FROM big2") == [(ROW_GROUP,)]


def test_known_rows_follow_a_renamed_table_and_leave_with_a_dropped_one(engine):
    e = engine
    setting = _threads(e)
    q = e.qualify
    e.create_table_as(q("main", "t__staging"), "SELECT 1 AS v", Reads(sources=0))
    e.data_version(q("main", "t__staging"), "main", "t__staging")
    e.rename("main", "t__staging", "t")
    e.create_table_as(q("main", "u"), "SELECT v FROM t", Reads((q("main", "t"),), 1))
    assert _threads(e) == 1
    e.drop(q("main", "t"))
    e.run("CREATE TABLE t AS SELECT range AS v FROM range(10)")  # written outside the engine
    e.create_table_as(q("main", "w"), "SELECT v FROM t", Reads((q("main", "t"),), 1))
    assert _threads(e) == setting  # t's rows are no longer known


def test_a_project_of_small_and_large_tables_gets_the_same_values(make_project, load_project):
    from assets_core.executor import execute, make_plan, open_catalog

    files = {
        "models/big.sql": f"SELECT range AS v FROM range({2 * ROW_GROUP})",
        "models/small.sql": "SELECT 3 AS v",
        "models/total.sql": "SELECT sum(b.v) + max(s.v) AS v FROM big b CROSS JOIN small s",
        "models/pair.sql": "SELECT s.v * 2 AS v FROM small s",
    }
    root = make_project(files, modules=[], extra_toml='sql_paths = ["models"]\n')
    project = load_project(root)
    catalog = open_catalog(project)
    try:
        result = execute(project, make_plan(project, catalog), catalog)
    finally:
        catalog.close()
    assert {r.key: r.status for r in result.results} == dict.fromkeys(
        ("big", "small", "total", "pair"), "success"
    )
    n = 2 * ROW_GROUP
    assert warehouse_rows(root, "SELECT v FROM total") == [(n * (n - 1) // 2 + 3,)]
    assert warehouse_rows(root, "SELECT v FROM pair") == [(6,)]


def test_describing_a_large_table_and_running_other_statements_leave_small_mode(engine):
    e = engine
    setting = _threads(e)
    q = e.qualify
    e.create_table_as(
        q("main", "big"), f"SELECT * FROM range({ROW_GROUP + 1})", Reads(sources=None)
    )
    e.create_table_as(q("main", "one"), "SELECT 1 AS v", Reads(sources=0))
    assert _threads(e) == 1
    e.create_table_as(q("main", "two"), "SELECT 2 AS v", Reads(sources=0))
    e.data_versions([("main", "one"), ("main", "two")])  # both within their bound
    assert _threads(e) == 1
    got = e.data_versions([("main", "big"), ("main", "one")])  # big: not known to be small
    assert _threads(e) == setting
    assert [rows for _, rows, _ in got] == [ROW_GROUP + 1, 1]
    e.create_table_as(
        q("main", "three"), "SELECT v + 2 AS v FROM one", Reads((q("main", "one"),), 1)
    )
    assert _threads(e) == 1
    # a check's query (or any statement the engine does not write itself)
    assert e.run(f"SELECT count(*) FROM {q('main', 'three')}") == [(1,)]
    assert _threads(e) == setting


def test_small_tables_get_the_versions_their_hashes_aggregated_in_the_database_give(engine):
    # a batch known to hold few rows has each row's hash and type fetched: the hashes
    # summed here, the columns read from the type; its versions must be those of the
    # aggregate in the database and of binding the tables, whatever the types and names
    e, q = engine, engine.qualify
    e.run("CREATE TYPE mood AS ENUM ('ok', 'it''s, fine')")
    tables = {
        "dups": "SELECT 7 AS v FROM range(3)",
        "empty": "SELECT 1 AS v WHERE false",
        "named_t": "SELECT range AS t, 'x' || range AS s FROM range(5)",
        "wide": "SELECT range AS v, range::DOUBLE / 3 AS d FROM range(100)",
        "types": """SELECT 1 AS "V", 2 AS "select", 3 AS "my col", 4 AS "a""b", 5 AS "é",
            1.5::DECIMAL(4,1) AS "d(1,2)", 'ok'::mood AS e, [{'k': 1}] AS l,
            union_value(num := 2) AS u, MAP([1], ['x']) AS m, NULL AS n,
            {'a b': 1, 'c': [1.5]} AS st, now()::TIMESTAMPTZ AS ts, '1 day'::INTERVAL AS iv,
            'b'::BLOB AS bl, [1, 2]::INTEGER[2] AS arr""",
        "reserved": "SELECT 1 AS __assets_core_row__, 2 AS v",  # a reserved name
    }
    for name, sql in tables.items():
        e.run(f"CREATE TABLE {name} AS {sql}")  # written outside the engine: rows unknown
    batch = [("main", name) for name in tables]
    assert not any(q(s, t) in e._rows for s, t in batch)
    aggregated = e.data_versions(batch)  # in the database, each table's columns bound
    assert [e._rows[q(s, t)] for s, t in batch] == [3, 0, 5, 100, 1, 1]
    names = [q(s, t) for s, t in batch]
    fetched = e._fetched(names[:-1])  # 110 rows known: each row's hash and type fetched
    assert fetched is not None
    assert [(version_of(*d), d[0], d[2]) for d in fetched] == aggregated[:-1]
    assert e._fetched(names[-1:]) is None  # the reserved name is not taken for the row
    again = e.data_versions(batch)  # a batch with it is described as before
    one = [e.data_version(q(s, t), s, t) for s, t in batch]
    assert again == aggregated == one
    assert len({v for v, _, _ in aggregated}) == len(tables)
    types = dict(aggregated[4][2])
    assert list(types)[:6] == ["V", "select", "my col", 'a"b', "é", "d(1,2)"]
    assert types["e"] == "ENUM('ok', 'it''s, fine')" and types["arr"] == "INTEGER[2]"
