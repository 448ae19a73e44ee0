"""Group commit: the records of a run share short transactions.

A run records every step (a materialization, the asset's state, its lease's end);
committing each alone costs more than the records themselves. Within
:meth:`GroupCommit.group_commit` the records share one transaction that is committed
about ``window_s`` after its first record, by a timer thread while the run is busy in
user code, so other readers still see progress promptly and a crash loses only the
last window's records (their values staged, never published: nothing partial).

On SQLite the plain records of a window are not even written as they come: they are
held (:class:`~assets_core.catalog.statements.Deferred`) and written by the commit, in
a few batches, while the run goes on recording the next ones. Anything else written
in the window (check results, a publication's settlement) first writes what is held,
in the same transaction, so the order of the writes is kept.
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

        Each transaction is still short and atomic, and is committed about ``window_s``
        after its first record (by a timer when the run is busy in user code), so other
        readers see progress promptly. A crash loses only the records of the last
        window, whose values were staged but never published.
        ``before_commit`` is called before each commit (the run waits there for its
        values' fsyncs).
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
            try:
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
            group.commit()

    @contextmanager
    def _holding(self) -> Iterator[Deferred | None]:
        """Where a record's statements may be held until its group commits (on SQLite,
        within :meth:`group_commit`); None: write them now, in :meth:`_transaction`."""
        group = self._group
        if group is None or not group.statements.defers:
            yield None
            return
        with group.lock:
            if group.failed is not None:
                raise group.failed
            held = group.deferred
            count = len(held.records)
            try:
                yield held
            except BaseException:
                del held.records[count:]  # none of a failed record is written
                raise
            if group.opened is None:
                group.opened = time.perf_counter()
        group.commit_if_due()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A connection in a writing transaction: the group's, within :meth:`group_commit`
        (what the group holds is written first, since what follows may refer to it)."""
        group = self._group
        if group is None:
            with self.writer.begin() as conn:
                yield conn
            return
        with group.conn_lock:
            held = group.take()
            conn = group.conn
            try:
                if not conn.in_transaction():
                    conn.begin()
                if held:
                    held.run(conn, group.statements)
                yield conn
            except BaseException:  # the window's records go, as a crash would take them
                if conn.in_transaction():
                    conn.rollback()
                raise
        group.commit_if_due()


@dataclass(slots=True)
class _Group:
    conn: Any
    statements: RecordStatements
    window_s: float
    before_commit: Callable[[], None] | None = None
    # when the oldest record not yet committed was made (None: every record is committed)
    opened: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)  # deferred, opened, failed
    conn_lock: threading.Lock = field(default_factory=threading.Lock)  # taken before lock
    stop: threading.Event = field(default_factory=threading.Event)
    failed: BaseException | None = None  # a commit failed: the records were dropped
    deferred: Deferred = field(default_factory=Deferred)  # records held for the commit

    def take(self, *, committing: bool = False) -> Deferred:
        """The records held so far (a new, empty holder takes their place).

        ``committing``: the commit takes them, and nothing is pending once it is done;
        otherwise they are written into the open transaction, pending until it commits.
        """
        with self.lock:
            if self.failed is not None:
                raise self.failed
            held, self.deferred = self.deferred, Deferred()
            if committing:
                self.opened = None
            elif self.opened is None:
                self.opened = time.perf_counter()
            return held

    def commit(self) -> None:
        """Write what is held and commit, if anything is pending.

        Records made meanwhile are held for the next commit. When ``before_commit``
        fails (a value could not be fsynced), or a write does, the transaction is rolled
        back, as a crash would have left it, and the next record raises.
        """
        with self.conn_lock:
            conn = self.conn
            if conn.closed:
                return
            held = self.take(committing=True)
            if not held and not conn.in_transaction():
                return
            try:
                if self.before_commit is not None:
                    self.before_commit()
                if held:
                    if not conn.in_transaction():
                        conn.begin()
                    held.run(conn, self.statements)
                conn.commit()
            except BaseException as e:
                if conn.in_transaction():
                    conn.rollback()
                with self.lock:
                    self.failed = e
                raise

    def due(self) -> bool:
        with self.lock:
            return self.opened is not None and time.perf_counter() - self.opened >= self.window_s

    def commit_if_due(self) -> None:
        """Without ``before_commit`` (a wait), the recording thread commits a due window;
        with it, the flusher does, so that records go on meanwhile."""
        if self.before_commit is None and self.due():
            self.commit()

    def run_flusher(self) -> None:
        """One thread per group: commit the records pending for longer than the window."""
        while not self.stop.wait(self.window_s / 2):
            if not self.due():
                continue
            try:
                self.commit()
            except BaseException:
                return  # failed is set: the next record raises it
