"""A Dask cluster (``assets materialize --executor dask [--dask-address ADDR]``).

Without an address the run starts a ``LocalCluster`` of worker processes (one
thread each, no dashboard, logs of errors only) and stops it at the end; with one
it connects to that scheduler. Like local worker processes, a Dask worker loads
the project once (it must see the project folder at the same path, and reach the
catalog and the store), reads inputs from the store and writes the value there;
only the small :class:`~assets_core.executors.attempt.Outcome` goes through the
scheduler.

Every Dask task costs the scheduler (which, for a local cluster, shares the run's
process) milliseconds of CPU, so the run sends few, each with several attempts:
it keeps ``AHEAD`` attempts per worker thread in flight, but only ``DEPTH`` Dask
tasks per thread; the attempts that become ready meanwhile wait, and go together
in the next Dask task (up to ``BATCH_MAX`` each), all of a send in one message.
A worker reports outcomes as events of the scheduler's ``TOPIC``, to which the run
subscribes: as each attempt ends, or every ``REPORT_S`` for quick ones. So the run
records an outcome and sends what it made ready while the rest of the batch runs,
and never asks for a task's result (two more round trips: to the scheduler, then
to the worker). A Dask task that fails (its worker lost, say) sends no event: the
run looks at the states of its Dask tasks every ``SETTLE_S``.

Two kinds of attempts travel alone, in a Dask task of their own, ahead of the
others on their worker (a higher priority): one with a timeout, sent once a thread
is free, so that its timeout (counted from when it was sent) is its own and
stopping it (by restarting the worker that runs it) stops nothing else; and one
holding a pool slot, sent at once, so that it never waits behind the other
attempts of a batch while it holds the slot: a pool of N runs on up to N threads.

Dask is imported here only, when this executor is used.
"""

from __future__ import annotations

import math
import pickle
import queue
import time
import uuid
from collections import deque
from functools import partial
from typing import Any

from assets_core.errors import MissingExtraError
from assets_core.executors.attempt import NO_VALUE, Outcome, Task

AHEAD = 16  # attempts in flight per worker thread, so that no thread waits for the run
DEPTH = 1  # Dask tasks in flight per worker thread: more means smaller batches, more CPU
BATCH_MAX = 16  # attempts per Dask task at most
TOPIC = "assets-core-outcome"  # one topic for all runs: the scheduler keeps its last events
ALONE_PRIORITY = 1  # above the default 0
REPORT_S = 0.05  # outcomes of the quicker attempts of a Dask task are reported together
SETTLE_S = 0.5  # how often the run looks for Dask tasks that failed

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
    root: str,
    catalog_url: str,
    store_path: str,
    sync: bool,
    run_id: str,
    tag: str,
    tasks: list[Task],
) -> bytes:
    """The Dask task: attempts at ``tasks``, one after the other, on whichever worker runs
    it. Outcomes are reported under ``TOPIC`` (tagged with the run's ``tag``) as attempts
    end; all of them are the task's result too, for a run that missed an event."""
    from distributed import get_worker

    ctx = _context(root, catalog_url, store_path, sync, run_id)
    worker = get_worker()
    outcomes: list[Outcome] = []
    told = 0  # how many outcomes the run was sent
    since = time.monotonic()
    for t in tasks:
        outcomes.append(ctx.attempt(t))
        # attempts that take long are each reported alone; quick ones a few at a time
        if time.monotonic() - since >= REPORT_S or len(outcomes) == len(tasks):
            fresh = outcomes[told:]
            worker.log_event(TOPIC, (tag, pickle.dumps(fresh, pickle.HIGHEST_PROTOCOL)))
            told = len(outcomes)
            since = time.monotonic()
    return pickle.dumps(outcomes, pickle.HIGHEST_PROTOCOL)


