"""The executor runs a plan: load inputs, call, stage, audit, publish, record.

Write, audit, publish: a new value is staged in the store, the asset's checks
run on it, and only when every blocking check passed does the catalog publish
it (in the transaction that records it). A version that fails is recorded as
``quarantined`` and its downstream steps are skipped (``blocked_by_check``).

After each asset the executor re-decides the steps below it (early cutoff): a
step planned only because an upstream would change is skipped when that
upstream published the same data version as before. A failing asset skips what
depends on it and the run goes on with independent branches.

This module is the entry points (open the catalog, plan, execute, audit) and the
values they return; a run's own state and step logic are in ``executors/run.py``,
its order and placement in ``executors/scheduler.py``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from assets_core import collector
from assets_core.catalog.state import CatalogState
from assets_core.checks.runner import CheckOutcome
from assets_core.executors.attempt import (
    Outcome,
    Task,
)
from assets_core.planner import SOURCE_UNOBSERVABLE, Plan, Step, plan
from assets_core.project import Project
from assets_core.run_observers import run_observers
from assets_core.selection import select
from assets_core.sources import observe_all
from assets_core.stores import FileStore

if TYPE_CHECKING:
    from assets_core.catalog.catalog import Catalog
    from assets_core.graph import Graph

SKIP_UPSTREAM_FAILED = "upstream_failed"
SKIP_UNCHANGED_UPSTREAM = "unchanged_upstream"
SKIP_UPSTREAM_MISSING = "upstream_missing"
SKIP_BLOCKED_BY_CHECK = "blocked_by_check"
SKIP_MATERIALIZED_ELSEWHERE = "materialized_elsewhere"  # another run published the same inputs
SKIP_IN_PROGRESS_ELSEWHERE = "in_progress_elsewhere"  # another live run holds its lease
SKIP_SOURCE_UNOBSERVABLE = SOURCE_UNOBSERVABLE  # it reads a source whose observe= failed
RETRIED = "retried"  # status of an attempt that failed and was attempted again

# step statuses that make the run (and the CLI) fail
FAILING = frozenset({"failed", "timed_out", "quarantined", "failed_checks"})


@dataclass(frozen=True, slots=True)
class StepResult:
    key: str
    status: str  # success | failed | skipped | quarantined | checked | failed_checks
    reason: str | None = None  # why it was skipped, or which checks blocked it
    data_version: str | None = None
    changed: bool = False  # the data version differs from the previously published one
    duration_s: float = 0.0
    error: str | None = None
    checks: tuple[CheckOutcome, ...] = ()
    previous: str | None = None  # the published data version before this step, if any


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: str
    status: str
    results: tuple[StepResult, ...]
    fresh: tuple[str, ...]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> int:
        return 1 if self.status != "success" else 0


class Backend(Protocol):
    """Where attempts run: this process, local worker processes, or a Dask cluster.

    See :mod:`assets_core.executors`.
    """

    name: str

    def start(self, run: Any) -> None: ...
    def free(self) -> int: ...
    def submit(self, task: Task) -> None: ...
    def wait(self, timeout: float | None) -> list[tuple[Outcome, Any]]: ...
    def kill(self, key: str) -> bool: ...
    def close(self) -> None: ...


class Listener(Protocol):
    def step_started(self, key: str, index: int, total: int) -> None: ...
    def step_finished(self, result: StepResult, index: int, total: int) -> None: ...


def open_catalog(project: Project) -> Catalog:
    """The project's catalog, with the tables of runs that died settled (see Catalog.record)."""
    from assets_core.catalog.catalog import Catalog  # SQLAlchemy: not for a plan's read

    catalog = Catalog.open(project.config.catalog_url)
    if not catalog.publishing_somewhere():  # the usual answer, from one cheap query
        return catalog
    pending = catalog.unsettled_publications()
    if pending:
        from assets_core.sql.table_store import settle_interrupted

        settle_interrupted(project, catalog, pending)
    from assets_core.catalog.checks import unsettled_releases

    releases = unsettled_releases(catalog)
    if releases:
        from assets_core.sql.table_store import settle_interrupted_releases

        settle_interrupted_releases(project, catalog, releases)
    return catalog


def peek_state(project: Project) -> CatalogState | None:
    """What a plan reads of the catalog's state, read without opening the catalog.

    None when the catalog must be opened (:func:`open_catalog`): it is not a SQLite
    file, something in it needs settling (see ``catalog/snapshot.py``), or the project
    has checks (a plan compares the columns they name with the published ones). The
    state is not ``complete``: a run reads its own (:func:`execute` does).
    """
    if project.graph.checks:
        return None
    from assets_core.catalog.snapshot import read_state

    return read_state(project.config.catalog_url, project.code_versions.texts)


def open_store(project: Project, catalog: Catalog) -> FileStore:
    return FileStore(project.config.store_path, catalog.blob, catalog.blobs)


def make_plan(
    project: Project,
    catalog: Catalog | None,
    selection: str | list[str] | None = None,
    *,
    force: bool = False,
    state: CatalogState | None = None,
) -> Plan:
    """The plan for ``selection``: from ``state`` (read from ``catalog`` when None).

    ``catalog`` may be None with a ``state`` from :func:`peek_state`.
    """
    with collector.paused():
        return _make_plan(project, catalog, selection, force=force, state=state)


