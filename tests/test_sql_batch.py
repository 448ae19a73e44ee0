"""SQL assets without checks on DuckDB: the tables written while nothing else is ready
are described together (one batch of statements), with the data versions, early cutoff
and per-asset errors of the table-by-table path."""

from __future__ import annotations

import pytest
from conftest import warehouse_rows

from assets_core.executor import execute, make_plan, open_catalog
from assets_core.sql import table_store
from assets_core.sql.duckdb_engine import DuckDBEngine
from assets_core.sql.engines import EngineSpec

TOML = 'sql_paths = ["models"]\n'


class CountingDuckDB(DuckDBEngine):
    """The real engine, noting how its tables are described."""

    described: list[str]  # "one" per table described alone, "batch:N" per batch of N

    def __init__(self, spec: EngineSpec) -> None:
        super().__init__(spec)
        self.described = []
        CountingDuckDB.opened.append(self)

    opened: list[CountingDuckDB] = []

    def data_version(self, qualified, schema, table):
        self.described.append("one")
        return super().data_version(qualified, schema, table)

    def data_versions(self, tables):
        self.described.append(f"batch:{len(tables)}")
        return super().data_versions(tables)


@pytest.fixture
def counting(monkeypatch):
    CountingDuckDB.opened = []
    monkeypatch.setattr(table_store, "open_engine", CountingDuckDB)
    return CountingDuckDB.opened


@pytest.fixture
def run(load_project):
    def go(root):
        project = load_project(root)
        catalog = open_catalog(project)
        try:
            p = make_plan(project, catalog)
            result = execute(project, p, catalog)
            return {r.key: r for r in result.results}, catalog.state().assets
        finally:
            catalog.close()

    return go


def alone(root, keys):
    """The data version of each table computed table by table, as before batches."""
    spec = EngineSpec("duckdb", f"duckdb:///{root / '.assets' / 'warehouse.duckdb'}", "duckdb")
    e = DuckDBEngine(spec)
    try:
        return {k: e.data_version(e.qualify("main", k), "main", k)[0] for k in keys}
    finally:
        e.close()


LAYERS = {
    "models/a.sql": "SELECT 1 AS v, 'x' AS s",
    "models/b.sql": "SELECT 2.5::DECIMAL(18,3) AS v",
    "models/c.sql": "SELECT [1, 2] AS l, {'k': 'z'} AS st",
    "models/d.sql": "SELECT a.v + 1 AS v FROM a",
    "models/e.sql": "SELECT b.v * 2 AS v FROM b CROSS JOIN a",
    "models/f.sql": "SELECT c.l, c.st FROM c",
}


def test_the_tables_of_a_layer_are_described_in_one_batch_with_their_usual_versions(
    make_project, run, counting
):
    root = make_project(LAYERS, modules=[], extra_toml=TOML)
    results, state = run(root)
    assert {k: r.status for k, r in results.items()} == dict.fromkeys("abcdef", "success")
    (engine,) = counting
    # roots first, then the layer reading them: no table is described alone
    assert engine.described == ["batch:3", "batch:3"]
    assert {k: state[k].data_version for k in "abcdef"} == alone(root, "abcdef")
    assert warehouse_rows(root, "SELECT v FROM e") == [(5,)]


def test_a_batch_gives_the_versions_of_the_table_by_table_path_for_many_types(tmp_path):
    spec = EngineSpec("duckdb", f"duckdb:///{tmp_path / 'w.duckdb'}", "duckdb")
    e = DuckDBEngine(spec)
    try:
        e.run("CREATE TYPE mood AS ENUM ('sad', 'ok')")
        e.run(
            "CREATE TABLE t1 AS SELECT 1.5::DECIMAL(18,3) a, 'x' b, TIMESTAMP '2024-01-02' c, "
            "[1, 2] d, {'x': 1, 'y': 'z'} e, 'ok'::mood f, 'ok'::ENUM('sad', 'ok') g, "
            "1::HUGEINT h, [1, 2, 3]::INT[3] i, map([1], ['a']) j, DATE '2020-01-01' k, "
            "INTERVAL 1 DAY l, 'x'::BLOB m, 1.0::FLOAT n, '{}'::JSON o, "
            "1::UNION(p INT, q VARCHAR) p, [{'a b': 1}] \"we ird\", NULL z"
        )
        e.run("CREATE TABLE t2 AS SELECT * FROM range(5) r(v)")
        e.run("CREATE TABLE t3 AS SELECT * FROM t2 WHERE false")  # empty, same column name
        # a column named like the marks that separate the tables' columns in one bind
        e.run('CREATE TABLE t4 AS SELECT 1 AS "__assets_core_table_4__", 2 AS v')
        tables = [("main", "t1"), ("main", "t2"), ("main", "t3"), ("main", "t4")]
        batch = e.data_versions(tables[:3])
        with_t4 = e.data_versions(tables)  # its columns are bound table by table
        one = [e.data_version(e.qualify(s, t), s, t) for s, t in tables]
    finally:
        e.close()
    assert batch == one[:3] and with_t4 == one
    assert [rows for _, rows, _ in with_t4] == [1, 5, 0, 1]
    assert with_t4[3][2] == [("__assets_core_table_4__", "INTEGER"), ("v", "INTEGER")]
    assert ("a", "DECIMAL(18,3)") in batch[0][2] and ("f", "ENUM('sad', 'ok')") in batch[0][2]


