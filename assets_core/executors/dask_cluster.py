"""A Dask cluster (``assets materialize --executor dask [--dask-address ADDR]``).

Without an address the run starts a ``LocalCluster`` of worker processes (one
thread each) and stops it at the end; with one it connects to that scheduler.
Like local worker processes, a Dask worker loads the project once (it must see
the project folder at the same path, and reach the catalog and the store), reads
inputs from the store and writes the value there; only the small
:class:`~assets_core.executors.attempt.Outcome` goes through the scheduler.

The scheduler's round trip per Dask task costs milliseconds, so the run keeps
``AHEAD`` attempts per worker thread in flight and sends the attempts that are
ready together as a few Dask tasks (up to ``BATCH_MAX`` attempts each, at least
one task per thread); a fetcher thread gathers the results of the tasks that
finished, all at once, while the run records and sends more. An attempt with a
timeout is sent alone, once a thread is free, so that its timeout (counted from
when it was sent) is its own; a timed-out attempt is stopped by restarting the
worker that runs it.

Dask is imported here only, when this executor is used.
"""

from __future__ import annotations

import math
import queue
import threading
import time
import uuid
from collections import deque
from typing import Any

from assets_core.errors import MissingExtraError
from assets_core.executors.attempt import NO_VALUE, Outcome, Task

AHEAD = 16  # attempts in flight per worker thread, so that no thread waits for the run
BATCH_MAX = 16  # attempts per Dask task at most

# per worker process: the project as loaded for each run (a cluster given by address
# outlives runs, and the project's code may change between two of them)
_CONTEXTS: dict[tuple[str, str, str, bool, str], Any] = {}
_KEEP = 4  # contexts of that many runs at most (runs can overlap on one cluster)


def _context(root: str, catalog_url: str, store_path: str, sync: bool, run_id: str) -> Any:
    from assets_core.executors.processes import WorkerContext

    spec = (root, catalog_url, store_path, sync, run_id)
    ctx = _CONTEXTS.get(spec)
    if ctx is None:
        while len(_CONTEXTS) >= _KEEP:
            del _CONTEXTS[next(iter(_CONTEXTS))]
        ctx = _CONTEXTS[spec] = WorkerContext(root, catalog_url, store_path, sync=sync)
    return ctx


def _preload(root: str, catalog_url: str, store_path: str, sync: bool, run_id: str) -> None:
    _context(root, catalog_url, store_path, sync, run_id)


def dask_attempts(
    root: str, catalog_url: str, store_path: str, sync: bool, run_id: str, tasks: list[Task]
) -> list[Outcome]:
    """The Dask task: attempts at ``tasks``, one after the other, on whichever worker runs it."""
    ctx = _context(root, catalog_url, store_path, sync, run_id)
    return [ctx.attempt(t) for t in tasks]


