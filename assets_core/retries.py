"""Retrying a failed attempt: how often, how long to wait, and on which errors.

>>> r = Retry(max_attempts=4, backoff="exponential", initial="2s", max_delay="5m", jitter=False)
>>> [r.delay(n) for n in (1, 2, 3)]
[2.0, 4.0, 8.0]
>>> Retry(initial="1m", max_delay="90s", jitter=False).delay(5)
90.0
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from assets_core.durations import parse_duration
from assets_core.errors import DefinitionError

BACKOFFS = ("exponential", "linear", "constant")


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """Run an asset again when an attempt fails with one of ``on``.

    ``max_attempts`` counts the first attempt too. The wait before attempt n+1 is
    ``initial`` (``constant``), ``initial * n`` (``linear``) or ``initial * 2**(n-1)``
    (``exponential``), at most ``max_delay``; ``jitter`` draws it between half and
    all of that, so that many failing assets do not retry in step. A timed-out
    attempt is retried when ``on`` includes ``TimeoutError`` (``Exception`` does).
    """

    max_attempts: int = 3
    backoff: str = "exponential"
    initial: float | str = 1.0
    max_delay: float | str = 300.0
    jitter: bool = True
    on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise DefinitionError(
                f"Retry(max_attempts={self.max_attempts!r}): give a whole number >= 1",
                hint="max_attempts counts the first attempt, e.g. Retry(max_attempts=3)",
            )
        if self.backoff not in BACKOFFS:
            raise DefinitionError(
                f"Retry(backoff={self.backoff!r}) is not one of {', '.join(BACKOFFS)}",
                hint='e.g. Retry(backoff="exponential", initial="2s")',
            )
        on = self.on if isinstance(self.on, tuple) else (self.on,)
        if not all(isinstance(e, type) and issubclass(e, BaseException) for e in on):
            raise DefinitionError(
                f"Retry(on={self.on!r}) must name exception classes",
                hint="e.g. Retry(on=(IOError, TimeoutError))",
            )
        # durations are kept as seconds; frozen, so set through object
        object.__setattr__(self, "initial", parse_duration(self.initial))
        object.__setattr__(self, "max_delay", parse_duration(self.max_delay))
        object.__setattr__(self, "on", on)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = float(self.initial)  # type: ignore[arg-type]
        if self.backoff == "linear":
            base *= attempt
        elif self.backoff == "exponential":
            base *= 2.0 ** (attempt - 1)
        d = min(base, float(self.max_delay))  # type: ignore[arg-type]
        if self.jitter:
            d *= 0.5 + (rng or random).random() / 2
        return d

    def retries(self, exc: BaseException, attempt: int) -> bool:
        """Is ``exc``, raised by attempt number ``attempt``, worth another attempt?"""
        return attempt < self.max_attempts and isinstance(exc, self.on)
