"""Local worker processes (``assets materialize --workers N``).

Each worker is a fresh Python process (``spawn``: nothing of the run's process,
its threads or its database connections is inherited) that loads the project
once and then runs one attempt at a time. A worker reads its inputs from the
store, writes its value to a file of the store, staged and not yet fsynced, and
answers with an :class:`~assets_core.executors.attempt.Outcome`: versions and
references only. The run fsyncs the file before the record that publishes it.

Each worker is sent up to ``DEPTH`` attempts at once: while it runs one, the next
waits in its pipe, so the worker starts it the moment it answered, without waiting
for the run to record the answer and send more. An attempt's timeout counts from
when the worker really starts it; nothing is queued behind an attempt that has a
timeout, because killing its worker (the way a timed-out attempt is stopped) would
take the attempts behind it along; and a pooled attempt is sent only to an idle
worker, so that it never holds its pool slot while it waits behind another attempt.
A worker that dies is replaced; what was queued behind it is sent again.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections import deque
from typing import Any

from assets_core.executors.attempt import NO_VALUE, Outcome, Task, portable

_STOP = None
DEPTH = 2  # attempts sent to a worker at once: the one it runs and the next


def _worker_main(conn: Any, root: str, catalog_url: str, store_path: str) -> None:
    """A worker's life: load the project, then attempt what it is sent until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle
    ctx = WorkerContext(root, catalog_url, store_path, sync=False)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the run's process is gone
            return
        if task is _STOP:
            return
        if task.timeout_s is not None:  # the attempt's timeout counts from here
            conn.send(("started", time.time()))
        conn.send(ctx.attempt(task))


class WorkerContext:
    """What a worker process keeps between attempts: the project, catalog and store."""

    def __init__(self, root: str, catalog_url: str, store_path: str, *, sync: bool = True) -> None:
        """``sync=False``: files are left for the run to fsync (it shares this machine's disk)."""
        self.error: str | None = None
        self.sync = sync
        self.catalog_url = catalog_url
        self._catalog: Any = None
        try:
            from assets_core.project import Project
            from assets_core.stores import FileStore

            self.project = Project.load(root)
            # the catalog (and SQLAlchemy) only when an input is a value kept inline in it
            self.store = FileStore(
                store_path,
                lambda dv: self.catalog.blob(dv),
                lambda dvs: self.catalog.blobs(dvs),
            )
            # a worker writes every value to a file: it never writes to the catalog (whose
            # write lock the run holds for its records) and never sends a value back
            self.store.inline_limit = 0
            self.store.sync_writes = sync
        except Exception as e:  # reported with every attempt, by the run, as the asset's error
            from assets_core.errors import AssetsError
            from assets_core.executors.attempt import user_traceback

            self.error = e.render() if isinstance(e, AssetsError) else user_traceback(e)
        self.source_values: dict[str, Any] = {}

    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            from assets_core.catalog import Catalog

            self._catalog = Catalog.open(self.catalog_url, mark_interrupted=False)
        return self._catalog

    def attempt(self, task: Task) -> Outcome:
        import time

        from assets_core.executors.attempt import load_value, run_attempt

        if self.error is not None:
            now = time.time()
            msg = f"the worker could not load the project:\n{self.error}"
            return Outcome(task.key, task.attempt, "failed", now, now, error=msg)
        project, store = self.project, self.store

        def load(key: str) -> Any:
            return load_value(project, store, task.refs, self.source_values, key)

        out, _ = run_attempt(project, task, load, store)
        if not self.sync and out.ref is not None:
            from dataclasses import replace

            out = replace(out, synced=False)
        return portable(out)


class _Worker:
    def __init__(self, ctx: Any, spec: tuple[str, str, str]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, *spec), daemon=True)
        self.proc.start()
        child.close()
        self.queue: deque[Task] = deque()  # sent, not answered; the first one runs
        self.began: float | None = None  # when the first one started

    def takes(self, task: Task) -> bool:
        """May ``task`` be sent to this worker now?"""
        if not self.queue:
            return True
        # a timed attempt's clock, and a pooled attempt's slot, start when it is sent:
        # neither waits behind another attempt
        return (
            len(self.queue) < DEPTH
            and task.timeout_s is None
            and task.pool is None
            and not any(t.timeout_s is not None for t in self.queue)
        )

    def stop(self) -> None:
        try:
            self.conn.send(_STOP)
        except (OSError, ValueError):
            pass


