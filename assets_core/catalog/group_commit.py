"""Group commit: the records of a run share short transactions.

A run records every step (a materialization, the asset's state, its lease's end);
committing each alone costs more than the records themselves. Within
:meth:`GroupCommit.group_commit` the records share one transaction that is committed
at most ``window_s`` after it opened, by a timer thread while the run is busy in user
code, so other readers still see progress promptly and a crash loses at most the last
window's records (their values staged, never published: nothing partial).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from assets_core.catalog.statements import Deferred, RecordStatements


class GroupCommit:
    """The group-commit half of :class:`~assets_core.catalog.catalog.Catalog`."""

    writer: Any  # the catalog's engine for write transactions
    _group: _Group | None
    _statements: Callable[[], RecordStatements]

    @contextmanager
    def group_commit(
        self, window_s: float = 0.02, before_commit: Callable[[], None] | None = None
    ) -> Iterator[None]:
        """Within this block, records share transactions of at most ``window_s`` seconds.

        Each transaction is still short and atomic, and is committed at the latest
        ``window_s`` after it opened (by a timer when the run is busy in user code), so
        other readers see progress promptly. A crash loses at most the records of the
        last window, whose values were staged but never published. ``before_commit``
        is called before each commit (the run waits there for its values' fsyncs).
        """
        conn = self.writer.connect()
        group = _Group(conn, self._statements(), window_s, before_commit)
        self._group = group
        flusher = threading.Thread(
            target=group.run_flusher, name="assets-group-commit", daemon=True
        )
        flusher.start()
        try:
            yield
        finally:
            self._group = None
            group.stop.set()
            flusher.join()
            with group.lock:
                try:
                    if conn.in_transaction():
                        group.commit()
                finally:
                    conn.close()

    @property
    def grouped(self) -> bool:
        """Are records held in a :meth:`group_commit` transaction now?"""
        return self._group is not None

    def commit_pending(self) -> None:
        """Commit the records a :meth:`group_commit` block holds, so other readers see them."""
        group = self._group
        if group is not None:
            group.flush()  # under the group's lock: its timer may be committing too

    @contextmanager
    def _transaction(self, *, deferring: bool = False) -> Iterator[Any]:
        """A connection in a writing transaction: the group's, within :meth:`group_commit`.

        ``deferring``: the caller may hold its record statements in ``group.deferred``
        (see :class:`~assets_core.catalog.statements.Deferred`); any other caller finds
        the held ones executed first, since its statements may refer to them.
        """
        group = self._group
        if group is None:
            with self.writer.begin() as conn:
                yield conn
            return
        with group.lock:
            if group.failed is not None:
                raise group.failed
            conn = group.conn
            if not conn.in_transaction():
                conn.begin()
                group.opened = time.perf_counter()
            elif not deferring and group.deferred:
                group.deferred.run(conn, group.statements)
            if not deferring:  # an insert made now takes the next id itself
                group.deferred.next_id = None
            try:
                yield conn
            except BaseException:
                group.rollback()
                raise
            # with before_commit (a wait), the flusher commits, so that records go on meanwhile
            if group.before_commit is None and time.perf_counter() - group.opened >= group.window_s:
                group.commit()


@dataclass(slots=True)
class _Group:
    conn: Any
    statements: RecordStatements
    window_s: float
    before_commit: Callable[[], None] | None = None
    opened: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    failed: BaseException | None = None  # before_commit raised: the records were dropped
    # record statements held until the transaction commits (SQLite; see Deferred)
    deferred: Deferred = field(default_factory=Deferred)

    def commit(self) -> None:
        """Commit the open transaction (the caller holds the lock).

        When ``before_commit`` fails (a value could not be fsynced), or a held statement
        does, the transaction is rolled back, as a crash would have left it, and the next
        record raises.
        """
        try:
            if self.before_commit is not None:
                self.before_commit()
            if self.deferred:
                self.deferred.run(self.conn, self.statements)
        except BaseException as e:
            self.rollback()
            self.failed = e
            raise
        self.conn.commit()
        self.deferred.next_id = None  # another process may write before the next one

    def rollback(self) -> None:
        """Roll the open transaction back, with the statements it held."""
        self.deferred.clear()
        self.conn.rollback()

    def flush(self) -> None:
        """Commit the open transaction (also from the flusher, while user code runs)."""
        with self.lock:
            if self.conn.in_transaction() and not self.conn.closed:
                self.commit()

    def run_flusher(self) -> None:
        """One thread per group: commit any transaction open for longer than the window."""
        while not self.stop.wait(self.window_s / 2):
            with self.lock:
                due = (
                    self.conn.in_transaction()
                    and not self.conn.closed
                    and time.perf_counter() - self.opened >= self.window_s
                )
            if not due:
                continue
            if self.before_commit is not None:
                # wait outside the lock, so that records go on meanwhile; commit() waits
                # again, for what was recorded since (usually nothing left by then)
                try:
                    self.before_commit()
                except BaseException as e:
                    with self.lock:
                        self.rollback()
                        self.failed = e
                    return
            with self.lock:
                if self.conn.in_transaction() and not self.conn.closed:
                    self.commit()
