"""Built-in checks compiled to SQL and run on a table (the staging table, before publishing).

``not_null``, ``unique``, ``accepted_values``, ``row_count``, ``relationships`` (to
a table of the same engine) and ``expression`` (a SQL predicate) become one count
query each, plus a sample of failing rows when some fail; their verdicts and
counts match the pandas and polars implementations of :mod:`assets_core.checks`
(nulls included: a null is never an unaccepted value, nulls group together in
``unique``). Other rules read the table into pandas and run natively.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assets_core.checks.definition import BuiltinCheck, CheckResult
from assets_core.errors import closest
from assets_core.sql.engines import EngineError

if TYPE_CHECKING:
    from assets_core.sql.table_store import TableStores, TableValue

SAMPLE_SIZE = 5
IN_SQL = frozenset({"not_null", "unique", "accepted_values", "row_count", "relationships"})


def run_on_table(
    tv: TableValue, spec: BuiltinCheck, load: Callable[[str], Any], stores: TableStores
) -> CheckResult:
    """Evaluate ``spec`` on table ``tv``: in SQL when the rule compiles, else on pandas."""
    in_sql = spec.kind in IN_SQL or (spec.kind == "expression" and spec.predicate is None)
    other = _same_engine_table(tv, spec, stores) if spec.kind == "relationships" else None
    if spec.kind == "relationships" and other is None:
        in_sql = False
    if not in_sql:
        return _on_frame(tv, spec, load, stores)
    columns = [c for c, _ in tv.engine.columns(tv.schema, tv.table)]
    missing = [c for c in spec.columns if c not in columns]
    if missing:
        hints = [f"{m} (did you mean {', '.join(closest(m, columns)) or '?'})" for m in missing]
        return CheckResult(
            passed=False,
            description=f"{spec.name}: no column "
            + "; ".join(hints)
            + f" — columns are: {', '.join(columns)}",
        )
    q = tv.qualified
    rows = int(tv.engine.run(f"SELECT count(*) FROM {q}")[0][0])
    if spec.kind == "row_count":
        ok = (spec.min is None or rows >= spec.min) and (spec.max is None or rows <= spec.max)
        return CheckResult(
            passed=ok,
            description=f"{rows} rows",
            metadata={"rows": rows, "min": spec.min, "max": spec.max, "in": "sql"},
            failing_rows=0 if ok else rows,
        )
    try:
        where = _failing_rows_sql(tv, spec, other)
        if spec.kind == "unique":
            failing = int(tv.engine.run(_unique_count_sql(tv, spec))[0][0] or 0)
        else:
            failing = int(tv.engine.run(f"SELECT count(*) FROM {q} AS t WHERE {where}")[0][0])
        sample = (
            tv.engine.run_dicts(f"SELECT t.* FROM {q} AS t WHERE {where} LIMIT {SAMPLE_SIZE}")
            if failing
            else []
        )
    except EngineError as e:
        return CheckResult(passed=False, description=f"{spec.name}: {e.message}")
    from assets_core.checks.frames import _jsonable

    return CheckResult(
        passed=failing == 0,
        description=f"{failing} of {rows} rows fail" if failing else f"all {rows} rows pass",
        metadata={"rows": rows, "in": "sql"},
        failing_rows=failing,
        sample=[{str(k): _jsonable(v) for k, v in r.items()} for r in sample],
    )


def _failing_rows_sql(tv: TableValue, spec: BuiltinCheck, other: str | None) -> str:
    """A predicate on alias ``t`` true exactly for the failing rows."""
    col = [f"t.{tv.engine._ident(c)}" for c in spec.columns]
    if spec.kind == "not_null":
        return " OR ".join(f"{c} IS NULL" for c in col)
    if spec.kind == "accepted_values":
        if not spec.values:
            return f"{col[0]} IS NOT NULL"
        from sqlglot import exp

        listed = ", ".join(exp.convert(v).sql(tv.engine.dialect) for v in spec.values)
        return f"{col[0]} IS NOT NULL AND {col[0]} NOT IN ({listed})"
    if spec.kind == "relationships":
        field = tv.engine._ident(spec.field or "")
        return (
            f"{col[0]} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {other} AS o WHERE o.{field} = {col[0]})"
        )
    if spec.kind == "unique":
        keys = ", ".join(tv.engine._ident(c) for c in spec.columns)
        match = " AND ".join(
            f"d.{tv.engine._ident(c)} IS NOT DISTINCT FROM t.{tv.engine._ident(c)}"
            for c in spec.columns
        )
        return (
            f"EXISTS (SELECT 1 FROM (SELECT {keys} FROM {tv.qualified} GROUP BY {keys} "
            f"HAVING count(*) > 1) AS d WHERE {match})"
        )
    if spec.kind == "expression":
        return f"NOT COALESCE(({spec.expression}), FALSE)"
    raise ValueError(spec.kind)


def _unique_count_sql(tv: TableValue, spec: BuiltinCheck) -> str:
    # every row of a duplicated group fails (pandas: duplicated(keep=False)); nulls group
    keys = ", ".join(tv.engine._ident(c) for c in spec.columns)
    return (
        f"SELECT sum(n) FROM (SELECT count(*) AS n FROM {tv.qualified} "
        f"GROUP BY {keys} HAVING count(*) > 1) AS d"
    )


def _same_engine_table(tv: TableValue, spec: BuiltinCheck, stores: TableStores) -> str | None:
    """The quoted name of ``spec.to`` when it is a table on ``tv``'s engine, else None."""
    d = stores.project.graph.defs.get(spec.to or "")
    if d is None:
        return None
    engine = getattr(d, "engine", None) if d.kind == "sql" else getattr(d, "io", None)
    if engine != tv.engine.name:
        return None
    return tv.engine.qualify(*tv.engine.physical(d.key))


def _on_frame(
    tv: TableValue, spec: BuiltinCheck, load: Callable[[str], Any], stores: TableStores
) -> CheckResult:
    frame = tv.to_pandas()
    if spec.kind == "ge_suite":
        from integrations.great_expectations import run_suite

        return run_suite(spec.suite, frame, stores.project.root)
    from assets_core.checks.frames import UnknownColumn, run_builtin

    other = load(spec.to) if spec.to else None
    try:
        return run_builtin(spec, frame, other)
    except UnknownColumn as e:
        return CheckResult(passed=False, description=f"{spec.name}: {e}")
