"""Great Expectations suites as checks, with the real library (an ephemeral GE context)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

from assets_core.errors import DefinitionError

SUITE = {
    "name": "orders_suite",
    "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "order_id"}},
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "currency", "value_set": ["EUR", "USD"]},
        },
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
    ],
}

DEFS = """
import pandas as pd

from assets_core import asset, checks as c


@asset(checks=[c.ge_suite("expectations/orders.json")])
def orders():
    return pd.DataFrame({"order_id": ORDER_IDS, "currency": CURRENCIES})


@asset
def report(orders):
    return orders.groupby("currency", as_index=False).size()
"""

# what GE prints on its own (tqdm) while it computes metrics
GE_PROGRESS = ("Calculating Metrics", "it/s]")


def defs(order_ids: list[Any], currencies: list[str]) -> str:
    return DEFS.replace("ORDER_IDS", repr(order_ids)).replace("CURRENCIES", repr(currencies))


def ge_project(make_project: Any, suite: dict[str, Any] = SUITE) -> Path:
    return make_project(
        {
            "defs.py": defs([1, 2, 3], ["EUR", "USD", "EUR"]),
            "expectations/orders.json": json.dumps(suite, indent=2),
        }
    )


def expectations(catalog_rows: Any, root: Path, status: str) -> dict[str, dict[str, Any]]:
    """The recorded GE results of the latest version of orders with ``status``, by expectation."""
    ((meta,),) = catalog_rows(
        root,
        "select r.metadata from check_results r join materializations m "
        "on m.id = r.materialization_id "
        f"where m.key = 'orders' and m.status = '{status}' order by r.id desc limit 1",
    )
    return {e["expectation"]: e for e in json.loads(meta)["expectations"]}


def assert_no_ge_progress(proc: Any) -> None:
    for text in GE_PROGRESS:
        assert text not in proc.stdout
        assert text not in proc.stderr


def test_ge_suite_passes_publishes_and_a_failing_version_is_quarantined(
    make_project: Any, run_cli: Any, cli_json: Any, catalog_rows: Any
) -> None:
    root = ge_project(make_project)
    ok = run_cli(root, "materialize")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert_no_ge_progress(ok)
    passed = expectations(catalog_rows, root, "success")
    assert passed["expect_table_row_count_to_be_between"]["observed_value"] == 3
    assert passed["expect_column_values_to_not_be_null"]["unexpected_count"] == 0
    assert passed["expect_column_values_to_be_in_set"]["kwargs"] == {
        "column": "currency",
        "value_set": ["EUR", "USD"],
    }
    assert all(e["success"] for e in passed.values())
    published = catalog_rows(root, "select data_version from asset_state where key = 'orders'")

    (root / "defs.py").write_text(defs([1, None, 3], ["EUR", "GBP", "GBP"]))
    bad = run_cli(root, "materialize")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert_no_ge_progress(bad)
    assert "skipped report: blocked_by_check: orders (ge_suite(orders.json))" in bad.stdout
    assert catalog_rows(root, "select data_version from asset_state where key = 'orders'") == (
        published
    )
    failed = expectations(catalog_rows, root, "quarantined")
    in_set = failed["expect_column_values_to_be_in_set"]
    assert (in_set["success"], in_set["unexpected_count"]) == (False, 2)
    assert in_set["partial_unexpected_list"] == ["GBP", "GBP"]
    not_null = failed["expect_column_values_to_not_be_null"]
    assert (not_null["success"], not_null["unexpected_count"]) == (False, 1)
    assert failed["expect_table_row_count_to_be_between"]["success"]

    shown = cli_json(root, "quarantine", "show", "orders", "--json")
    (result,) = shown["checks"]
    assert result["check_name"] == "ge_suite(orders.json)"
    assert result["failing_rows"] == 2
    assert result["description"] == (
        "2 of 3 expectations failed: expect_column_values_to_not_be_null, "
        "expect_column_values_to_be_in_set"
    )
    text = run_cli(root, "quarantine", "show", "orders")
    assert "BAD expect_column_values_to_be_in_set" in text.stdout
    assert "unexpected=2" in text.stdout


def test_changing_only_the_suite_file_reaudits_the_published_value(
    make_project: Any, run_cli: Any, cli_json: Any, catalog_rows: Any
) -> None:
    root = ge_project(make_project)
    cli_json(root, "materialize", "--json")
    stricter = json.loads(json.dumps(SUITE))
    stricter["expectations"][2]["kwargs"] = {"min_value": 5}
    (root / "expectations" / "orders.json").write_text(json.dumps(stricter))

    plan = cli_json(root, "plan", "--json")
    assert [(s["key"], [r["kind"] for r in s["reasons"]]) for s in plan["steps"]] == [
        ("orders", ["checks_changed"])
    ]
    proc = run_cli(root, "materialize", "--json")
    assert proc.returncode == 1
    assert_no_ge_progress(proc)
    (step,) = json.loads(proc.stdout)["steps"]
    assert (step["key"], step["status"]) == ("orders", "failed_checks")
    (outcome,) = step["checks"]
    assert outcome["description"] == (
        "1 of 3 expectations failed: expect_table_row_count_to_be_between"
    )
    counts = catalog_rows(root, "select count(*) from materializations where key = 'orders'")
    assert counts == [(1,)]  # audited, not recomputed
    status = {a["key"]: a for a in cli_json(root, "status", "--json")["assets"]}
    assert status["orders"]["status"] == "failed_checks"


# -- in process ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_suite() -> Any:
    from integrations.great_expectations import run_suite

    return run_suite


def test_polars_frames_are_validated_like_pandas_frames(run_suite: Any, tmp_path: Path) -> None:
    (tmp_path / "suite.json").write_text(json.dumps(SUITE))
    data = {"order_id": [1, None, 3], "currency": ["EUR", "USD", "JPY"]}
    got = [run_suite("suite.json", df, tmp_path) for df in (pd.DataFrame(data), pl.DataFrame(data))]
    assert got[0] == got[1]
    assert not got[0].passed
    assert got[0].failing_rows == 1
    by_type = {e["expectation"]: e for e in got[0].metadata["expectations"]}
    assert by_type["expect_column_values_to_be_in_set"]["partial_unexpected_list"] == ["JPY"]


def test_an_expectation_suite_object_is_accepted(run_suite: Any) -> None:
    import great_expectations as gx

    suite = gx.ExpectationSuite(
        name="inline",
        expectations=[gx.expectations.ExpectColumnValuesToBeUnique(column="order_id")],
    )
    result = run_suite(suite, pd.DataFrame({"order_id": [1, 1, 2]}))
    assert not result.passed
    (e,) = result.metadata["expectations"]
    assert (e["expectation"], e["unexpected_count"]) == ("expect_column_values_to_be_unique", 2)


def test_ge_progress_output_is_kept_out_of_ours(
    run_suite: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import great_expectations as gx

    from assets_core.checks import ge_suite

    (tmp_path / "suite.json").write_text(json.dumps(SUITE))
    df = pd.DataFrame({"order_id": [1, 2], "currency": ["EUR", "USD"]})
    # GE left alone prints progress bars ...
    ctx = gx.get_context(mode="ephemeral")
    batch = (
        ctx.data_sources.add_pandas("plain")
        .add_dataframe_asset(name="frame")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": df})
    )
    assert batch.validate(gx.ExpectationSuite(**SUITE)).success
    leaked = capfd.readouterr()
    assert GE_PROGRESS[0] in leaked.out + leaked.err
    # ... which run_suite keeps to itself
    assert run_suite(ge_suite("suite.json").suite, df, tmp_path).passed
    quiet = capfd.readouterr()
    assert (quiet.out, quiet.err) == ("", "")


def test_unreadable_suites_are_definition_errors(run_suite: Any, tmp_path: Path) -> None:
    df = pd.DataFrame({"order_id": [1]})
    with pytest.raises(DefinitionError, match="cannot read Great Expectations suite"):
        run_suite("missing.json", df, tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(DefinitionError, match="broken.json is not valid JSON"):
        run_suite("broken.json", df, tmp_path)
    (tmp_path / "wrong.json").write_text(json.dumps({"expectations": "none"}))
    with pytest.raises(DefinitionError, match="wrong.json is not a valid expectation suite"):
        run_suite("wrong.json", df, tmp_path)
