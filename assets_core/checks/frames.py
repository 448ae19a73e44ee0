"""Built-in checks evaluated natively on pandas and polars DataFrames.

No conversion between the two: each rule has a pandas and a polars body that
compute the same failing-row mask (nulls treated alike), so both give the same
verdict and count on the same data.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from assets_core.checks.definition import BuiltinCheck, CheckResult
from assets_core.checks.fast_paths import dense_duplicated, numpy_or_none

SAMPLE_SIZE = 5
# accepted_values with at most this many string values compares each value on polars:
# several times faster than is_in (a hash per row), and the same answer
FEW_VALUES = 4

_FAMILIES = {
    "int": ("int", "uint"),
    "float": ("float", "double"),
    "str": ("str", "string", "object", "utf8"),
    "bool": ("bool",),
    "datetime": ("datetime",),
    "date": ("date",),
}


class UnknownColumn(Exception):
    """A check names a column the frame does not have."""

    def __init__(self, missing: list[str], available: list[str]) -> None:
        self.missing = missing
        self.available = available
        super().__init__(
            f"column(s) {', '.join(missing)} not in the frame; it has: {', '.join(available)}"
        )


def frame_kind(value: Any) -> str | None:
    mod = type(value).__module__
    if type(value).__name__ != "DataFrame":
        return None
    if mod.startswith("pandas"):
        return "pandas"
    if mod.startswith("polars"):
        return "polars"
    return None


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if type(v).__name__ in ("NaTType", "NAType"):  # pandas' missing values: None, as in polars
        return None
    if isinstance(v, float):
        return None if math.isnan(v) else v
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return str(v)


def _need(columns: tuple[str, ...], available: list[str]) -> None:
    missing = [c for c in columns if c not in available]
    if missing:
        raise UnknownColumn(missing, available)


# -- pandas ------------------------------------------------------------------------------
def _pd_mask(spec: BuiltinCheck, df: Any, other: Any) -> Any:
    import pandas as pd

    cols = list(spec.columns)
    if spec.kind == "not_null":
        return df[cols].isna().any(axis=1)
    if spec.kind == "unique":
        return df.duplicated(subset=cols, keep=False)
    if spec.kind == "accepted_values":
        s = df[cols[0]]
        return s.notna() & ~s.isin(list(spec.values))
    if spec.kind == "relationships":
        s = df[cols[0]]
        allowed = _values_of(other, spec.field)
        return s.notna() & ~s.isin(allowed)
    if spec.kind == "expression":
        res = spec.predicate(df) if spec.predicate else df.eval(spec.expression)
        ok = pd.Series(res, index=df.index).astype("boolean").fillna(False)
        return ~ok.astype(bool)
    raise ValueError(spec.kind)


def _pd_all_pass(spec: BuiltinCheck, df: Any) -> bool:
    """An exact answer for the usual, passing case without a mask over every row.

    ``duplicated(keep="first").any()`` costs about 60% of the ``keep=False`` mask.
    """
    cols = list(spec.columns)
    if spec.kind == "not_null":
        return not df[cols].isna().to_numpy().any()
    if spec.kind == "unique":
        return not df.duplicated(subset=cols).any()
    return False


def _pd_int_keys(df: Any, column: str) -> Any | None:
    """``column`` as a numpy integer array, or None when it is not integer or has nulls."""
    import pandas as pd

    s = df[column]
    # a frame with two columns of that name gives a DataFrame: the general rule handles it
    if not isinstance(s, pd.Series) or not pd.api.types.is_integer_dtype(s.dtype):
        return None
    own = getattr(s.dtype, "numpy_dtype", None)  # nullable Int64, int64[pyarrow]
    if own is None:
        return s.to_numpy()  # a numpy integer column cannot hold a null
    return None if s.isna().any() else s.to_numpy(dtype=own)


def _pd_sample(df: Any, mask: Any) -> list[dict[str, Any]]:
    rows = df[mask].head(SAMPLE_SIZE).to_dict(orient="records")
    return [{str(k): _jsonable(v) for k, v in r.items()} for r in rows]


# -- polars ------------------------------------------------------------------------------
def _pl_mask(spec: BuiltinCheck, df: Any, other: Any) -> Any:
    import polars as pl

    cols = list(spec.columns)
    if spec.kind == "not_null":
        expr = pl.any_horizontal([pl.col(c).is_null() for c in cols])
    elif spec.kind == "unique":
        expr = pl.struct(cols).is_duplicated() if len(cols) > 1 else pl.col(cols[0]).is_duplicated()
    elif spec.kind == "accepted_values":
        c = pl.col(cols[0])
        values = list(spec.values)
        few_strings = 0 < len(values) <= FEW_VALUES and all(isinstance(v, str) for v in values)
        if few_strings and df.schema[cols[0]] == pl.String:
            expr = c.is_not_null() & ~pl.any_horizontal([c == v for v in values])
        else:
            expr = c.is_not_null() & ~c.is_in(values)
    elif spec.kind == "relationships":
        c = pl.col(cols[0])
        expr = c.is_not_null() & ~c.is_in(_values_of(other, spec.field))
    elif spec.kind == "expression":
        if spec.predicate is not None:
            res = spec.predicate(df)
            ok = res if isinstance(res, pl.Series) else pl.Series(res, dtype=pl.Boolean)
            return ~ok.fill_null(False)
        expr = ~pl.sql_expr(spec.expression).fill_null(False)
    else:
        raise ValueError(spec.kind)
    return df.select(expr.alias("_failing")).to_series()


def _pl_all_pass(spec: BuiltinCheck, df: Any) -> bool:
    """An exact answer for the usual, passing case without a mask over every row.

    A duplicate mask costs about three times a distinct count on a large key column.
    """
    if spec.kind == "not_null":
        return all(df.get_column(c).null_count() == 0 for c in spec.columns)
    if spec.kind == "unique" and len(spec.columns) == 1:
        return df.get_column(spec.columns[0]).n_unique() == df.height
    return False


def _pl_int_keys(df: Any, column: str) -> Any | None:
    """``column`` as a numpy integer array, or None when it is not integer or has nulls."""
    s = df.get_column(column)
    # numpy has no 128-bit integers
    if not s.dtype.is_integer() or str(s.dtype).endswith("128") or s.null_count():
        return None
    return None if numpy_or_none() is None else s.to_numpy()


def _dense_unique_mask(spec: BuiltinCheck, df: Any, kind: str) -> Any | None:
    """The failing-row mask of a one-column ``unique`` on dense integer keys, else None."""
    if spec.kind != "unique" or len(spec.columns) != 1:
        return None
    keys = (_pd_int_keys if kind == "pandas" else _pl_int_keys)(df, spec.columns[0])
    mask = None if keys is None else dense_duplicated(keys)
    if mask is None or kind == "pandas" or not mask.any():
        return mask
    import polars as pl

    return pl.Series("_failing", mask)  # polars filters by a Series


def _pl_sample(df: Any, mask: Any) -> list[dict[str, Any]]:
    rows = df.filter(mask).head(SAMPLE_SIZE).to_dicts()
    return [{str(k): _jsonable(v) for k, v in r.items()} for r in rows]


def _values_of(frame: Any, column: str | None) -> list[Any]:
    """Distinct non-null values of ``column`` in ``frame`` (pandas or polars), as a list."""
    if frame is None or column is None:
        return []
    kind = frame_kind(frame)
    if kind == "pandas":
        _need((column,), [str(c) for c in frame.columns])
        return frame[column].dropna().unique().tolist()
    if kind == "polars":
        _need((column,), list(frame.columns))
        return frame.get_column(column).drop_nulls().unique().to_list()
    raise TypeError(f"relationships target is a {type(frame).__name__}, not a DataFrame")


# -- dispatch ----------------------------------------------------------------------------
def _dtype_ok(actual: str, expected: str) -> bool:
    a, e = actual.lower(), expected.lower()
    if a == e:
        return True
    fam = _FAMILIES.get(e)
    if fam is None:
        return False
    if e == "date":
        return a.startswith("date") and not a.startswith("datetime")
    return any(a.startswith(p) for p in fam)


def _pd_inferred(df: Any, column: str, dtype: str) -> str:
    """pandas keeps dates (and mixed values) in ``object`` columns: name what they hold."""
    if dtype != "object":
        return dtype
    import pandas as pd

    return "date" if pd.api.types.infer_dtype(df[column], skipna=True) == "date" else dtype


def run_builtin(
    spec: BuiltinCheck, df: Any, other: Any = None, now: float | None = None
) -> CheckResult:
    """Evaluate ``spec`` on ``df`` (pandas or polars); ``other`` is the referenced frame."""
    kind = frame_kind(df)
    if kind is None:
        return CheckResult(
            passed=False,
            description=f"{spec.name} needs a DataFrame, got {type(df).__name__}",
        )
    available = [str(c) for c in df.columns]
    n = len(df)
    if spec.kind == "row_count":
        ok = (spec.min is None or n >= spec.min) and (spec.max is None or n <= spec.max)
        return CheckResult(
            passed=ok,
            description=f"{n} rows",
            metadata={"rows": n, "min": spec.min, "max": spec.max},
            failing_rows=0 if ok else n,
        )
    if spec.kind == "schema":
        dtypes = dict(zip(available, [str(t) for t in df.dtypes], strict=True))
        problems = []
        for col, want in spec.dtypes:
            have = dtypes.get(col)
            if have is None:
                problems.append(f"{col}: missing")
            elif not _dtype_ok(_pd_inferred(df, col, have) if kind == "pandas" else have, want):
                problems.append(f"{col}: {have}, expected {want}")
        return CheckResult(
            passed=not problems,
            description="; ".join(problems) or "schema matches",
            metadata={"dtypes": dtypes, "problems": problems},
            failing_rows=0,
        )
    if spec.kind == "freshness_column":
        _need(spec.columns, available)
        newest = _max_timestamp(df, spec.columns[0], kind)
        now = time.time() if now is None else now
        age = None if newest is None else now - newest
        ok = age is not None and age <= (spec.max_age_s or 0)
        return CheckResult(
            passed=ok,
            description="no timestamp" if age is None else f"newest value is {age:.0f}s old",
            metadata={"age_s": age, "max_age_s": spec.max_age_s},
            failing_rows=0 if ok else 1,
        )
    _need(spec.columns, available)
    mask = _dense_unique_mask(spec, df, kind)
    if mask is None:
        if (_pd_all_pass if kind == "pandas" else _pl_all_pass)(spec, df):
            return CheckResult(
                passed=True, description=f"all {n} rows pass", metadata={"rows": n}, failing_rows=0
            )
        compute: Callable[..., Any] = _pd_mask if kind == "pandas" else _pl_mask
        mask = compute(spec, df, other)
    failing = int(mask.sum())
    sample = (_pd_sample if kind == "pandas" else _pl_sample)(df, mask) if failing else []
    return CheckResult(
        passed=failing == 0,
        description=f"{failing} of {n} rows fail" if failing else f"all {n} rows pass",
        metadata={"rows": n},
        failing_rows=failing,
        sample=sample,
    )


def _max_timestamp(df: Any, column: str, kind: str) -> float | None:
    if kind == "pandas":
        import pandas as pd

        s = pd.to_datetime(df[column], utc=True).dropna()
        return None if s.empty else s.max().timestamp()
    import polars as pl

    s = df.get_column(column).drop_nulls()
    if s.is_empty():
        return None
    if s.dtype == pl.Date:  # a day counts from its midnight, as pandas reads it
        s = s.cast(pl.Datetime)
    v = s.max()
    if isinstance(v, str):
        v = pl.Series([v]).str.to_datetime().item()
    if getattr(v, "tzinfo", None) is None and hasattr(v, "replace"):
        from datetime import UTC

        v = v.replace(tzinfo=UTC)
    return v.timestamp()
