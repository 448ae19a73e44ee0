"""pandas and polars give the same verdict and failing counts on the same data, nulls included.

Each example is one small table with a nullable int column ``x`` and a nullable str
column ``s``, built three ways: polars, pandas as ``pd.DataFrame`` infers it (floats
with NaN, objects with None) and pandas with nullable extension dtypes (Int64, string).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets_core import checks as c
from assets_core.checks.frames import run_builtin

INTS = st.one_of(st.none(), st.integers(min_value=-3, max_value=3))
STRS = st.one_of(st.none(), st.sampled_from(["a", "b", "c", ""]))


@st.composite
def tables(draw: st.DrawFn) -> dict[str, list[Any]]:
    n = draw(st.integers(min_value=0, max_value=25))
    return {
        "x": draw(st.lists(INTS, min_size=n, max_size=n)),
        "s": draw(st.lists(STRS, min_size=n, max_size=n)),
    }


def _frames(data: dict[str, list[Any]]) -> dict[str, Any]:
    inferred = pd.DataFrame(data)
    if inferred["x"].dtype == object:
        # every x is None: pandas keeps objects; a user's int column would be float NaN
        inferred["x"] = inferred["x"].astype("float64")
    return {
        "polars": pl.DataFrame(data, schema={"x": pl.Int64, "s": pl.String}),
        "pandas": inferred,
        "pandas_nullable": pd.DataFrame(
            {"x": pd.array(data["x"], dtype="Int64"), "s": pd.array(data["s"], dtype="string")}
        ),
    }


RULES = [
    c.not_null("x"),
    c.not_null("x", "s"),
    c.unique("x"),
    c.unique("s"),
    c.unique("x", "s"),
    c.accepted_values("x", [0, 1, 2]),
    c.accepted_values("s", ["a", "b"]),
    c.row_count(min=3),
    c.row_count(min=1, max=10),
    c.expression("x >= 0"),
]


def _verdicts(data: dict[str, list[Any]]) -> dict[str, dict[str, tuple[bool, int | None]]]:
    out: dict[str, dict[str, tuple[bool, int | None]]] = {}
    for kind, df in _frames(data).items():
        for rule in RULES:
            r = run_builtin(rule, df)
            out.setdefault(rule.name, {})[kind] = (r.passed, r.failing_rows)
    return out


def _expected(data: dict[str, list[Any]]) -> dict[str, tuple[bool, int]]:
    """The same rules computed by hand in plain Python, as the reference."""
    rows = list(zip(data["x"], data["s"], strict=True))
    n = len(rows)

    def dup_count(keys: list[Any]) -> int:
        return sum(1 for k in keys if keys.count(k) > 1)

    def verdict(failing: int) -> tuple[bool, int]:
        return failing == 0, failing

    return {
        "not_null(x)": verdict(sum(1 for x, _ in rows if x is None)),
        "not_null(x, s)": verdict(sum(1 for x, s in rows if x is None or s is None)),
        "unique(x)": verdict(dup_count([x for x, _ in rows])),
        "unique(s)": verdict(dup_count([s for _, s in rows])),
        "unique(x, s)": verdict(dup_count(rows)),
        "accepted_values(x)": verdict(
            sum(1 for x, _ in rows if x is not None and x not in (0, 1, 2))
        ),
        "accepted_values(s)": verdict(
            sum(1 for _, s in rows if s is not None and s not in ("a", "b"))
        ),
        "row_count(min=3)": (n >= 3, 0 if n >= 3 else n),
        "row_count(min=1, max=10)": (1 <= n <= 10, 0 if 1 <= n <= 10 else n),
        "expression(x >= 0)": verdict(sum(1 for x, _ in rows if x is None or x < 0)),
    }


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_pandas_and_polars_agree_on_verdict_and_failing_count(data: dict[str, list[Any]]) -> None:
    got = _verdicts(data)
    expected = _expected(data)
    for name, by_kind in got.items():
        for kind, verdict in by_kind.items():
            assert verdict == expected[name], (name, kind, data)


def test_reference_counts_nulls_as_equal_for_unique_and_failing_for_expression() -> None:
    # the shape of the rules the property test relies on, shown on one fixed table
    data = {"x": [None, None, 1, -1], "s": ["a", "a", None, "z"]}
    got = _verdicts(data)
    for kind in ("polars", "pandas", "pandas_nullable"):
        assert got["unique(x)"][kind] == (False, 2)
        assert got["unique(x, s)"][kind] == (False, 2)
        assert got["not_null(x, s)"][kind] == (False, 3)
        assert got["accepted_values(s)"][kind] == (False, 1)
        assert got["expression(x >= 0)"][kind] == (False, 3)