class DaskCluster:
    name = "dask"
    in_memory = False

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers
        self.client: Any = None
        self.cluster: Any = None
        self.tag = uuid.uuid4().hex  # marks this run's outcomes among the topic's events
        self.futures: dict[Any, list[Task]] = {}  # Dask task not settled yet -> its attempts
        self.running: dict[Any, int] = {}  # Dask task -> how many of its attempts are unreported
        self.settled: list[Any] = []  # Dask tasks that ended, released at the next send
        self.where: dict[str, tuple[Any, Task]] = {}  # key -> its attempt's Dask task
        self.buffered: list[Task] = []  # submitted by the run, not yet sent
        self.held: deque[Task] = deque()  # attempts with a timeout, waiting for a free thread
        self.submitted: dict[str, float] = {}
        # outcomes (pickled), put there in the client's event loop
        self.arrived: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.slots = 1

    def start(self, run: Any) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise MissingExtraError("dask", "dask", "--executor dask") from None
        if self.address:
            self.client = Client(self.address)
        else:
            self.cluster = local_cluster(self.workers or 2)
            self.client = Client(self.cluster)
        self.slots = max(1, sum(self.client.nthreads().values()))
        self.client.subscribe_topic(TOPIC, self._on_event)
        config = run.project.config
        # a local cluster shares this machine's disk: the run fsyncs what it publishes
        sync = self.cluster is None
        self.spec = (str(config.root), run.catalog.url, str(config.store_path), sync, run.run_id)
        # every worker loads the project now, so that an attempt's time is its own
        self.client.run(_preload, *self.spec)

    def _on_event(self, event: tuple[float, Any]) -> None:
        # called in the client's event loop, which must not block: only queue it
        tag, blob = event[1]
        if tag == self.tag:
            self.arrived.put(blob)

    def free(self) -> int:
        if self.held:  # let the threads drain, so that a timed attempt starts when sent
            return 0
        return self.slots * AHEAD - len(self.where) - len(self.buffered)

    def submit(self, task: Task) -> None:
        # an attempt with a timeout goes alone, and only to a free thread: its timeout
        # counts from when it was sent
        (self.held if task.timeout_s is not None else self.buffered).append(task)

    def _send(self) -> None:
        alone: list[list[Task]] = []  # first in line on their worker
        while self.held and len(self.running) + len(alone) < self.slots:
            alone.append([self.held.popleft()])
        rest = []
        for t in self.buffered:
            (alone.append([t]) if t.pool is not None else rest.append(t))
        self._submit(alone, priority=ALONE_PRIORITY)
        # DEPTH Dask tasks per thread at a time: what becomes ready meanwhile waits here,
        # to go in the next one, so that the run sends few tasks, each with several attempts
        lanes = self.slots * DEPTH - len(self.running)
        if not rest or lanes <= 0:
            self.buffered = rest
            return
        size = max(1, min(BATCH_MAX, math.ceil(len(rest) / lanes)))
        sent = min(len(rest), size * lanes)
        self._submit([rest[n : n + size] for n in range(0, sent, size)])
        self.buffered = rest[sent:]
        # released now, their release goes to the scheduler in the message that sends the
        # new tasks: the client sends a message at most every 10 ms, and a release sent
        # alone just before would hold the new tasks back until then
        self.settled.clear()

    def _submit(self, batches: list[list[Task]], priority: int = 0) -> None:
        """Send each batch as a Dask task, all in one message to the scheduler."""
        if not batches:
            return
        names = [f"{b[0].key}#{b[0].attempt}+{len(b) - 1}-{uuid.uuid4().hex[:8]}" for b in batches]
        run = partial(dask_attempts, *self.spec, self.tag)
        futs = self.client.map(run, batches, key=names, pure=False, priority=priority)
        now = time.time()
        for fut, tasks in zip(futs, batches, strict=True):
            self.futures[fut] = tasks
            self.running[fut] = len(tasks)
            for t in tasks:
                self.where[t.key] = (fut, t)
                self.submitted[t.key] = now

    def wait(self, timeout: float | None) -> list[tuple[Outcome, Any]]:
        self._send()
        # the run computed its timeout before a held attempt was sent: mind that one's too
        deadlines = [
            self.submitted[key] + t.timeout_s
            for key, (_, t) in self.where.items()
            if t.timeout_s is not None and key in self.submitted
        ]
        if deadlines:
            due = max(0.0, min(deadlines) - time.time())
            timeout = due if timeout is None else min(timeout, due)
        # a Dask task that failed sends no event: look at their states that often
        timeout = SETTLE_S if timeout is None else min(timeout, SETTLE_S)
        out: list[tuple[Outcome, Any]] = []
        try:
            self._outcomes(pickle.loads(self.arrived.get(timeout=timeout)), out)
        except queue.Empty:
            pass
        self._drain(out)
        for fut in [f for f in self.futures if f.status != "pending"]:
            self._settled(fut, out)
        return out

    def _drain(self, out: list[tuple[Outcome, Any]]) -> None:
        while True:
            try:
                self._outcomes(pickle.loads(self.arrived.get_nowait()), out)
            except queue.Empty:
                return

    def _outcomes(self, outcomes: list[Outcome], out: list[tuple[Outcome, Any]]) -> None:
        for o in outcomes:
            self._outcome(o, out)

    def _outcome(self, o: Outcome, out: list[tuple[Outcome, Any]]) -> None:
        entry = self.where.get(o.key)
        if entry is None or entry[1].attempt != o.attempt:
            return  # given up on (killed), or run again after its worker died
        del self.where[o.key]
        self.submitted.pop(o.key, None)
        self._reported(entry[0])
        out.append((o, NO_VALUE))

    def _reported(self, fut: Any) -> None:
        left = self.running.get(fut, 0) - 1
        if left > 0:
            self.running[fut] = left
        else:
            self.running.pop(fut, None)

    def _settled(self, fut: Any, out: list[tuple[Outcome, Any]]) -> None:
        """The Dask task ``fut`` ended: its attempts not reported yet get their outcome
        from its result, or fail with its error (lost with its worker, or refused)."""
        tasks = self.futures.pop(fut)
        self.running.pop(fut, None)
        self.settled.append(fut)
        missing = [t for t in tasks if self.where.get(t.key, (None,))[0] is fut]
        if not missing:
            return
        self._drain(out)  # the scheduler sent its events before it said it ended
        try:
            self._outcomes(pickle.loads(fut.result()), out)
        except BaseException as e:  # its error is the outcome of its attempts
            now = time.time()
            for t in missing:
                msg = f"the Dask task running {t.key} failed: {type(e).__name__}: {e}"
                self._outcome(Outcome(t.key, t.attempt, "failed", now, now, error=msg), out)

    def began(self, key: str) -> float | None:
        return self.submitted.get(key)

    def kill(self, key: str) -> bool:
        entry = self.where.pop(key, None)
        if entry is None:
            return False
        fut = entry[0]  # alone in its Dask task: it was sent with a timeout
        self.submitted.pop(key, None)
        self.futures.pop(fut, None)
        self.running.pop(fut, None)
        processing = self.client.processing()  # {worker address: [task keys]}
        where = [w for w, keys in processing.items() if fut.key in keys]
        fut.cancel()
        if where:
            self.client.restart_workers(where)
        return True

    def close(self) -> None:
        if self.client is not None:
            self.client.unsubscribe_topic(TOPIC)
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None


def local_cluster(workers: int) -> Any:
    """A ``LocalCluster`` of ``workers`` processes, one thread each, that serves no
    dashboard and logs only errors."""
    import logging

    from dask.distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        # the scheduler always serves HTTP (health, metrics): on a free loopback port,
        # not on 8787, which another cluster may hold (a warning, then another port)
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
        silence_logs=logging.ERROR,
    )
