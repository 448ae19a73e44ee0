"""Durations written the way people write them: "26h", "30m", "1h30m", "2d", "15s"."""

from __future__ import annotations

import re

from assets_core.errors import DefinitionError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: str | float | int) -> float:
    """Seconds in ``value``.

    >>> parse_duration("1h30m"), parse_duration("26h"), parse_duration(90)
    (5400.0, 93600.0, 90.0)
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise DefinitionError(f"a duration cannot be negative: {value}")
        return float(value)
    text = str(value).strip().replace(" ", "")
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise DefinitionError(
            f"cannot read the duration {value!r}",
            hint='write it like "90s", "30m", "26h", "1h30m" or "2d"',
        )
    return total


def format_duration(seconds: float) -> str:
    """The inverse, for people: 11520 -> "3h12m".

    >>> format_duration(11520), format_duration(59), format_duration(90061)
    ('3h12m', '59s', '1d1h1m')
    """
    s = int(round(abs(seconds)))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = [f"{d}d" if d else "", f"{h}h" if h else "", f"{m}m" if m else ""]
    if not any(parts):
        parts.append(f"{s}s")
    return "".join(parts)
