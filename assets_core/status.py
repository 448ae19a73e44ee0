"""The status of every asset and source, as ``assets status`` and ``assets lineage`` show it.

One status per key, the most urgent first:

=================  ==========================================================
``quarantined``    the latest version failed a blocking check and was kept aside
``failed_checks``  the published version fails a blocking check (``assets check``)
``failed``         the latest attempt failed
``blocked``        it reads a source that cannot be observed now (with the error)
``never``          nothing published yet
``overdue``        its freshness policy is in warn or error
``stale``          the planner would rebuild it (with reasons)
``fresh``          up to date
``source``         a source (``overdue`` when its freshness policy says so)
``unobservable``   a source whose ``observe=`` function fails now (with the error)
=================  ==========================================================

Each asset also carries the latest result of each of its checks (warnings
included). Freshness is evaluated from the catalog: an asset's last update is its
latest published materialization, a source's the latest observation that saw a
change. Each change of a key's freshness state is recorded as a ``freshness`` event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assets_core.freshness import FRESH, FreshnessResult, current_time, evaluate
from assets_core.planner import SOURCE_UNOBSERVABLE, Plan, Reason

if TYPE_CHECKING:
    from assets_core.catalog import Catalog, CatalogState
    from assets_core.project import Project

STATUSES = (
    "quarantined",
    "failed_checks",
    "failed",
    "blocked",
    "never",
    "overdue",
    "stale",
    "fresh",
    "source",
    "unobservable",
)
FRESHNESS_EVENT = "freshness"


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetStatus:
    key: str
    kind: str
    group: str
    status: str
    version: str | None  # published data version, or a source's observed version
    updated_at: float | None  # latest publication, or a source's latest observed change
    last_attempt_at: float | None
    reasons: tuple[Reason, ...]
    freshness: FreshnessResult | None
    checks: dict[str, Any] | None = None  # latest result of each check, see checks_summary
    checks_status: str | None = None  # passed | warned | failed | released

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "group": self.group,
            "status": self.status,
            "version": self.version,
            "published_at": self.updated_at,
            "last_attempt_at": self.last_attempt_at,
            "reasons": [r.as_dict() for r in self.reasons],
            "freshness": self.freshness.as_dict() if self.freshness is not None else None,
            "checks": self.checks,
            "checks_status": self.checks_status,
        }


def compute_status(
    project: Project,
    catalog: Catalog,
    selection: str | Sequence[str] | None = None,
    *,
    now: float | None = None,
) -> list[AssetStatus]:
    """The status of every selected key, in graph order (reads the catalog, writes nothing)."""
    from assets_core.catalog.checks import latest_results
    from assets_core.executor import make_plan
    from assets_core.selection import select

    g = project.graph
    now = current_time() if now is None else now
    state = catalog.state()
    p = make_plan(project, catalog, None, state=state)
    chosen = select(
        g, selection if selection is None or isinstance(selection, str) else list(selection)
    )
    sources = catalog.source_states() if g.sources else {}
    checks = latest_results(catalog) if g.checks else {}
    out: list[AssetStatus] = []
    for key in g.order:
        if key not in chosen:
            continue
        d = g.defs[key]
        policy = getattr(d, "freshness", None)  # every kind of definition may not have one
        if d.kind == "source":
            seen = sources.get(key)
            changed_at = seen.changed_at if seen is not None else None
            fr = evaluate(policy, changed_at, now) if policy is not None else None
            error = p.unobservable.get(key)
            status = "overdue" if fr is not None and fr.state != FRESH else "source"
            out.append(
                AssetStatus(
                    key=key,
                    kind=d.kind,
                    group=d.group,
                    status="unobservable" if error is not None else status,
                    version=p.source_versions.get(key),
                    updated_at=changed_at,
                    last_attempt_at=seen.observed_at if seen is not None else None,
                    reasons=(Reason(SOURCE_UNOBSERVABLE, error),) if error is not None else (),
                    freshness=fr,
                )
            )
            continue
        st = state.assets.get(key)
        published_at = st.published_at if st is not None and st.published else None
        fr = evaluate(policy, published_at, now) if policy is not None else None
        reasons = p.stale.get(key, ())
        if key in p.blocked:
            source = p.blocked[key]
            reasons = (Reason(SOURCE_UNOBSERVABLE, p.unobservable[source], source),)
        status = asset_status(key, state, p)
        if status in ("stale", "fresh") and fr is not None and fr.state != FRESH:
            status = "overdue"
        out.append(
            AssetStatus(
                key=key,
                kind=d.kind,
                group=d.group,
                status=status,
                version=st.data_version if st is not None else None,
                updated_at=published_at,
                last_attempt_at=st.last_attempt_at if st is not None else None,
                reasons=reasons,
                freshness=fr,
                checks=checks_summary(checks[key]) if key in checks else None,
                checks_status=st.checks_status if st is not None else None,
            )
        )
    return out


def asset_status(key: str, state: CatalogState, plan: Plan) -> str:
    """The status of asset ``key`` from the catalog and the plan, freshness aside."""
    st = state.assets.get(key)
    if st is not None and st.last_status == "quarantined":
        return "quarantined"
    if st is not None and st.checks_status == "failed":
        return "failed_checks"
    if st is not None and st.last_status in ("failed", "timed_out"):
        return "failed"
    if key in plan.blocked:
        return "blocked"
    if st is None or not st.published:
        return "never"
    if key in plan.stale:
        return "stale"
    return "fresh"


def checks_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [r["check_name"] for r in results if not r["passed"] and r["severity"] == "error"]
    warned = [r["check_name"] for r in results if not r["passed"] and r["severity"] == "warn"]
    return {
        "total": len(results),
        "passed": sum(1 for r in results if r["passed"]),
        "failed": failed,
        "warned": warned,
        "results": [
            {
                "check": r["check_name"],
                "passed": r["passed"],
                "severity": r["severity"],
                "failing_rows": r["failing_rows"],
                "description": r["description"],
            }
            for r in results
        ],
    }


@dataclass(frozen=True, slots=True)
class Transition:
    key: str
    previous: str
    state: str


def record_freshness_changes(
    catalog: Catalog, statuses: Iterable[AssetStatus], *, now: float | None = None
) -> list[Transition]:
    """Record a ``freshness`` event for each key whose state differs from its last event.

    A key without an earlier event counts as having been fresh, so a project whose
    policies all hold records nothing.
    """
    from assets_core.catalog.events import latest_per_key, record_events

    evaluated = [s for s in statuses if s.freshness is not None]
    if not evaluated:
        return []
    last = latest_per_key(catalog.engine, FRESHNESS_EVENT)
    changes: list[Transition] = []
    items = []
    for s in evaluated:
        fr = s.freshness
        assert fr is not None
        before = last.get(s.key)
        previous = (before.payload or {}).get("state", FRESH) if before is not None else FRESH
        if fr.state == previous:
            continue
        changes.append(Transition(s.key, previous, fr.state))
        items.append((FRESHNESS_EVENT, s.key, {"previous": previous, **fr.as_dict()}))
    if items:
        record_events(catalog.writer, items, at=now)
    return changes


def status_of_project(
    project: Project,
    catalog: Catalog,
    selection: str | Sequence[str] | None = None,
    *,
    now: float | None = None,
) -> list[AssetStatus]:
    """:func:`compute_status`, then record the freshness changes it saw (what the CLI uses)."""
    now = current_time() if now is None else now
    statuses = compute_status(project, catalog, selection, now=now)
    record_freshness_changes(catalog, statuses, now=now)
    return statuses
