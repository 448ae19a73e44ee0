"""Running an asset's checks on a value (the staged new version, or the published one)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assets_core.checks.definition import Check, CheckResult
from assets_core.errors import AssetsError, closest

Loader = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    check: Check
    result: CheckResult
    duration_s: float
    error: str | None = None  # the user's traceback when the check raised

    @property
    def passed(self) -> bool:
        return self.error is None and self.result.passed

    @property
    def blocks(self) -> bool:
        return self.check.blocking and not self.passed

    def as_dict(self) -> dict[str, Any]:
        """This outcome as JSON-ready data (``--json`` of the commands that run checks)."""
        return {
            "check": self.check.name,
            "passed": self.passed,
            "severity": self.check.severity,
            "failing_rows": self.result.failing_rows,
            "description": self.result.description,
            "sample": list(self.result.sample),
            "metadata": dict(self.result.metadata),
            "error": self.error,
        }


def _user_traceback(exc: BaseException) -> str:
    here = str(Path(__file__).resolve().parents[1])
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(here)]
    return "".join(
        traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    ).rstrip()


def _coerce(check: Check, returned: Any) -> CheckResult:
    if isinstance(returned, CheckResult):
        return returned
    if isinstance(returned, bool) or type(returned).__name__ == "bool_":
        ok = bool(returned)
        return CheckResult(passed=ok, description="returned True" if ok else "returned False")
    return CheckResult(
        passed=False,
        description=f"check {check.name} returned {type(returned).__name__}; "
        "return a bool or a CheckResult",
    )


def run_one(
    check: Check, value: Any, load: Loader, root: Path, now: float | None = None
) -> CheckOutcome:
    started = time.perf_counter()
    try:
        result = _evaluate(check, value, load, root, now)
        error = None
    except _ColumnProblem as e:
        result, error = CheckResult(passed=False, description=str(e)), None
    except AssetsError as e:
        result, error = CheckResult(passed=False, description=e.render()), None
    except Exception as e:  # a check's code can raise anything: that is a failed check
        result, error = (
            CheckResult(passed=False, description=f"{type(e).__name__}: {e}"),
            (_user_traceback(e)),
        )
    return CheckOutcome(check, result, time.perf_counter() - started, error)


def run_checks(
    checks: Sequence[Check],
    value: Any,
    load: Loader,
    root: Path,
    now: float | None = None,
    *,
    redact: bool = False,
) -> list[CheckOutcome]:
    """Every check of the asset on ``value``; ``load(key)`` reads other assets.

    ``redact`` (assets tagged ``pii``) drops failing-row samples, so personal data
    never reaches the catalog or the terminal; counts are kept.
    """
    out = [run_one(c, value, load, root, now) for c in checks]
    return redact_samples(out) if redact else out


def redact_samples(outcomes: Sequence[CheckOutcome]) -> list[CheckOutcome]:
    """``outcomes`` without failing-row samples (for assets tagged ``pii``); counts stay."""
    return [
        replace(
            o,
            result=replace(
                o.result, sample=(), metadata={**o.result.metadata, "sample": "redacted (pii)"}
            ),
        )
        if o.result.sample
        else o
        for o in outcomes
    ]


class _ColumnProblem(Exception):
    pass


def _evaluate(check: Check, value: Any, load: Loader, root: Path, now: float | None) -> CheckResult:
    spec = check.spec
    if spec is None:
        assert check.fn is not None
        kwargs = {p: (value if k == check.asset else load(k)) for p, k in check.inputs}
        return _coerce(check, check.fn(**kwargs))
    runner = getattr(value, "run_builtin_check", None)
    if runner is not None:  # a table in a database: the store runs the rule in SQL
        return runner(spec, load)
    if spec.kind == "ge_suite":
        from integrations.great_expectations import run_suite

        return run_suite(spec.suite, value, root)
    from assets_core.checks.frames import UnknownColumn, run_builtin

    other = load(spec.to) if spec.to else None
    try:
        return run_builtin(spec, value, other, now)
    except UnknownColumn as e:
        hints = [f"{m} (did you mean {', '.join(closest(m, e.available))}?)" for m in e.missing]
        raise _ColumnProblem(
            f"{check.name}: no column "
            + "; ".join(hints)
            + f" — columns are: {', '.join(e.available)}"
        ) from None
