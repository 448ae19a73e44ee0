"""Built-in checks compiled to SQL give the verdicts and counts of the pandas implementation."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets_core import checks as c
from assets_core.checks.frames import run_builtin
from assets_core.sql.checks import run_on_table
from assets_core.sql.duckdb_engine import DuckDBEngine
from assets_core.sql.engines import EngineSpec
from assets_core.sql.table_store import TableValue

RULES = [
    c.not_null("a"),
    c.not_null("a", "b"),
    c.unique("a"),
    c.unique("a", "b"),
    c.accepted_values("b", ["x", "y"]),
    c.accepted_values("a", [1, 2, 3]),
    c.row_count(min=2, max=5),
    c.expression("a >= 0"),
]


@pytest.fixture(scope="module")
def engine():
    e = DuckDBEngine(EngineSpec("mem", "duckdb:///:memory:", "duckdb"))
    yield e
    e.close()


def table(engine, frame: pd.DataFrame) -> TableValue:
    engine.write_frame(engine.qualify("main", "t"), "main", "t", frame)
    return TableValue(None, "t", engine, "main", "t")  # type: ignore[arg-type]


rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(-2, 4)),
        st.one_of(st.none(), st.sampled_from(["x", "y", "z"])),
    ),
    max_size=8,
)


@settings(max_examples=30, deadline=None)
@given(data=rows)
def test_sql_and_pandas_agree_on_verdict_and_failing_rows(engine, data):
    frame = pd.DataFrame(
        {
            "a": pd.array([r[0] for r in data], dtype="Int64"),
            "b": pd.array([r[1] for r in data], dtype="string"),
        }
    )
    tv = table(engine, frame)
    for rule in RULES:
        in_sql = run_on_table(tv, rule, lambda key: None, None)  # type: ignore[arg-type]
        native = run_builtin(rule, frame)
        assert (in_sql.passed, in_sql.failing_rows) == (native.passed, native.failing_rows), (
            rule.name,
            data,
        )
        assert in_sql.metadata.get("in") == "sql"


def test_failing_rows_come_with_a_sample(engine):
    frame = pd.DataFrame({"a": [1, 1, 2, None], "b": ["x", "x", "q", "y"]})
    tv = table(engine, frame)
    dup = run_on_table(tv, c.unique("a", "b"), lambda key: None, None)  # type: ignore[arg-type]
    assert dup.failing_rows == 2
    assert dup.sample == [{"a": 1.0, "b": "x"}, {"a": 1.0, "b": "x"}]
    bad = run_on_table(tv, c.accepted_values("b", ["x", "y"]), lambda k: None, None)  # type: ignore[arg-type]
    assert (bad.passed, bad.failing_rows, bad.sample) == (False, 1, [{"a": 2.0, "b": "q"}])


def test_an_unknown_column_fails_the_check_with_the_closest_names(engine):
    tv = table(engine, pd.DataFrame({"amount": [1], "currency": ["EUR"]}))
    res = run_on_table(tv, c.not_null("amout"), lambda key: None, None)  # type: ignore[arg-type]
    assert not res.passed
    assert "no column amout (did you mean amount)" in res.description
    assert "columns are: amount, currency" in res.description
