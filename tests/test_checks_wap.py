"""Write, audit, publish: end to end through the ``assets`` CLI in temporary projects.

A new version is staged, its checks run, and it is published only when every blocking
check passed. A failure leaves the published files untouched, quarantines the new
version and skips its downstream with ``blocked_by_check``.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from checks_project import ORDERS_CHECKS, by_key, calls, defs, published, store_file


def test_blocking_failure_keeps_published_parquet_byte_identical_and_blocks_downstream(
    make_project: Any, cli_json: Any, run_cli: Any, catalog_rows: Any
) -> None:
    root = make_project({"defs.py": defs()})
    first = cli_json(root, "materialize", "--json")
    assert [s["status"] for s in first["steps"]] == ["success", "success"]
    before = published(catalog_rows, root)
    files = {k: store_file(root, ref) for k, (_, ref, _) in before.items()}
    bytes_before = {k: f.read_bytes() for k, f in files.items()}

    (root / "defs.py").write_text(defs(order_ids=[1, 1, 3]))
    out = cli_json(root, "materialize", "--json", expect=1)

    steps = by_key(out)
    assert out["status"] == "failed"
    assert steps["orders"]["status"] == "quarantined"
    assert steps["orders"]["reason"] == "unique(order_id)"
    assert steps["report"]["status"] == "skipped"
    assert steps["report"]["reason"] == "blocked_by_check: orders (unique(order_id))"
    # nothing published moved: same versions, same files, same bytes
    assert published(catalog_rows, root) == before
    assert {k: f.read_bytes() for k, f in files.items()} == bytes_before
    assert pl.read_parquet(files["orders"])["order_id"].to_list() == [1, 2, 3]
    # the new version is kept aside in the store, with the results that stopped it
    (mid, dv, ref), *_ = catalog_rows(
        root,
        "select id, data_version, value_ref from materializations "
        "where key = 'orders' and status = 'quarantined'",
    )
    assert dv != before["orders"][0]
    assert store_file(root, ref).is_file()
    results = catalog_rows(
        root,
        "select check_name, passed, severity, failing_rows from check_results "
        f"where materialization_id = {mid} order by check_name",
    )
    assert results == [
        ("accepted_values(currency)", 1, "error", 0),
        ("expression(amount >= 0)", 1, "warn", 0),
        ("not_null(customer_id)", 1, "error", 0),
        ("unique(order_id)", 0, "error", 2),
    ]
    status = by_key(cli_json(root, "status", "--json"), "assets")
    assert status["orders"]["status"] == "quarantined"
    assert status["orders"]["version"] == before["orders"][0]
    assert status["report"]["version"] == before["report"][0]
    assert [r["kind"] for r in status["report"]["reasons"]] == ["upstream_will_change"]

    # the human-readable run says the same, and exits 1 again while the data is bad
    proc = run_cli(root, "materialize")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "orders: BLOCKED by check unique(order_id) - 2 of 3 rows fail" in proc.stdout
    assert "skipped report: blocked_by_check: orders (unique(order_id))" in proc.stdout
    assert {k: f.read_bytes() for k, f in files.items()} == bytes_before


def test_quarantined_last_attempt_is_planned_again_with_reason_last_attempt_failed(
    make_project: Any, cli_json: Any
) -> None:
    root = make_project({"defs.py": defs()})
    cli_json(root, "materialize", "--json")
    (root / "defs.py").write_text(defs(order_ids=[1, 1, 3]))
    cli_json(root, "materialize", "--json", expect=1)
    plan = cli_json(root, "plan", "--json")
    steps = by_key(plan)
    # the code that produced the quarantined version is the current code: still planned
    assert [r["kind"] for r in steps["orders"]["reasons"]] == [
        "last_attempt_failed",
        "code_changed",
    ]
    assert steps["orders"]["reasons"][0]["detail"] == (
        "the latest version was quarantined by its checks"
    )
    assert [r["kind"] for r in steps["report"]["reasons"]] == ["upstream_will_change"]


def test_warning_failure_publishes_and_status_shows_the_warning(
    make_project: Any, cli_json: Any, run_cli: Any, catalog_rows: Any
) -> None:
    root = make_project({"defs.py": defs()})
    cli_json(root, "materialize", "--json")
    before = published(catalog_rows, root)

    (root / "defs.py").write_text(defs(amounts=[5.0, -1.0, 2.0]))
    out = cli_json(root, "materialize", "--json")

    steps = by_key(out)
    assert out["status"] == "success"
    assert steps["orders"]["status"] == "success"
    assert steps["report"]["status"] == "success"
    warning = next(o for o in steps["orders"]["checks"] if not o["passed"])
    assert warning["check"] == "expression(amount >= 0)"
    after = published(catalog_rows, root)
    assert after["orders"][0] == steps["orders"]["data_version"] != before["orders"][0]
    assert after["orders"][2] == "warned"
    orders = by_key(cli_json(root, "status", "--json"), "assets")["orders"]
    assert orders["status"] == "fresh"
    assert orders["checks"]["warned"] == ["expression(amount >= 0)"]
    assert orders["checks"]["failed"] == []
    result = next(r for r in orders["checks"]["results"] if r["check"] == warning["check"])
    assert (result["passed"], result["severity"], result["failing_rows"]) == (False, "warn", 1)
    text = run_cli(root, "status")
    assert text.returncode == 0
    assert "warn: expression(amount >= 0)" in text.stdout


def test_a_check_that_raises_is_a_failed_check_with_the_users_traceback(
    make_project: Any, cli_json: Any, run_cli: Any, catalog_rows: Any
) -> None:
    extra = """

