"""A Dask cluster (``assets materialize --executor dask [--dask-address ADDR]``).

Without an address the run starts a ``LocalCluster`` of worker processes (one
thread each) and stops it at the end; with one it connects to that scheduler.
Each attempt is one Dask task. Like local worker processes, a Dask worker loads
the project once (it must see the project folder at the same path, and reach the
catalog and the store), reads inputs from the store and writes the value there;
only the small :class:`~assets_core.executors.attempt.Outcome` goes through the
scheduler. A timed-out attempt is stopped by restarting the worker that runs it.

Dask is imported here only, when this executor is used.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from assets_core.errors import MissingExtraError
from assets_core.executors.attempt import NO_VALUE, Outcome, Task

# per worker process: the loaded project for each (root, catalog, store)
_CONTEXTS: dict[tuple[str, str, str], Any] = {}


def _context(root: str, catalog_url: str, store_path: str) -> Any:
    from assets_core.executors.processes import WorkerContext

    spec = (root, catalog_url, store_path)
    ctx = _CONTEXTS.get(spec)
    if ctx is None:
        ctx = _CONTEXTS[spec] = WorkerContext(*spec)
    return ctx


def _preload(root: str, catalog_url: str, store_path: str) -> None:
    _context(root, catalog_url, store_path)


def dask_attempt(root: str, catalog_url: str, store_path: str, task: Task) -> Outcome:
    """The Dask task: one attempt at ``task.key`` on whichever worker runs it."""
    return _context(root, catalog_url, store_path).attempt(task)


class DaskCluster:
    name = "dask"
    in_memory = False

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers
        self.client: Any = None
        self.cluster: Any = None
        self.futures: dict[Any, Task] = {}
        self.submitted: dict[str, float] = {}
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
        config = run.project.config
        self.spec = (str(config.root), run.catalog.url, str(config.store_path))
        # every worker loads the project now, so that an attempt's time is its own
        self.client.run(_preload, *self.spec)

    def free(self) -> int:
        return self.slots - len(self.futures)

    def submit(self, task: Task) -> None:
        name = f"{task.key}#{task.attempt}-{uuid.uuid4().hex[:8]}"
        fut = self.client.submit(dask_attempt, *self.spec, task, key=name, pure=False)
        self.futures[fut] = task
        self.submitted[task.key] = time.time()

    def wait(self, timeout: float | None) -> list[tuple[Outcome, Any]]:
        from dask.distributed import wait

        try:
            done, _ = wait(list(self.futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        out = []
        for fut in done:
            task = self.futures.pop(fut)
            try:
                outcome = fut.result()
            except Exception as e:  # the task died with its worker, or Dask refused it
                now = time.time()
                msg = f"the Dask task running {task.key} failed: {type(e).__name__}: {e}"
                outcome = Outcome(task.key, task.attempt, "failed", now, now, error=msg)
            out.append((outcome, NO_VALUE))
        return out

    def began(self, key: str) -> float | None:
        return self.submitted.get(key)

    def kill(self, key: str) -> bool:
        fut = next((f for f, t in self.futures.items() if t.key == key), None)
        if fut is None:
            return False
        del self.futures[fut]
        processing = self.client.processing()  # {worker address: [task keys]}
        where = [w for w, keys in processing.items() if fut.key in keys]
        fut.cancel()
        if where:
            self.client.restart_workers(where)
        return True

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None
