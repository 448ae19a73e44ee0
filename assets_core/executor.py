"""The executor runs a plan: load inputs, call, stage, audit, publish, record.

Write, audit, publish: a new value is staged in the store, the asset's checks
run on it, and only when every blocking check passed does the catalog publish
it (in the transaction that records it). A version that fails is recorded as
``quarantined`` and its downstream steps are skipped (``blocked_by_check``).

After each asset the executor re-decides the steps below it (early cutoff): a
step planned only because an upstream would change is skipped when that
upstream published the same data version as before. A failing asset skips what
depends on it and the run goes on with independent branches.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from assets_core import collector
from assets_core.catalog.state import PUBLISHING, AssetState, CatalogState
from assets_core.checks.runner import CheckOutcome, redact_samples, run_checks
from assets_core.errors import AssetsError
from assets_core.executors.attempt import (
    NO_VALUE,
    Outcome,
    Task,
    load_value,
    portable_to_outcome,
    user_traceback,
)
from assets_core.planner import Plan, Step, plan, reasons_json, still_needed
from assets_core.project import Project
from assets_core.run_observers import run_observers
from assets_core.selection import select
from assets_core.sources import observe_all
from assets_core.stores import FileStore

if TYPE_CHECKING:
    from assets_core.catalog.catalog import Catalog
    from assets_core.graph import Graph
    from assets_core.sql.table_store import StagedTable

SKIP_UPSTREAM_FAILED = "upstream_failed"
SKIP_UNCHANGED_UPSTREAM = "unchanged_upstream"
SKIP_UPSTREAM_MISSING = "upstream_missing"
SKIP_BLOCKED_BY_CHECK = "blocked_by_check"
SKIP_MATERIALIZED_ELSEWHERE = "materialized_elsewhere"  # another run published the same inputs
SKIP_IN_PROGRESS_ELSEWHERE = "in_progress_elsewhere"  # another live run holds its lease
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
    """The catalog's state, read without opening the catalog when a plan needs no more.

    None when the catalog must be opened (:func:`open_catalog`): it is not a SQLite
    file, something in it needs settling (see ``catalog/snapshot.py``), or the project
    has checks (a plan compares the columns they name with the published ones).
    """
    if project.graph.checks:
        return None
    from assets_core.catalog.snapshot import read_state

    return read_state(project.config.catalog_url)


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
    the_plan = plan(
        g,
        state if state is not None else _opened(catalog).state(),
        code_versions=project.code_versions,
        source_versions=observe_all(sources, project.root, cache),  # type: ignore[arg-type]
        selection=chosen,
        force=force,
        now=time.time(),
        check_versions=project.check_versions,
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
    from assets_core.executors.scheduler import Scheduler

    state = state if state is not None else catalog.state()
    run_id = catalog.start_run(
        command=command,
        selection=selection_text,
        planned=len(the_plan.steps),
        definitions=project.definitions_snapshot(),
    )
    run = _Run(project, catalog, state, run_id, the_plan)
    results: list[StepResult] = []
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
        or (r.reason or "").startswith((SKIP_UPSTREAM_MISSING, SKIP_BLOCKED_BY_CHECK))
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
    state_run = _Run(project, catalog, state, run_id, the_plan)
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


class _Run:
    """The mutable state of one run: published versions so far, values in memory."""

    def __init__(
        self, project: Project, catalog: Catalog, state: CatalogState, run_id: str, the_plan: Plan
    ) -> None:
        self.project = project
        self.graph = project.graph
        self.catalog = catalog
        self.store = open_store(project, catalog)
        self.state = state
        self.run_id = run_id
        self.plan = the_plan
        self.current = {k: s.data_version for k, s in state.assets.items() if s.data_version}
        self.current.update(the_plan.source_versions)
        self.refs = {k: s.value_ref for k, s in state.assets.items() if s.value_ref}
        self.memory: dict[str, Any] = {}
        self.recheck: set[str] = set()  # keys another run recorded since this one planned
        self.source_values: dict[str, Any] = {}
        self._tables: Any = None  # assets_core.sql.table_store.TableStores, opened when needed
        self.deferred: dict[str, tuple[Step, StagedTable, float]] = {}  # see table_step
        # why downstream of a key must be skipped: "upstream_failed: k" / "blocked_by_check: ..."
        self.broken: dict[str, str] = {}
        planned = {s.key for s in the_plan.steps}
        for k, s in state.assets.items():
            if s.checks_status == "failed" and k not in planned:
                self.broken[k] = (
                    f"{SKIP_BLOCKED_BY_CHECK}: {k} (its published version fails checks)"
                )
        # values produced in this run stay in memory until their last reader in the plan ran
        self.readers: dict[str, int] = {}
        for s in the_plan.steps:
            for u in self.graph.upstream[s.key]:
                if u in planned:
                    self.readers[u] = self.readers.get(u, 0) + 1

    @property
    def tables(self) -> Any:
        """Table stores (SQL engines) of this run; imported and opened on first use."""
        if self._tables is None:
            from assets_core.sql.table_store import TableStores

            self._tables = TableStores(self.project, self.store, self.catalog)
        return self._tables

    def publish_grouped(self) -> None:
        """Commit the table writes still sharing an engine transaction, and settle them."""
        if self._tables is not None:
            self._tables.commit_group()

    def close(self) -> None:
        self.store.close()
        if self._tables is not None:
            self._tables.close()

    # -- bookkeeping ---------------------------------------------------------------------
    def done(self, step: Step, res: StepResult) -> None:
        if res.status in FAILING:
            self.broken[step.key] = _broken_reason(step.key, res)
        elif res.status == "skipped" and res.reason != SKIP_UNCHANGED_UPSTREAM:
            self.broken[step.key] = res.reason or SKIP_UPSTREAM_FAILED
        for u in self.graph.upstream[step.key]:
            n = self.readers.get(u)
            if n is not None:
                self.readers[u] = n - 1
                if n == 1:
                    self.memory.pop(u, None)
        if self.readers.get(step.key, 0) == 0:
            self.memory.pop(step.key, None)

    def _skip(self, key: str, reason: str) -> StepResult:
        from assets_core.catalog.catalog import Record  # loaded with the run's catalog

        self.catalog.record(Record(run_id=self.run_id, key=key, status="skipped", reason=reason))
        return StepResult(key, "skipped", reason)

    # -- one step: decide (here), compute (executors.attempt, anywhere), record (here) -------
    def decide(self, step: Step) -> StepResult | None:
        """The outcome of ``step`` when it need not be computed (now that its upstreams ran)."""
        g = self.graph
        key = step.key
        bad = [u for u in g.all_upstream(key) if u in self.broken]
        if bad:
            return self._skip(key, self.broken[bad[0]])
        prev = self.state.assets.get(key)
        if key in self.recheck:  # another run recorded this asset since it was planned
            fresh = self._fresh_elsewhere(key, prev)
            if fresh is not None:
                return fresh
        if step.checks_only:
            return self.audit_published(key, step)
        if (
            prev is not None
            and prev.published
            and not still_needed(step, prev.input_versions, self.current)
        ):
            return self._skip(key, SKIP_UNCHANGED_UPSTREAM)
        missing = [u for u in g.upstream[key] if u not in self.current]
        if missing:
            return self._skip(
                key,
                f"{SKIP_UPSTREAM_MISSING}: {', '.join(missing)} has no published value "
                f"(materialize it first: assets materialize +{key})",
            )
        return None

    def _fresh_elsewhere(self, key: str, st: AssetState | None) -> StepResult | None:
        """Skip ``key`` when another run published it from the inputs this run has now."""
        if st is None or not st.published or st.last_status != "success":
            return None
        if st.code_version != self.project.code_versions[key].version:
            return None
        if st.input_versions != {u: self.current.get(u) for u in self.graph.upstream[key]}:
            return None
        self.current[key] = st.data_version  # type: ignore[assignment]
        self.refs[key] = st.value_ref  # type: ignore[assignment]
        return self._skip(
            key, f"{SKIP_MATERIALIZED_ELSEWHERE} (materialization {st.materialization_id})"
        )

    def task(self, step: Step, attempt: int, *, in_memory: bool = False) -> Task:
        """What an executor needs to compute ``step``: keys and references, no values.

        ``in_memory``: the attempt runs here, so values held in memory need no reference.
        """
        g = self.graph
        d = g.defs[step.key]
        mem = self.memory if in_memory else {}
        refs = {u: self.refs[u] for u in g.upstream[step.key] if u in self.refs and u not in mem}
        return Task(step.key, attempt, refs, getattr(d, "timeout_s", None))

    def load(self, key: str) -> Any:
        if key in self.memory:
            own = _private_copy(self.memory[key])
            if own is not _NO_COPY:
                return own
        ref = self.refs.get(key)
        if ref is not None and ref.startswith("table:"):
            return self.tables.load(key, ref)
        return load_value(self.project, self.store, self.refs, self.source_values, key)

    def runs_here(self, key: str) -> bool:
        """Must ``key`` run in this process? Tables (SQL assets, ``io=`` assets, and the
        assets that read them) live in engines this run holds open, so yes."""
        d = self.graph.defs[key]
        if d.kind == "sql" or getattr(d, "io", None):
            return True
        return any(self.refs.get(u, "").startswith("table:") for u in self.graph.upstream[key])

    def may_defer(self, step: Step) -> bool:
        """Is ``step`` a SQL asset without checks (see :meth:`defers`)? Opens nothing."""
        return self.graph.defs[step.key].kind == "sql" and not self.graph.checks_of(step.key)

    def defers(self, step: Step) -> bool:
        """May ``step`` be run by ``table_step(step, defer=True)`` now?"""
        d = self.graph.defs[step.key]
        return self.may_defer(step) and bool(self.tables.can_defer(d, self.refs))

    def table_step(self, step: Step, *, defer: bool = False) -> StepResult | None:
        """Compute, audit, then publish or quarantine a table asset, in its engine.

        ``defer`` (when :meth:`defers`): the table may be written now and described
        later with others (one batch of statements): None, and
        :meth:`finish_deferred` finishes the step.
        """
        g = self.graph
        key = step.key
        d = g.defs[key]
        started = time.time()
        checks = g.checks_of(key)
        if d.kind == "sql":
            try:
                table = self.tables.stage_query(
                    d, self.refs, self.current, direct=not checks, describe=not defer
                )
            except AssetsError as e:
                return self._failed(step, started, e.render())
            if table.staged is None:
                self.deferred[key] = (step, table, started)
                return None
            value = table.value
        else:
            try:
                kwargs = {p: self.load(u) for p, u in g.inputs[key]}
            except AssetsError as e:
                return self._failed(step, started, e.render())
            except Exception as e:  # an observe() function of a source can raise anything
                return self._failed(step, started, user_traceback(e))
            try:
                value = d.fn(**kwargs)
            except Exception as e:  # the user's function: any exception is a failed asset
                return self._failed(step, started, user_traceback(e))
            try:
                table = self.tables.stage_frame(key, d.io, value, direct=not checks)
            except AssetsError as e:
                return self._failed(step, started, e.render())
        return self._table_written(step, table, value, started)

    def finish_deferred(self) -> dict[str, StepResult]:
        """Describe the tables of the deferred steps together, then finish each step;
        one whose table was lost (another asset's failure rolled the shared transaction
        back) runs again alone."""
        deferred, self.deferred = self.deferred, {}
        self.tables.describe_written()
        out = {}
        for key, (step, table, started) in deferred.items():
            if table.lost:
                res = self.table_step(step)
                assert res is not None
                out[key] = res
            else:
                out[key] = self._table_written(step, table, table.value, started)
        return out

    def _table_written(
        self, step: Step, table: StagedTable, value: Any, started: float
    ) -> StepResult:
        key = step.key
        d = self.graph.defs[key]
        prev = self.state.assets.get(key)
        checks = self.graph.checks_of(key)
        assert table.staged is not None
        pii = "pii" in d.tags
        outcomes = (
            run_checks(checks, value, self.load, self.project.root, redact=pii) if checks else []
        )
        blocking = [o for o in outcomes if o.blocks]
        if blocking and prev is not None and table.staged.data_version == prev.data_version:
            return self._record_published_audit(key, outcomes, started)
        staged = self.tables.quarantine(table) if blocking else self.tables.final(table)
        out = Outcome.success(key, 1, started, staged, tuple(outcomes))
        res = None
        try:
            res = self.finish(step, out, NO_VALUE, publish=None if blocking else table)
        finally:
            if res is None or res.status == "failed":  # a direct write stays unpublished
                self.tables.discard(table)
        assert res is not None  # a success is never retried
        return res

    def finish(
        self, step: Step, out: Outcome, value: Any, publish: StagedTable | None = None
    ) -> StepResult | None:
        """Record the outcome of an attempt; None when the asset will be attempted again.

        ``publish``: a table to commit in its engine between its ``publishing`` record
        and that record's settlement, so that a crash at any point can be settled.
        """
        from assets_core.catalog.catalog import Record  # loaded with the run's catalog

        key = step.key
        if out.status != "success":
            if out.retryable:
                self.catalog.record(
                    Record(
                        run_id=self.run_id,
                        key=key,
                        status=RETRIED,
                        reason=f"attempt {out.attempt} {out.status}; it will be retried",
                        started_at=out.started,
                        ended_at=out.ended,
                        error=out.error,
                    )
                )
                return None
            return self._failed(step, out.started, out.error or "", out.status, out.ended)
        g = self.graph
        outcomes = [
            o if isinstance(o, CheckOutcome) else portable_to_outcome(g.checks_of(key), o)
            for o in out.checks
        ]
        if "pii" in g.defs[key].tags:  # personal data never reaches the catalog or terminal
            outcomes = redact_samples(outcomes)
        blocking = [o for o in outcomes if o.blocks]
        prev = self.state.assets.get(key)
        if blocking and prev is not None and out.data_version == prev.data_version:
            # the new value is the published one: it is that version which now fails
            return self._record_published_audit(key, outcomes, out.started)
        if not out.synced:  # on disk before the record that points at it commits
            if self.catalog.grouped:
                self.store.sync_soon(out.ref)
            else:
                self.store.sync(out.ref)
        cv = self.project.code_versions[key]
        chv = self.project.check_versions.get(key)
        status = "quarantined" if blocking else "success"
        rec = Record(
            run_id=self.run_id,
            key=key,
            status=PUBLISHING if publish is not None else status,
            reason=reasons_json(step.reasons),
            code_version=cv.version,
            code_parts=cv.parts_json(),
            input_versions={u: self.current[u] for u in g.upstream[key]},
            data_version=out.data_version,
            value_ref=out.ref,
            inline=out.inline,
            started_at=out.started,
            ended_at=out.ended,
            rows=out.rows,
            columns=out.columns,
            checks=outcomes,
            checks_version=chv.version if chv else None,
            checks_parts=chv.as_mapping() if chv else None,
        )
        mid = self.catalog.record(rec)
        if publish is not None and publish.grouped:  # committed with its group, then settled
            self.tables.enqueue(publish, mid, rec)
        elif publish is not None:
            self.catalog.commit_pending()  # the record is durable before the table is
            try:
                self.tables.publish(publish)
            except AssetsError as e:
                self.catalog.settle_publication(mid, rec, published=False, error=e.render())
                return StepResult(key, "failed", None, None, False, time.time() - out.started,
                                  e.render())  # fmt: skip
            self.catalog.settle_publication(mid, rec, published=True)
        took = out.ended - out.started
        if blocking:
            names = ", ".join(o.check.name for o in blocking)
            return StepResult(
                key, "quarantined", names, out.data_version, False, took, None, tuple(outcomes),
                prev.data_version if prev is not None else None,
            )  # fmt: skip
        changed = self.current.get(key) != out.data_version
        self.current[key] = out.data_version  # type: ignore[assignment]
        self.refs[key] = out.ref  # type: ignore[assignment]
        if value is not NO_VALUE and self.readers.get(key, 0) > 0:
            self.memory[key] = value
        return StepResult(
            key, "success", None, out.data_version, changed, took, None, tuple(outcomes)
        )

    def audit_published(self, key: str, step: Step | None = None) -> StepResult:
        """Run ``key``'s checks on its published value (its data does not change)."""
        started = time.time()
        try:
            ref = self.refs.get(key)
            # a table is audited where it lives: built-in checks run as SQL
            value = (
                self.tables.value(key, ref) if ref and ref.startswith("table:") else self.load(key)
            )
        except AssetsError as e:
            return self._failed(step or Step(key, ()), started, e.render())
        outcomes = run_checks(
            self.graph.checks_of(key),
            value,
            self.load,
            self.project.root,
            redact="pii" in self.graph.defs[key].tags,
        )
        return self._record_published_audit(key, outcomes, started)

    def _record_published_audit(
        self, key: str, outcomes: list[CheckOutcome], started: float
    ) -> StepResult:
        from assets_core.catalog.checks import record_audit

        st = self.state.assets.get(key)
        chv = self.project.check_versions.get(key)
        status = record_audit(
            self.catalog,
            run_id=self.run_id,
            key=key,
            materialization_id=st.materialization_id if st else None,
            data_version=st.data_version if st else None,
            outcomes=outcomes,
            checks_version=chv.version if chv else None,
            checks_parts=chv.as_mapping() if chv else None,
        )
        blocking = [o.check.name for o in outcomes if o.blocks]
        return StepResult(
            key,
            "failed_checks" if status == "failed" else "checked",
            ", ".join(blocking) or None,
            st.data_version if st else None,
            False,
            time.time() - started,
            None,
            tuple(outcomes),
        )

    def _failed(
        self,
        step: Step,
        started: float,
        error: str,
        status: str = "failed",
        ended: float | None = None,
    ) -> StepResult:
        from assets_core.catalog.catalog import Record  # loaded with the run's catalog

        ended = ended if ended is not None else time.time()
        self.catalog.record(
            Record(
                run_id=self.run_id,
                key=step.key,
                status=status,
                reason=reasons_json(step.reasons),
                started_at=started,
                ended_at=ended,
                error=error,
            )
        )
        return StepResult(step.key, status, None, None, False, ended - started, error)


_NO_COPY = object()
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), frozenset)


def _private_copy(value: Any) -> Any:
    """A copy a reader may mutate without changing what its siblings read.

    Immutable values and polars frames are shared; a pandas frame is copied;
    anything else is deep-copied, or re-read from the store when that fails.
    """
    if isinstance(value, _IMMUTABLE):
        return value
    if type(value).__name__ == "DataFrame":
        mod = type(value).__module__
        if mod.startswith("polars"):
            return value
        if mod.startswith("pandas"):
            return value.copy(deep=True)
    if isinstance(value, tuple) and all(isinstance(v, _IMMUTABLE) for v in value):
        return value
    try:
        return copy.deepcopy(value)
    except Exception:  # an object that cannot be copied: read it back from the store
        return _NO_COPY


def _broken_reason(key: str, res: StepResult) -> str:
    if res.status in ("quarantined", "failed_checks"):
        return f"{SKIP_BLOCKED_BY_CHECK}: {key} ({res.reason})"
    return f"{SKIP_UPSTREAM_FAILED}: {key}"
