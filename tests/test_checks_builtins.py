"""Every built-in rule, evaluated natively on pandas and on polars frames.

Each test runs on three builds of the same data: polars, pandas as ``pd.DataFrame``
infers it (float NaN / object None for missing values) and pandas with nullable
extension dtypes. Failing counts and the failing-row samples must be the same.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

from assets_core import checks as c
from assets_core.checks.definition import Check
from assets_core.checks.frames import SAMPLE_SIZE, UnknownColumn, run_builtin
from assets_core.checks.runner import run_one
from assets_core.errors import DefinitionError

KINDS = ("pandas", "pandas_nullable", "polars")


def frame(kind: str, data: dict[str, list[Any]]) -> Any:
    if kind == "polars":
        return pl.DataFrame(data)
    df = pd.DataFrame(data)
    return df.convert_dtypes() if kind == "pandas_nullable" else df


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


ORDERS = {
    "order_id": [1, 2, 3, 4, 5, 6],
    "customer_id": [10, None, 11, 12, None, 10],
    "currency": ["EUR", "USD", "GBP", None, "EUR", "usd"],
    "amount": [5.0, -1.0, 0.0, 3.5, None, 2.0],
}


def ids(result: Any) -> list[int]:
    return [int(r["order_id"]) for r in result.sample]


# -- not_null ----------------------------------------------------------------------------
def test_not_null_counts_rows_with_a_null_and_samples_them(kind: str) -> None:
    r = run_builtin(c.not_null("customer_id"), frame(kind, ORDERS))
    assert (r.passed, r.failing_rows) == (False, 2)
    assert ids(r) == [2, 5]
    assert all(row["customer_id"] is None for row in r.sample)
    assert r.description == "2 of 6 rows fail"


def test_not_null_on_several_columns_fails_a_row_with_any_null(kind: str) -> None:
    r = run_builtin(c.not_null("customer_id", "currency", "amount"), frame(kind, ORDERS))
    assert r.failing_rows == 3
    assert ids(r) == [2, 4, 5]


def test_not_null_passes_without_nulls_and_has_no_sample(kind: str) -> None:
    r = run_builtin(c.not_null("order_id"), frame(kind, ORDERS))
    assert (r.passed, r.failing_rows, list(r.sample)) == (True, 0, [])
    assert r.description == "all 6 rows pass"


def test_sample_is_capped_at_sample_size(kind: str) -> None:
    df = frame(kind, {"order_id": list(range(20)), "x": [None] * 20})
    r = run_builtin(c.not_null("x"), df)
    assert r.failing_rows == 20
    assert ids(r) == list(range(SAMPLE_SIZE))


def test_a_missing_datetime_is_none_in_the_sample_on_every_frame(kind: str) -> None:
    df = frame(kind, {"order_id": [1, 2], "at": [dt.datetime(2024, 1, 1), None]})
    r = run_builtin(c.not_null("at"), df)
    assert list(r.sample) == [{"order_id": 2, "at": None}]


# -- unique ------------------------------------------------------------------------------
def test_unique_counts_every_duplicated_row(kind: str) -> None:
    r = run_builtin(c.unique("customer_id"), frame(kind, ORDERS))
    # 10 appears twice, null twice: nulls are equal to each other for uniqueness
    assert (r.passed, r.failing_rows) == (False, 4)
    assert ids(r) == [1, 2, 5, 6]


def test_unique_on_several_columns_counts_duplicated_combinations(kind: str) -> None:
    data = {"order_id": [1, 2, 3, 4], "a": [1, 1, 1, 2], "b": ["x", "x", "y", "x"]}
    r = run_builtin(c.unique("a", "b"), frame(kind, data))
    assert r.failing_rows == 2
    assert ids(r) == [1, 2]
    assert run_builtin(c.unique("order_id", "a"), frame(kind, data)).passed


def test_unique_passes_on_a_key(kind: str) -> None:
    assert run_builtin(c.unique("order_id"), frame(kind, ORDERS)).failing_rows == 0


# -- accepted_values ---------------------------------------------------------------------
def test_accepted_values_fails_other_values_and_lets_nulls_pass(kind: str) -> None:
    r = run_builtin(c.accepted_values("currency", ["EUR", "USD"]), frame(kind, ORDERS))
    assert (r.passed, r.failing_rows) == (False, 2)
    assert [row["currency"] for row in r.sample] == ["GBP", "usd"]


def test_accepted_values_on_numbers(kind: str) -> None:
    r = run_builtin(c.accepted_values("customer_id", [10, 11]), frame(kind, ORDERS))
    assert r.failing_rows == 1
    assert ids(r) == [4]


# -- row_count ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "passed"),
    [
        (c.row_count(min=6), True),
        (c.row_count(min=7), False),
        (c.row_count(max=6), True),
        (c.row_count(max=5), False),
        (c.row_count(min=1, max=10), True),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_row_count_bounds_are_inclusive(kind: str, rule: Any, passed: bool) -> None:
    r = run_builtin(rule, frame(kind, ORDERS))
    assert r.passed is passed
    assert r.metadata["rows"] == 6
    assert r.failing_rows == (0 if passed else 6)


def test_row_count_min_fails_an_empty_frame(kind: str) -> None:
    empty = frame(kind, {"order_id": [1]}).head(0)
    r = run_builtin(c.row_count(min=1), empty)
    assert (r.passed, r.description) == (False, "0 rows")


# -- relationships -----------------------------------------------------------------------
def test_relationships_fails_values_missing_from_the_other_asset(kind: str) -> None:
    customers = frame(kind, {"id": [10, 12, 99]})
    rule = c.relationships("customer_id", to="crm/customers", field="id")
    r = run_builtin(rule, frame(kind, ORDERS), other=customers)
    assert (r.passed, r.failing_rows) == (False, 1)  # 11 is unknown, nulls pass
    assert ids(r) == [3]


def test_relationships_across_pandas_and_polars_frames() -> None:
    rule = c.relationships("customer_id", to="crm/customers", field="id")
    other = pd.DataFrame({"id": [10, 11, 12]})
    assert run_builtin(rule, frame("polars", ORDERS), other=other).passed
    other_pl = pl.DataFrame({"id": [10, 11]})
    assert run_builtin(rule, frame("pandas", ORDERS), other=other_pl).failing_rows == 1


def test_relationships_to_a_missing_field_names_it(kind: str) -> None:
    rule = c.relationships("customer_id", to="crm/customers", field="customer")
    with pytest.raises(UnknownColumn) as e:
        run_builtin(rule, frame(kind, ORDERS), other=frame(kind, {"id": [1]}))
    assert e.value.missing == ["customer"]


# -- expression --------------------------------------------------------------------------
def test_expression_string_fails_rows_where_it_is_false_or_null(kind: str) -> None:
    r = run_builtin(c.expression("amount >= 0"), frame(kind, ORDERS))
    assert (r.passed, r.failing_rows) == (False, 2)
    assert ids(r) == [2, 5]


def test_expression_combines_columns(kind: str) -> None:
    data = {"order_id": [1, 2, 3], "lo": [1, 5, 2], "hi": [2, 4, 2]}
    r = run_builtin(c.expression("lo <= hi"), frame(kind, data))
    assert ids(r) == [2]


def test_expression_callable_gets_the_frame_and_returns_a_mask(kind: str) -> None:
    rule = c.expression(lambda df: df["amount"] < 5, name="small_amounts")
    r = run_builtin(rule, frame(kind, ORDERS))
    assert rule.name == "small_amounts"
    assert (r.passed, r.failing_rows) == (False, 2)  # 5.0 and the null
    assert ids(r) == [1, 5]


def test_expression_callable_may_return_a_plain_list(kind: str) -> None:
    rule = c.expression(lambda df: [True] * len(df))
    assert run_builtin(rule, frame(kind, ORDERS)).passed


# -- schema ------------------------------------------------------------------------------
TYPED = {
    "i": [1, 2],
    "f": [1.5, 2.0],
    "s": ["a", "b"],
    "b": [True, False],
    "t": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2)],
}


def test_schema_matches_dtype_families(kind: str) -> None:
    rule = c.schema({"i": "int", "f": "float", "s": "str", "b": "bool", "t": "datetime"})
    r = run_builtin(rule, frame(kind, TYPED))
    assert r.passed, r.description
    assert r.description == "schema matches"


def test_schema_reports_wrong_and_missing_columns(kind: str) -> None:
    rule = c.schema({"i": "str", "f": "int", "gone": "int", "s": "str"})
    r = run_builtin(rule, frame(kind, TYPED))
    assert not r.passed
    problems = r.metadata["problems"]
    assert [p.split(":")[0] for p in problems] == ["i", "f", "gone"]
    assert problems[2] == "gone: missing"
    assert "expected str" in problems[0]


def test_schema_accepts_the_exact_dtype_text() -> None:
    assert run_builtin(c.schema({"i": "Int64"}), pl.DataFrame({"i": [1]})).passed
    assert run_builtin(c.schema({"i": "int64"}), pd.DataFrame({"i": [1]})).passed
    assert not run_builtin(c.schema({"i": "int32"}), pd.DataFrame({"i": [1]})).passed


def test_schema_date_family_matches_dates_not_datetimes(kind: str) -> None:
    data = {"d": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)], "t": TYPED["t"]}
    df = frame(kind, data)
    assert run_builtin(c.schema({"d": "date", "t": "datetime"}), df).passed
    assert not run_builtin(c.schema({"t": "date"}), df).passed


# -- freshness_column --------------------------------------------------------------------
NOW = dt.datetime(2024, 1, 2, 12, 0, tzinfo=dt.UTC).timestamp()


def test_freshness_column_measures_the_newest_value_against_now(kind: str) -> None:
    data = {"at": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, 10), None]}
    fresh = run_builtin(c.freshness_column("at", max_age="3h"), frame(kind, data), now=NOW)
    assert fresh.passed
    assert fresh.metadata["age_s"] == 2 * 3600
    stale = run_builtin(c.freshness_column("at", max_age="1h"), frame(kind, data), now=NOW)
    assert (stale.passed, stale.description) == (False, "newest value is 7200s old")


def test_freshness_column_reads_timezone_aware_values() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    at = [dt.datetime(2024, 1, 2, 12, 0, tzinfo=paris)]  # 11:00 UTC
    for df in (pd.DataFrame({"at": at}), pl.DataFrame({"at": at})):
        r = run_builtin(c.freshness_column("at", max_age="2h"), df, now=NOW)
        assert r.metadata["age_s"] == 3600


def test_freshness_column_on_dates(kind: str) -> None:
    data = {"day": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]}
    r = run_builtin(c.freshness_column("day", max_age="1d"), frame(kind, data), now=NOW)
    assert r.passed
    assert r.metadata["age_s"] == 12 * 3600


def test_freshness_column_without_values_fails(kind: str) -> None:
    df = frame(kind, {"at": [dt.datetime(2024, 1, 1)]}).head(0)
    r = run_builtin(c.freshness_column("at", max_age="1d"), df, now=NOW)
    assert (r.passed, r.description) == (False, "no timestamp")


# -- errors and non-frames ---------------------------------------------------------------
def test_a_rule_on_something_else_than_a_dataframe_fails_and_says_so() -> None:
    r = run_builtin(c.not_null("id"), [{"id": 1}])
    assert not r.passed
    assert r.description == "not_null(id) needs a DataFrame, got list"


def test_unknown_column_is_a_failed_check_naming_the_closest_and_all_columns(
    kind: str, tmp_path: Path
) -> None:
    spec = c.not_null("custmer_id")
    bound = Check(
        asset="orders",
        name=spec.name,
        blocking=True,
        spec=spec,
        fn=None,
        inputs=(("orders", "orders"),),
        location=None,
    )
    outcome = run_one(bound, frame(kind, ORDERS), lambda key: None, tmp_path)
    assert not outcome.passed
    assert outcome.blocks
    assert outcome.error is None  # a bad column is not a crash of the check's code
    text = outcome.result.description
    assert text.startswith("not_null(custmer_id): no column custmer_id (did you mean customer_id")
    assert text.endswith(" — columns are: order_id, customer_id, currency, amount")


def test_builtins_need_column_names() -> None:
    with pytest.raises(DefinitionError, match=r"not_null\(\) needs one or more column names"):
        c.not_null()
    with pytest.raises(DefinitionError, match=r"unique\(\) needs one or more column names"):
        c.unique("")


def test_builtin_names_describe_the_rule() -> None:
    assert c.not_null("a", "b").name == "not_null(a, b)"
    assert c.unique("a").name == "unique(a)"
    assert c.accepted_values("cur", ["EUR"]).name == "accepted_values(cur)"
    assert c.row_count(min=1, max=5).name == "row_count(min=1, max=5)"
    assert c.relationships("a", to="x/y", field="id").name == "relationships(a -> x/y.id)"
    assert c.expression("a > 0").name == "expression(a > 0)"
    assert c.freshness_column("at", max_age="26h").max_age_s == 26 * 3600
    assert c.relationships("a", to="x/y", field="id").reads == ("x/y",)
