"""``assets events``: what happened to assets outside materializations, newest last.

Freshness state changes (kind ``freshness``), quarantine releases and discards are
appended to the catalog's ``events`` table as they happen; this command reads them.
"""

from __future__ import annotations

from typing import Any

import click

from assets_core.cli import cli, emit_json
from assets_core.cli.commands import JSON_OPT, _open
from assets_core.errors import AssetsError


@cli.command()
@click.argument("key", required=False)
@click.option("--kind", default=None, metavar="KIND", help="Only events of KIND, e.g. freshness.")
@click.option(
    "--since",
    default=None,
    metavar="DATE",
    help="Only events at or after DATE (ISO 8601, e.g. 2026-01-01 or 2026-01-01T06:00).",
)
@click.option("--limit", default=50, show_default=True, help="The newest N events.")
@JSON_OPT
@click.pass_context
def events(
    ctx: click.Context,
    key: str | None,
    kind: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Events of KEY (or of every key): freshness state changes, quarantine decisions.

    \b
    assets events bi/roas_daily --kind freshness     since when was it late?
    assets events --since 2026-01-05 --json          for a script

    Freshness events are recorded by `assets status` (and `lineage`) each time a
    key's state changes: fresh -> warn -> error -> fresh.
    """
    from rich.table import Table

    from assets_core.catalog.events import read_events
    from assets_core.cli.render import console, styled, when

    start = _since(since)
    project, catalog = _open(ctx)
    if key is not None and key not in project.graph.defs:
        from assets_core.selection import select

        (key,) = select(project.graph, key)  # a name, or a clear error with the closest keys
    found = read_events(catalog.engine, kind=kind, key=key, since=start, limit=limit)
    if as_json:
        emit_json(
            {
                "events": [
                    {
                        "id": e.id,
                        "at": e.at,
                        "kind": e.kind,
                        "key": e.key,
                        "run_id": e.run_id,
                        "user": e.user,
                        "payload": e.payload,
                    }
                    for e in found
                ]
            }
        )
        return
    if not found:
        console.print(
            "no events" + (f" of {key}" if key else "") + (f" of kind {kind}" if kind else "")
        )
        return
    table = Table(title=f"{project.root.name}: {len(found)} events (oldest first)")
    for col in ("at", "kind", "key", "what", "by"):
        table.add_column(col)
    for e in found:
        table.add_row(
            when(e.at), e.kind, e.key or "-", _what(e.kind, e.payload, styled), e.user or "-"
        )
    console.print(table)


def _what(kind: str, payload: Any, styled: Any) -> str:
    if not isinstance(payload, dict):
        return "" if payload is None else str(payload)
    if kind == "freshness":
        late = payload.get("overdue")
        move = f"{styled(payload.get('previous', '?'))} -> {styled(payload.get('state', '?'))}"
        text = move + (f", overdue by {late}" if late and late != "never updated" else "")
        if late == "never updated":
            text += ", never updated"
        return text + (f" ({payload['policy']})" if payload.get("policy") else "")
    return ", ".join(f"{k}={v}" for k, v in sorted(payload.items()))


def _since(since: str | None) -> float | None:
    if since is None:
        return None
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(since)
    except ValueError:
        raise AssetsError(
            f"--since {since!r} is not a date", hint="write it like 2026-01-01 or 2026-01-01T06:00"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
