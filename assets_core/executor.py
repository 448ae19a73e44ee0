"""The executor runs a plan: load inputs, call the function, stage, publish, record.

After each asset it re-decides the steps below it (early cutoff): a step planned
only because an upstream would change is skipped when that upstream published
the same data version as before. A failing asset skips what depends on it and
the run goes on with independent branches.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assets_core.catalog import Catalog, CatalogState, Record
from assets_core.definitions import AssetDef, SourceDef
from assets_core.errors import AssetsError
from assets_core.planner import Plan, Step, plan, reasons_json, still_needed
from assets_core.project import Project
from assets_core.selection import select
from assets_core.sources import observe_all, value_of
from assets_core.stores import FileStore

SKIP_UPSTREAM_FAILED = "upstream_failed"
SKIP_UNCHANGED_UPSTREAM = "unchanged_upstream"
SKIP_UPSTREAM_MISSING = "upstream_missing"


@dataclass(frozen=True, slots=True)
class StepResult:
    key: str
    status: str  # success | failed | skipped
    reason: str | None = None  # why it was skipped
    data_version: str | None = None
    changed: bool = False  # the data version differs from the previously published one
    duration_s: float = 0.0
    error: str | None = None


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


class Listener(Protocol):
    def step_started(self, key: str, index: int, total: int) -> None: ...
    def step_finished(self, result: StepResult, index: int, total: int) -> None: ...


def open_catalog(project: Project) -> Catalog:
    return Catalog.open(project.config.catalog_url)


def open_store(project: Project, catalog: Catalog) -> FileStore:
    return FileStore(project.config.store_path, catalog.blob)


def make_plan(
    project: Project,
    catalog: Catalog,
    selection: str | list[str] | None = None,
    *,
    force: bool = False,
    state: CatalogState | None = None,
) -> Plan:
    g = project.graph
    chosen = select(g, selection)
    sources = {k: g.defs[k] for k in g.sources}
    return plan(
        g,
        state if state is not None else catalog.state(),
        code_versions=project.code_versions,
        source_versions=observe_all(sources, project.root),  # type: ignore[arg-type]
        selection=chosen,
        force=force,
        now=time.time(),
    )


def user_traceback(exc: BaseException) -> str:
    """``exc``'s traceback without assets-core's own frames."""
    here = str(Path(__file__).resolve().parent)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(here)]
    return "".join(
        traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    ).rstrip()


def execute(
    project: Project,
    the_plan: Plan,
    catalog: Catalog,
    *,
    state: CatalogState | None = None,
    listener: Listener | None = None,
    selection_text: str = "",
) -> RunResult:
    """Run ``the_plan``; every step's outcome is recorded before the next starts."""
    g = project.graph
    store = open_store(project, catalog)
    state = state if state is not None else catalog.state()
    steps = the_plan.steps
    run_id = catalog.start_run(
        command="materialize",
        selection=selection_text,
        planned=len(steps),
        definitions=project.definitions_snapshot(),
    )
    current = {k: s.data_version for k, s in state.assets.items() if s.data_version}
    current.update(the_plan.source_versions)
    refs = {k: s.value_ref for k, s in state.assets.items() if s.value_ref}
    # values produced in this run stay in memory until their last reader in the plan ran
    readers: dict[str, int] = {}
    planned = {s.key for s in steps}
    for s in steps:
        for u in g.upstream[s.key]:
            if u in planned:
                readers[u] = readers.get(u, 0) + 1
    memory: dict[str, Any] = {}
    source_values: dict[str, Any] = {}
    broken: set[str] = set()
    results: list[StepResult] = []
    total = len(steps)
    try:
        with catalog.group_commit():
            for i, step in enumerate(steps):
                if listener is not None:
                    listener.step_started(step.key, i, total)
                res = _run_step(
                    project, step, catalog, store, state, run_id, current, refs,
                    memory, source_values, broken,
                )  # fmt: skip
                results.append(res)
                if res.status != "success" and res.reason != SKIP_UNCHANGED_UPSTREAM:
                    broken.add(step.key)
                for u in g.upstream[step.key]:
                    n = readers.get(u)
                    if n is not None:
                        readers[u] = n - 1
                        if n == 1:
                            memory.pop(u, None)
                if readers.get(step.key, 0) == 0:
                    memory.pop(step.key, None)
                if listener is not None:
                    listener.step_finished(res, i, total)
    except BaseException:
        catalog.finish_run(run_id, "interrupted", _counts(results))
        raise
    failed = any(r.status == "failed" or r.reason == SKIP_UPSTREAM_MISSING for r in results)
    status = "failed" if failed else "success"
    catalog.finish_run(run_id, status, _counts(results))
    return RunResult(run_id, status, tuple(results), the_plan.fresh)