def test_early_cutoff_holds_through_a_batch(make_project, run, counting, write_file):
    files = {
        "models/a.sql": "SELECT 1 AS v",
        "models/b.sql": "SELECT 2 AS v",
        "models/c.sql": "SELECT 3 AS v",
        "models/a2.sql": "SELECT v FROM a",
        "models/b2.sql": "SELECT v FROM b",
        "models/c2.sql": "SELECT v FROM c",
    }
    root = make_project(files, modules=[], extra_toml=TOML)
    run(root)
    before = alone(root, ["a2", "b2", "c2"])
    # a and b change their code but not their data; c changes its data
    write_file(root / "models/a.sql", "SELECT 2 - 1 AS v")
    write_file(root / "models/b.sql", "SELECT 1 + 1 AS v")
    write_file(root / "models/c.sql", "SELECT 30 AS v")
    results, state = run(root)
    engine = counting[-1]
    # then c2, the only one left to run: a batch of one
    assert engine.described == ["batch:3", "batch:1"]
    assert {k: results[k].status for k in ("a", "b", "c", "c2")} == dict.fromkeys(
        ("a", "b", "c", "c2"), "success"
    )
    assert not results["a"].changed and not results["b"].changed and results["c"].changed
    assert (results["a2"].status, results["a2"].reason) == ("skipped", "unchanged_upstream")
    assert (results["b2"].status, results["b2"].reason) == ("skipped", "unchanged_upstream")
    assert warehouse_rows(root, "SELECT v FROM c2") == [(30,)]
    after = alone(root, ["a2", "b2", "c2"])
    assert after["a2"] == before["a2"] and after["c2"] != before["c2"]
    assert state["c2"].data_version == after["c2"]


def test_a_failing_asset_in_the_middle_of_a_batch_fails_alone_and_its_siblings_publish(
    make_project, run, counting
):
    files = {
        "models/a_ok.sql": "SELECT 1 AS v",
        "models/b_broken.sql": "SELECT error('boom') AS v",
        "models/c_ok.sql": "SELECT 3 AS v",
        "models/d.sql": "SELECT a_ok.v + c_ok.v AS v FROM a_ok CROSS JOIN c_ok",
        "models/e.sql": "SELECT v FROM b_broken",
    }
    root = make_project(files, modules=[], extra_toml=TOML)
    results, state = run(root)
    assert results["b_broken"].status == "failed"
    assert "boom" in results["b_broken"].error and "b_broken" in results["b_broken"].error
    assert results["a_ok"].error is None and results["c_ok"].error is None
    assert {k: results[k].status for k in ("a_ok", "c_ok", "d")} == dict.fromkeys(
        ("a_ok", "c_ok", "d"), "success"
    )
    assert (results["e"].status, results["e"].reason) == ("skipped", "upstream_failed: b_broken")
    assert warehouse_rows(root, "SELECT v FROM d") == [(4,)]
    assert all(state[k].published for k in ("a_ok", "c_ok", "d"))
    assert "b_broken" not in state or not state["b_broken"].published
    assert {k: state[k].data_version for k in ("a_ok", "c_ok", "d")} == alone(
        root, ["a_ok", "c_ok", "d"]
    )


def test_a_column_named_t_does_not_hide_the_other_columns_from_the_data_version(
    make_project, run, write_file
):
    """``hash(t)`` over ``... AS t`` hashes the whole row, unless a column is named t:
    the row is then hashed under another alias, alone and in a batch."""
    files = {
        "models/a.sql": "SELECT 1 AS t, 2 AS v",
        "models/b.sql": "SELECT 1 AS T, 2 AS v",
        "models/a2.sql": "SELECT v FROM a",
    }
    root = make_project(files, modules=[], extra_toml=TOML)
    first, _ = run(root)
    write_file(root / "models/a.sql", "SELECT 1 AS t, 3 AS v")  # described alone
    second, _ = run(root)
    assert second["a"].changed and second["a"].data_version != first["a"].data_version
    assert second["a2"].status == "success" and warehouse_rows(root, "SELECT v FROM a2") == [(3,)]
    write_file(root / "models/a.sql", "SELECT 1 AS t, 4 AS v")
    write_file(root / "models/b.sql", "SELECT 1 AS T, 4 AS v")  # a and b: one batch
    third, state = run(root)
    assert third["a"].changed and third["b"].changed
    assert third["a2"].status == "success" and warehouse_rows(root, "SELECT v FROM a2") == [(4,)]
    assert {k: state[k].data_version for k in ("a", "b")} == alone(root, ["a", "b"])
