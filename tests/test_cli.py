"""The ``assets`` command, run for real in a subprocess: output, JSON, exit codes, errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

CHAIN = {
    "defs.py": """
        from assets_core import asset

        @asset(key_prefix="raw")
        def orders():
            return [3, 1, 2]

        @asset(key_prefix="bi", tags=["finance"])
        def revenue(orders):
            return sum(orders)

        @asset(key_prefix="bi")
        def report(revenue):
            return f"revenue: {revenue}"
    """
}
KEYS = ["raw/orders", "bi/revenue", "bi/report"]


def assert_clean_error(proc, code: int, *fragments: str) -> None:
    """Exit ``code``, one paragraph on stderr containing ``fragments``, no traceback."""
    assert proc.returncode == code, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert err.startswith("error: ")
    assert "\n\n" not in err
    assert "Traceback" not in proc.stderr
    assert "assets_core/" not in proc.stderr
    for f in fragments:
        assert f in err


@pytest.mark.parametrize(
    "command", [[], ["plan"], ["materialize"], ["status"], ["list"], ["runs"], ["show"], ["gc"]]
)
def test_help_of_every_command_exits_0(run_cli, command: list[str]) -> None:
    proc = run_cli(None, *command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Usage: assets {' '.join(command)}".rstrip())


def test_version_option_prints_the_version(run_cli) -> None:
    proc = run_cli(None, "--version")
    assert proc.returncode == 0
    assert "assets, version 0.1.0" in proc.stdout


def test_plan_json_lists_steps_with_kind_and_detail(make_project, cli_json) -> None:
    root = make_project(CHAIN)
    data = cli_json(root, "plan", "--json")
    assert [s["key"] for s in data["steps"]] == KEYS
    for step in data["steps"]:
        assert step["reasons"] == [
            {"kind": "never_materialized", "detail": "no published version yet"}
        ]
    assert data["fresh"] == []


def test_plan_prints_a_table_with_reasons(make_project, run_cli) -> None:
    root = make_project(CHAIN)
    proc = run_cli(root, "plan")
    assert proc.returncode == 0
    assert "Plan: 3 to materialize, 0 fresh" in proc.stdout
    assert "never_materialized" in proc.stdout
    for key in KEYS:
        assert key in proc.stdout


def test_plan_selection_limits_the_steps(make_project, cli_json) -> None:
    root = make_project(CHAIN)
    assert [s["key"] for s in cli_json(root, "plan", "+bi/revenue", "--json")["steps"]] == [
        "raw/orders",
        "bi/revenue",
    ]
    assert [s["key"] for s in cli_json(root, "plan", "tag:finance", "--json")["steps"]] == [
        "bi/revenue"
    ]


def test_materialize_then_status_show_runs_and_list_as_json(make_project, cli_json) -> None:
    root = make_project(CHAIN)
    run = cli_json(root, "materialize", "--json")
    assert run["status"] == "success"
    assert [(s["key"], s["status"]) for s in run["steps"]] == [(k, "success") for k in KEYS]

    status = cli_json(root, "status", "--json")
    assert [(a["key"], a["status"], a["reasons"]) for a in status["assets"]] == [
        (k, "fresh", []) for k in KEYS
    ]
    versions = {a["key"]: a["version"] for a in status["assets"]}
    assert versions == {s["key"]: s["data_version"] for s in run["steps"]}

    runs = cli_json(root, "runs", "--json")["runs"]
    assert [(r["id"], r["status"], r["planned"], r["materialized"]) for r in runs] == [
        (run["run_id"], "success", 3, 3)
    ]

    steps = cli_json(root, "runs", "--run", run["run_id"], "--json")
    assert steps["run"]["id"] == run["run_id"]
    assert [s["key"] for s in steps["steps"]] == KEYS

    show = cli_json(root, "show", "bi/revenue", "--json")
    assert show["key"] == "bi/revenue"
    assert show["upstream"] == ["raw/orders"] and show["downstream"] == ["bi/report"]
    assert show["tags"] == ["finance"]
    assert show["published"]["data_version"] == versions["bi/revenue"]
    (h,) = show["history"]
    assert h["status"] == "success"
    assert h["code_version"] == show["code_version"]
    assert h["data_version"] == versions["bi/revenue"]
    assert h["input_versions"] == {"raw/orders": versions["raw/orders"]}
    assert h["run_id"] == run["run_id"]

    listed = cli_json(root, "list", "--json")["assets"]
    assert [a["key"] for a in listed] == KEYS
    assert listed[1]["upstream"] == ["raw/orders"]


def test_a_command_closes_the_catalog_before_the_process_exits(make_project, cli_json) -> None:
    # the last connection to a SQLite catalog folds its write-ahead log into the file and
    # removes it; the CLI freezes its objects at exit, so nothing may rely on collection
    root = make_project(CHAIN)
    db = root / ".assets" / "catalog.db"
    for args in (("materialize", "--json"), ("status", "--json"), ("runs", "--json")):
        cli_json(root, *args)
        assert not (db.parent / "catalog.db-wal").exists(), args
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE status = 'success'").fetchone() == (1,)


def test_show_accepts_a_unique_name_and_lists_code_and_data_versions_per_version(
    make_project, write_file, cli_json
) -> None:
    root = make_project(CHAIN)
    cli_json(root, "materialize", "--json")
    write_file(root / "defs.py", CHAIN["defs.py"].replace("[3, 1, 2]", "[3, 1, 2, 4]"))
    cli_json(root, "materialize", "--json")
    show = cli_json(root, "show", "orders", "--json")
    assert show["key"] == "raw/orders"
    new, old = show["history"]
    assert new["code_version"] != old["code_version"]
    assert new["data_version"] != old["data_version"]
    assert show["published"]["data_version"] == new["data_version"]


def test_human_output_of_status_runs_show_and_list(make_project, run_cli) -> None:
    root = make_project(CHAIN)
    assert run_cli(root, "materialize").returncode == 0
    for args, expected in [
        (("status",), "fresh 3"),
        (("runs",), "success"),
        (("show", "bi/report"), "history of bi/report"),
        (("list",), "3 definitions"),
    ]:
        proc = run_cli(root, *args)
        assert proc.returncode == 0, proc.stderr
        assert expected in proc.stdout


def test_status_shows_never_stale_and_failed(make_project, write_file, cli_json) -> None:
    root = make_project(CHAIN)
    assert {a["status"] for a in cli_json(root, "status", "--json")["assets"]} == {"never"}
    cli_json(root, "materialize", "--json")
    write_file(root / "defs.py", CHAIN["defs.py"].replace("sum(orders)", "sum(orders) + 1"))
    got = {a["key"]: a for a in cli_json(root, "status", "--json")["assets"]}
    assert got["raw/orders"]["status"] == "fresh"
    assert got["bi/revenue"]["status"] == "stale"
    assert got["bi/revenue"]["reasons"][0]["kind"] == "code_changed"
    assert got["bi/report"]["status"] == "stale"
    assert got["bi/report"]["reasons"][0]["kind"] == "upstream_will_change"
    write_file(root / "defs.py", CHAIN["defs.py"].replace("sum(orders)", "1 / 0"))
    cli_json(root, "materialize", "--json", expect=1)
    got = {a["key"]: a["status"] for a in cli_json(root, "status", "--json")["assets"]}
    assert got == {"raw/orders": "fresh", "bi/revenue": "failed", "bi/report": "stale"}


GRAPH_ERRORS = {
    "cycle": (
        """
        from assets_core import asset

        @asset
        def a(b):
            return b

        @asset
        def b(a):
            return a
        """,
        ["the assets form a cycle: a -> b -> a", "defs.py:3", "defs.py:7"],
    ),
    "unknown upstream": (
        """
        from assets_core import asset

        @asset
        def orders():
            return 1

        @asset
        def revenue(order):
            return order
        """,
        ["defs.py:7: asset revenue: parameter 'order' names no", "did you mean orders?"],
    ),
    "duplicate key": (
        """
        from assets_core import asset

        @asset(key="bi/x")
        def one():
            return 1

        @asset(key="bi/x")
        def two():
            return 2
        """,
        ["key bi/x is defined twice: at", "defs.py:3 and at", "defs.py:7"],
    ),
    "source and asset": (
        """
        from assets_core import asset, source

        orders = source("raw/orders", path="data/*.csv")

        @asset(key="raw/orders")
        def make_orders():
            return 1
        """,
        ["raw/orders is declared as a source at", "defs.py:3", "produced as an asset at"],
    ),
    "ambiguous parameter": (
        """
        from assets_core import asset

        @asset(key="x/orders")
        def a():
            return 1

        @asset(key="y/orders")
        def b():
            return 1

        @asset
        def report(orders):
            return orders
        """,
        ["parameter 'orders' could name any of x/orders, y/orders", 'ins={"orders": "x/orders"}'],
    ),
    "bad key": (
        """
        from assets_core import asset

        @asset(key="bad key")
        def a():
            return 1
        """,
        ["defs.py:3: invalid asset key 'bad key'", "fix: a key is one or more identifiers"],
    ),
    "import error": (
        """
        def settings():
            return {}["region"]

        SETTINGS = settings()
        """,
        ["importing defs failed", 'defs.py", line 4, in <module>', "KeyError: 'region'"],
    ),
}


@pytest.mark.parametrize(
    ("case", "command"),
    # every case once, the commands spread over them (each loads the project first)
    [(c, ("plan", "materialize", "status", "list")[i % 4]) for i, c in enumerate(GRAPH_ERRORS)],
)
def test_bad_definitions_exit_2_with_one_paragraph_and_no_traceback(
    make_project, run_cli, case: str, command: str
) -> None:
    src, fragments = GRAPH_ERRORS[case]
    root = make_project({"defs.py": src})
    proc = run_cli(root, command)
    assert_clean_error(proc, 2, *fragments)
    assert not (root / ".assets" / "catalog.db").exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("plan", "bi/revenu"), ["no asset or source named 'bi/revenu'", "bi/revenue"]),
        (("plan", "++x"), ["cannot read selection '++x'", "selection syntax:"]),
        (("materialize", "group:nope"), ["'group:nope' selects nothing"]),
        (("show", "nope"), ["no asset or source named 'nope'"]),
        (("runs", "--run", "nope"), ["no run 'nope'", "fix: list runs with: assets runs"]),
    ],
)
def test_bad_selections_and_names_exit_2(make_project, run_cli, args, fragments) -> None:
    root = make_project(CHAIN)
    assert_clean_error(run_cli(root, *args), 2, *fragments)


def test_an_unknown_option_is_a_usage_error_with_exit_2(make_project, run_cli) -> None:
    proc = run_cli(make_project(CHAIN), "plan", "--bogus")
    assert proc.returncode == 2
    assert "No such option '--bogus'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_project_folder_exits_2(tmp_path: Path, run_cli) -> None:
    proc = run_cli(tmp_path / "nowhere", "plan")
    assert_clean_error(proc, 2, "is not an assets project (no pyproject.toml)")


def test_without_p_the_project_is_found_upward_from_the_working_folder(
    make_project, run_cli, cli_json, tmp_path: Path
) -> None:
    root = make_project(CHAIN)
    deep = root / "analysis" / "notebooks"
    deep.mkdir(parents=True)
    data = cli_json(None, "plan", "--json", cwd=deep)
    assert [s["key"] for s in data["steps"]] == KEYS
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert_clean_error(run_cli(None, "plan", cwd=outside), 2, "no assets project at or above")


def test_assets_catalog_url_overrides_the_catalog_location(
    make_project, cli_json, tmp_path: Path
) -> None:
    root = make_project(CHAIN)
    other = tmp_path / "shared" / "team.db"
    env = {"ASSETS_CATALOG_URL": f"sqlite:///{other}"}
    cli_json(root, "materialize", "--json", env=env)
    assert other.is_file()
    assert not (root / ".assets" / "catalog.db").exists()
    with sqlite3.connect(other) as conn:
        assert conn.execute("select count(*) from asset_state").fetchone() == (3,)
    # the same project with the default catalog has nothing materialized
    assert len(cli_json(root, "plan", "--json")["steps"]) == 3
    assert cli_json(root, "plan", "--json", env=env)["steps"] == []


def test_a_catalog_of_another_schema_version_exits_2_with_a_clear_message(
    make_project, cli_json, run_cli
) -> None:
    root = make_project(CHAIN)
    cli_json(root, "materialize", "--json")
    with sqlite3.connect(root / ".assets" / "catalog.db") as conn:
        conn.execute("update alembic_version set version_num = '0999'")
    assert_clean_error(
        run_cli(root, "status"), 2, "has schema version 999", "point the project at another catalog"
    )


def test_exit_code_is_1_when_an_asset_fails_and_0_when_all_succeed(
    make_project, write_file, run_cli
) -> None:
    root = make_project(CHAIN)
    assert run_cli(root, "materialize").returncode == 0
    write_file(root / "defs.py", CHAIN["defs.py"].replace("sum(orders)", "1 / 0"))
    proc = run_cli(root, "materialize")
    assert proc.returncode == 1
    assert "ZeroDivisionError: division by zero" in proc.stdout
    assert "skipped bi/report: upstream_failed: bi/revenue" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
