"""SQL asset definitions: ``.sql`` files under ``sql_paths`` and ``sql_asset()`` in Python.

A file's key comes from its path under the SQL folder (``models/bi/roas_daily.sql``
is ``bi/roas_daily``). An optional header of ``-- asset:`` comment lines at the top
sets the rest, as ``name=value`` pairs::

    -- asset: group=bi, tags=[finance, daily], dialect=postgres, engine=warehouse
    -- asset: checks=[not_null(day), unique(day, channel), row_count(min=1)]
    -- asset: checks=[accepted_values(channel, [search, social, display])]

Values are bare words, quoted strings, numbers or ``[lists]``; checks are the
built-ins of :mod:`assets_core.checks` written as calls (``checks`` and ``tags``
add up over several lines; other fields are given once). This module stays light:
sqlglot loads when a query is first parsed.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assets_core.definitions import Location, _default_group, _dep_key, _tags, validate_key
from assets_core.errors import DefinitionError

DEFAULT_DIALECT = "duckdb"
DEFAULT_ENGINE = "duckdb"
if TYPE_CHECKING:
    from assets_core.code_version import CodeVersion

# what parsing a query yields (tables, their positions or None, fingerprint, sources);
# the .sql loader caches it per file content
Parsed = tuple[tuple[str, ...], tuple[tuple[int, int], ...] | None, str, int | None]

# How a SQL code version is made: the canonical walk of sql/fingerprint.py (bumped with
# it) over the tree the installed sqlglot parses. Recorded beside the parts (see
# code_version.FORMAT_KEY), so that a plan tells an upgrade's rebuild from an edit.
SQL_FORMAT = "sql/1"


def sqlglot_version() -> str:
    """The installed sqlglot's version, read from its ``_version.py`` without importing
    it (nor reading the installed distributions: ``importlib.metadata`` costs tens of
    milliseconds); ``"none"`` without sqlglot, ``"unknown"`` without that file."""
    from importlib.util import find_spec

    spec = find_spec("sqlglot")
    if spec is None or spec.origin is None:
        return "none"
    try:
        with open(os.path.join(os.path.dirname(spec.origin), "_version.py"), encoding="utf-8") as f:
            found = re.search(r"""version\s*=\s*['"]([^'"]+)['"]""", f.read())
    except OSError:
        return "unknown"
    return found.group(1) if found else "unknown"


@functools.lru_cache(maxsize=1)
def sql_format() -> str:
    return f"{SQL_FORMAT}+sqlglot {sqlglot_version()}"


HEADER_KEYS = (
    "group",
    "tags",
    "dialect",
    "engine",
    "checks",
    "freshness",
    "code_version",
    "description",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlAssetDef:
    """An asset declared by a SQL query.

    ``tables`` are the tables the query reads, as written; once the project is
    loaded, ``ins`` maps each of them to the asset or source key it names and
    ``params`` lists them, so the graph treats them as it treats the parameters
    of a Python asset.
    """

    key: str
    sql: str = field(repr=False)
    dialect: str
    engine: str
    tables: tuple[str, ...]
    # None when a cached parse was reused after a comment or layout edit (see position_of)
    table_positions: tuple[tuple[int, int], ...] | None = field(repr=False, compare=False)
    fingerprint: str
    # row sources the query reads, None when it makes rows itself (ParsedQuery.sources)
    sources: int | None = field(default=None, compare=False)
    params: tuple[str, ...] = ()
    ins: Mapping[str, str] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    group: str
    tags: frozenset[str]
    code_version: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    checks: tuple[Any, ...] = ()
    freshness: Any = None  # an assets_core.Freshness policy
    description: str = ""
    location: Location
    path: str | None = None  # the .sql file, relative to the project folder
    kind: str = "sql"

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def code(self) -> CodeVersion:
        """The code version: the query's canonical fingerprint and the engine it runs on."""
        from assets_core.code_version import CodePart, CodeVersion, digest

        if self.code_version is not None:
            return CodeVersion.pinned(self.code_version)
        parts = (
            CodePart(f"{self.key} (SQL)", self.path or self.location.file, self.fingerprint),
            CodePart(f"engine={self.engine}", "", digest(self.engine)),
        )
        return CodeVersion(
            version=digest("|".join(f"{p.name}={p.digest}" for p in parts)),
            parts=parts,
            format=sql_format(),
        )

    def position_of(self, table: str) -> tuple[int, int] | None:
        """(line, column) where ``table`` is first read, None when it is not read."""
        positions = self.table_positions
        if positions is None:  # the parse was reused after a comment or layout edit
            from assets_core.sql.parse import parse_query

            q = parse_query(self.sql, self.dialect, key=self.key, file=self.location.file)
            positions = tuple((t.line, t.col) for t in q.tables)
        try:
            return positions[self.tables.index(table)]
        except (ValueError, IndexError):
            return None


