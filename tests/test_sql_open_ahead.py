"""`assets materialize` opens the DuckDB files its plan writes to while it opens the
catalog; the run takes those engines, an error surfaces where the engine is taken, and
an engine no run took is closed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import warehouse_rows

from assets_core.sql import engines
from assets_core.sql.duckdb_engine import DuckDBEngine
from assets_core.sql.engines import (
    EngineError,
    EngineSpec,
    close_ahead,
    engines_written,
    open_ahead,
    open_engine,
)


def _spec(path) -> EngineSpec:
    return EngineSpec("duckdb", f"duckdb:///{path}", "duckdb")


def test_the_engine_opened_ahead_is_the_one_taken(tmp_path):
    spec = _spec(tmp_path / "w.duckdb")
    open_ahead([spec])
    e = open_engine(spec)
    try:
        assert isinstance(e, DuckDBEngine) and not engines._AHEAD
        assert e.run("SELECT 41 + 1") == [(42,)]
    finally:
        e.close()
    other = open_engine(spec)  # nothing ahead now: opened here, as before
    other.close()


def test_an_error_opening_ahead_is_raised_where_the_engine_is_taken(tmp_path):
    (tmp_path / "w.duckdb").mkdir()  # a folder where the database file should be
    spec = _spec(tmp_path / "w.duckdb")
    open_ahead([spec])
    with pytest.raises(EngineError, match="cannot open the DuckDB database"):
        open_engine(spec)
    assert not engines._AHEAD


def test_an_engine_no_run_took_is_closed(tmp_path):
    spec = _spec(tmp_path / "w.duckdb")
    open_ahead([spec, spec])  # asked twice: opened once
    close_ahead()
    assert not engines._AHEAD
    code = (  # another process may now open the file for writing
        "import duckdb, sys\n"
        "c = duckdb.connect(sys.argv[1]); c.execute('CREATE TABLE t AS SELECT 1 AS v'); c.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "w.duckdb")], check=True)


def test_only_the_engines_the_plan_writes_to_are_named(make_project, load_project, tmp_path):
    other = tmp_path / "other.duckdb"
    root = make_project(
        {
            "defs.py": "from assets_core import asset\n\n@asset\ndef py():\n    return 1\n",
            "models/a.sql": "SELECT 1 AS v",
            "models/b.sql": "-- asset: engine=lake\nSELECT 2 AS v",
        },
        extra_toml=f'sql_paths = ["models"]\n[tool.assets.engines]\nlake = "duckdb:///{other}"\n',
    )
    project = load_project(root)
    defs = project.graph.defs
    assert engines_written(root, project.config.raw, [defs["py"]]) == []
    names = [s.name for s in engines_written(root, project.config.raw, defs.values())]
    assert names == ["duckdb", "lake"]


def test_materialize_writes_through_the_engines_opened_ahead(make_project, run_cli):
    root = make_project(
        {"models/a.sql": "SELECT 1 AS v", "models/b.sql": "SELECT v + 1 AS v FROM a"},
        modules=[],
        extra_toml='sql_paths = ["models"]\n',
    )
    done = run_cli(root, "materialize", "--json")
    assert done.returncode == 0, done.stderr
    assert {s["key"]: s["status"] for s in json.loads(done.stdout)["steps"]} == {
        "a": "success",
        "b": "success",
    }
    assert warehouse_rows(root, "SELECT v FROM b") == [(2,)]


def test_a_first_materialize_opens_its_engines_ahead_and_a_plan_creates_no_catalog(
    make_project, monkeypatch
):
    # no catalog yet: its state is known to be empty without creating it, so the first
    # run plans from it and opens the warehouse while it creates the catalog
    from click.testing import CliRunner

    from assets_core.cli import load_commands

    root = make_project(
        {"models/a.sql": "SELECT 1 AS v"}, modules=[], extra_toml='sql_paths = ["models"]\n'
    )
    opened: list[str] = []

    def spy(specs):
        specs = list(specs)
        opened.extend(s.name for s in specs)
        return open_ahead(specs)

    monkeypatch.setattr(engines, "open_ahead", spy)
    catalog = root / ".assets" / "catalog.db"
    cli = load_commands()
    planned = CliRunner().invoke(cli, ["-p", str(root), "plan", "--json"])
    assert planned.exit_code == 0, planned.output
    assert [s["key"] for s in json.loads(planned.output)["steps"]] == ["a"]
    assert not catalog.exists() and opened == []
    done = CliRunner().invoke(cli, ["-p", str(root), "materialize", "--json"])
    assert done.exit_code == 0, done.output
    assert opened == ["duckdb"] and not engines._AHEAD
    assert catalog.exists() and warehouse_rows(root, "SELECT v FROM a") == [(1,)]
