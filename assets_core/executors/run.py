"""One run of a plan: its state (published versions so far, values in memory) and
what happens to each step: decide (early cutoff), compute, audit, record.

The scheduler (``executors/scheduler.py``) decides *when* each step runs and where;
a :class:`Run` decides *whether* it must, and writes down what came of it. Table
assets (SQL, ``io=``) run here, in the engines the run holds open; the tables of a
layer may be written first and described together (``table_step(defer=True)``).
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

from assets_core.catalog.state import PUBLISHING, AssetState, CatalogState
from assets_core.checks.runner import CheckOutcome, redact_samples, run_checks
from assets_core.errors import AssetsError
from assets_core.executor import (
    FAILING,
    RETRIED,
    SKIP_BLOCKED_BY_CHECK,
    SKIP_MATERIALIZED_ELSEWHERE,
    SKIP_UNCHANGED_UPSTREAM,
    SKIP_UPSTREAM_FAILED,
    SKIP_UPSTREAM_MISSING,
    StepResult,
    open_store,
)
from assets_core.executors.attempt import (
    NO_VALUE,
    Outcome,
    Task,
    load_value,
    portable_to_outcome,
    user_traceback,
)
from assets_core.frozen import built
from assets_core.planner import Plan, Step, reasons_json, still_needed
from assets_core.project import Project

if TYPE_CHECKING:
    from assets_core.catalog.catalog import Catalog
    from assets_core.sql.table_store import StagedTable


class Run:
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
        if st.code_version != self.project.code_versions.texts[key]:
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
        rec = built(
            Record,
            {
                "run_id": self.run_id,
                "key": key,
                "status": PUBLISHING if publish is not None else status,
                "reason": reasons_json(step.reasons),
                "code_version": cv.version,
                "code_parts": cv.parts_json(),
                "input_versions": {u: self.current[u] for u in g.upstream[key]},
                "data_version": out.data_version,
                "value_ref": out.ref,
                "inline": out.inline,
                "started_at": out.started,
                "ended_at": out.ended,
                "rows": out.rows,
                "columns": out.columns,
                "error": None,
                "checks": outcomes,
                "checks_version": chv.version if chv else None,
                "checks_parts": chv.as_mapping() if chv else None,
            },
        )
        mid = self.catalog.record(rec)
        if publish is not None:
            assert mid is not None  # a publishing record is written at once, with its id
            if publish.grouped:  # committed with its group, then settled
                self.tables.enqueue(publish, mid, rec)
            else:
                self.catalog.commit_pending()  # the record is durable before the table is
                try:
                    self.tables.publish(publish)
                except AssetsError as e:
                    self.catalog.settle_publication(mid, rec, published=False, error=e.render())
                    return StepResult(key, "failed", None, None, False,
                                      time.time() - out.started, e.render())  # fmt: skip
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
