"""Parsing a SQL asset's query with sqlglot: one SELECT, the tables it reads, its fingerprint.

Tables are found scope by scope (``sqlglot.optimizer.scope``), so a CTE's name or
a subquery's alias is never mistaken for an upstream; table functions such as
``read_csv(...)`` are not upstreams either.

>>> q = parse_query('''
...     WITH paid AS (SELECT * FROM bi.customer_journey WHERE channel <> 'direct')
...     SELECT p.day, SUM(p.amount) / NULLIF(SUM(s.spend), 0) AS roas
...     FROM paid p JOIN ads.spend s USING (day)
...     WHERE p.day IN (SELECT day FROM calendar.open_days)
...     GROUP BY 1''', "duckdb")
>>> [t.text for t in q.tables]
['bi.customer_journey', 'ads.spend', 'calendar.open_days']
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, Dialects
from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.optimizer.scope import traverse_scope

from assets_core.code_version import digest
from assets_core.errors import DefinitionError
from assets_core.sql.fingerprint import canonical_parts


class SqlSyntaxError(DefinitionError):
    """A SQL asset's query does not parse, or is not one SELECT query."""

    def __init__(
        self,
        message: str,
        *,
        key: str | None,
        location: str | None,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.line = line
        self.col = col
        super().__init__(message, key=key, location=location, hint=hint)


@dataclass(frozen=True, slots=True)
class TableRef:
    """A table the query reads, as written (after the dialect's identifier normalization)."""

    parts: tuple[str, ...]  # ("bi", "customer_journey"), catalog first when given
    line: int
    col: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    expression: exp.Query
    tables: tuple[TableRef, ...]  # distinct, in order of first appearance
    fingerprint: str
    # how many row sources (tables, subqueries, CTE references) it reads over all its
    # scopes; None when it also makes rows of its own (a table function, UNNEST, a
    # function sqlglot does not know, a recursive CTE). A query over k sources of at
    # most r rows each reads or makes at most (r + 1) ** k rows: DuckDB runs those
    # within one row group on one thread (see DuckDBEngine.create_table_as).
    sources: int | None = None


def known_dialects() -> list[str]:
    return sorted(d.value for d in Dialects if d.value)


def check_dialect(name: str, *, key: str | None = None, where: str | None = None) -> str:
    """``name`` if sqlglot knows the dialect, else a DefinitionError listing those it knows."""
    if name in _DIALECT_CACHE:
        return name
    try:
        Dialect.get_or_raise(name)
    except ValueError:
        raise DefinitionError(
            f"asset {key}: unknown SQL dialect {name!r}" if key else f"unknown dialect {name!r}",
            key=key,
            location=where,
            hint="use one of: " + ", ".join(known_dialects()),
        ) from None
    _DIALECT_CACHE.add(name)
    return name


_DIALECT_CACHE: set[str] = set()


def parse_query(
    text: str,
    dialect: str,
    *,
    key: str | None = None,
    file: str | None = None,
    first_line: int = 1,
) -> ParsedQuery:
    """Parse ``text`` (one SELECT query) written in ``dialect``.

    ``file`` and ``first_line`` place error positions: a ``.sql`` file passes its
    own path and 1 (positions are the file's); a query given in Python passes the
    caller's ``file:line`` as ``file`` and 0 (positions are the query's own).
    """
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except ParseError as e:
        err = e.errors[0] if e.errors else {}
        line, col = err.get("line"), err.get("col")
        raise SqlSyntaxError(
            f"asset {key}: the query does not parse: {err.get('description') or e}" + _context(err),
            key=key,
            location=_where(file, first_line, line, col),
            line=line,
            col=col,
            hint="fix the SQL at that position (the query is read as "
            f"{dialect!r}; set another dialect with dialect=...)",
        ) from None
    except TokenError as e:
        raise SqlSyntaxError(
            f"asset {key}: the query does not parse: {e}",
            key=key,
            location=_where(file, first_line, None, None),
            hint="look for an unterminated string or quoted identifier",
        ) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        what = (
            "is empty"
            if not statements
            else f"holds {len(statements)} statements"
            if len(statements) > 1
            else f"is a {statements[0].key.upper()} statement"
        )
        raise SqlSyntaxError(
            f"asset {key}: a SQL asset is one SELECT query, and this one {what}",
            key=key,
            location=_where(file, first_line, None, None),
            hint="keep exactly one SELECT (CTEs and UNIONs are fine); the framework "
            "creates the table",
        )
    query = statements[0]
    parts = canonical_parts(query, dialect)
    tables, sources = _scan(query)
    if sources is not None and not _ROW_MAKER_KINDS.isdisjoint(parts):
        sources = None  # the canonical form names every node's kind: no second walk
    return ParsedQuery(
        expression=query, tables=tables, fingerprint=digest("\x1f".join(parts)), sources=sources
    )


def _with_subclasses(*classes: type) -> set[type]:
    out: set[type] = set()
    todo = list(classes)
    while todo:
        c = todo.pop()
        if c not in out:
            out.add(c)
            todo.extend(c.__subclasses__())
    return out


# The kinds of node (as the canonical form, fingerprint.canonical_parts, names them) that
# make rows of their own: table functions, UNNEST, functions sqlglot does not know, and
# the argument that makes a CTE recursive. The size of a query holding one is not bounded
# by the tables it reads. An argument named like one of them makes a query look
# unbounded: that costs speed, never correctness.
_ROW_MAKER_KINDS = frozenset(
    {
        c.key
        for c in _with_subclasses(exp.UDTF, exp.GenerateSeries, exp.Anonymous)
        - _with_subclasses(exp.Values, exp.Lateral)
    }
    | {"recursive"}
)


def table_refs(query: exp.Expression) -> tuple[TableRef, ...]:
    """The tables ``query`` reads: not CTEs, not subquery aliases, not table functions."""
    return _scan(query)[0]


def _scan(query: exp.Expression) -> tuple[tuple[TableRef, ...], int | None]:
    """The tables ``query`` reads, and how many row sources its scopes read (None when
    one is a table function, or the scopes cannot be told apart)."""
    found: dict[tuple[str, ...], TableRef] = {}
    count: int | None = 0
    try:
        scopes = traverse_scope(query)
        tables = []
        for scope in scopes:
            for src in scope.sources.values():
                if isinstance(src, exp.Table):
                    tables.append(src)
                count += 1  # type: ignore[operator]
    except OptimizeError:
        ctes = {c.alias_or_name for c in query.find_all(exp.CTE)}
        tables = [
            t for t in query.find_all(exp.Table) if not (t.name in ctes and not t.args.get("db"))
        ]
        count = None
    for t in tables:
        if not isinstance(t.this, exp.Identifier):
            count = None
            continue  # a table function: read_csv(...), generate_series(...)
        parts = tuple(p.name for p in t.parts)
        if parts not in found:
            meta = t.this.meta
            found[parts] = TableRef(parts, meta.get("line", 0), meta.get("col", 0))
    return tuple(sorted(found.values(), key=lambda r: (r.line, r.col))), count


def _where(file: str | None, first_line: int, line: int | None, col: int | None) -> str | None:
    if file is None:
        return None
    if not first_line:
        return file if line is None else f"{file} (line {line}, column {col} of the query)"
    if line is None:
        return f"{file}:{first_line}"
    return f"{file}:{first_line + line - 1}:{col}"


def _context(err: dict) -> str:
    start = err.get("start_context") or ""
    highlight = err.get("highlight") or ""
    if not (start or highlight):
        return ""
    near = f"{start[-40:]}>>>{highlight}<<<{(err.get('end_context') or '')[:20]}"
    return "\n  near: " + " ".join(near.split())
