"""Leases: which run is materializing an asset right now.

Several ``assets materialize`` processes may work on one catalog at once. Before a
run computes an asset it takes the asset's lease in a short transaction; a run
that finds the lease held by a live run does not compute the asset (it waits
for it, then looks at what that run published, or skips it as
``in_progress_elsewhere``). The lease ends in the transaction that records the
asset, so another run sees the published version the moment the lease is gone.

A run renews its leases while it works (:meth:`Leases.renew`); a lease whose run
stopped renewing it expires after ``ttl_s``, and one whose process is gone from
this host is taken over at once.

Pools (``[tool.assets.pools] warehouse = 2``) hold across runs the same way: a pool
of N has N slots, each a lease row keyed ``pool:warehouse#0`` .. ``#N-1`` (no asset
key can look like that). A run takes a free slot before it starts an asset of the
pool and gives it back when the attempt ends (:meth:`Leases.take_slot`,
:meth:`Leases.release_slot`); slots of a dead run expire like its other leases.

How racing transactions are kept apart: on SQLite every write transaction is
``BEGIN IMMEDIATE`` (one writer at a time, others wait up to the busy timeout);
on PostgreSQL existing lease rows are locked with ``SELECT ... FOR UPDATE`` and
new ones inserted with ``ON CONFLICT DO NOTHING``, so two runs never both win.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from assets_core.catalog import schema as t
from assets_core.catalog.catalog import Catalog
from assets_core.catalog.snapshot import died_here
from assets_core.catalog.statements import execute_many, rows_keyed

DEFAULT_TTL_S = 60.0
_L = t.leases
_READ_ALL_OVER = 50  # keys asked at once above which the whole (small) table is read
_ALL_LEASES = "SELECT key, run_id, pid, host, acquired_at, expires_at FROM leases"


@dataclass(frozen=True, slots=True)
class Holder:
    """The run that holds the lease of ``key``."""

    key: str
    run_id: str
    pid: int | None
    host: str | None
    acquired_at: float
    expires_at: float

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host})"


def _holder(row: Any) -> Holder:
    return Holder(row.key, row.run_id, row.pid, row.host, row.acquired_at, row.expires_at)


def _insert_free(dialect: str) -> Any:
    """A multi-row insert that skips keys another transaction inserted first."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dinsert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dinsert
    else:
        return None
    return dinsert(_L).on_conflict_do_nothing(index_elements=["key"])


def slot_key(pool: str, i: int) -> str:
    """The lease key of slot ``i`` of ``pool``."""
    return f"pool:{pool}#{i}"


