"""Check results, quarantine and events in the catalog.

Check results of a new version are written in the same transaction as the
version's record, so a published (or quarantined) version never exists without
the results that decided it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, func, insert, select, update

from assets_core.catalog import schema as t
from assets_core.catalog.events import insert_events
from assets_core.catalog.snapshot import died_here
from assets_core.catalog.state import RELEASING

if TYPE_CHECKING:
    from assets_core.catalog.catalog import Catalog
    from assets_core.checks.runner import CheckOutcome

_INSERT_RESULT = insert(t.check_results)


def checks_status(outcomes: Sequence[CheckOutcome]) -> str | None:
    """passed | warned | failed for a set of outcomes (None when there are no checks)."""
    if not outcomes:
        return None
    if any(o.blocks for o in outcomes):
        return "failed"
    if any(not o.passed for o in outcomes):
        return "warned"
    return "passed"


class RecordedOutcome(NamedTuple):
    """A check result as read back from the catalog: enough for :func:`checks_status`."""

    passed: bool
    blocks: bool


def recorded_outcomes(catalog: Catalog, materialization_id: int) -> list[RecordedOutcome]:
    """The check results recorded with one materialization."""
    c = t.check_results.c
    stmt = select(c.passed, c.severity).where(c.materialization_id == materialization_id)
    with catalog.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [RecordedOutcome(bool(p), not p and sev == "error") for p, sev in rows]


def insert_results(
    conn: Connection,
    *,
    run_id: str | None,
    key: str,
    materialization_id: int | None,
    data_version: str | None,
    outcomes: Sequence[CheckOutcome],
    versions: Mapping[str, Any] | None,
) -> None:
    if not outcomes:
        return
    now = time.time()
    rows = []
    for o in outcomes:
        part = (versions or {}).get(o.check.name)
        rows.append(
            {
                "run_id": run_id,
                "key": key,
                "check_name": o.check.name,
                "check_version": part[1] if part else None,
                "materialization_id": materialization_id,
                "data_version": data_version,
                "passed": o.passed,
                "severity": o.check.severity,
                "failing_rows": o.result.failing_rows,
                "description": o.result.description,
                "metadata": json.dumps(dict(o.result.metadata), default=str),
                "sample": json.dumps(list(o.result.sample), default=str),
                "error": o.error,
                "duration_s": o.duration_s,
                "at": now,
            }
        )
    conn.execute(_INSERT_RESULT, rows)


# the event a release records (committed) before it swaps a table in; see settle_release
RELEASE_STARTED = "quarantine_release_started"


def insert_event(
    conn: Connection,
    kind: str,
    key: str | None,
    payload: Mapping[str, Any],
    *,
    run_id: str | None = None,
    user: str | None = None,
) -> None:
    """Append one event in ``conn``'s transaction (see :mod:`assets_core.catalog.events`)."""
    insert_events(conn, [(kind, key, dict(payload))], run_id=run_id, user=user)


def _decode(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for col in ("metadata", "sample"):
        if out.get(col):
            out[col] = json.loads(out[col])
    return out


def results_for(
    catalog: Catalog,
    key: str,
    materialization_ids: Iterable[int] | None = None,
    *,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """Check results of ``key`` (for some versions, or of one run, if given), newest first."""
    c = t.check_results.c
    q = select(t.check_results).where(c.key == key)
    if materialization_ids is not None:
        q = q.where(c.materialization_id.in_(list(materialization_ids)))
    if run_id is not None:
        q = q.where(c.run_id == run_id)
    with catalog.engine.connect() as conn:
        return [_decode(r) for r in conn.execute(q.order_by(c.id.desc())).mappings()]


def latest_results(catalog: Catalog) -> dict[str, list[dict[str, Any]]]:
    """The latest result of every check of every asset, by asset key."""
    c = t.check_results.c
    with catalog.engine.connect() as conn:
        newest = select(func.max(c.id).label("id")).group_by(c.key, c.check_name).subquery()
        rows = conn.execute(
            select(t.check_results).join(newest, t.check_results.c.id == newest.c.id)
        ).mappings()
        out: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            out.setdefault(r["key"], []).append(_decode(r))
    return out


def quarantined(catalog: Catalog, key: str | None = None) -> list[dict[str, Any]]:
    """Quarantined versions waiting for a decision, newest first."""
    m = t.materializations.c
    q = select(t.materializations).where(m.status == "quarantined")
    if key is not None:
        q = q.where(m.key == key)
    with catalog.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(m.id.desc())).mappings()]


