"""Check definitions: built-in rules, custom ``@check`` functions, and their results.

A check audits an asset's *new* value before it is published (write, audit,
publish). ``blocking=True`` (the default) means a failure quarantines the new
version; ``blocking=False`` makes it a warning that is recorded and shown.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from assets_core.definitions import Location, validate_key
from assets_core.errors import DefinitionError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """What a check found. Custom checks may return one (or just a bool)."""

    passed: bool
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    failing_rows: int | None = None
    sample: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltinCheck:
    """A built-in rule, run natively on pandas or polars (and in SQL for tables).

    ``kind`` names the rule; the other fields are its arguments.
    """

    kind: str
    columns: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()
    min: int | None = None
    max: int | None = None
    to: str | None = None  # relationships: the referenced asset key
    field: str | None = None  # relationships: the referenced column
    expression: str | None = None
    predicate: Callable[[Any], Any] | None = None
    dtypes: tuple[tuple[str, str], ...] = ()
    max_age_s: float | None = None
    suite: Any = None  # ge_suite: a path or an ExpectationSuite
    blocking: bool = True
    name: str = ""
    location: Location | None = None

    is_check_spec = True

    @property
    def reads(self) -> tuple[str, ...]:
        """Other assets this check reads."""
        return (self.to,) if self.to else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckDef:
    """A custom check declared with ``@check(asset)``."""

    asset: str
    name: str
    fn: Callable[..., Any] = field(repr=False, compare=False)
    params: tuple[str, ...]
    ins: Mapping[str, str]
    blocking: bool
    location: Location
    kind: str = "check"


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """A check bound to its asset in the graph; ``inputs`` maps parameters to asset keys."""

    asset: str
    name: str
    blocking: bool
    spec: BuiltinCheck | None
    fn: Callable[..., Any] | None = field(repr=False, compare=False)
    inputs: tuple[tuple[str, str], ...]  # (parameter, key); the checked asset included
    location: Location | None

    @property
    def reads(self) -> tuple[str, ...]:
        """Assets other than the checked one that this check reads."""
        return tuple(dict.fromkeys(k for _, k in self.inputs if k != self.asset))

    @property
    def severity(self) -> str:
        return "error" if self.blocking else "warn"


def _caller() -> Location:
    for frame in inspect.stack(context=0)[2:]:
        if not frame.filename.endswith(("checks/definition.py", "checks/__init__.py")):
            return Location(frame.filename, frame.lineno)
    return Location("<unknown>", 0)


def _cols(columns: Sequence[str] | str, rule: str) -> tuple[str, ...]:
    cols = (columns,) if isinstance(columns, str) else tuple(columns)
    if not cols or not all(isinstance(c, str) and c for c in cols):
        raise DefinitionError(f"{rule}() needs one or more column names", location=str(_caller()))
    return cols


def builtin(kind: str, name: str, blocking: bool, **kw: Any) -> BuiltinCheck:
    return BuiltinCheck(kind=kind, name=name, blocking=blocking, location=_caller(), **kw)


def check(
    asset: Any,
    *,
    blocking: bool = True,
    name: str | None = None,
    ins: Mapping[str, str] | None = None,
) -> Callable[[F], F]:
    """Declare a custom check on ``asset`` (an ``@asset`` function or a key).

    The parameter named like the asset (or its first parameter) receives the new
    value; other parameters name other assets the check reads, as for ``@asset``.
    Return a bool or a ``CheckResult``. Raising counts as a failed check.
    """
    from assets_core.definitions import definition_of

    d = definition_of(asset)
    if d is not None:
        key = d.key
    elif isinstance(asset, str):
        key = validate_key(asset)
    else:
        raise DefinitionError(
            f"@check needs an asset function or key, got {asset!r}", location=str(_caller())
        )

    def decorate(fn: F) -> F:
        code = fn.__code__
        loc = Location(code.co_filename, code.co_firstlineno)
        params = tuple(inspect.signature(fn).parameters)
        if not params:
            raise DefinitionError(
                f"check {fn.__name__} on {key} takes no parameter",
                key=key,
                location=str(loc),
                hint=f"add a parameter that receives the asset, e.g. def {fn.__name__}"
                f"({key.rsplit('/', 1)[-1]}): ...",
            )
        fn.__check_def__ = CheckDef(  # type: ignore[attr-defined]
            asset=key,
            name=name or fn.__name__,
            fn=fn,
            params=params,
            ins=dict(ins or {}),
            blocking=blocking,
            location=loc,
        )
        return fn

    return decorate


def check_def_of(obj: Any) -> CheckDef | None:
    d = getattr(obj, "__check_def__", None)
    return d if isinstance(d, CheckDef) else None
