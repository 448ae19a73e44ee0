"""Source observations: every version seen of each source, and the latest one.

``observations`` keeps one row per observation (changed or not); ``source_state``
holds the latest version of each source, when it was last observed and when an
observation last saw it change (what a source's freshness is measured from).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from assets_core.catalog import schema as t


@dataclass(frozen=True, slots=True)
class SourceState:
    key: str
    version: str
    observed_at: float
    changed_at: float


def source_states(engine: Engine) -> dict[str, SourceState]:
    s = t.source_state.c
    with engine.connect() as conn:
        rows = conn.execute(select(s.key, s.version, s.observed_at, s.changed_at)).all()
    return {r[0]: SourceState(*r) for r in rows}


def record_observations(
    engine: Engine,
    versions: Iterable[tuple[str, str]],
    *,
    run_id: str | None = None,
    at: float | None = None,
) -> list[str]:
    """Record ``(source key, version)`` pairs in one transaction; return the keys that changed.

    The first observation of a source counts as a change.
    """
    when = time.time() if at is None else at
    pairs = list(versions)
    if not pairs:
        return []
    s = t.source_state
    changed: list[str] = []
    with engine.begin() as conn:
        known = dict(
            conn.execute(
                select(s.c.key, s.c.version).where(s.c.key.in_([k for k, _ in pairs]))
            ).all()
        )
        obs_rows = []
        for key, version in pairs:
            old = known.get(key)
            is_new = old != version
            obs_rows.append(
                {
                    "key": key,
                    "version": version,
                    "observed_at": when,
                    "changed": is_new,
                    "run_id": run_id,
                }
            )
            if key not in known:
                conn.execute(
                    insert(s).values(key=key, version=version, observed_at=when, changed_at=when)
                )
            else:
                values = {"observed_at": when}
                if is_new:
                    values.update(version=version, changed_at=when)
                conn.execute(update(s).where(s.c.key == key).values(**values))
            if is_new:
                changed.append(key)
            known[key] = version
        conn.execute(insert(t.observations), obs_rows)
    return changed