@check(orders)
def ledger_agrees(orders):
    total = orders["amount"].sum()
    raise ValueError(f"ledger is closed, total {total}")


@check(orders, blocking=False, name="soft")
def soft_check(orders):
    return {}["missing"]
"""
    root = make_project({"defs.py": defs(extra=extra)})
    proc = run_cli(root, "materialize")

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback (most recent call last)" not in proc.stderr
    assert "orders: BLOCKED by check ledger_agrees - ValueError: ledger is closed" in proc.stdout
    assert "orders: warning from check soft - KeyError: 'missing'" in proc.stdout
    (run_status,) = catalog_rows(root, "select status from runs")
    assert run_status == ("failed",)  # finished and recorded, not interrupted
    rows = dict(
        catalog_rows(root, "select check_name, error from check_results where error is not null")
    )
    assert set(rows) == {"ledger_agrees", "soft"}
    tb = rows["ledger_agrees"]
    defs_file = str(root / "defs.py")
    assert f'File "{defs_file}", line' in tb
    assert 'raise ValueError(f"ledger is closed, total {total}")' in tb
    assert tb.endswith("ValueError: ledger is closed, total 8.0")
    assert "assets_core" not in tb
    assert "assets_core" not in rows["soft"]
    assert rows["soft"].endswith("KeyError: 'missing'")
    assert by_key(cli_json(root, "status", "--json"), "assets")["orders"]["status"] == (
        "quarantined"
    )


def test_a_check_that_changes_its_frame_does_not_change_the_stored_version(
    make_project: Any, cli_json: Any, catalog_rows: Any
) -> None:
    root = make_project(
        {
            "defs.py": """
                import pandas as pd

                from assets_core import asset, check, checks as c


                @asset(checks=[c.unique("order_id")])
                def orders():
                    return pd.DataFrame({"order_id": [1, 2, 3], "amount": [5.0, 1.0, 2.0]})


                @check(orders)
                def overwrites(orders):
                    orders["order_id"] = 0  # changes the frame it was given
                    return True
            """
        }
    )
    out = cli_json(root, "materialize", "--json")
    assert [(s["key"], s["status"]) for s in out["steps"]] == [("orders", "success")]
    (_, ref, _) = published(catalog_rows, root)["orders"]
    stored = pl.read_parquet(store_file(root, ref))
    assert stored["order_id"].to_list() == [1, 2, 3]


def test_custom_check_reads_another_asset_which_does_not_make_the_asset_stale(
    make_project: Any, cli_json: Any, catalog_rows: Any
) -> None:
    ledger = """
