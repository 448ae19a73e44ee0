"""OpenLineage run events for materializations, built with ``openlineage-python``.

Each materialization is one OpenLineage run of the job named by the asset key:
START when the step begins, then COMPLETE (published), FAIL (failed or
quarantined) or ABORT (skipped after it started). Inputs are the asset's
upstreams, the output is the asset itself; the output carries a schema facet
(columns of a DataFrame), a dataset version facet (the data version), a column
lineage facet where column edges are known and a data quality assertions facet
with its checks. The assets-core run is the parent run.

Turn emission on with ``[tool.assets] openlineage = "<url>"``: ``file:///path/events.jsonl``
appends JSON lines to a file, ``http(s)://host:port`` posts to ``/api/v1/lineage``.
``assets openlineage`` exports the same events from the catalog's history.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from assets_core.catalog.catalog import PUBLISHING
from assets_core.errors import AssetsError, MissingExtraError
from assets_core.run_observers import RunObserver

if TYPE_CHECKING:
    from assets_core.catalog import Catalog
    from assets_core.executor import StepResult
    from assets_core.planner import Plan
    from assets_core.project import Project

PRODUCER = "https://pypi.org/project/assets-core/"
_RUN_NS = uuid.UUID("6f1c8f0e-2b4e-5d0a-9c61-3b2f4a8d7e10")  # fixed: the same ids on every export
_END_STATE = {"success": "COMPLETE", "failed": "FAIL", "quarantined": "FAIL", "skipped": "ABORT"}


class OpenLineageError(AssetsError):
    """The ``openlineage`` setting cannot be used."""


def _ol() -> Any:
    try:
        from openlineage.client import event_v2, facet_v2
    except ImportError:
        raise MissingExtraError("openlineage-python", "openlineage", "OpenLineage events") from None
    return event_v2, facet_v2


def run_uuid(run_id: str, key: str | None = None) -> str:
    """The OpenLineage run id of asset ``key`` in assets run ``run_id`` (or of the run itself)."""
    return str(uuid.uuid5(_RUN_NS, f"{run_id}/{key}" if key else run_id))


def _url_namespace(url: str | None, engine: str) -> str:
    """``postgresql+psycopg://u:p@host:5432/db`` -> ``postgresql://host:5432`` (no secrets)."""
    if not isinstance(url, str):
        return f"{engine}://assets"  # the embedded default engine
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+", 1)[0]
    if parsed.hostname:
        port = f":{parsed.port}" if parsed.port else ""
        return f"{scheme}://{parsed.hostname}{port}"
    return f"{scheme}://{parsed.path}"


def _iso(ts: float | None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), UTC).isoformat()


