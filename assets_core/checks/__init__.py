"""Built-in data-quality checks, used as ``@asset(checks=[...])``.

>>> from assets_core import checks as c
>>> c.not_null("customer_id").name
'not_null(customer_id)'
>>> c.row_count(min=1, blocking=False).blocking
False

Every built-in runs natively on pandas and on polars DataFrames (and as SQL on
tables). ``blocking=True`` (the default) quarantines a new version that fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from assets_core.checks.definition import (
    BuiltinCheck,
    Check,
    CheckDef,
    CheckResult,
    _cols,
    builtin,
    check,
)
from assets_core.definitions import validate_key

__all__ = [
    "BuiltinCheck",
    "Check",
    "CheckDef",
    "CheckResult",
    "accepted_values",
    "check",
    "expression",
    "freshness_column",
    "ge_suite",
    "not_null",
    "relationships",
    "row_count",
    "schema",
    "unique",
]


def not_null(*columns: str, blocking: bool = True) -> BuiltinCheck:
    """No null in any of ``columns``; failing rows are rows with a null."""
    cols = _cols(columns, "not_null")
    return builtin("not_null", f"not_null({', '.join(cols)})", blocking, columns=cols)


def unique(*columns: str, blocking: bool = True) -> BuiltinCheck:
    """Each combination of ``columns`` appears once; failing rows are all duplicated rows."""
    cols = _cols(columns, "unique")
    return builtin("unique", f"unique({', '.join(cols)})", blocking, columns=cols)


def accepted_values(column: str, values: Sequence[Any], *, blocking: bool = True) -> BuiltinCheck:
    """Every non-null value of ``column`` is one of ``values``."""
    cols = _cols(column, "accepted_values")
    return builtin(
        "accepted_values",
        f"accepted_values({column})",
        blocking,
        columns=cols,
        values=tuple(values),
    )


def row_count(
    *, min: int | None = None, max: int | None = None, blocking: bool = True
) -> BuiltinCheck:
    """The number of rows is within ``[min, max]`` (either bound optional)."""
    bounds = ", ".join(f"{k}={v}" for k, v in (("min", min), ("max", max)) if v is not None)
    return builtin("row_count", f"row_count({bounds})", blocking, min=min, max=max)


def relationships(column: str, *, to: str, field: str, blocking: bool = True) -> BuiltinCheck:
    """Every non-null ``column`` value exists in column ``field`` of asset ``to``."""
    cols = _cols(column, "relationships")
    validate_key(to)
    return builtin(
        "relationships",
        f"relationships({column} -> {to}.{field})",
        blocking,
        columns=cols,
        to=to,
        field=field,
    )


def expression(
    expr: str | Callable[[Any], Any], *, name: str | None = None, blocking: bool = True
) -> BuiltinCheck:
    """Every row satisfies ``expr``.

    A string is evaluated natively: ``DataFrame.eval`` on pandas, ``pl.sql_expr`` on
    polars (so write it in the common subset, e.g. ``"amount >= 0"``). A callable gets
    the frame and returns a boolean mask. Rows where it is null count as failing.
    """
    if isinstance(expr, str):
        return builtin("expression", name or f"expression({expr})", blocking, expression=expr)
    label = name or f"expression({getattr(expr, '__name__', 'callable')})"
    return builtin("expression", label, blocking, predicate=expr)


def schema(columns: Mapping[str, str], *, blocking: bool = True) -> BuiltinCheck:
    """The frame has these columns with these dtypes.

    A dtype matches when it equals the frame's dtype text or its family:
    ``int``, ``float``, ``str``, ``bool``, ``datetime``, ``date``.
    """
    pairs = tuple((str(k), str(v)) for k, v in columns.items())
    return builtin("schema", f"schema({', '.join(k for k, _ in pairs)})", blocking, dtypes=pairs)


def freshness_column(column: str, *, max_age: str | float, blocking: bool = True) -> BuiltinCheck:
    """The newest value of timestamp ``column`` is at most ``max_age`` old ("26h", "30m")."""
    from assets_core.durations import parse_duration

    cols = _cols(column, "freshness_column")
    return builtin(
        "freshness_column",
        f"freshness_column({column}, {max_age})",
        blocking,
        columns=cols,
        max_age_s=parse_duration(max_age),
    )


def ge_suite(
    suite: str | Path | Any, *, name: str | None = None, blocking: bool = True
) -> BuiltinCheck:
    """Run a Great Expectations suite (a JSON file, relative to the project, or an ExpectationSuite)."""
    label = name or (
        f"ge_suite({Path(suite).name})"
        if isinstance(suite, str | Path)
        else f"ge_suite({getattr(suite, 'name', 'suite')})"
    )
    return builtin(
        "ge_suite", label, blocking, suite=str(suite) if isinstance(suite, Path) else suite
    )