import polars as pl

from assets_core import asset


@asset
def ledger():
    return pl.DataFrame({"total": [TOTAL]})
"""
    extra = """

@check(orders, name="totals_match_ledger")
def totals_match(orders, ledger):
    from assets_core import CheckResult

    got, want = orders["amount"].sum(), ledger["total"][0]
    return CheckResult(passed=bool(got == want), description=f"orders {got} vs ledger {want}",
                       metadata={"orders": got, "ledger": want})
"""
    root = make_project(
        {"books.py": ledger.replace("TOTAL", "8.0"), "defs.py": defs(extra=extra)},
        modules=["books", "defs"],
    )
    out = cli_json(root, "materialize", "--json")
    assert {k: s["status"] for k, s in by_key(out).items()} == {
        "ledger": "success",
        "orders": "success",
        "report": "success",
    }
    outcome = next(
        o for o in by_key(out)["orders"]["checks"] if o["check"] == "totals_match_ledger"
    )
    assert outcome["passed"]
    (meta,) = catalog_rows(
        root, "select metadata from check_results where check_name = 'totals_match_ledger'"
    )
    assert json.loads(meta[0]) == {"orders": 8.0, "ledger": 8.0}

    # the ledger changes: it is rebuilt, but orders is not stale because of it
    (root / "books.py").write_text(ledger.replace("TOTAL", "9.0"))
    plan = cli_json(root, "plan", "--json")
    assert [s["key"] for s in plan["steps"]] == ["ledger"]
    cli_json(root, "materialize", "--json")
    assert calls(root) == 1

    # running the checks on what is published now finds the mismatch
    checked = cli_json(root, "check", "orders", "--json", expect=1)
    (asset,) = checked["assets"]
    assert (asset["key"], asset["status"]) == ("orders", "failed_checks")
    failing = next(o for o in asset["checks"] if o["check"] == "totals_match_ledger")
    assert not failing["passed"]
    assert failing["description"] == "orders 8.0 vs ledger 9.0"
    assert calls(root) == 1


def test_check_only_change_reruns_checks_without_recomputing_the_asset(
    make_project: Any, cli_json: Any, catalog_rows: Any
) -> None:
    root = make_project({"defs.py": defs()})
    cli_json(root, "materialize", "--json")
    assert calls(root) == 1
    before = published(catalog_rows, root)
    count_sql = "select count(*) from materializations where key = 'orders'"
    (materializations,) = catalog_rows(root, count_sql)

    checks = ORDERS_CHECKS[:-1] + "    c.row_count(min=1),\n]"
    (root / "defs.py").write_text(defs(checks=checks))
    plan = cli_json(root, "plan", "--json")
    assert plan["steps"] == [
        {
            "key": "orders",
            "reasons": [{"kind": "checks_changed", "detail": "row_count(min=1) added"}],
        }
    ]
    out = cli_json(root, "materialize", "--json")

    (step,) = out["steps"]
    assert (step["key"], step["status"]) == ("orders", "checked")
    assert calls(root) == 1
    assert catalog_rows(root, count_sql) == [materializations]
    assert published(catalog_rows, root) == before
    rows = catalog_rows(
        root,
        "select passed, data_version from check_results where check_name = 'row_count(min=1)'",
    )
    assert rows == [(1, before["orders"][0])]
    assert cli_json(root, "plan", "--json")["steps"] == []


def test_newly_failing_blocking_check_marks_published_value_failed_checks_until_released(
    make_project: Any, cli_json: Any, run_cli: Any, catalog_rows: Any
) -> None:
    root = make_project({"defs.py": defs()})
    cli_json(root, "materialize", "--json")
    before = published(catalog_rows, root)
    report_file = store_file(root, before["report"][1])
    report_bytes = report_file.read_bytes()

    checks = ORDERS_CHECKS[:-1] + "    c.row_count(max=2),\n]"
    (root / "defs.py").write_text(defs(checks=checks))
    out = cli_json(root, "materialize", "--json", expect=1)
    (step,) = out["steps"]
    assert (step["key"], step["status"], step["reason"]) == (
        "orders",
        "failed_checks",
        "row_count(max=2)",
    )
    assert calls(root) == 1  # the published value was audited, not recomputed
    assert published(catalog_rows, root)["orders"] == (*before["orders"][:2], "failed")
    status = by_key(cli_json(root, "status", "--json"), "assets")
    assert status["orders"]["status"] == "failed_checks"
    assert status["orders"]["checks"]["failed"] == ["row_count(max=2)"]

    # downstream work is blocked while the published value fails its checks
    report_src = 'agg(pl.col("amount").sum())'
    (root / "defs.py").write_text(
        defs(checks=checks).replace(report_src, 'agg(pl.col("amount").max())')
    )
    blocked = by_key(json.loads(run_cli(root, "materialize", "--json").stdout))
    assert blocked["report"]["status"] == "skipped"
    assert blocked["report"]["reason"] == (
        "blocked_by_check: orders (its published version fails checks)"
    )
    assert report_file.read_bytes() == report_bytes
    assert published(catalog_rows, root)["report"] == before["report"]

    listed = cli_json(root, "quarantine", "list", "--json")
    assert [r["key"] for r in listed["failed_checks"]] == ["orders"]
    proc = run_cli(root, "quarantine", "release", "orders", "--reason", "three rows is fine")
    assert proc.returncode == 0, proc.stderr
    assert published(catalog_rows, root)["orders"] == (*before["orders"][:2], "released")

    after = by_key(cli_json(root, "materialize", "--json"))
    assert after["report"]["status"] == "success"
    assert published(catalog_rows, root)["report"][0] != before["report"][0]
    assert calls(root) == 1


def test_assets_check_audits_published_values_and_records_results(
    make_project: Any, cli_json: Any, run_cli: Any, catalog_rows: Any
) -> None:
    root = make_project({"defs.py": defs()})
    empty = run_cli(root, "check")
    assert empty.returncode == 0
    assert "No published asset with checks in the selection." in empty.stdout

    cli_json(root, "materialize", "--json")
    proc = run_cli(root, "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "orders: checked (4/4 checks passed)" in proc.stdout
    checked = cli_json(root, "check", "--json")
    (asset,) = checked["assets"]
    assert (asset["key"], asset["status"]) == ("orders", "checked")
    assert len(asset["checks"]) == 4
    # each audit is recorded against the published version
    (mid,) = catalog_rows(root, "select materialization_id from asset_state where key='orders'")
    rows = catalog_rows(
        root, f"select count(*) from check_results where materialization_id = {mid[0]}"
    )
    assert rows == [(12,)]  # materialize, check, check --json: 4 checks each
    assert calls(root) == 1


def test_unknown_column_in_a_builtin_fails_the_check_naming_the_column_and_the_closest(
    make_project: Any, run_cli: Any, cli_json: Any
) -> None:
    checks = ORDERS_CHECKS.replace('not_null("customer_id")', 'not_null("customerid")')
    root = make_project({"defs.py": defs(checks=checks)})
    proc = run_cli(root, "materialize")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    shown = cli_json(root, "quarantine", "show", "orders", "--json")
    result = next(r for r in shown["checks"] if r["check_name"] == "not_null(customerid)")
    assert not result["passed"]
    assert result["error"] is None
    assert result["description"].startswith(
        "not_null(customerid): no column customerid (did you mean customer_id"
    )
    assert result["description"].endswith("columns are: order_id, customer_id, currency, amount")