class EventBuilder:
    """Builds OpenLineage events of one project from plain catalog rows."""

    def __init__(self, project: Project, catalog: Catalog) -> None:
        self.project = project
        self.catalog = catalog
        self.namespace = project.root.name
        self.event_v2, self.facets = _ol()

    # -- datasets -------------------------------------------------------------------------
    def dataset(self, key: str) -> tuple[str, str]:
        """(namespace, name) of the dataset of ``key``: where its data lives."""
        d = self.project.graph.defs.get(key)
        path = getattr(d, "path", None)
        if d is not None and d.kind == "source" and path:
            full = Path(path) if Path(path).is_absolute() else self.project.root / path
            return "file", str(full)
        if d is not None and d.kind == "source":
            return f"assets://{self.namespace}", key
        engine = getattr(d, "engine", None)
        if engine:  # a table in a database: the engine's URL names it
            spec = (self.project.config.raw.get("engines") or {}).get(engine)
            url = spec.get("url") if isinstance(spec, dict) else spec
            return _url_namespace(url, engine), getattr(d, "table", None) or key
        return "file", str(self.project.config.store_path / key)

    def _inputs(self, key: str, versions: Mapping[str, str]) -> list[Any]:
        ev, f = self.event_v2, self.facets
        out = []
        for up in self.project.graph.upstream.get(key, ()):
            ns, name = self.dataset(up)
            facets = {}
            if versions.get(up):
                facets["version"] = f.dataset_version_dataset.DatasetVersionDatasetFacet(
                    datasetVersion=versions[up]
                )
            out.append(ev.InputDataset(namespace=ns, name=name, facets=facets))
        return out

    def _output(self, key: str, row: Mapping[str, Any] | None, checks: list[dict]) -> Any:
        ev, f = self.event_v2, self.facets
        ns, name = self.dataset(key)
        facets: dict[str, Any] = {}
        if row is not None and row.get("data_version"):
            facets["version"] = f.dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=row["data_version"]
            )
        columns = json.loads(row["columns"]) if row is not None and row.get("columns") else None
        if columns:
            facets["schema"] = f.schema_dataset.SchemaDatasetFacet(
                fields=[
                    f.schema_dataset.SchemaDatasetFacetFields(name=str(c), type=str(t))
                    for c, t in columns
                ]
            )
        lineage = self._column_lineage(key, row)
        if lineage is not None:
            facets["columnLineage"] = lineage
        if checks:
            dq = f.data_quality_assertions_dataset
            facets["dataQualityAssertions"] = dq.DataQualityAssertionsDatasetFacet(
                assertions=[
                    dq.Assertion(
                        assertion=c["check_name"],
                        success=bool(c["passed"]),
                        severity=c.get("severity"),
                        description=c.get("description"),
                    )
                    for c in checks
                ]
            )
        return ev.OutputDataset(namespace=ns, name=name, facets=facets)

    def _column_lineage(self, key: str, row: Mapping[str, Any] | None) -> Any | None:
        edges = self._column_edges(key, row) if row is not None else None
        if not edges:
            return None
        cl = self.facets.column_lineage_dataset
        fields: dict[str, list[Any]] = {}
        for column, ups in edges.items():
            for up, up_col in ups:
                ns, name = self.dataset(up)
                fields.setdefault(column, []).append(
                    cl.InputField(namespace=ns, name=name, field=up_col)
                )
        return cl.ColumnLineageDatasetFacet(
            fields={c: cl.Fields(inputFields=ins) for c, ins in fields.items()}
        )

    def _column_edges(self, key: str, row: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """What fed each column of materialization ``row``: as recorded with that version,
        or computed now (and recorded) when the asset's code is still the code it ran."""
        from assets_core.catalog import column_lineage as store

        mid = row.get("id")
        if mid is None or row.get("status") != "success":
            return None
        recorded = store.load(self.catalog, [mid]).get(mid)
        if recorded is not None:
            return recorded["edges"]
        code = self.project.code_versions.get(key)
        if code is None or code.version != row.get("code_version"):
            return None  # built by other code: what fed its columns then is not known
        from assets_core.lineage_columns import edges_of

        info = edges_of(self.project, self.catalog, [key]).get(key)
        return info.edges if info is not None else None

    # -- events ---------------------------------------------------------------------------
    def _job(self, key: str) -> Any:
        ev, f = self.event_v2, self.facets
        d = self.project.graph.defs.get(key)
        facets: dict[str, Any] = {
            "jobType": f.job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="ASSETS_CORE", jobType="ASSET"
            )
        }
        if d is not None and d.location.line > 0:
            facets["sourceCodeLocation"] = f.source_code_location_job.SourceCodeLocationJobFacet(
                type="file", url=Path(d.location.file).resolve().as_uri()
            )
        return ev.Job(namespace=self.namespace, name=key, facets=facets)

    def _run(self, run_id: str, key: str, error: str | None = None) -> Any:
        ev, f = self.event_v2, self.facets
        pr = f.parent_run
        facets: dict[str, Any] = {
            "parent": pr.ParentRunFacet(
                run=pr.Run(runId=run_uuid(run_id)),
                job=pr.Job(namespace=self.namespace, name="assets.run"),
            )
        }
        if error:
            facets["errorMessage"] = f.error_message_run.ErrorMessageRunFacet(
                message=error.strip().splitlines()[-1][:1000],
                programmingLanguage="python",
                stackTrace=error,
            )
        return ev.Run(runId=run_uuid(run_id, key), facets=facets)

    def start(self, run_id: str, key: str, at: float, versions: Mapping[str, str]) -> Any:
        ev = self.event_v2
        return ev.RunEvent(
            eventType=ev.RunState.START,
            eventTime=_iso(at),
            run=self._run(run_id, key),
            job=self._job(key),
            inputs=self._inputs(key, versions),
            outputs=[self._output(key, None, [])],
            producer=PRODUCER,
        )

    def end(self, row: Mapping[str, Any], checks: list[dict[str, Any]] | None = None) -> Any:
        """The COMPLETE / FAIL / ABORT event of materialization ``row``."""
        ev = self.event_v2
        state = _END_STATE.get(row["status"], "OTHER")
        versions = json.loads(row["input_versions"]) if row.get("input_versions") else {}
        key = row["key"]
        return ev.RunEvent(
            eventType=getattr(ev.RunState, state),
            eventTime=_iso(row.get("ended_at")),
            run=self._run(row["run_id"], key, row.get("error") if state == "FAIL" else None),
            job=self._job(key),
            inputs=self._inputs(key, versions),
            outputs=[self._output(key, row, checks or [])],
            producer=PRODUCER,
        )

    def checks_of(self, materialization_id: int, key: str, run_id: str) -> list[dict[str, Any]]:
        """The checks run when the materialization was made (not later ``assets check`` runs)."""
        if not self.project.graph.checks_of(key):
            return []
        from assets_core.catalog.checks import results_for

        return results_for(self.catalog, key, [materialization_id], run_id=run_id)


def to_json(event: Any) -> str:
    from openlineage.client.serde import Serde

    return Serde.to_json(event)


