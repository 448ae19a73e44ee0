"""Run observers: what the executor tells, besides the progress listener, as a run goes.

Each observer hears ``run_started``, ``step_started``, ``step_finished`` and
``run_finished``. The built-in ones record the source versions a run read (so a
source's freshness follows its observed changes), the normalized source text of
the code each step runs (for provenance), and, when ``[tool.assets] openlineage``
is set, emit OpenLineage run events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assets_core.catalog import Catalog
    from assets_core.executor import StepResult
    from assets_core.planner import Plan
    from assets_core.project import Project


class RunObserver:
    """Base class: every notification does nothing unless overridden."""

    def run_started(self, run_id: str, plan: Plan) -> None:
        pass

    def step_started(self, key: str, index: int, total: int) -> None:
        pass

    def step_finished(self, result: StepResult, index: int, total: int) -> None:
        pass

    def run_finished(self, run_id: str, status: str) -> None:
        pass


class RecordSourceVersions(RunObserver):
    """Records the version of each source as the run saw it (an observation with run id)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def run_started(self, run_id: str, plan: Plan) -> None:
        if plan.source_versions:
            self.catalog.record_observations(sorted(plan.source_versions.items()), run_id=run_id)


class RecordCodeSources(RunObserver):
    """Stores the normalized source of each code part the planned steps run, once per digest."""

    def __init__(self, project: Project, catalog: Catalog) -> None:
        self.project = project
        self.catalog = catalog

    def run_started(self, run_id: str, plan: Plan) -> None:
        from assets_core.provenance import record_code_sources

        record_code_sources(self.project, self.catalog, [s.key for s in plan.steps])


def run_observers(project: Project, catalog: Catalog) -> list[RunObserver]:
    """The observers a run of ``project`` gets from its configuration."""
    out: list[RunObserver] = [RecordSourceVersions(catalog), RecordCodeSources(project, catalog)]
    url = project.config.raw.get("openlineage")
    if url:
        from assets_core.openlineage import OpenLineageEmitter

        out.append(OpenLineageEmitter(project, catalog, str(url)))
    return out