class WorkerProcesses:
    """``n`` local worker processes."""

    name = "processes"
    in_memory = False

    def __init__(self, n: int) -> None:
        self.n = max(1, int(n))
        self.workers: list[_Worker] = []
        self.busy: dict[str, _Worker] = {}  # key -> the worker it was sent to
        self.pending: deque[Task] = deque()  # submitted, no worker may take it yet
        self.spec: tuple[str, str, str] | None = None

    def start(self, run: Any) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        config = run.project.config
        self.spec = (str(config.root), run.catalog.url, str(config.store_path))
        # all start loading the project at once, while the run takes its leases
        self.workers = [_Worker(self.ctx, self.spec) for _ in range(min(self.n, len(run.plan)))]

    def free(self) -> int:
        return self.n * DEPTH - len(self.busy) - len(self.pending)

    def submit(self, task: Task) -> None:
        assert self.spec is not None
        self.pending.append(task)
        self._dispatch()

    def _dispatch(self) -> None:
        """Send pending tasks, in order, to idle workers first, then behind running ones."""
        while self.pending:
            task = self.pending[0]
            if len(self.workers) < self.n:
                self.workers.append(_Worker(self.ctx, self.spec))
            w = min(
                (w for w in self.workers if w.takes(task)),
                key=lambda w: len(w.queue),
                default=None,
            )
            if w is None:
                return
            self.pending.popleft()
            if not w.queue:
                w.began = None
            w.queue.append(task)
            self.busy[task.key] = w
            w.conn.send(task)

    def wait(self, timeout: float | None) -> list[tuple[Outcome, Any]]:
        from multiprocessing.connection import wait

        by_handle: dict[Any, _Worker] = {}
        for w in self.workers:
            if w.queue:
                by_handle[w.conn] = w
                by_handle[w.proc.sentinel] = w
        out: list[tuple[Outcome, Any]] = []
        for handle in wait(list(by_handle), timeout):
            w = by_handle[handle]
            if w not in self.workers or not w.queue:
                continue  # answered or replaced already through its other handle
            try:
                while w.queue and w.conn.poll():
                    self._answer(w, w.conn.recv(), out)
            except (EOFError, OSError):
                pass
            if handle is not w.conn or (w.queue and not w.proc.is_alive()):
                if not w.proc.is_alive():
                    self._replace(w, out)
        self._dispatch()
        return out

    def _answer(self, w: _Worker, msg: Any, out: list[tuple[Outcome, Any]]) -> None:
        if isinstance(msg, tuple):  # ("started", when): the first queued task began
            w.began = msg[1]
            return
        task = w.queue.popleft()
        w.began = None
        self.busy.pop(task.key, None)
        out.append((msg, NO_VALUE))

    def _replace(self, w: _Worker, out: list[tuple[Outcome, Any]]) -> None:
        """``w`` died: its running task failed, the ones queued behind it go again."""
        self.workers.remove(w)
        if not w.queue:
            return
        out.append((self._died(w), NO_VALUE))
        task = w.queue.popleft()
        self.busy.pop(task.key, None)
        for t in reversed(w.queue):
            self.busy.pop(t.key, None)
            self.pending.appendleft(t)
        w.queue.clear()

    def _died(self, w: _Worker) -> Outcome:
        w.proc.join(timeout=5)
        task = w.queue[0]
        code = w.proc.exitcode
        how = (
            f"was killed by signal {-code}" if code is not None and code < 0 else f"exited ({code})"
        )
        now = time.time()
        return Outcome(
            task.key,
            task.attempt,
            "failed",
            now,
            now,
            error=f"the worker process running {task.key} {how}",
        )

    def began(self, key: str) -> float | None:
        w = self.busy.get(key)
        if w is None or not w.queue or w.queue[0].key != key:
            return None  # not started yet: it waits behind another attempt
        return w.began

    def kill(self, key: str) -> bool:
        w = self.busy.get(key)
        if w is None or w.queue[0].key != key:
            return False
        w.proc.kill()
        w.proc.join(timeout=5)
        self.workers.remove(w)
        w.queue.popleft()
        del self.busy[key]
        for t in reversed(w.queue):  # none, as nothing queues behind a timed attempt
            self.busy.pop(t.key, None)
            self.pending.appendleft(t)
        w.queue.clear()
        self._dispatch()  # its replacement starts loading the project now
        if len(self.workers) < self.n and self.spec is not None:
            self.workers.append(_Worker(self.ctx, self.spec))
        return True

    def close(self) -> None:
        workers = list(self.workers)
        for w in workers:
            w.stop()
        for w in workers:
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=5)
        self.workers, self.busy = [], {}
        self.pending.clear()
