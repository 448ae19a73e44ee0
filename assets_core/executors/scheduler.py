"""The scheduler: which step starts when, on any backend.

A step is *ready* when every upstream it has in the plan is done; ready steps
start in plan order as the backend has room, so the in-process backend runs
exactly the plan's order and worker backends start a step the moment its
upstreams are published (not layer by layer). For each ready step the run
first decides whether it must be computed at all (failed or blocked upstream,
early cutoff, published elsewhere meanwhile); only then does the backend run
an attempt. Outcomes are recorded here, in the run's process.

Around that: leases (one per planned asset, taken when the run starts; an asset
leased by another live run is waited for, or skipped), retries (a failed attempt
whose error the asset's ``Retry`` covers runs again after its backoff, other
steps going on meanwhile), timeouts (a worker running past its deadline is
killed) and pools (at most ``[tool.assets.pools] NAME = N`` assets of a pool run
at once, across every run sharing the catalog: a step takes one of the pool's N
slot leases before it starts, see :mod:`assets_core.catalog.leases`).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from assets_core.catalog.leases import Leases
from assets_core.errors import DefinitionError, ProjectError
from assets_core.executors.attempt import Outcome, run_attempt

POLL_S = 0.2  # how often a run looks again at assets leased by other runs
# at most this many deferred table steps wait for their batch's description
DEFER_LIMIT = 64
_LEASE_CHUNK = 500


def pool_limits(project: Any) -> dict[str, int]:
    """``[tool.assets.pools]``, checked; every pool an asset names must be there."""
    raw = project.config.raw.get("pools", {}) or {}
    where = project.root / "pyproject.toml"
    if not isinstance(raw, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in raw.values()
    ):
        raise ProjectError(
            f"{where}: [tool.assets.pools] maps pool names to whole numbers >= 1",
            hint="e.g.\n[tool.assets.pools]\nwarehouse = 2",
        )
    for key in project.graph.assets:
        pool = getattr(project.graph.defs[key], "pool", None)
        if pool is not None and pool not in raw:
            d = project.graph.defs[key]
            raise DefinitionError(
                f"asset {key} runs in pool {pool!r}, which [tool.assets.pools] does not define",
                key=key,
                location=str(d.location),
                hint=f"add to {where}:\n[tool.assets.pools]\n{pool} = 1",
            )
    return dict(raw)


class Scheduler:
    """Runs the steps of one run (an ``executors.run.Run``) on a backend."""

    def __init__(
        self,
        run: Any,
        backend: Any,
        listeners: Sequence[Any],
        results: list[Any],
        *,
        wait: bool = True,
    ) -> None:
        self.run = run
        self.backend = backend
        self.listeners = listeners
        self.results = results
        self.wait_for_others = wait
        steps = run.plan.steps
        self.steps = steps
        self.index = {s.key: i for i, s in enumerate(steps)}
        g = run.graph
        self.blockers = [0] * len(steps)  # planned upstreams not done yet
        self.dependents: list[list[int]] = [[] for _ in steps]
        for i, s in enumerate(steps):
            for u in g.all_upstream(s.key):
                j = self.index.get(u)
                if j is not None:
                    self.blockers[i] += 1
                    self.dependents[j].append(i)
        self.ready = [i for i, n in enumerate(self.blockers) if n == 0]
        heapq.heapify(self.ready)
        self.pools = pool_limits(run.project)
        self.pool_of = [getattr(g.defs[s.key], "pool", None) for s in steps]
        self.in_pool: dict[str, int] = dict.fromkeys(self.pools, 0)
        self.pool_waiting: dict[str, list[int]] = {p: [] for p in self.pools}
        self.slot_of: dict[int, str] = {}  # step -> the pool slot (lease key) it holds
        self.pool_poll = 0.0  # when to look again for slots that other runs hold
        self.attempts = [0] * len(steps)
        self.decided = [False] * len(steps)  # decide() said it must be computed
        self.finished = [False] * len(steps)
        self.running: dict[str, tuple[int, float | None]] = {}  # key -> (index, timeout_s)
        self.retry_at: list[tuple[float, int]] = []  # heap of (when, index)
        self.elsewhere: set[int] = set()  # leased by another live run
        self.next_poll = 0.0
        self.started = 0
        self.done = 0
        self.leases: Leases | None = None
        self.deferred: list[int] = []  # table steps written, waiting to be described

    # -- the loop ------------------------------------------------------------------------
    def run_all(self) -> None:
        if not self.steps:
            return
        self.backend.start(self.run)
        self._take_leases()
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(stop,), daemon=True)
        renewer.start()
        try:
            self._loop()
        finally:
            stop.set()

    def _loop(self) -> None:
        total = len(self.steps)
        while self.done < total:
            self._launch()
            if self.done >= total:
                break
            now = time.time()
            wake = self._deadlines()
            if self.retry_at:
                wake.append(self.retry_at[0][0])
            if self.elsewhere:
                wake.append(self.next_poll)
            if self.pool_poll:
                wake.append(self.pool_poll)
            timeout = max(0.0, min(wake) - now) if wake else None
            if not self.running:
                if timeout is None:
                    raise RuntimeError("scheduler stalled: no step running, ready or waiting")
                time.sleep(timeout)
                got: list[tuple[Outcome, Any]] = []
            else:
                got = self.backend.wait(timeout)
            for out, value in got:
                self._completed(out, value)
            self._expire(time.time())
            self._due(time.time())

    def _launch(self) -> None:
        """Start the ready steps; table steps that can be deferred are written as they
        come, then described together once nothing more is ready (or DEFER_LIMIT are
        waiting): a downstream step becomes ready only once they are finished."""
        while True:
            self._launch_ready()
            if not self.deferred:
                return
            self._finish_deferred()

    def _finish_deferred(self) -> None:
        done = self.run.finish_deferred()
        deferred, self.deferred = self.deferred, []
        for i in deferred:
            self._finish(i, done[self.steps[i].key])

    def _launch_ready(self) -> None:
        run = self.run
        while self.ready and self.backend.free() > 0:
            i = heapq.heappop(self.ready)
            if self.finished[i]:
                continue
            step = self.steps[i]
            defer = self.attempts[i] == 0 and self.pool_of[i] is None and run.may_defer(step)
            if self.deferred and (not defer or len(self.deferred) >= DEFER_LIMIT):
                self._finish_deferred()  # what comes next may commit their transaction
            if self.attempts[i] == 0 and not self.decided[i]:
                if i in self.elsewhere:
                    continue
                self._notify_started(step.key)
                res = run.decide(step)
                if res is not None:
                    self._finish(i, res)
                    continue
                self.decided[i] = True
            pool = self.pool_of[i]
            if pool is not None and not self._enter_pool(i, pool):
                self.pool_waiting[pool].append(i)
                continue
            if defer and run.defers(step):
                res = run.table_step(step, defer=True)
                if res is None:
                    self.deferred.append(i)
                else:
                    self._finish(i, res)
                continue
            if self.deferred:
                self._finish_deferred()
            if self.attempts[i] == 0 and run.runs_here(step.key):
                try:
                    res = self._here(step)
                finally:
                    self._leave_pool(i)
                self._finish(i, res)
                continue
            self.attempts[i] += 1
            task = run.task(step, self.attempts[i], in_memory=self.backend.in_memory)
            if pool is not None:  # so that the backend does not queue it behind others
                task = replace(task, pool=pool)
            self.running[step.key] = (i, task.timeout_s)
            # user code may run for long: the tables written so far are committed first
            run.publish_grouped()
            self.backend.submit(task)

    def _enter_pool(self, i: int, pool: str) -> bool:
        """Take a slot of ``pool`` for step ``i``: one this run may use, and one of the
        pool's slots in the catalog, so that the limit holds across concurrent runs."""
        if self.in_pool[pool] >= self.pools[pool]:
            return False
        if self.leases is not None:
            slot = self.leases.take_slot(pool, self.pools[pool])
            if slot is None:  # other runs hold them: look again in a while
                self.pool_poll = self.pool_poll or time.time() + POLL_S
                return False
            self.slot_of[i] = slot
        self.in_pool[pool] += 1
        return True

    def _here(self, step: Any) -> Any:
        """Run ``step`` in this process, retries included (tables live in its engines)."""
        run = self.run
        d = run.graph.defs[step.key]
        if d.kind == "sql" or getattr(d, "io", None):
            return run.table_step(step)
        attempt = 0
        while True:
            attempt += 1
            task = run.task(step, attempt, in_memory=True)
            out, value = run_attempt(run.project, task, run.load, run.store, alarm=True)
            res = run.finish(step, out, value)
            if res is not None:
                return res
            time.sleep(d.retry.delay(attempt))

    def _completed(self, out: Outcome, value: Any) -> None:
        entry = self.running.pop(out.key, None)
        if entry is None:  # a late answer from an attempt that was given up on
            return
        i = entry[0]
        self._leave_pool(i)
        res = self.run.finish(self.steps[i], out, value)
        if res is None:  # failed, and its Retry covers it: again after the backoff
            retry = self.run.graph.defs[out.key].retry
            heapq.heappush(self.retry_at, (time.time() + retry.delay(out.attempt), i))
            return
        self._finish(i, res)

    def _deadlines(self) -> list[float]:
        """When running attempts time out (counted from when each really started)."""
        out = []
        for key, (_, timeout_s) in self.running.items():
            began = self.backend.began(key) if timeout_s else None
            if began is not None:
                out.append(began + timeout_s)
        return out

    def _expire(self, now: float) -> None:
        """Kill attempts past their deadline; they become ``timed_out`` outcomes."""
        for key, (i, timeout_s) in list(self.running.items()):
            began = self.backend.began(key) if timeout_s else None
            if began is None or began + timeout_s > now or not self.backend.kill(key):
                continue
            deadline = began + timeout_s
            d = self.run.graph.defs[key]
            attempt = self.attempts[i]
            msg = f"asset {key} timed out after {d.timeout_s:g}s (attempt {attempt})"
            retryable = d.retry is not None and d.retry.retries(TimeoutError(msg), attempt)
            started = deadline - d.timeout_s
            out = Outcome(key, attempt, "timed_out", started, now, error=msg, retryable=retryable)
            self._completed(out, None)

    def _due(self, now: float) -> None:
        while self.retry_at and self.retry_at[0][0] <= now:
            heapq.heappush(self.ready, heapq.heappop(self.retry_at)[1])
        if self.pool_poll and now >= self.pool_poll:  # other runs may have freed slots
            self.pool_poll = 0.0
            for waiting in self.pool_waiting.values():
                for j in waiting:
                    heapq.heappush(self.ready, j)
                waiting.clear()
        if self.elsewhere and now >= self.next_poll:
            self._poll_elsewhere()

    def _leave_pool(self, i: int) -> None:
        pool = self.pool_of[i]
        if pool is None:
            return
        self.in_pool[pool] -= 1
        slot = self.slot_of.pop(i, None)
        if slot is not None and self.leases is not None:
            self.leases.release_slot(slot)
        for j in self.pool_waiting[pool]:
            heapq.heappush(self.ready, j)
        self.pool_waiting[pool].clear()

    def _finish(self, i: int, res: Any) -> None:
        step = self.steps[i]
        run = self.run
        self.finished[i] = True
        self.results.append(res)
        run.done(step, res)
        if res.status in ("checked", "failed_checks") and self.leases is not None:
            self.leases.release([step.key])  # audits record no materialization to end it
        self.done += 1
        for x in self.listeners:
            x.step_finished(res, self.done - 1, len(self.steps))
        for j in self.dependents[i]:
            self.blockers[j] -= 1
            if self.blockers[j] == 0:
                heapq.heappush(self.ready, j)

    def _notify_started(self, key: str) -> None:
        for x in self.listeners:
            x.step_started(key, self.started, len(self.steps))
        self.started += 1

    # -- leases --------------------------------------------------------------------------
    def _take_leases(self) -> None:
        run = self.run
        self.leases = Leases(run.catalog, run.run_id)
        keys = [s.key for s in self.steps]
        busy: dict[str, Any] = {}
        for n in range(0, len(keys), _LEASE_CHUNK):
            busy.update(self.leases.acquire(keys[n : n + _LEASE_CHUNK]))
        self._refresh([k for k in keys if k not in busy])
        for key, holder in busy.items():
            self._elsewhere(self.index[key], holder)

    def _refresh(self, keys: list[str]) -> None:
        """Note the keys another run recorded since this run read the catalog."""
        run = self.run
        now = run.catalog.asset_states(keys)
        old = run.state.assets
        for key, st in now.items():
            before = old.get(key)
            if before is None or (
                st.materialization_id,
                st.last_status,
                st.last_attempt_at,
            ) != (before.materialization_id, before.last_status, before.last_attempt_at):
                run.state.assets[key] = st  # type: ignore[index]
                run.recheck.add(key)

    def _elsewhere(self, i: int, holder: Any) -> None:
        if self.wait_for_others:
            self.elsewhere.add(i)
            self.next_poll = time.time() + POLL_S
            return
        from assets_core.executor import SKIP_IN_PROGRESS_ELSEWHERE

        key = self.steps[i].key
        self._notify_started(key)
        res = self.run._skip(key, f"{SKIP_IN_PROGRESS_ELSEWHERE}: {holder.describe()}")
        self.run.broken[key] = res.reason
        self._finish(i, res)

    def _poll_elsewhere(self) -> None:
        assert self.leases is not None
        keys = [self.steps[i].key for i in sorted(self.elsewhere)]
        busy = self.leases.acquire(keys)
        got = [k for k in keys if k not in busy]
        self._refresh(got)
        for k in got:
            i = self.index[k]
            self.elsewhere.discard(i)
            if self.blockers[i] == 0:
                heapq.heappush(self.ready, i)
        self.next_poll = time.time() + POLL_S

    def _renew(self, stop: threading.Event) -> None:
        assert self.leases is not None
        every = self.leases.ttl_s / 3
        while not stop.wait(every):
            try:
                self.leases.renew()
            except Exception:  # a failed renewal is tried again; the lease lasts ttl_s
                continue