# -- live emission ------------------------------------------------------------------------
def make_client(url: str, project_root: Path) -> Any:
    """An OpenLineage client for ``url`` (``file://...`` or ``http(s)://...``)."""
    parsed = urlparse(url)
    try:
        from openlineage.client import OpenLineageClient
        from openlineage.client.transport.file import FileConfig, FileTransport
        from openlineage.client.transport.http import HttpConfig, HttpTransport
    except ImportError:
        raise MissingExtraError("openlineage-python", "openlineage", "OpenLineage events") from None
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
        if not path.is_absolute() or parsed.netloc:
            path = project_root / (parsed.netloc + unquote(parsed.path)).lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        return OpenLineageClient(
            transport=FileTransport(FileConfig(log_file_path=str(path), append=True))
        )
    if parsed.scheme in ("http", "https"):
        config = HttpConfig(url=url, timeout=5.0, retry={"total": 0})
        return OpenLineageClient(transport=HttpTransport(config))
    raise OpenLineageError(
        f"[tool.assets] openlineage = {shown_url(url)!r}: unknown transport {parsed.scheme!r}",
        hint='use "file:///path/events.jsonl" or "http://host:5000"',
    )


def shown_url(url: str) -> str:
    """``url`` with the password of its user part masked, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}{port}"))


class OpenLineageEmitter(RunObserver):
    """Sends a START event when a step begins and its outcome when it ends."""

    def __init__(self, project: Project, catalog: Catalog, url: str) -> None:
        self.url = url
        self.builder = EventBuilder(project, catalog)
        self.client = make_client(url, project.root)
        self.catalog = catalog
        self.run_id = ""
        self.versions: dict[str, str] = {}
        self.open: set[str] = set()
        self.settling: list[str] = []  # tables published together at the end of the run
        self.warned = False

    def _emit(self, make: Callable[[], Any]) -> None:
        """Build an event with ``make`` and send it; a failure of either is a warning."""
        try:
            self.client.emit(make())
        except Exception as e:  # a lineage backend being down must not fail the run
            if not self.warned:
                self.warned = True
                print(
                    f"warning: OpenLineage events to {shown_url(self.url)} failed: "
                    f"{type(e).__name__}: {e}",
                    file=sys.stderr,
                )

    def run_started(self, run_id: str, plan: Plan) -> None:
        self.run_id = run_id
        state = self.catalog.state()
        self.versions = {k: s.data_version for k, s in state.assets.items() if s.data_version}
        self.versions.update(plan.source_versions)

    def step_started(self, key: str, index: int, total: int) -> None:
        self.open.add(key)
        at = time.time()
        self._emit(lambda: self.builder.start(self.run_id, key, at, self.versions))

    def step_finished(self, result: StepResult, index: int, total: int) -> None:
        self.open.discard(result.key)
        self.catalog.commit_pending()
        row = _latest_row(self.catalog, self.run_id, result.key)
        if row is None:
            return
        if row["status"] == PUBLISHING:  # its outcome is known when the run publishes it
            self.settling.append(result.key)
            if result.status == "success" and row.get("data_version"):
                self.versions[result.key] = row["data_version"]
            return
        if row.get("data_version") and row["status"] == "success":
            self.versions[result.key] = row["data_version"]
        self._end(row)

    def _end(self, row: Mapping[str, Any]) -> None:
        self._emit(
            lambda: self.builder.end(
                row, self.builder.checks_of(row["id"], row["key"], row["run_id"])
            )
        )

    def run_finished(self, run_id: str, status: str) -> None:
        for key in self.settling:
            row = _latest_row(self.catalog, run_id, key)
            if row is not None:
                self._end(row)
        for key in sorted(self.open):  # interrupted in the middle of a step
            row = {"key": key, "run_id": run_id, "status": "skipped", "ended_at": time.time()}
            self._emit(lambda row=row: self.builder.end(row))
        try:
            self.client.close()
        except Exception:  # closing a transport must not fail the run either
            pass


def _latest_row(catalog: Catalog, run_id: str, key: str) -> dict[str, Any] | None:
    from sqlalchemy import select

    from assets_core.catalog import schema as t

    m = t.materializations.c
    q = (
        select(t.materializations)
        .where(m.run_id == run_id, m.key == key)
        .order_by(m.id.desc())
        .limit(1)
    )
    with catalog.engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    return dict(row) if row is not None else None


# -- export -------------------------------------------------------------------------------
def history_events(
    project: Project, catalog: Catalog, *, since: float | None = None
) -> Iterator[Any]:
    """START and end events of every recorded materialization (skips excluded), oldest first."""
    from sqlalchemy import select

    from assets_core.catalog import schema as t

    builder = EventBuilder(project, catalog)
    m = t.materializations.c
    q = select(t.materializations).where(m.status != "skipped").order_by(m.id)
    if since is not None:
        q = q.where(m.started_at >= since)
    with catalog.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    for row in rows:
        versions = json.loads(row["input_versions"]) if row["input_versions"] else {}
        yield builder.start(row["run_id"], row["key"], row["started_at"], versions)
        yield builder.end(row, builder.checks_of(row["id"], row["key"], row["run_id"]))


def export_lines(events: Iterable[Any]) -> Iterator[str]:
    for e in events:
        yield to_json(e)
