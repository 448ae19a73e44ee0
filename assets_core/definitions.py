"""Definitions: the immutable values that ``@asset`` and ``source()`` build.

The decorator records an :class:`AssetDef` on the user's function (attribute
``__asset_def__``) and returns the function itself, so it stays a plain,
callable, testable Python function. Nothing runs at import time but this.

>>> @asset(key_prefix="bi", tags=["finance"])
... def roas(spend, revenue):
...     return revenue / spend
>>> roas.__asset_def__.key, roas.__asset_def__.params
('bi/roas', ('spend', 'revenue'))
>>> roas(2, 10)
5.0
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, overload

from assets_core.errors import DefinitionError
from assets_core.frozen import built

if TYPE_CHECKING:
    from assets_core.freshness import Freshness
    from assets_core.retries import Retry

KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*")
F = TypeVar("F", bound=Callable[..., Any])


def validate_key(key: str, *, location: str | Location | None = None) -> str:
    """Return ``key`` if it is a valid asset key (``seg/seg/...``), else raise."""
    # a plain identifier (a function's name: nearly every key) passes without the regex
    if isinstance(key, str) and key.isascii() and key.isidentifier():
        return key
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise DefinitionError(
            f"invalid asset key {key!r}",
            key=str(key),
            location=str(location) if location is not None else None,
            hint="a key is one or more identifiers separated by '/', e.g. 'bi/roas_daily'",
        )
    return key


class Location(NamedTuple):
    """Where a definition is written. A named tuple: ``@asset`` makes one per asset at
    every load, and a tuple is made in one step (see :func:`_define`)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


_TUPLE_NEW = tuple.__new__


@dataclass(frozen=True, kw_only=True)
class AssetDef:
    """An asset declared by a Python function.

    Not slotted: ``@asset`` builds it in one step (see ``assets_core/frozen.py``).
    """

    key: str
    fn: Callable[..., Any] = field(repr=False, compare=False)
    params: tuple[str, ...]
    ins: Mapping[str, str]
    deps: tuple[str, ...]
    group: str
    tags: frozenset[str]
    code_version: str | None
    metadata: Mapping[str, Any]
    location: Location
    io: str | None = None  # name of a SQL engine whose table store keeps the value
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # declared lineage
    kind: str = "python"
    checks: tuple[Any, ...] = ()  # built-in checks (assets_core.checks), run before publishing
    freshness: Freshness | None = None
    # how it runs (none of these changes its data, so none is part of its code version)
    retry: Retry | None = None
    timeout_s: float | None = None
    pool: str | None = None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceDef:
    """Data the project reads but does not produce.

    Its version is the content hash of the files matched by ``path`` (a glob,
    relative to the project folder), or whatever ``observe()`` returns.
    """

    key: str
    path: str | None
    observe: Callable[[], Any] | None = field(repr=False, compare=False)
    group: str
    tags: frozenset[str]
    description: str
    location: Location
    kind: str = "source"
    freshness: Freshness | None = None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


Definition = AssetDef | SourceDef


def _caller_location(depth: int = 2) -> Location:
    frame = inspect.stack(context=0)[depth]
    return Location(frame.filename, frame.lineno)


def _fn_location(fn: Callable[..., Any]) -> Location:
    code = getattr(fn, "__code__", None)
    if code is None:
        return Location("<unknown>", 0)
    return Location(code.co_filename, code.co_firstlineno)


def _tags(tags: Iterable[str] | None, where: str) -> frozenset[str]:
    if tags is None:
        return frozenset()
    if isinstance(tags, str):
        raise DefinitionError(
            f"tags must be a list of strings, got the string {tags!r}",
            location=where,
            hint=f"write tags=[{tags!r}]",
        )
    return frozenset(tags)


_NO_TAGS: frozenset[str] = frozenset()