class DaskCluster:
    name = "dask"
    in_memory = False

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers
        self.client: Any = None
        self.cluster: Any = None
        self.futures: dict[Any, list[Task]] = {}  # submitted Dask task -> its attempts
        self.where: dict[str, Any] = {}  # key -> the future of its attempt
        self.buffered: list[Task] = []  # submitted by the run, not yet sent
        self.held: deque[Task] = deque()  # attempts with a timeout, waiting for a free thread
        self.submitted: dict[str, float] = {}
        self.finished: queue.SimpleQueue[Any] = queue.SimpleQueue()  # done Dask tasks
        self.done: queue.SimpleQueue[Any] = queue.SimpleQueue()  # (future, outcomes or error)
        self.fetcher: Any = None
        self.slots = 1

    def start(self, run: Any) -> None:
        try:
            import logging

            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise MissingExtraError("dask", "dask", "--executor dask") from None
        if self.address:
            self.client = Client(self.address)
        else:
            self.cluster = LocalCluster(
                n_workers=self.workers or 2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = Client(self.cluster)
        self.slots = max(1, sum(self.client.nthreads().values()))
        self.fetcher = threading.Thread(target=self._fetch, name="assets-dask-fetch", daemon=True)
        self.fetcher.start()
        config = run.project.config
        # a local cluster shares this machine's disk: the run fsyncs what it publishes
        sync = self.cluster is None
        self.spec = (str(config.root), run.catalog.url, str(config.store_path), sync, run.run_id)
        # every worker loads the project now, so that an attempt's time is its own
        self.client.run(_preload, *self.spec)

    def free(self) -> int:
        if self.held:  # let the threads drain, so that a timed attempt starts when sent
            return 0
        return self.slots * AHEAD - len(self.where) - len(self.buffered)

    def submit(self, task: Task) -> None:
        # an attempt with a timeout goes alone, and only to a free thread: its timeout
        # counts from when it was sent
        (self.held if task.timeout_s is not None else self.buffered).append(task)

    def _send(self) -> None:
        while self.held and len(self.futures) < self.slots:
            self._submit([self.held.popleft()])
        tasks, self.buffered = self.buffered, []
        if not tasks:
            return
        # at least one Dask task per thread, several attempts in each when many are ready
        size = max(1, min(BATCH_MAX, math.ceil(len(tasks) / self.slots)))
        for n in range(0, len(tasks), size):
            self._submit(tasks[n : n + size])

    def _submit(self, tasks: list[Task]) -> None:
        t = tasks[0]
        name = f"{t.key}#{t.attempt}+{len(tasks) - 1}-{uuid.uuid4().hex[:8]}"
        fut = self.client.submit(dask_attempts, *self.spec, tasks, key=name, pure=False)
        self.futures[fut] = tasks
        now = time.time()
        for t in tasks:
            self.where[t.key] = fut
            self.submitted[t.key] = now
        # called in the client's event loop, which must not block: the fetcher thread fetches
        fut.add_done_callback(self.finished.put)

    def wait(self, timeout: float | None) -> list[tuple[Outcome, Any]]:
        self._send()
        # the run computed its timeout before a held attempt was sent: mind that one's too
        deadlines = [
            self.submitted[t.key] + t.timeout_s
            for tasks in self.futures.values()
            for t in tasks
            if t.timeout_s is not None and t.key in self.submitted
        ]
        if deadlines:
            due = max(0.0, min(deadlines) - time.time())
            timeout = due if timeout is None else min(timeout, due)
        try:
            done = [self.done.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                done.append(self.done.get_nowait())
            except queue.Empty:
                break
        out: list[tuple[Outcome, Any]] = []
        for fut, result in done:
            if fut not in self.futures:  # given up on (killed)
                continue
            tasks = self._forget(fut)
            if isinstance(result, list):
                out.extend((o, NO_VALUE) for o in result)
                continue
            now = time.time()  # the Dask task failed: lost with its worker, or refused
            for t in tasks:
                msg = f"the Dask task running {t.key} failed: {type(result).__name__}: {result}"
                out.append((Outcome(t.key, t.attempt, "failed", now, now, error=msg), NO_VALUE))
        return out

    def _fetch(self) -> None:
        """The fetcher thread: gather the results of finished Dask tasks, all those that
        finished meanwhile in one call, while the run records and sends more."""
        while True:
            batch = [self.finished.get()]
            while True:
                try:
                    batch.append(self.finished.get_nowait())
                except queue.Empty:
                    break
            if any(f is None for f in batch):  # close()
                return
            ok = [f for f in batch if f.status == "finished"]
            try:
                results = self.client.gather(ok) if ok else []
            except Exception:  # one was lost meanwhile: fetch them one by one
                results = [self._result(f) for f in ok]
            for fut, result in zip(ok, results, strict=True):
                self.done.put((fut, result))
            for fut in batch:
                if fut.status != "finished":
                    self.done.put((fut, self._result(fut)))

    @staticmethod
    def _result(fut: Any) -> Any:
        try:
            return fut.result()
        except BaseException as e:  # its error is the outcome of its attempts
            return e

    def _forget(self, fut: Any) -> list[Task]:
        tasks = self.futures.pop(fut)
        for t in tasks:
            self.where.pop(t.key, None)
            self.submitted.pop(t.key, None)
        return tasks

    def began(self, key: str) -> float | None:
        return self.submitted.get(key)

    def kill(self, key: str) -> bool:
        fut = self.where.get(key)
        if fut is None:
            return False
        self._forget(fut)  # alone in its Dask task: it was sent with a timeout
        processing = self.client.processing()  # {worker address: [task keys]}
        where = [w for w, keys in processing.items() if fut.key in keys]
        fut.cancel()
        if where:
            self.client.restart_workers(where)
        return True

    def close(self) -> None:
        if self.fetcher is not None:
            self.finished.put(None)
            self.fetcher.join(timeout=5)
            self.fetcher = None
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None
