"""``assets quarantine list | show | release | discard`` on a version that failed a blocking check."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from checks_project import by_key, defs, published, store_file

QUARANTINED_SQL = (
    "select id, data_version, value_ref, status from materializations "
    "where key = 'orders' and status != 'success'"
)


@pytest.fixture
def quarantined_project(make_project: Any, cli_json: Any) -> Path:
    """orders published with ids 1, 2, 3; then a new version with a duplicated id quarantined."""
    root = make_project({"defs.py": defs()})
    cli_json(root, "materialize", "--json")
    (root / "defs.py").write_text(
        defs(order_ids=[7, 7, 3], amounts=[5.0, -4.0, 2.0]).replace(
            '"currency": ["EUR", "USD", "EUR"]', '"currency": ["EUR", "GBP", "EUR"]'
        )
    )
    cli_json(root, "materialize", "--json", expect=1)
    return root


def test_list_shows_the_quarantined_version(
    quarantined_project: Path, cli_json: Any, run_cli: Any, catalog_rows: Any
) -> None:
    root = quarantined_project
    ((mid, dv, _, _),) = catalog_rows(root, QUARANTINED_SQL)
    listed = cli_json(root, "quarantine", "list", "--json")
    assert [
        (q["key"], q["materialization_id"], q["data_version"]) for q in listed["quarantined"]
    ] == [("orders", mid, dv)]
    assert listed["quarantined"][0]["rows"] == 3
    assert listed["failed_checks"] == []
    text = run_cli(root, "quarantine", "list")
    assert text.returncode == 0
    assert "quarantined (never published)" in text.stdout
    assert dv[:12] in text.stdout


def test_show_prints_check_results_and_failing_row_samples(
    quarantined_project: Path, run_cli: Any, cli_json: Any
) -> None:
    root = quarantined_project
    proc = run_cli(root, "quarantine", "show", "orders")
    assert proc.returncode == 0, proc.stderr
    lines = [line.strip() for line in proc.stdout.splitlines()]
    assert lines[0].startswith("orders: quarantined version ")
    assert "FAIL unique(order_id): 2 of 3 rows fail" in lines
    assert "FAIL accepted_values(currency): 1 of 3 rows fail" in lines
    assert "warn expression(amount >= 0): 1 of 3 rows fail" in lines
    assert "pass not_null(customer_id): all 3 rows pass" in lines
    samples = [json.loads(line) for line in lines if line.startswith("{")]
    duplicated = [{"order_id": 7, "customer_id": 1, "currency": "EUR", "amount": 5.0}]
    duplicated.append({"order_id": 7, "customer_id": 2, "currency": "GBP", "amount": -4.0})
    assert duplicated[0] in samples and duplicated[1] in samples

    shown = cli_json(root, "quarantine", "show", "orders", "--json")
    checks = {r["check_name"]: r for r in shown["checks"]}
    assert checks["unique(order_id)"]["sample"] == duplicated
    assert checks["unique(order_id)"]["failing_rows"] == 2
    assert checks["accepted_values(currency)"]["sample"] == [duplicated[1]]
    assert (
        checks["expression(amount >= 0)"]["severity"],
        checks["expression(amount >= 0)"]["passed"],
    ) == (
        "warn",
        False,
    )
    assert [v["key"] for v in shown["versions"]] == ["orders"]


def test_release_publishes_records_who_and_why_and_unblocks_downstream(
    quarantined_project: Path, run_cli: Any, cli_json: Any, catalog_rows: Any
) -> None:
    root = quarantined_project
    before = published(catalog_rows, root)
    ((mid, dv, ref, _),) = catalog_rows(root, QUARANTINED_SQL)
    user = getpass.getuser()

    proc = run_cli(root, "quarantine", "release", "orders", "--reason", "duplicates are refunds")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        f"released orders (materialization {mid}) by {user}: duplicates are refunds"
    )
    now = published(catalog_rows, root)
    assert now["orders"] == (dv, ref, "released")
    assert now["report"] == before["report"]
    assert catalog_rows(root, QUARANTINED_SQL) == [(mid, dv, ref, "released")]
    events = catalog_rows(root, "select kind, key, user, payload from events")
    assert [(k, key, u) for k, key, u, _ in events] == [("quarantine_released", "orders", user)]
    assert json.loads(events[0][3]) == {
        "materialization_id": mid,
        "data_version": dv,
        "reason": "duplicates are refunds",
    }
    assert cli_json(root, "quarantine", "list", "--json")["quarantined"] == []
    status = by_key(cli_json(root, "status", "--json"), "assets")
    assert status["orders"]["status"] == "fresh"
    assert status["orders"]["checks_status"] == "released"
    assert [r["kind"] for r in status["report"]["reasons"]] == ["upstream_changed"]

    # the next run materializes what was blocked, from the released version
    out = by_key(cli_json(root, "materialize", "--json"))
    assert list(out) == ["report"]
    assert out["report"]["status"] == "success"
    report = pl.read_parquet(store_file(root, published(catalog_rows, root)["report"][1]))
    assert report.to_dicts() == [
        {"currency": "EUR", "amount": 7.0},
        {"currency": "GBP", "amount": -4.0},
    ]


def test_checking_a_released_version_again_keeps_the_release(
    quarantined_project: Path, run_cli: Any, cli_json: Any
) -> None:
    root = quarantined_project
    proc = run_cli(root, "quarantine", "release", "orders", "--reason", "duplicates are refunds")
    assert proc.returncode == 0, proc.stderr
    # the same checks fail again on the same data: recorded, but the release stands
    checked = run_cli(root, "check", "orders")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    status = by_key(cli_json(root, "status", "--json"), "assets")
    assert status["orders"]["checks_status"] == "released"
    assert status["orders"]["status"] == "fresh"
    out = by_key(cli_json(root, "materialize", "--json"))
    assert out["report"]["status"] == "success"


def test_release_needs_a_reason_and_something_to_release(
    quarantined_project: Path, run_cli: Any
) -> None:
    root = quarantined_project
    no_reason = run_cli(root, "quarantine", "release", "orders")
    assert no_reason.returncode == 2
    assert "Missing option '--reason'" in no_reason.stderr
    nothing = run_cli(root, "quarantine", "release", "report", "--reason", "x")
    assert nothing.returncode == 2
    assert "report has nothing quarantined to release" in nothing.stderr
    unknown = run_cli(root, "quarantine", "show", "nope")
    assert unknown.returncode == 2
    assert "Traceback" not in unknown.stderr


def test_discard_removes_the_quarantined_data_and_keeps_the_published_version(
    quarantined_project: Path, run_cli: Any, cli_json: Any, catalog_rows: Any
) -> None:
    root = quarantined_project
    before = published(catalog_rows, root)
    published_bytes = store_file(root, before["orders"][1]).read_bytes()
    ((mid, dv, ref, _),) = catalog_rows(root, QUARANTINED_SQL)
    assert store_file(root, ref).is_file()

    proc = run_cli(root, "quarantine", "discard", "orders", "--reason", "bad export")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "discarded 1 quarantined version(s) of orders"
    assert not store_file(root, ref).exists()
    assert store_file(root, before["orders"][1]).read_bytes() == published_bytes
    assert published(catalog_rows, root) == before
    assert catalog_rows(root, QUARANTINED_SQL) == [(mid, dv, ref, "discarded")]
    events = catalog_rows(root, "select kind, key, user, payload from events")
    assert [(k, key, u) for k, key, u, _ in events] == [
        ("quarantine_discarded", "orders", getpass.getuser())
    ]
    assert json.loads(events[0][3]) == {
        "materialization_id": mid,
        "data_version": dv,
        "reason": "bad export",
    }
    assert cli_json(root, "quarantine", "list", "--json")["quarantined"] == []
    again = run_cli(root, "quarantine", "show", "orders")
    assert again.returncode == 2
    assert "orders has no quarantined version" in again.stderr