def _default_group(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else "default"


@overload
def asset(fn: F, /) -> F: ...


@overload
def asset(
    *,
    key: str | None = None,
    key_prefix: str | Iterable[str] | None = None,
    group: str | None = None,
    tags: Iterable[str] | None = None,
    deps: Iterable[Any] | None = None,
    ins: Mapping[str, str] | None = None,
    code_version: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    checks: Iterable[Any] | None = None,
    freshness: Freshness | None = None,
    io: str | None = None,
    columns: Mapping[str, Iterable[str]] | None = None,
    retry: Retry | None = None,
    timeout: str | float | None = None,
    pool: str | None = None,
) -> Callable[[F], F]: ...


def asset(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    key: str | None = None,
    key_prefix: str | Iterable[str] | None = None,
    group: str | None = None,
    tags: Iterable[str] | None = None,
    deps: Iterable[Any] | None = None,
    ins: Mapping[str, str] | None = None,
    code_version: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    checks: Iterable[Any] | None = None,
    freshness: Freshness | None = None,
    io: str | None = None,
    columns: Mapping[str, Iterable[str]] | None = None,
    retry: Retry | None = None,
    timeout: str | float | None = None,
    pool: str | None = None,
) -> Any:
    """Declare the decorated function as an asset.

    Each parameter names an upstream asset or source (by the last part of its key,
    or explicitly through ``ins={"param": "some/key"}``); ``deps`` adds upstreams
    that only order the run. ``code_version`` pins the code version instead of
    deriving it from the function's normalized code. ``checks`` lists built-in
    checks (``assets_core.checks``) every new version must pass to be published.
    ``freshness`` is a ``Freshness`` policy (how old the asset may be, or by when it must be
    updated), evaluated by ``assets status``. ``io="duckdb"`` (or the name of
    an engine in ``[tool.assets.engines]``) stores a returned DataFrame as a table of
    that engine instead of a parquet file. ``columns`` declares column lineage:
    ``{"roas": ["revenue", "spend"]}``, each source column optionally qualified by a
    parameter or upstream key (``"journey.amount_usd"``).

    How it runs: ``retry`` (a :class:`~assets_core.Retry`) re-runs failed attempts,
    ``timeout`` (``"15m"``, or seconds) stops an attempt that runs longer, and ``pool``
    names a concurrency pool of ``[tool.assets.pools]`` that limits how many of its
    assets run at once.
    """

    options = (
        key,
        key_prefix,
        group,
        tags,
        deps,
        ins,
        code_version,
        metadata,
        checks,
        freshness,
        io,
        columns,
        retry,
        timeout,
        pool,
    )
    if fn is not None:
        return _define(fn, *options)
    return lambda f: _define(f, *options)


def _define(
    f: Callable[..., Any],
    key: str | None,
    key_prefix: str | Iterable[str] | None,
    group: str | None,
    tags: Iterable[str] | None,
    deps: Iterable[Any] | None,
    ins: Mapping[str, str] | None,
    code_version: str | None,
    metadata: Mapping[str, Any] | None,
    checks: Iterable[Any] | None,
    freshness: Freshness | None,
    io: str | None,
    columns: Mapping[str, Iterable[str]] | None,
    retry: Retry | None,
    timeout: str | float | None,
    pool: str | None,
) -> Callable[..., Any]:
    """Record the AssetDef of ``f`` on it (``@asset``'s work).

    It runs once per asset at every load, so the common case is kept cheap: no
    closure per call, and only the error paths format the location.
    """
    code = getattr(f, "__code__", None)
    if code is None or not callable(f):
        raise DefinitionError("@asset decorates a function", location=str(_fn_location(f)))
    loc = _TUPLE_NEW(Location, (code.co_filename, code.co_firstlineno))
    if key is not None and key_prefix is not None:
        raise DefinitionError(
            "give either key= or key_prefix=, not both",
            location=str(loc),
            hint="key='bi/roas' is the same as key_prefix='bi' on a function named roas",
        )
    if key is not None:
        k = key
    elif key_prefix is not None:
        prefix = [key_prefix] if isinstance(key_prefix, str) else list(key_prefix)
        k = "/".join([*prefix, f.__name__])
    else:
        k = f.__name__
    validate_key(k, location=loc)
    params = _parameters(code)
    if params is None:
        raise DefinitionError(
            f"asset {k}: *args/**kwargs cannot name upstream assets",
            key=k,
            location=str(loc),
            hint="name each upstream as its own parameter",
        )
    explicit = dict(ins) if ins else {}
    for p, up in explicit.items():
        if p not in params:
            raise DefinitionError(
                f"asset {k}: ins= names parameter {p!r}, which the function does not have",
                key=k,
                location=str(loc),
                hint=f"parameters are: {', '.join(params) or '(none)'}",
            )
        validate_key(up, location=loc)
    specs = tuple(checks) if checks else ()
    for c in specs:
        if not getattr(c, "is_check_spec", False):
            raise DefinitionError(
                f"asset {k}: checks= entry {c!r} is not a check",
                key=k,
                location=str(loc),
                hint="use the built-ins, e.g. checks=[checks.not_null('id')]; "
                "declare custom checks with @check(asset)",
            )
    d = built(
        AssetDef,
        {
            "key": k,
            "fn": f,
            "params": params,
            "ins": explicit,
            "deps": tuple(_dep_key(x, k, str(loc)) for x in deps) if deps else (),
            "group": group or _default_group(k),
            "tags": _tags(tags, str(loc)) if tags is not None else _NO_TAGS,
            "code_version": code_version,
            "metadata": dict(metadata) if metadata else {},
            "location": loc,
            "io": io,
            "columns": _columns(columns, k, str(loc)) if columns else {},
            "kind": "python",
            "checks": specs,
            "freshness": _freshness(freshness, k, str(loc)) if freshness is not None else None,
            "retry": _retry(retry, k, loc) if retry is not None else None,
            "timeout_s": _timeout_s(timeout, k, loc) if timeout is not None else None,
            "pool": _pool(pool, k, loc) if pool is not None else None,
        },
    )
    f.__asset_def__ = d  # type: ignore[attr-defined]
    return f


def _retry(retry: Any, key: str, loc: Location) -> Retry:
    from assets_core.retries import Retry

    if not isinstance(retry, Retry):
        raise DefinitionError(
            f"asset {key}: retry= must be a Retry, got {retry!r}",
            key=key,
            location=str(loc),
            hint="from assets_core import Retry; @asset(retry=Retry(max_attempts=3))",
        )
    return retry


def _timeout_s(timeout: Any, key: str, loc: Location) -> float:
    from assets_core.durations import parse_duration

    try:
        seconds = parse_duration(timeout)
    except DefinitionError as e:
        raise DefinitionError(
            f"asset {key}: timeout={timeout!r}: {e.message}",
            key=key,
            location=str(loc),
            hint=e.hint,
        ) from None
    if seconds <= 0:
        raise DefinitionError(
            f"asset {key}: timeout={timeout!r} must be more than zero",
            key=key,
            location=str(loc),
            hint='e.g. timeout="15m"',
        )
    return seconds


def _pool(pool: Any, key: str, loc: Location) -> str:
    if not isinstance(pool, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", pool):
        raise DefinitionError(
            f"asset {key}: pool={pool!r} is not a pool name",
            key=key,
            location=str(loc),
            hint='name a pool of [tool.assets.pools], e.g. pool="warehouse"',
        )
    return pool


_STAR_ARGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


def _parameters(code: CodeType) -> tuple[str, ...] | None:
    """Parameter names of a function of ``code`` (None when it takes *args or **kwargs).

    Read from the code object: inspect.signature costs ten times more, and
    projects with thousands of assets pay it at every load.
    """
    if code.co_flags & _STAR_ARGS:
        return None
    return code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]


def _columns(
    columns: Mapping[str, Iterable[str]] | None, owner: str, where: str
) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for col, sources in (columns or {}).items():
        if isinstance(sources, str) or not all(isinstance(x, str) for x in sources):
            raise DefinitionError(
                f"asset {owner}: columns={{{col!r}: ...}} must list source columns as strings",
                key=owner,
                location=where,
                hint=f'write columns={{"{col}": ["revenue", "spend"]}}',
            )
        out[str(col)] = tuple(sources)
    return out


def _dep_key(dep: Any, owner: str, where: str) -> str:
    if isinstance(dep, str):
        return validate_key(dep, location=where)
    if isinstance(dep, SourceDef):
        return dep.key
    d = getattr(dep, "__asset_def__", None)
    if isinstance(d, AssetDef):
        return d.key
    raise DefinitionError(
        f"asset {owner}: deps= entry {dep!r} is neither a key, an asset nor a source",
        key=owner,
        location=where,
        hint="pass asset keys as strings, e.g. deps=['raw/orders']",
    )


def source(
    key: str,
    *,
    path: str | Path | None = None,
    observe: Callable[[], Any] | None = None,
    group: str | None = None,
    tags: Iterable[str] | None = None,
    description: str = "",
    freshness: Freshness | None = None,
) -> SourceDef:
    """Declare data the project reads but does not produce.

    ``path`` is a glob relative to the project folder (``"data/orders/*.csv"``);
    assets that read the source receive the sorted list of matching paths and the
    source's version is the content hash of those files. ``observe`` is a function
    returning the current version of anything else (a table's ``max(updated_at)``,
    an API's ETag); assets that read such a source receive that value.
    ``freshness`` is measured from the latest observation that saw the source change.
    """
    loc = _caller_location()
    where = str(loc)
    validate_key(key, location=where)
    if (path is None) == (observe is None):
        raise DefinitionError(
            f"source {key}: give exactly one of path= or observe=",
            key=key,
            location=where,
            hint="path='data/orders/*.csv' for files, observe=fn for anything else",
        )
    return SourceDef(
        key=key,
        path=str(path) if path is not None else None,
        observe=observe,
        group=group or _default_group(key),
        tags=_tags(tags, where),
        description=description,
        location=loc,
        freshness=_freshness(freshness, key, where),
    )


def _freshness(policy: Any, key: str, where: str) -> Freshness | None:
    if policy is None:
        return None
    from assets_core.freshness import Freshness

    if not isinstance(policy, Freshness):
        raise DefinitionError(
            f"{key}: freshness= must be a Freshness policy, got {policy!r}",
            key=key,
            location=where,
            hint='from assets_core import Freshness; freshness=Freshness(max_lag="26h")',
        )
    return policy


def definition_of(obj: Any) -> Definition | None:
    """The definition carried by ``obj`` (a decorated function or a SourceDef)."""
    if isinstance(obj, SourceDef):
        return obj
    d = getattr(obj, "__asset_def__", None)
    if isinstance(d, AssetDef):
        return d
    # sql_asset() values: no instance can exist before their module was imported
    sql = sys.modules.get("assets_core.sql.definition")
    if sql is not None and isinstance(obj, sql.SqlAssetDef):
        return obj  # type: ignore[no-any-return]
    return None