def failing_published(catalog: Catalog) -> list[dict[str, Any]]:
    """Published versions whose blocking checks fail now (status failed_checks)."""
    a = t.asset_state.c
    with catalog.engine.connect() as conn:
        rows = conn.execute(select(t.asset_state).where(a.checks_status == "failed")).mappings()
        return [dict(r) for r in rows]


def release(
    catalog: Catalog,
    key: str,
    *,
    user: str,
    reason: str,
    materialization_id: int | None = None,
    publish: Callable[[str, str], str] | None = None,
) -> dict[str, Any]:
    """Publish the quarantined version of ``key`` (or accept a failing published one).

    ``publish(value_ref, data_version)`` makes the value itself visible first when its
    store needs to (a quarantined table is swapped in, in its own database) and returns
    its published ref. The version is then marked ``releasing`` (committed) before that
    swap and released in the catalog after it, so that when the process dies in between
    the next command settles it from what the store holds (:func:`settle_release`).
    """
    m = t.materializations.c
    a = t.asset_state.c
    with catalog.writer.begin() as conn:
        q = select(t.materializations).where(m.key == key, m.status == "quarantined")
        if materialization_id is not None:
            q = q.where(m.id == materialization_id)
        row = conn.execute(q.order_by(m.id.desc())).mappings().first()
        if row is None:
            state = conn.execute(
                select(a.materialization_id).where(a.key == key, a.checks_status == "failed")
            ).first()
            if state is None:
                return {}
            conn.execute(update(t.asset_state).where(a.key == key).values(checks_status="released"))
            payload = {"materialization_id": state[0], "reason": reason, "published": True}
            insert_event(conn, "checks_released", key, payload, user=user)
            return payload
        row = dict(row)
        if publish is None or not row["value_ref"]:
            return _released(conn, row, row["value_ref"], user=user, reason=reason)
        conn.execute(update(t.materializations).where(m.id == row["id"]).values(status=RELEASING))
        started = {
            "materialization_id": row["id"],
            "reason": reason,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": time.time(),
        }
        insert_event(conn, RELEASE_STARTED, key, started, user=user)
    try:
        ref = publish(row["value_ref"], row["data_version"])
    except BaseException:
        with catalog.writer.begin() as conn:  # nothing was published: quarantined again
            conn.execute(
                update(t.materializations)
                .where(m.id == row["id"], m.status == RELEASING)
                .values(status="quarantined")
            )
        raise
    with catalog.writer.begin() as conn:
        return _released(conn, row, ref, user=user, reason=reason)


def _released(
    conn: Connection, row: Mapping[str, Any], ref: str | None, *, user: str, reason: str
) -> dict[str, Any]:
    """Publish the quarantined (or releasing) version ``row`` at ``ref``, in ``conn``."""
    m = t.materializations.c
    a = t.asset_state.c
    key = row["key"]
    conn.execute(
        update(t.asset_state)
        .where(a.key == key)
        .values(
            materialization_id=row["id"],
            data_version=row["data_version"],
            code_version=row["code_version"],
            code_parts=row["code_parts"],
            input_versions=row["input_versions"],
            value_ref=ref,
            published_at=time.time(),
            last_status="success",
            checks_version=row["checks_version"],
            checks_parts=row["checks_parts"],
            checks_status="released",
        )
    )
    conn.execute(update(t.materializations).where(m.id == row["id"]).values(status="released"))
    payload = {
        "materialization_id": row["id"],
        "data_version": row["data_version"],
        "reason": reason,
    }
    insert_event(conn, "quarantine_released", key, payload, user=user)
    return payload