def _counts(results: list[StepResult]) -> dict[str, int]:
    return {
        "materialized": sum(1 for r in results if r.status == "success"),
        "skipped": sum(1 for r in results if r.status == "skipped"),
        "failed": sum(1 for r in results if r.status == "failed"),
    }


def _run_step(
    project: Project,
    step: Step,
    catalog: Catalog,
    store: FileStore,
    state: CatalogState,
    run_id: str,
    current: dict[str, str],
    refs: dict[str, str],
    memory: dict[str, Any],
    source_values: dict[str, Any],
    broken: set[str],
) -> StepResult:
    g = project.graph
    key = step.key
    d = g.defs[key]
    assert isinstance(d, AssetDef)

    def skip(reason: str) -> StepResult:
        catalog.record(Record(run_id=run_id, key=key, status="skipped", reason=reason))
        return StepResult(key, "skipped", reason)

    bad = [u for u in g.all_upstream(key) if u in broken]
    if bad:
        return skip(f"{SKIP_UPSTREAM_FAILED}: {', '.join(bad)}")
    prev = state.assets.get(key)
    if prev is not None and prev.published and not still_needed(step, prev.input_versions, current):
        return skip(SKIP_UNCHANGED_UPSTREAM)
    missing = [u for u in g.upstream[key] if u not in current]
    if missing:
        return skip(
            f"{SKIP_UPSTREAM_MISSING}: {', '.join(missing)} has no published value "
            f"(materialize it first: assets materialize +{key})"
        )

    started = time.time()
    try:
        kwargs = {
            p: _input(project, u, store, refs, memory, source_values) for p, u in g.inputs[key]
        }
    except AssetsError as e:
        return _failed(catalog, run_id, step, started, e.render())
    except Exception as e:  # an observe() function of a source can raise anything
        return _failed(catalog, run_id, step, started, user_traceback(e))
    inputs = {u: current[u] for u in g.upstream[key]}
    fn: Callable[..., Any] = d.fn
    try:
        value = fn(**kwargs)
    except Exception as e:  # the user's function: any exception is a failed asset
        return _failed(catalog, run_id, step, started, user_traceback(e))
    try:
        staged = store.stage(key, value)
    except AssetsError as e:
        return _failed(catalog, run_id, step, started, e.render())
    ended = time.time()
    cv = project.code_versions[key]
    catalog.record(
        Record(
            run_id=run_id,
            key=key,
            status="success",
            reason=reasons_json(step.reasons),
            code_version=cv.version,
            code_parts=cv.as_mapping(),
            input_versions=inputs,
            data_version=staged.data_version,
            value_ref=staged.ref,
            inline=staged.inline,
            started_at=started,
            ended_at=ended,
            rows=staged.rows,
            columns=staged.columns,
        )
    )
    changed = current.get(key) != staged.data_version
    current[key] = staged.data_version
    refs[key] = staged.ref
    memory[key] = value
    return StepResult(key, "success", None, staged.data_version, changed, ended - started)


def _failed(catalog: Catalog, run_id: str, step: Step, started: float, error: str) -> StepResult:
    ended = time.time()
    catalog.record(
        Record(
            run_id=run_id,
            key=step.key,
            status="failed",
            reason=reasons_json(step.reasons),
            started_at=started,
            ended_at=ended,
            error=error,
        )
    )
    return StepResult(step.key, "failed", None, None, False, ended - started, error)


def _input(
    project: Project,
    up: str,
    store: FileStore,
    refs: dict[str, str],
    memory: dict[str, Any],
    source_values: dict[str, Any],
) -> Any:
    if up in memory:
        return memory[up]
    d = project.graph.defs[up]
    if isinstance(d, SourceDef):
        if up not in source_values:
            source_values[up] = value_of(d, project.root)
        return source_values[up]
    return store.load(up, refs[up])