class Leases:
    """The leases of one run on one catalog."""

    def __init__(self, catalog: Catalog, run_id: str, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.catalog = catalog
        self.run_id = run_id
        self.ttl_s = ttl_s
        self.pid = os.getpid()
        self.host = socket.gethostname()
        # from now on, recording an asset of this catalog also ends its lease
        catalog.leases_in_use = True
        self._dialect = catalog.engine.dialect.name
        self._insert = _insert_free(self._dialect)

    def _takeable(self, h: Holder, now: float) -> bool:
        if h.run_id == self.run_id or h.expires_at < now:
            return True
        return died_here(h.host, h.pid, h.acquired_at)

    @staticmethod
    def _steal(conn: Any, key: str, holder: Holder, row: dict[str, Any]) -> bool:
        """Take over ``key`` from an expired ``holder``; False if it changed meanwhile.

        Conditional on the holder seen: a lease renewed in between is never stolen.
        """
        taken = conn.execute(
            update(_L)
            .where(_L.c.key == key, _L.c.run_id == holder.run_id)
            .where(_L.c.expires_at == holder.expires_at)
            .values(**row)
        ).rowcount
        return taken == 1

    def _row(self, now: float) -> dict[str, Any]:
        """The columns this run writes into a lease it takes at ``now``."""
        return {
            "run_id": self.run_id,
            "pid": self.pid,
            "host": self.host,
            "acquired_at": now,
            "expires_at": now + self.ttl_s,
        }

    def acquire(self, keys: Iterable[str]) -> dict[str, Holder]:
        """Take the lease of every key in ``keys`` that no live run holds.

        Returns the keys this run did *not* get, with who holds them. One short
        transaction whatever the number of keys.
        """
        want = list(dict.fromkeys(keys))
        if not want:
            return {}
        now = time.time()
        row = self._row(now)
        busy: dict[str, Holder] = {}
        sqlite = self._dialect == "sqlite"
        with self.catalog.writer.begin() as conn:
            current = self._current(conn, want)
            for key, h in current.items():
                if not self._takeable(h, now):
                    busy[key] = h
                    continue
                if not self._steal(conn, key, h, row):
                    busy[key] = h
            free = [k for k in want if k not in current]
            if free:
                self._insert_rows(conn, [{"key": k, **row} for k in free])
                # a key another run inserted first (PostgreSQL) is not ours: see who has
                # it. On SQLite this transaction has held the write lock since it began.
                if not sqlite:
                    for r in conn.execute(select(_L).where(_L.c.key.in_(free))):
                        if r.run_id != self.run_id:
                            busy[r.key] = _holder(r)
        return busy

    def _current(self, conn: Connection, keys: list[str]) -> dict[str, Holder]:
        """The leases held now on any of ``keys`` (locked on PostgreSQL)."""
        if self._dialect == "sqlite" and len(keys) > _READ_ALL_OVER:
            # the table holds only what live runs are working on: reading it whole is
            # cheaper than binding hundreds of keys
            return {r[0]: Holder(*r) for r in rows_keyed(conn, _ALL_LEASES, keys)}
        q = select(_L).where(_L.c.key.in_(keys))
        if self._dialect == "postgresql":
            q = q.with_for_update()
        return {r.key: _holder(r) for r in conn.execute(q)}

    def _insert_rows(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if self._insert is not None:  # skipping keys taken meanwhile
            execute_many(conn, "leases.insert_free", lambda: self._insert, rows)
            return
        for r in rows:  # any other database: one savepoint per row
            try:
                with conn.begin_nested():
                    conn.execute(insert(_L).values(**r))
            except IntegrityError:  # the unique key was taken: another run holds it
                continue

    def take_slot(self, pool: str, size: int) -> str | None:
        """Take a free slot of ``pool`` (which has ``size``); its lease key, or None when
        live runs (this one included) hold them all."""
        keys = [slot_key(pool, i) for i in range(size)]
        self.catalog.commit_pending()  # this run's open records would hold the write lock
        now = time.time()
        with self.catalog.writer.begin() as conn:
            q = select(_L).where(_L.c.key.in_(keys))
            if self._dialect == "postgresql":
                q = q.with_for_update()
            current = {r.key: _holder(r) for r in conn.execute(q)}
            row = self._row(now)
            for key in keys:
                h = current.get(key)
                if h is None:
                    self._insert_rows(conn, [{"key": key, **row}])
                    got = conn.execute(select(_L.c.run_id).where(_L.c.key == key)).scalar()
                    if got == self.run_id:
                        return key
                elif h.run_id != self.run_id and self._takeable(h, now):
                    if self._steal(conn, key, h, row):
                        return key
        return None

    def release_slot(self, key: str) -> None:
        """Give back a slot :meth:`take_slot` returned."""
        self.catalog.commit_pending()
        with self.catalog.writer.begin() as conn:
            conn.execute(delete(_L).where(_L.c.key == key, _L.c.run_id == self.run_id))

    def renew(self) -> None:
        """Push the expiry of every lease this run holds ``ttl_s`` into the future."""
        with self.catalog.writer.begin() as conn:
            conn.execute(
                update(_L)
                .where(_L.c.run_id == self.run_id)
                .values(expires_at=time.time() + self.ttl_s)
            )

    def release(self, keys: Iterable[str], conn: Connection | None = None) -> None:
        """End this run's leases of ``keys`` (in ``conn``'s transaction when given).

        Recording an asset (``Catalog.record``) ends its lease by itself.
        """
        ks = list(keys)
        if not ks:
            return
        stmt = delete(_L).where(_L.c.run_id == self.run_id, _L.c.key.in_(ks))
        if conn is not None:
            conn.execute(stmt)
        else:
            with self.catalog.writer.begin() as c:
                c.execute(stmt)

    def release_all(self) -> None:
        with self.catalog.writer.begin() as conn:
            conn.execute(delete(_L).where(_L.c.run_id == self.run_id))

    def holders(self, keys: Iterable[str]) -> dict[str, Holder]:
        """Who holds the leases of ``keys`` now (expired ones included)."""
        ks = list(keys)
        with self.catalog.engine.connect() as conn:
            return {r.key: _holder(r) for r in conn.execute(select(_L).where(_L.c.key.in_(ks)))}
