"""``assets status``: every asset's status, and with ``--freshness`` its freshness policy."""

from __future__ import annotations

from typing import Any

import click

from assets_core.cli import SELECTION_HELP, cli, emit_json
from assets_core.cli.commands import JSON_OPT, SELECTION_ARG, _open


@cli.command(epilog=SELECTION_HELP)
@SELECTION_ARG
@click.option(
    "--freshness",
    "freshness_only",
    is_flag=True,
    help="Only keys with a freshness policy: fresh / warn / error and how overdue. "
    "Exits 1 when any is in error (for cron jobs and CI).",
)
@JSON_OPT
@click.pass_context
def status(
    ctx: click.Context, selection: tuple[str, ...], freshness_only: bool, as_json: bool
) -> None:
    """Every asset: fresh, stale (with reasons), overdue, failed, quarantined,
    failed_checks, blocked (it reads a source that cannot be observed now) or never;
    every source: source, overdue or unobservable (with the error). The checks column
    shows the latest result of each check, warnings included.

    Freshness policies are evaluated against the catalog now (ASSETS_NOW, an ISO
    time or epoch seconds, pins "now"); each change of a key's freshness state is
    recorded as an event.
    """
    from rich.table import Table

    from assets_core.cli.render import age, console, styled
    from assets_core.freshness import ERROR, STATES, current_time
    from assets_core.status import status_of_project

    project, catalog = _open(ctx)
    now = current_time()
    statuses = status_of_project(project, catalog, list(selection), now=now)
    if freshness_only:
        rows = [s for s in statuses if s.freshness is not None]
        in_error = [s.key for s in rows if s.freshness is not None and s.freshness.state == ERROR]
        if as_json:
            emit_json(
                {
                    "now": now,
                    "assets": [
                        {"key": s.key, "kind": s.kind, **s.freshness.as_dict()}  # type: ignore[union-attr]
                        for s in rows
                    ],
                    "error": in_error,
                }
            )
        else:
            table = Table(title=f"{project.root.name}: freshness of {len(rows)} keys")
            for col in ("key", "freshness", "overdue by", "last update", "policy"):
                table.add_column(col)
            for s in rows:
                fr = s.freshness
                assert fr is not None
                table.add_row(
                    s.key,
                    styled(fr.state),
                    fr.summary,
                    age(fr.last_update, now),
                    fr.policy,
                )
            console.print(table)
            counts = {st: sum(1 for s in rows if s.freshness.state == st) for st in STATES}  # type: ignore[union-attr]
            console.print(" | ".join(f"{styled(k)} {v}" for k, v in counts.items()))
        ctx.exit(1 if in_error else 0)
    if as_json:
        emit_json({"assets": [s.as_dict() for s in statuses]})
        return
    table = Table(title=f"{project.root.name}: {len(statuses)} assets and sources")
    for col in ("asset", "status", "published", "data version", "checks", "why"):
        table.add_column(col)
    for s in statuses:
        why = [f"{r.kind}: {r.detail}" for r in s.reasons]
        if s.freshness is not None and s.freshness.state != "fresh":
            why.insert(0, f"freshness {s.freshness.state}: {s.freshness.summary}")
        table.add_row(
            s.key,
            styled(s.status),
            age(s.updated_at, now),
            (s.version or "-")[:12],
            _checks_cell(s.checks, s.checks_status),
            "; ".join(why),
        )
    console.print(table)
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s.status] = counts.get(s.status, 0) + 1
    console.print(" | ".join(f"{styled(k)} {v}" for k, v in sorted(counts.items())))


def _checks_cell(summary: dict[str, Any] | None, checks_status: str | None = None) -> str:
    if not summary:
        return "-"
    parts = [f"{summary['passed']}/{summary['total']} passed"]
    if summary["failed"] and checks_status == "released":
        parts.append("released despite: " + ", ".join(summary["failed"]))
    elif summary["failed"]:
        parts.append("[red]failed: " + ", ".join(summary["failed"]) + "[/red]")
    if summary["warned"]:
        parts.append("[yellow]warn: " + ", ".join(summary["warned"]) + "[/yellow]")
    return "\n".join(parts)
