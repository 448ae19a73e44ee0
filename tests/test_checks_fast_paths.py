"""The shortcuts of the built-in rules give exactly what the general rules give.

``unique`` on one dense integer key column counts values in an array instead of
hashing them; ``accepted_values`` with a few strings on polars compares each value
instead of ``is_in``. Verdict, failing count and failing-row sample must be the same
as the general path's: on negative keys, duplicates, sparse ranges, every integer
width, nulls, and without numpy.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets_core import checks as c
from assets_core.checks.fast_paths import SMALL_SPAN, dense_duplicated
from assets_core.checks.frames import _pd_mask, _pd_sample, _pl_mask, _pl_sample, run_builtin

# (numpy dtype, polars dtype, smallest value, largest value)
INT_TYPES = [
    ("int8", pl.Int8, -128, 127),
    ("int16", pl.Int16, -(2**15), 2**15 - 1),
    ("int32", pl.Int32, -(2**31), 2**31 - 1),
    ("int64", pl.Int64, -(2**63), 2**63 - 1),
    ("uint8", pl.UInt8, 0, 255),
    ("uint32", pl.UInt32, 0, 2**32 - 1),
    ("uint64", pl.UInt64, 0, 2**64 - 1),
]


@st.composite
def int_keys(draw: st.DrawFn) -> tuple[str, Any, list[int]]:
    """Keys of one integer type: a narrow window (dense) anywhere in its range, or anywhere."""
    np_type, pl_type, lo, hi = draw(st.sampled_from(INT_TYPES))
    if draw(st.booleans()):
        start = draw(st.integers(min_value=lo, max_value=hi))
        width = draw(st.integers(min_value=0, max_value=40))
        lo, hi = max(lo, start - width), min(hi, start + width)
    keys = draw(st.lists(st.integers(min_value=lo, max_value=hi), max_size=30))
    return np_type, pl_type, keys


def _general_polars(rule: Any, df: pl.DataFrame) -> tuple[int, list[dict[str, Any]]]:
    mask = _pl_mask(rule, df, None)
    failing = int(mask.sum())
    return failing, (_pl_sample(df, mask) if failing else [])


def _general_pandas(rule: Any, df: pd.DataFrame) -> tuple[int, list[dict[str, Any]]]:
    mask = _pd_mask(rule, df, None)
    failing = int(mask.sum())
    return failing, (_pd_sample(df, mask) if failing else [])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(int_keys())
def test_dense_duplicated_marks_exactly_the_values_that_occur_more_than_once(
    case: tuple[str, Any, list[int]],
) -> None:
    np_type, _, keys = case
    values = np.array(keys, dtype=np_type)
    mask = dense_duplicated(values)
    span = (max(keys) - min(keys) + 1) if keys else 0
    if not keys or span > max(2 * len(keys), SMALL_SPAN):
        assert mask is None
        return
    assert mask is not None
    assert mask.tolist() == [keys.count(k) > 1 for k in keys]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(int_keys())
def test_unique_on_integer_keys_gives_the_general_paths_count_and_sample(
    case: tuple[str, Any, list[int]],
) -> None:
    np_type, pl_type, keys = case
    row = list(range(len(keys)))
    rule = c.unique("k")
    pl_df = pl.DataFrame({"row": row, "k": keys}, schema={"row": pl.Int64, "k": pl_type})
    pd_df = pd.DataFrame({"row": row, "k": np.array(keys, dtype=np_type)})
    expected = sum(1 for k in keys if keys.count(k) > 1)
    for df, general in ((pl_df, _general_polars), (pd_df, _general_pandas)):
        got = run_builtin(rule, df)
        assert (got.failing_rows, list(got.sample)) == general(rule, df)
        assert (got.passed, got.failing_rows) == (expected == 0, expected)


@pytest.mark.parametrize(
    "keys",
    [
        [-5, -3, -5, 0, 2, -3, -3],  # negative keys, duplicated twice and three times
        list(range(-50, 50)) + [7, -50],  # dense, duplicates at the end and at the minimum
        [0, 10**12, 5, 10**12],  # sparse: the general path runs
        [2**62, -(2**62), 2**62],  # the widest span int64 holds
    ],
    ids=["negative", "dense", "sparse", "widest"],
)
def test_unique_fast_and_general_paths_agree_on_every_frame_kind(keys: list[int]) -> None:
    data = {"row": list(range(len(keys))), "k": keys}
    rule = c.unique("k")
    results = []
    for df, general in (
        (pl.DataFrame(data), _general_polars),
        (pd.DataFrame(data), _general_pandas),
        (pd.DataFrame(data).convert_dtypes(), _general_pandas),  # nullable Int64, no nulls
        (pd.DataFrame(data).astype({"k": "int64[pyarrow]"}), _general_pandas),
    ):
        got = run_builtin(rule, df)
        assert (got.failing_rows, list(got.sample)) == general(rule, df)
        results.append((got.passed, got.failing_rows, got.description, list(got.sample)))
    assert all(r == results[0] for r in results)
    assert results[0][1] == sum(1 for k in keys if keys.count(k) > 1)


def test_unique_on_integer_keys_with_nulls_counts_nulls_as_equal() -> None:
    keys = [1, None, 2, None, 3]
    data = {"row": [0, 1, 2, 3, 4], "k": keys}
    frames = [
        pl.DataFrame(data),
        pd.DataFrame(data),  # float with NaN
        pd.DataFrame({"row": data["row"], "k": pd.array(keys, dtype="Int64")}),
    ]
    for df in frames:
        r = run_builtin(c.unique("k"), df)
        assert (r.failing_rows, [s["row"] for s in r.sample]) == (2, [1, 3])


def test_unique_without_numpy_falls_back_to_the_general_rule_on_polars(monkeypatch: Any) -> None:
    keys = [4, -2, 4, 9, -2, 0, 1]
    df = pl.DataFrame({"row": list(range(len(keys))), "k": keys})
    with_numpy = run_builtin(c.unique("k"), df)
    monkeypatch.setitem(sys.modules, "numpy", None)  # polars installed without numpy
    without = run_builtin(c.unique("k"), df)
    assert without == with_numpy
    assert (without.failing_rows, [s["row"] for s in without.sample]) == (4, [0, 1, 2, 4])


def test_accepted_values_with_few_strings_matches_is_in_on_polars() -> None:
    values = [None, "EUR", "usd", "USD", "", "GBP", "EUR ", None, "CHF"]
    df = pl.DataFrame({"row": list(range(len(values))), "currency": values})
    few = c.accepted_values("currency", ["EUR", "USD", "CHF", ""])  # compared one by one
    many = c.accepted_values("currency", ["EUR", "USD", "CHF", "", "not there"])  # is_in
    r_few, r_many = run_builtin(few, df), run_builtin(many, df)
    assert (r_few.failing_rows, list(r_few.sample)) == (r_many.failing_rows, list(r_many.sample))
    assert [s["currency"] for s in r_few.sample] == ["usd", "GBP", "EUR "]
    pandas = run_builtin(few, df.to_pandas())
    assert (pandas.failing_rows, list(pandas.sample)) == (3, list(r_few.sample))


def test_unique_on_a_pandas_key_name_used_by_two_columns_takes_the_general_rule() -> None:
    df = pd.DataFrame([[1, 1], [1, 2], [2, 1]], columns=["k", "k"])
    r = run_builtin(c.unique("k"), df)
    assert (r.passed, r.failing_rows) == (True, 0)  # the pairs differ, though each k repeats
    assert _general_pandas(c.unique("k"), df) == (0, [])
