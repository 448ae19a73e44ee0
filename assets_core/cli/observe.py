"""``assets observe``: record the current versions of sources."""

from __future__ import annotations

import click

from assets_core.cli import SELECTION_HELP, cli, emit_json
from assets_core.cli.commands import JSON_OPT, SELECTION_ARG, _open
from assets_core.errors import SelectionError


@cli.command(epilog=SELECTION_HELP)
@SELECTION_ARG
@JSON_OPT
@click.pass_context
def observe(ctx: click.Context, selection: tuple[str, ...], as_json: bool) -> None:
    """Record the current version of each source in SELECTION (all sources by default).

    A file source's version hashes its files (unchanged size and mtime: not read
    again); an observe= source's version is what its function returns. Every
    observation is recorded, changed or not; the planner compares the version it
    sees with the one each asset was built from (reason source_changed).
    """
    from rich.table import Table

    from assets_core.cli.render import console
    from assets_core.selection import select
    from assets_core.sources import observe_many

    project, catalog = _open(ctx)
    g = project.graph
    chosen = select(g, list(selection))
    keys = [k for k in g.sources if k in chosen]
    if not keys and not selection:  # nothing to observe is not a failure (cron: observe && ...)
        if as_json:
            emit_json({"sources": []})
        else:
            click.echo(f"{project.root.name} declares no source: nothing to observe")
        return
    if not keys:
        raise SelectionError(
            f"{' '.join(selection)!r} selects no source",
            hint=f"select sources, or the sources upstream of an asset: assets observe "
            f"+{selection[0]}",
        )
    found = observe_many(
        [g.defs[k] for k in keys], project.root, project.config.state_dir / "cache"
    )  # type: ignore[misc]
    changed = set(catalog.record_observations([(o.key, o.version) for o in found]))
    rows = [
        {"key": o.key, "version": o.version, "files": o.files, "changed": o.key in changed}
        for o in found
    ]
    if as_json:
        emit_json({"sources": rows})
        return
    table = Table(title=f"{project.root.name}: {len(rows)} sources observed")
    for col in ("source", "version", "files", ""):
        table.add_column(col)
    for r in rows:
        files = "-" if r["files"] is None else str(r["files"])
        mark = "[yellow]changed[/yellow]" if r["changed"] else "[dim]unchanged[/dim]"
        table.add_row(r["key"], r["version"][:12], files, mark)
    console.print(table)
