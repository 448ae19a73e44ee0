"""One attempt at one asset: load its inputs, call its function, stage the value, audit it.

This is the part of a step that may run anywhere: in the run's own process, in a
local worker process, or on a Dask worker. It reads inputs from the stores (by
the references in its :class:`Task`) and writes the new value to the store
staged; it publishes and records nothing. What it returns, an :class:`Outcome`,
is small: versions, references, check verdicts, an error. Frames and large
values never travel with it; a small pickled value (at most 64 KiB) travels as
the bytes the catalog will keep, unless the worker wrote them there already.
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets_core.checks.runner import CheckOutcome, run_checks
from assets_core.definitions import AssetDef, SourceDef
from assets_core.errors import AssetsError
from assets_core.sources import value_of

NO_VALUE = object()  # what an attempt returns as its value when it produced none


@dataclass(frozen=True, slots=True)
class Task:
    """What a worker needs to compute ``key``: references, never values."""

    key: str
    attempt: int  # 1-based
    refs: Mapping[str, str]  # value reference of each upstream asset
    timeout_s: float | None = None
    pool: str | None = None  # the pool whose slot the run took for this attempt


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt produced, as recorded in the catalog."""

    key: str
    attempt: int
    status: str  # success | failed | timed_out
    started: float
    ended: float
    data_version: str | None = None
    ref: str | None = None
    inline: bytes | None = None
    rows: int | None = None
    columns: list[tuple[str, str]] | None = None
    # CheckOutcome values in the run's process; (index, result, seconds, error) elsewhere
    checks: tuple[Any, ...] = ()
    error: str | None = None
    retryable: bool = False
    synced: bool = True  # False: the file behind ``ref`` awaits its fsync by the publishing run

    @classmethod
    def success(
        cls, key: str, attempt: int, started: float, staged: Any, checks: tuple[Any, ...]
    ) -> Outcome:
        """A successful attempt that produced ``staged`` (a value or table, written)."""
        return cls(
            key,
            attempt,
            "success",
            started,
            time.time(),
            data_version=staged.data_version,
            ref=staged.ref,
            inline=staged.inline,
            rows=staged.rows,
            columns=staged.columns,
            checks=checks,
        )


class AttemptTimeout(BaseException):
    """Raised inside the asset function when its attempt runs out of time.

    A BaseException, so that the user's ``except Exception`` does not swallow it.
    """


def user_traceback(exc: BaseException) -> str:
    """``exc``'s traceback without assets-core's own frames."""
    here = str(Path(__file__).resolve().parents[1])
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(here)]
    return "".join(
        traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    ).rstrip()


def load_value(
    project: Any,
    store: Any,
    refs: Mapping[str, str],
    source_values: dict[str, Any],
    key: str,
) -> Any:
    """The value of ``key`` for a reader: a source's value, or the asset's stored value."""
    d = project.graph.defs[key]
    if isinstance(d, SourceDef):
        if key not in source_values:
            source_values[key] = value_of(d, project.root)
        return source_values[key]
    ref = refs.get(key)
    if ref is None:
        raise AssetsError(
            f"{key} has no published value",
            hint=f"materialize it first: assets materialize {key}",
        )
    return store.load(key, ref)


def _retryable(d: AssetDef, exc: BaseException, attempt: int) -> bool:
    return d.retry is not None and d.retry.retries(exc, attempt)


def run_attempt(
    project: Any,
    task: Task,
    load: Callable[[str], Any],
    store: Any,
    *,
    alarm: bool = False,
) -> tuple[Outcome, Any]:
    """Compute one attempt of ``task.key``; returns its outcome and the value (or NO_VALUE).

    ``alarm``: enforce ``task.timeout_s`` with SIGALRM (the run's own process; worker
    processes are killed by the run instead).
    """
    g = project.graph
    key = task.key
    d = g.defs[key]
    assert isinstance(d, AssetDef)
    started = time.time()

    def failed(error: str, status: str = "failed", retryable: bool = False) -> tuple[Outcome, Any]:
        out = Outcome(key, task.attempt, status, started, time.time(), error=error)
        return (_replace_retryable(out, retryable) if retryable else out), NO_VALUE

    prefetch = getattr(store, "prefetch", None)
    if prefetch is not None:
        prefetch([task.refs[u] for u in g.upstream[key] if u in task.refs])
    try:
        kwargs = {p: load(u) for p, u in g.inputs[key]}
    except AssetsError as e:
        return failed(e.render())
    except Exception as e:  # an observe() function of a source can raise anything
        return failed(user_traceback(e), retryable=_retryable(d, e, task.attempt))
    try:
        with _deadline(task.timeout_s if alarm else None):
            value = d.fn(**kwargs)
    except AttemptTimeout:
        msg = f"asset {key} timed out after {task.timeout_s:g}s (attempt {task.attempt})"
        return failed(msg, "timed_out", _retryable(d, TimeoutError(msg), task.attempt))
    except Exception as e:  # the user's function: any exception is a failed attempt
        return failed(user_traceback(e), retryable=_retryable(d, e, task.attempt))
    try:
        staged = store.stage(key, value)
    except AssetsError as e:
        return failed(e.render())
    checks = g.checks_of(key)
    outcomes = tuple(run_checks(checks, value, load, project.root)) if checks else ()
    return Outcome.success(key, task.attempt, started, staged, outcomes), value


def _replace_retryable(out: Outcome, retryable: bool) -> Outcome:
    from dataclasses import replace

    return replace(out, retryable=retryable)


class _deadline:
    """SIGALRM-based timeout around user code in the main thread (a no-op elsewhere)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.armed = False

    def __enter__(self) -> None:
        if not self.seconds or threading.current_thread() is not threading.main_thread():
            return
        if not hasattr(signal, "setitimer"):
            return

        def expire(_sig: int, _frame: Any) -> None:
            raise AttemptTimeout()

        self.previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        self.armed = True

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


# -- check outcomes across processes: a Check may hold user callables, so only its
#    position travels, and the run's process pairs it with its own Check again
def outcome_to_portable(outcomes: Sequence[CheckOutcome]) -> tuple[Any, ...]:
    return tuple((i, o.result, o.duration_s, o.error) for i, o in enumerate(outcomes))


def portable_to_outcome(checks: Sequence[Any], item: Any) -> CheckOutcome:
    i, result, duration, error = item
    return CheckOutcome(checks[i], result, duration, error)


def portable(out: Outcome) -> Outcome:
    """``out`` ready to cross a process boundary."""
    if not out.checks or not isinstance(out.checks[0], CheckOutcome):
        return out
    from dataclasses import replace

    return replace(out, checks=outcome_to_portable(out.checks))
