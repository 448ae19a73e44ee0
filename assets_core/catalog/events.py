"""Events: things that happen to an asset outside a materialization.

Freshness state changes (kind ``freshness``), quarantine releases and discards are
appended here, each with a JSON payload. Events are never updated or deleted.
"""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from assets_core.catalog import schema as t

_E = t.events.c
_COLS = (_E.id, _E.at, _E.kind, _E.key, _E.run_id, _E.user, _E.payload)


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: float
    kind: str
    key: str | None
    run_id: str | None
    user: str | None
    payload: Any


def record_event(
    engine: Engine,
    kind: str,
    key: str | None,
    payload: Any = None,
    *,
    run_id: str | None = None,
    at: float | None = None,
    user: str | None = None,
) -> int:
    return record_events(engine, [(kind, key, payload)], run_id=run_id, at=at, user=user)[0]


def record_events(
    engine: Engine,
    items: Iterable[tuple[str, str | None, Any]],
    *,
    run_id: str | None = None,
    at: float | None = None,
    user: str | None = None,
) -> list[int]:
    """Append ``(kind, key, payload)`` events in one transaction; return their ids."""
    with engine.begin() as conn:
        return insert_events(conn, items, run_id=run_id, at=at, user=user)


def insert_events(
    conn: Connection,
    items: Iterable[tuple[str, str | None, Any]],
    *,
    run_id: str | None = None,
    at: float | None = None,
    user: str | None = None,
) -> list[int]:
    """Append events within the caller's transaction (with the change they describe)."""
    when = time.time() if at is None else at
    who = user if user is not None else _os_user()
    ids = []
    for kind, key, payload in items:
        row = {
            "at": when,
            "kind": kind,
            "key": key,
            "run_id": run_id,
            "user": who,
            "payload": json.dumps(payload, sort_keys=True, default=str)
            if payload is not None
            else None,
        }
        ids.append(conn.execute(insert(t.events), row).inserted_primary_key[0])
    return ids


def read_events(
    engine: Engine,
    *,
    kind: str | None = None,
    key: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events matching every filter given, oldest first (the newest ``limit`` of them)."""
    e = t.events
    q = select(*_COLS)
    if kind is not None:
        q = q.where(e.c.kind == kind)
    if key is not None:
        q = q.where(e.c.key == key)
    if since is not None:
        q = q.where(e.c.at >= since)
    q = q.order_by(e.c.id.desc())
    if limit is not None:
        q = q.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return [_event(r) for r in reversed(rows)]


def latest_per_key(engine: Engine, kind: str) -> dict[str, Event]:
    """The newest event of ``kind`` for each key, in one query."""
    e = t.events
    newest = select(func.max(e.c.id)).where(e.c.kind == kind).group_by(e.c.key)
    q = select(*_COLS).where(e.c.id.in_(newest))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return {r[3]: _event(r) for r in rows if r[3] is not None}


def _event(row: Any) -> Event:
    i, at, kind, key, run_id, user, payload = row
    return Event(i, at, kind, key, run_id, user, json.loads(payload) if payload else None)


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
