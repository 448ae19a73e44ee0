"""Freshness policies: how old an asset or source may be, or by when it must be updated.

A policy is evaluated from the catalog: an asset's last update is its latest
published materialization, a source's is the latest observation that saw it
change. Evaluation is a pure function of (policy, last update, now):

- ``max_lag="26h"``: the last update may be at most 26 hours old.
- ``cron="0 6 * * 1-5", tz="Europe/Berlin"``: a deadline. At each tick the asset
  must have been updated since ``tick - max_lag`` (without ``max_lag``: since the
  tick before). Overdue time counts from the tick.
- ``warn_after`` / ``error_after`` (as in dbt): how far past the policy an asset may
  be before it is in ``warn`` / ``error``. Without them any lateness is ``warn``;
  with only them (no ``max_lag``, no ``cron``) they bound the age of the last update.

>>> day = 86400.0
>>> evaluate(Freshness(max_lag="26h"), last_update=0.0, now=day).state
'fresh'
>>> r = evaluate(Freshness(max_lag="26h", error_after="2h"), last_update=0.0, now=2 * day)
>>> r.state, r.overdue
('error', '22h')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from assets_core.durations import format_duration, parse_duration
from assets_core.errors import AssetsError, DefinitionError, MissingExtraError

FRESH, WARN, ERROR = "fresh", "warn", "error"
STATES = (FRESH, WARN, ERROR)
NOW_ENV = "ASSETS_NOW"


class FreshnessError(AssetsError):
    """A freshness policy cannot be evaluated (e.g. an invalid cron expression)."""


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    try:
        return parse_duration(value)
    except DefinitionError as e:
        raise DefinitionError(f"Freshness({name}=...): {e.message}", hint=e.hint) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Freshness:
    """A freshness policy for ``@asset(freshness=...)`` or ``source(..., freshness=...)``.

    Durations are strings like ``"26h"``, ``"30m"``, ``"1h30m"``, ``"2d"``, a number of
    seconds or a ``timedelta``; they are kept as seconds.
    """

    max_lag: float | None = None
    cron: str | None = None
    tz: str = "UTC"
    warn_after: float | None = None
    error_after: float | None = None

    def __init__(
        self,
        *,
        max_lag: str | float | timedelta | None = None,
        cron: str | None = None,
        tz: str = "UTC",
        warn_after: str | float | timedelta | None = None,
        error_after: str | float | timedelta | None = None,
    ) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        set_ = object.__setattr__
        set_(self, "max_lag", _seconds(max_lag, "max_lag"))
        set_(self, "warn_after", _seconds(warn_after, "warn_after"))
        set_(self, "error_after", _seconds(error_after, "error_after"))
        if cron is not None and (not isinstance(cron, str) or len(cron.split()) not in (5, 6)):
            raise DefinitionError(
                f"Freshness(cron={cron!r}) is not a cron expression",
                hint='five fields: minute hour day-of-month month day-of-week, e.g. "0 6 * * 1-5"',
            )
        set_(self, "cron", cron)
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise DefinitionError(
                f"Freshness(tz={tz!r}) is not a known time zone",
                hint='use an IANA name such as "UTC" or "Europe/Berlin"',
            ) from None
        set_(self, "tz", tz)
        if max_lag is None and cron is None and warn_after is None and error_after is None:
            raise DefinitionError(
                "Freshness() needs max_lag=, cron=, warn_after= or error_after=",
                hint='e.g. Freshness(max_lag="26h") or Freshness(cron="0 7 * * *", tz="UTC")',
            )
        if (
            self.warn_after is not None
            and self.error_after is not None
            and self.warn_after > self.error_after
        ):
            raise DefinitionError(
                "Freshness: warn_after is longer than error_after",
                hint="warn first: warn_after must be shorter than error_after",
            )

    def describe(self) -> str:
        """The policy in a few words, e.g. ``max_lag 26h, error after 2h``."""
        parts = []
        if self.cron is not None:
            parts.append(f"cron '{self.cron}' {self.tz}")
        if self.max_lag is not None:
            parts.append(f"max_lag {format_duration(self.max_lag)}")
        if self.warn_after is not None:
            parts.append(f"warn after {format_duration(self.warn_after)}")
        if self.error_after is not None:
            parts.append(f"error after {format_duration(self.error_after)}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class FreshnessResult:
    """The outcome of evaluating a policy: ``state`` is fresh, warn or error."""

    state: str
    overdue_s: float | None  # how far past the policy; None when never updated
    deadline: float | None  # the time the policy was measured at (the latest cron tick, or now)
    required_since: float | None  # the last update had to be at or after this time
    last_update: float | None
    policy: str

    @property
    def overdue(self) -> str:
        if self.overdue_s is None:
            return "never updated"
        return format_duration(self.overdue_s) if self.overdue_s > 0 else ""

    @property
    def summary(self) -> str:
        """``overdue by 3h12m``, ``never updated``, or empty when fresh."""
        if self.state == FRESH:
            return ""
        return self.overdue if self.overdue_s is None else f"overdue by {self.overdue}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "overdue_s": self.overdue_s,
            "overdue": self.overdue,
            "deadline": self.deadline,
            "required_since": self.required_since,
            "last_update": self.last_update,
            "policy": self.policy,
        }


def evaluate(policy: Freshness, last_update: float | None, now: float) -> FreshnessResult:
    """Evaluate ``policy`` for an asset last updated at ``last_update`` (epoch seconds)."""
    if policy.cron is not None:
        deadline, previous = _ticks(policy, now)
        since = deadline - policy.max_lag if policy.max_lag is not None else previous
    else:
        deadline = now
        since = now - (policy.max_lag or 0.0)
    if last_update is None:
        overdue: float | None = None
        late = True
    else:
        late = last_update < since
        # past a deadline, lateness counts from the tick; past a max_lag, from when it ran out
        overdue = (since - last_update if policy.cron is None else now - deadline) if late else 0.0
    if not late:
        state = FRESH
    elif policy.error_after is not None and (overdue is None or overdue > policy.error_after):
        state = ERROR
    elif overdue is None or overdue > (policy.warn_after or 0.0):
        state = WARN
    else:
        state = FRESH
    return FreshnessResult(
        state=state,
        overdue_s=overdue,
        deadline=deadline,
        required_since=since,
        last_update=last_update,
        policy=policy.describe(),
    )


def _ticks(policy: Freshness, now: float) -> tuple[float, float]:
    """The latest cron tick at or before ``now`` and the tick before it (epoch seconds)."""
    from zoneinfo import ZoneInfo

    try:
        from croniter import croniter
    except ImportError:
        raise MissingExtraError("croniter", "freshness", "a cron freshness policy") from None
    local = datetime.fromtimestamp(now, ZoneInfo(policy.tz))
    try:
        it = croniter(policy.cron, local + timedelta(microseconds=1))
        tick = it.get_prev(datetime)
        before = it.get_prev(datetime)
    except (ValueError, KeyError) as e:
        raise FreshnessError(
            f"freshness cron {policy.cron!r} cannot be read: {e}",
            hint='five fields: minute hour day-of-month month day-of-week, e.g. "0 6 * * 1-5"',
        ) from None
    return tick.timestamp(), before.timestamp()


def current_time() -> float:
    """Now, as epoch seconds; ``ASSETS_NOW`` (ISO 8601 or epoch seconds) pins it for tests."""
    pinned = os.environ.get(NOW_ENV)
    if not pinned:
        import time

        return time.time()
    try:
        return float(pinned)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(pinned)
    except ValueError:
        raise AssetsError(
            f"{NOW_ENV}={pinned!r} is neither an ISO 8601 time nor epoch seconds",
            hint=f"e.g. {NOW_ENV}=2026-01-05T07:00:00+01:00, or unset it",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