def sql_asset(
    key: str,
    sql: str,
    *,
    dialect: str = DEFAULT_DIALECT,
    engine: str = DEFAULT_ENGINE,
    group: str | None = None,
    tags: Iterable[str] | None = None,
    deps: Iterable[Any] | None = None,
    checks: Iterable[Any] | None = None,
    freshness: Any = None,
    code_version: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    description: str = "",
) -> SqlAssetDef:
    """Declare an asset computed by the SELECT query ``sql``, from Python.

    The query's tables name its upstreams (``bi.customer_journey`` reads the asset
    ``bi/customer_journey``). It is written in ``dialect`` and runs on ``engine``
    (the embedded DuckDB by default, or a name from ``[tool.assets.engines]``),
    transpiled by sqlglot when the two differ. Assign the result to a module-level
    name so the project finds it.
    """
    frame = inspect.stack(context=0)[1]
    loc = Location(frame.filename, frame.lineno)
    return build(
        key,
        sql,
        location=loc,
        path=None,
        header={
            "dialect": dialect,
            "engine": engine,
            "group": group,
            "tags": tags,
            "checks": list(checks or ()),
            "freshness": freshness,
            "code_version": code_version,
            "description": description,
        },
        deps=deps,
        metadata=metadata,
    )


def build(
    key: str,
    sql: str,
    *,
    location: Location,
    path: str | None,
    header: Mapping[str, Any],
    deps: Iterable[Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    parsed: Parsed | None = None,
) -> SqlAssetDef:
    """A :class:`SqlAssetDef` from its query and header values.

    ``parsed`` (tables, their positions, fingerprint, sources) skips parsing when a
    cache already holds the result for this exact file content.
    """
    where = str(location)
    validate_key(key, location=where)
    dialect = header.get("dialect") or DEFAULT_DIALECT
    engine = header.get("engine") or DEFAULT_ENGINE
    if not isinstance(engine, str) or not engine.isidentifier():
        raise DefinitionError(
            f"asset {key}: engine must be a name, got {engine!r}",
            key=key,
            location=where,
            hint="use duckdb (the default) or a name from [tool.assets.engines]",
        )
    if parsed is None:
        from assets_core.sql.parse import check_dialect, parse_query

        check_dialect(dialect, key=key, where=where)
        q = (
            parse_query(sql, dialect, key=key, file=location.file, first_line=1)
            if path is not None
            else parse_query(sql, dialect, key=key, file=where, first_line=0)
        )
        parsed = (
            tuple(t.text for t in q.tables),
            tuple((t.line, t.col) for t in q.tables),
            q.fingerprint,
            q.sources,
        )
    tables, positions, fp, sources = parsed
    return SqlAssetDef(
        key=key,
        sql=sql,
        dialect=dialect,
        engine=engine,
        tables=tables,
        table_positions=positions,
        fingerprint=fp,
        sources=sources,
        deps=tuple(_dep_key(d, key, where) for d in (deps or ())),
        group=header.get("group") or _default_group(key),
        tags=_tags(header.get("tags"), where),
        code_version=header.get("code_version"),
        metadata=dict(metadata or {}),
        checks=_checks(header.get("checks") or (), key, location),
        freshness=_freshness(header.get("freshness"), key, location),
        description=header.get("description") or "",
        location=location,
        path=path,
    )


def _checks(specs: Iterable[Any], key: str, location: Location) -> tuple[Any, ...]:
    """Built-in checks from header calls ``("not_null", ("id",), {})`` or check values."""
    if not specs:
        return ()
    from assets_core import checks as c

    out = []
    for spec in specs:
        if not isinstance(spec, tuple):
            out.append(spec)  # already a check (sql_asset(checks=[c.not_null("id")]))
            continue
        name, args, kwargs = spec
        rule = getattr(c, name, None) if name in c.__all__ and name[0].islower() else None
        if rule is None or name in ("check", "ge_suite"):
            known = [n for n in c.__all__ if n[0].islower() and n not in ("check", "ge_suite")]
            raise DefinitionError(
                f"asset {key}: unknown check {name!r} in the header",
                key=key,
                location=str(location),
                hint="built-in checks are: " + ", ".join(known),
            )
        try:
            made = rule(*args, **kwargs)
        except TypeError as e:
            raise DefinitionError(
                f"asset {key}: check {name}(...) in the header: {e}",
                key=key,
                location=str(location),
                hint=f"see help(assets_core.checks.{name})",
            ) from None
        from dataclasses import replace

        out.append(replace(made, location=location))
    return tuple(out)


def _freshness(value: Any, key: str, location: Location) -> Any:
    """A Freshness from ``'26h'`` (max_lag), ``freshness(cron='0 7 * * *')`` or a policy."""
    if value is None:
        return None
    from assets_core.freshness import Freshness

    if isinstance(value, Freshness):
        return value
    try:
        if isinstance(value, str | int | float):
            return Freshness(max_lag=value)
        if isinstance(value, tuple) and value[0].lower() == "freshness" and not value[1]:
            return Freshness(**value[2])
    except (DefinitionError, TypeError) as e:
        raise DefinitionError(
            f"asset {key}: freshness: {getattr(e, 'message', e)}",
            key=key,
            location=str(location),
            hint="e.g. -- asset: freshness='26h', or freshness=freshness(cron='0 7 * * *')",
        ) from None
    raise DefinitionError(
        f"asset {key}: cannot read freshness={value!r}",
        key=key,
        location=str(location),
        hint="e.g. -- asset: freshness='26h', or freshness=freshness(cron='0 7 * * *')",
    )


# -- the header -------------------------------------------------------------------------
def split_header(text: str) -> tuple[str, int]:
    """(the ``-- asset:`` values joined by commas, the line of the first one or 0)."""
    values: list[str] = []
    first = 0
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("--"):
            break
        body = line[2:].strip()
        if body.lower().startswith("asset:"):
            values.append(body[6:].strip())
            first = first or n
    return ", ".join(v for v in values if v), first


def parse_header(text: str, *, key: str, file: str, line: int) -> dict[str, Any]:
    """The ``name=value`` pairs of a header (``group=bi, tags=[a, b]``) as a dict.

    Bare words are strings, ``a/b`` is the key ``"a/b"``, and ``rule(args)`` is a
    check, returned as ``(rule, args, kwargs)``.
    """
    if not text:
        return {}
    where = f"{file}:{line}"
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError as e:
        raise DefinitionError(
            f"asset {key}: cannot read the '-- asset:' header: {e.msg} near {text!r}",
            key=key,
            location=where,
            hint="write name=value pairs separated by commas, e.g. "
            "-- asset: group=bi, tags=[finance], dialect=postgres",
        ) from None
    assert isinstance(call, ast.Call)
    if call.args:
        raise DefinitionError(
            f"asset {key}: the '-- asset:' header has a value without a name",
            key=key,
            location=where,
            hint="write name=value pairs, e.g. -- asset: group=bi",
        )
    out: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg not in HEADER_KEYS:
            raise DefinitionError(
                f"asset {key}: unknown header field {kw.arg!r}",
                key=key,
                location=where,
                hint="header fields are: " + ", ".join(HEADER_KEYS),
            )
        value = _value(kw.value, key, where)
        if kw.arg == "checks":
            value = value if isinstance(value, list) else [value]
            if not all(isinstance(v, tuple) for v in value):
                raise DefinitionError(
                    f"asset {key}: checks= lists rules such as not_null(id)",
                    key=key,
                    location=where,
                    hint="e.g. -- asset: checks=[not_null(id), unique(id), row_count(min=1)]",
                )
        elif kw.arg == "tags" and isinstance(value, str):
            value = [value]
        if kw.arg in out and kw.arg in ("checks", "tags"):
            value = [*out[kw.arg], *value]  # long lists may go on over several lines
        elif kw.arg in out:
            raise DefinitionError(
                f"asset {key}: header field {kw.arg!r} is given twice",
                key=key,
                location=where,
                hint="keep one; only checks= and tags= add up over several lines",
            )
        out[kw.arg] = value
    return out


def _value(node: ast.expr, key: str, where: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.List | ast.Tuple):
        return [_value(e, key, where) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _value(node.operand, key, where)
        if isinstance(inner, int | float):
            return -inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _value(node.left, key, where), _value(node.right, key, where)
        if isinstance(left, str) and isinstance(right, str):
            return f"{left}/{right}"  # an asset key: crm/customers
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = tuple(_value(a, key, where) for a in node.args)
        kwargs = {k.arg: _value(k.value, key, where) for k in node.keywords if k.arg}
        return (node.func.id, args, kwargs)
    raise DefinitionError(
        f"asset {key}: cannot read {ast.unparse(node)!r} in the '-- asset:' header",
        key=key,
        location=where,
        hint="quote it: name='value'",
    )
