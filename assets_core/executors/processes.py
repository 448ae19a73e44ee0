"""Local worker processes (``assets materialize --workers N``).

Each worker is a fresh Python process (``spawn``: nothing of the run's process,
its threads or its database connections is inherited) that loads the project
once and then runs one attempt at a time. A worker reads its inputs from the
store, writes its value there staged (a small value into the catalog's blob
table, unpublished), and answers with an :class:`~assets_core.executors.attempt.Outcome`:
versions and references only. An attempt that runs past its timeout is stopped
by killing its worker; a worker that dies is replaced for the next attempt.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from typing import Any

from assets_core.executors.attempt import NO_VALUE, Outcome, Task, portable

_STOP = None


def _worker_main(conn: Any, root: str, catalog_url: str, store_path: str) -> None:
    """A worker's life: load the project, then attempt what it is sent until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle
    ctx = WorkerContext(root, catalog_url, store_path)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the run's process is gone
            return
        if task is _STOP:
            return
        conn.send(("started", time.time()))  # the attempt's timeout counts from here
        conn.send(ctx.attempt(task))


class WorkerContext:
    """What a worker process keeps between attempts: the project, catalog and store."""

    def __init__(self, root: str, catalog_url: str, store_path: str) -> None:
        self.error: str | None = None
        try:
            from assets_core.catalog import Catalog
            from assets_core.project import Project
            from assets_core.stores import FileStore

            self.project = Project.load(root)
            self.catalog = Catalog.open(catalog_url, mark_interrupted=False)
            self.store = FileStore(store_path, self.catalog.blob, self.catalog.blobs)
            # a worker writes every value to a file: it never writes to the catalog (whose
            # write lock the run holds for its records) and never sends a value back
            self.store.inline_limit = 0
        except Exception as e:  # reported with every attempt, by the run, as the asset's error
            from assets_core.errors import AssetsError
            from assets_core.executor import user_traceback

            self.error = e.render() if isinstance(e, AssetsError) else user_traceback(e)
        self.source_values: dict[str, Any] = {}

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
        return portable(out)


class _Worker:
    def __init__(self, ctx: Any, spec: tuple[str, str, str]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, *spec), daemon=True)
        self.proc.start()
        child.close()
        self.task: Task | None = None
        self.began: float | None = None

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
        self.idle: list[_Worker] = []
        self.busy: dict[str, _Worker] = {}
        self.spec: tuple[str, str, str] | None = None

    def start(self, run: Any) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        config = run.project.config
        self.spec = (str(config.root), run.catalog.url, str(config.store_path))
        # all start loading the project at once, while the run takes its leases
        self.idle = [_Worker(self.ctx, self.spec) for _ in range(min(self.n, len(run.plan)))]

    def free(self) -> int:
        return self.n - len(self.busy)

    def submit(self, task: Task) -> None:
        assert self.spec is not None
        w = self.idle.pop() if self.idle else _Worker(self.ctx, self.spec)
        w.task = task
        w.began = None
        self.busy[task.key] = w
        w.conn.send(task)

    def wait(self, timeout: float | None) -> list[tuple[Outcome, Any]]:
        from multiprocessing.connection import wait

        by_handle: dict[Any, _Worker] = {}
        for w in self.busy.values():
            by_handle[w.conn] = w
            by_handle[w.proc.sentinel] = w
        out: list[tuple[Outcome, Any]] = []
        for handle in wait(list(by_handle), timeout):
            w = by_handle[handle]
            task = w.task
            if task is None or self.busy.get(task.key) is not w:
                continue  # answered already through its other handle
            if handle is w.conn:
                try:
                    outcome = w.conn.recv()
                except (EOFError, OSError):
                    outcome = self._died(w)
                else:
                    if isinstance(outcome, tuple):  # ("started", when)
                        w.began = outcome[1]
                        continue
                    self.idle.append(w)
            else:
                outcome = None
                while outcome is None and w.conn.poll():  # it answered, then exited
                    msg = w.conn.recv()
                    outcome = None if isinstance(msg, tuple) else msg
                if outcome is None:
                    outcome = self._died(w)
            del self.busy[task.key]
            w.task = None
            out.append((outcome, NO_VALUE))
        return out

    def _died(self, w: _Worker) -> Outcome:
        import time

        w.proc.join(timeout=5)
        task = w.task
        assert task is not None
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
        return w.began if w is not None else None

    def kill(self, key: str) -> bool:
        w = self.busy.pop(key, None)
        if w is None:
            return False
        w.proc.kill()
        w.proc.join(timeout=5)
        if self.spec is not None:  # its replacement starts loading the project now
            self.idle.append(_Worker(self.ctx, self.spec))
        return True

    def close(self) -> None:
        workers = [*self.idle, *self.busy.values()]
        for w in workers:
            w.stop()
        for w in workers:
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=5)
        self.idle, self.busy = [], {}