def unsettled_releases(catalog: Catalog) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``releasing`` versions whose release process died: (version row, started event)."""
    m = t.materializations.c
    e = t.events.c
    with catalog.engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(select(t.materializations).where(m.status == RELEASING))
            .mappings()
            .all()
        ]
        out = []
        for row in rows:
            started: dict[str, Any] = {}
            for user, text in conn.execute(
                select(e.user, e.payload)
                .where(e.kind == RELEASE_STARTED, e.key == row["key"])
                .order_by(e.id.desc())
            ):
                payload = json.loads(text or "{}")
                if payload.get("materialization_id") == row["id"]:
                    started = {**payload, "user": user}
                    break
            if died_here(started.get("host"), started.get("pid"), started.get("started_at") or 0.0):
                out.append((row, started))
        return out


def settle_release(
    catalog: Catalog,
    row: Mapping[str, Any],
    started: Mapping[str, Any],
    *,
    published_ref: str | None,
) -> None:
    """Finish a release whose process died: released when its store published the value
    (``published_ref``), quarantined again when it did not (None)."""
    m = t.materializations.c
    with catalog.writer.begin() as conn:
        still = conn.execute(select(m.status).where(m.id == row["id"])).scalar()
        if still != RELEASING:  # settled meanwhile by another command
            return
        user = started.get("user") or "unknown"
        reason = started.get("reason") or ""
        if published_ref is not None:
            _released(conn, row, published_ref, user=user, reason=reason)
            return
        conn.execute(
            update(t.materializations).where(m.id == row["id"]).values(status="quarantined")
        )
        payload = {"materialization_id": row["id"], "reason": reason}
        insert_event(conn, "quarantine_release_interrupted", row["key"], payload, user=user)


def discard(catalog: Catalog, key: str, *, user: str, reason: str = "") -> list[dict[str, Any]]:
    """Mark every quarantined version of ``key`` discarded; returns them (to delete values)."""
    m = t.materializations.c
    with catalog.writer.begin() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(t.materializations).where(m.key == key, m.status == "quarantined")
            ).mappings()
        ]
        for r in rows:
            conn.execute(
                update(t.materializations).where(m.id == r["id"]).values(status="discarded")
            )
            payload = {"materialization_id": r["id"], "data_version": r["data_version"]}
            if reason:
                payload["reason"] = reason
            insert_event(conn, "quarantine_discarded", key, payload, user=user)
    return rows


def ref_in_use(catalog: Catalog, ref: str) -> bool:
    """Is ``ref`` published, or held by another version still quarantined?"""
    with catalog.engine.connect() as conn:
        if conn.execute(
            select(t.asset_state.c.key).where(t.asset_state.c.value_ref == ref)
        ).first():
            return True
        m = t.materializations.c
        return (
            conn.execute(
                select(m.id).where(m.value_ref == ref, m.status.in_(("quarantined", "success")))
            ).first()
            is not None
        )


def events(catalog: Catalog, key: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    e = t.events.c
    q = select(t.events)
    if key is not None:
        q = q.where(e.key == key)
    with catalog.engine.connect() as conn:
        rows = conn.execute(q.order_by(e.id.desc()).limit(limit)).mappings()
        return [{**dict(r), "payload": json.loads(r["payload"] or "{}")} for r in rows]


def record_audit(
    catalog: Catalog,
    *,
    run_id: str | None,
    key: str,
    materialization_id: int | None,
    data_version: str | None,
    outcomes: Sequence[CheckOutcome],
    checks_version: str | None,
    checks_parts: Mapping[str, Any] | None,
) -> str | None:
    """Record checks run on the published version of ``key``; returns its new checks status.

    A version someone released despite its failing checks stays ``released`` when the
    same checks fail on it again; changed checks are not covered by that release.
    """
    status = checks_status(outcomes)
    a = t.asset_state.c
    with catalog._transaction() as conn:
        if status == "failed":
            before = conn.execute(
                select(a.checks_status, a.checks_version, a.data_version).where(a.key == key)
            ).first()
            if before is not None and tuple(before) == ("released", checks_version, data_version):
                status = "released"
        insert_results(
            conn,
            run_id=run_id,
            key=key,
            materialization_id=materialization_id,
            data_version=data_version,
            outcomes=outcomes,
            versions=checks_parts,
        )
        conn.execute(
            update(t.asset_state)
            .where(t.asset_state.c.key == key)
            .values(
                checks_version=checks_version,
                checks_parts=json.dumps(checks_parts) if checks_parts is not None else None,
                checks_status=status,
            )
        )
    return status
