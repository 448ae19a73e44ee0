"""The status of every asset and source, as shown by `assets status` and lineage views.

fresh | stale (with reasons) | failed | quarantined | failed_checks | never, plus
the latest result of each check (warnings included).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from assets_core.catalog import Catalog, CatalogState
from assets_core.planner import Plan
from assets_core.project import Project


def asset_status(key: str, state: CatalogState, plan: Plan) -> str:
    st = state.assets.get(key)
    if st is not None and st.last_status == "quarantined":
        return "quarantined"
    if st is not None and st.checks_status == "failed":
        return "failed_checks"
    if st is not None and st.last_status == "failed":
        return "failed"
    if st is None or not st.published:
        return "never"
    if key in plan.stale:
        return "stale"
    return "fresh"


def _checks_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
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


def status_rows(
    project: Project,
    catalog: Catalog,
    selection: Iterable[str] | None,
    plan: Plan,
    state: CatalogState,
) -> list[dict[str, Any]]:
    """One dict per selected asset or source, in graph order."""
    from assets_core.catalog.checks import latest_results
    from assets_core.selection import select

    chosen = select(project.graph, list(selection or ()))
    checks = latest_results(catalog) if project.graph.checks else {}
    rows = []
    for key in project.graph.order:
        if key not in chosen:
            continue
        d = project.graph.defs[key]
        st = state.assets.get(key)
        if d.kind == "source":
            rows.append(
                {
                    "key": key,
                    "kind": "source",
                    "group": d.group,
                    "status": "source",
                    "version": plan.source_versions.get(key),
                    "published_at": None,
                    "last_attempt_at": None,
                    "reasons": [],
                    "checks": None,
                }
            )
            continue
        rows.append(
            {
                "key": key,
                "kind": d.kind,
                "group": d.group,
                "status": asset_status(key, state, plan),
                "version": st.data_version if st else None,
                "published_at": st.published_at if st else None,
                "last_attempt_at": st.last_attempt_at if st else None,
                "reasons": [r.as_dict() for r in plan.stale.get(key, ())],
                "checks": _checks_summary(checks[key]) if key in checks else None,
                "checks_status": st.checks_status if st else None,
            }
        )
    return rows