def _make_plan(
    project: Project,
    catalog: Catalog | None,
    selection: str | list[str] | None,
    *,
    force: bool,
    state: CatalogState | None,
) -> Plan:
    g = project.graph
    chosen = select(g, selection)
    # the sources the selected assets read, not every source of the project: one that
    # cannot be observed now (its database is down) stops only what reads it
    wanted = chosen if len(chosen) == len(g.defs) else _with_upstream(g, chosen)
    sources = {k: g.defs[k] for k in g.sources if k in wanted}
    cache = project.config.state_dir / "cache"  # file digests by size and mtime
    versions, unobservable = observe_all(sources, project.root, cache)  # type: ignore[arg-type]
    the_plan = plan(
        g,
        state if state is not None else _opened(catalog).state(),
        code_versions=project.code_versions,
        source_versions=versions,
        selection=chosen,
        force=force,
        now=time.time(),
        check_versions=project.check_versions,
        unobservable=unobservable,
    )
    if g.checks:
        from assets_core.checks.validate import check_columns

        recomputed = {s.key for s in the_plan.steps if not s.checks_only}
        check_columns(g, _opened(catalog).published_columns(g.checks), recomputed)
    return the_plan


def _with_upstream(g: Graph, keys: frozenset[str]) -> set[str]:
    return {u for k in keys for u in g.upstream.get(k, ())} | keys


def _opened(catalog: Catalog | None) -> Catalog:
    if catalog is None:  # a state from peek_state is given only when this is not reached
        raise ValueError("make_plan needs the catalog: no state given, or checks to validate")
    return catalog


def execute(
    project: Project,
    the_plan: Plan,
    catalog: Catalog,
    *,
    state: CatalogState | None = None,
    listener: Listener | None = None,
    selection_text: str = "",
    command: str = "materialize",
    backend: Backend | None = None,
    wait: bool = True,
) -> RunResult:
    """Run ``the_plan`` on ``backend`` (default: in this process).

    A step starts as soon as its upstreams are done; its outcome is recorded (and a
    new version published) by this process. Each asset is leased for the run, so a
    concurrent run on the same catalog never computes it too: a run that finds an
    asset leased by a live run waits for it (``wait=True``) and then uses what that
    run published, or skips it as ``in_progress_elsewhere``.
    """
    with collector.frozen():  # the project, plan and state stay out of collections
        return _execute(
            project, the_plan, catalog, state, listener, selection_text, command, backend, wait
        )


def _execute(
    project: Project,
    the_plan: Plan,
    catalog: Catalog,
    state: CatalogState | None,
    listener: Listener | None,
    selection_text: str,
    command: str,
    backend: Backend | None,
    wait: bool,
) -> RunResult:
    from assets_core.executors.inprocess import InProcess
    from assets_core.executors.run import Run
    from assets_core.executors.scheduler import Scheduler

    if state is None or not state.complete:  # a plan's peek holds too little for a run
        state = catalog.state()
    run_id = catalog.start_run(
        command=command,
        selection=selection_text,
        planned=len(the_plan.steps),
        definitions=project.definitions_snapshot(),
    )
    run = Run(project, catalog, state, run_id, the_plan)
    # what reads a source that is down is skipped, and said so; the rest runs
    results = [run._skip(k, the_plan.blocked_reason(k)) for k in the_plan.blocked]
    observers = run_observers(project, catalog)  # source versions, code sources, OpenLineage
    for o in observers:
        o.run_started(run_id, the_plan)
    listeners = [x for x in (listener, *observers) if x is not None]
    scheduler = Scheduler(run, backend or InProcess(), listeners, results, wait=wait)
    try:
        with catalog.group_commit(before_commit=run.store.wait_synced):
            scheduler.run_all()
            run.publish_grouped()
    except BaseException:
        run.close()
        catalog.finish_run(run_id, "interrupted", _counts(results))
        for o in observers:
            o.run_finished(run_id, "interrupted")
        raise
    run.close()
    failed = any(
        r.status in FAILING
        or (r.reason or "").startswith(
            (SKIP_UPSTREAM_MISSING, SKIP_BLOCKED_BY_CHECK, SKIP_SOURCE_UNOBSERVABLE)
        )
        for r in results
    )
    status = "failed" if failed else "success"
    catalog.finish_run(run_id, status, _counts(results))
    for o in observers:
        o.run_finished(run_id, status)
    return RunResult(run_id, status, tuple(results), the_plan.fresh)


def audit(
    project: Project,
    catalog: Catalog,
    selection: str | list[str] | None = None,
    *,
    listener: Listener | None = None,
) -> RunResult:
    """Run the checks of the selected assets on their published values (``assets check``)."""
    from assets_core.executors.run import Run

    g = project.graph
    chosen = select(g, selection)
    state = catalog.state()
    keys = [k for k in g.assets if k in chosen and g.checks_of(k)]
    steps = tuple(
        Step(k, ()) for k in keys if state.assets.get(k) is not None and state.assets[k].published
    )
    the_plan = Plan(
        steps=steps, selected=chosen, fresh=(), stale={}, source_versions={}, now=time.time()
    )
    run_id = catalog.start_run(
        command="check",
        selection=selection if isinstance(selection, str) else " ".join(selection or []),
        planned=len(steps),
        definitions=project.definitions_snapshot(),
    )
    state_run = Run(project, catalog, state, run_id, the_plan)
    results = []
    try:
        for i, step in enumerate(steps):
            if listener is not None:
                listener.step_started(step.key, i, len(steps))
            res = state_run.audit_published(step.key)
            results.append(res)
            if listener is not None:
                listener.step_finished(res, i, len(steps))
    finally:
        state_run.close()
    status = "failed" if any(r.status in FAILING for r in results) else "success"
    catalog.finish_run(run_id, status, _counts(results))
    return RunResult(run_id, status, tuple(results), ())


def _counts(results: Sequence[StepResult]) -> dict[str, int]:
    return {
        "materialized": sum(1 for r in results if r.status == "success"),
        "skipped": sum(1 for r in results if r.status == "skipped"),
        "failed": sum(1 for r in results if r.status in FAILING),
    }
