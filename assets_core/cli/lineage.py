"""``assets lineage``: the graph around a key as a text tree, JSON, DOT, SVG or PNG."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from assets_core.cli import SELECTION_HELP, cli
from assets_core.cli.commands import _open
from assets_core.errors import AssetsError
from assets_core.lineage import FORMATS

_SUFFIX_FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".json": "json"}


@cli.command(epilog=SELECTION_HELP)
@click.argument("selection", nargs=-1)
@click.option(
    "--upstream",
    type=click.IntRange(min=0),
    default=None,
    help="Levels upstream to show (default: all around a single KEY, none otherwise).",
)
@click.option(
    "--downstream",
    type=click.IntRange(min=0),
    default=None,
    help="Levels downstream to show (default: all around a single KEY, none otherwise).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="text (default), json, dot, svg or png; -o FILE with a known suffix picks it.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.")
@click.option("--columns", is_flag=True, help="Column-level lineage instead of assets.")
@click.option(
    "--column",
    "column",
    default=None,
    metavar="COL",
    help="Which upstream columns feed column COL of KEY, walked across SQL and Python assets.",
)
@click.option(
    "--checks/--no-checks",
    default=True,
    show_default=True,
    help="Show each asset's checks as nodes, with their latest result.",
)
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.pass_context
def lineage(
    ctx: click.Context,
    selection: tuple[str, ...],
    upstream: int | None,
    downstream: int | None,
    fmt: str | None,
    output: str | None,
    columns: bool,
    column: str | None,
    checks: bool,
    as_json: bool,
) -> None:
    """The lineage of KEY (or of a SELECTION, or of the whole project).

    \b
    assets lineage bi/roas_daily                      tree upstream and downstream
    assets lineage bi/roas_daily --upstream 2 --downstream 1 -o roas.svg
    assets lineage --format png -o graph.png          the whole project
    assets lineage group:bi --json                    nodes and edges for other tools
    assets lineage bi/roas_daily --column roas        which upstream columns feed roas

    Nodes are coloured by status (fresh, stale, failed, quarantined, overdue,
    never), shaped by kind (asset, SQL asset, source, check) and grouped by group. SVG
    and PNG need graphviz's `dot` program; DOT and JSON do not.
    """
    import json

    from assets_core import lineage as lin
    from assets_core.freshness import current_time
    from assets_core.selection import select
    from assets_core.status import status_of_project

    if as_json:
        fmt = "json"
    if fmt is None:
        fmt = _SUFFIX_FORMATS.get(Path(output).suffix.lower(), "text") if output else "text"
    project, catalog = _open(ctx)
    if column is not None:
        _column_tree(project, catalog, selection, column, as_json or fmt == "json", output)
        return
    g = project.graph
    chosen = select(g, list(selection))
    focus = _focus(selection, chosen)
    if focus is not None:  # around one key an unset direction is shown whole
        keys = lin.neighbourhood(g, chosen, upstream, downstream)
    elif upstream is not None or downstream is not None:
        keys = lin.neighbourhood(g, chosen, upstream or 0, downstream or 0)
    else:
        keys = set(chosen)
    now = current_time()
    statuses = {s.key: s for s in status_of_project(project, catalog, now=now)}
    col_edges = lin.column_edges(catalog, keys, project=project) if columns else None
    view = lin.build_view(
        g,
        statuses,
        keys,
        focus=focus,
        now=now,
        column_edges=col_edges,
        checks=checks,
        depths=(upstream, downstream),
    )
    title = project.root.name + (f": {focus}" if focus else "")
    if fmt == "text":
        text = lin.render_text(view) if not columns else _columns_text(view)
        _write(output, (text + "\n").encode())
    elif fmt == "json":
        _write(output, (json.dumps(view.as_dict(), indent=2) + "\n").encode())
    elif fmt == "dot":
        _write(output, lin.to_dot(view, title=title).encode())
    else:
        if output is None and sys.stdout.isatty():
            raise AssetsError(
                f"{fmt.upper()} is binary or long: write it to a file",
                hint=f"assets lineage {' '.join(selection)} --format {fmt} -o graph.{fmt}",
            )
        _write(output, lin.render_image(lin.to_dot(view, title=title), fmt))
    if output is not None:
        click.echo(f"wrote {output} ({len(view.nodes)} nodes, {len(view.edges)} edges)", err=True)


@cli.command(name="openlineage")
@click.option(
    "--since",
    default=None,
    metavar="DATE",
    help="Only materializations started at or after DATE (ISO 8601, e.g. 2026-01-01).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.")
@click.pass_context
def openlineage_(ctx: click.Context, since: str | None, output: str | None) -> None:
    """Export the history of materializations as OpenLineage run events (JSON lines).

    Each materialization gives a START and a COMPLETE, FAIL or ABORT event, with the
    same run ids as the events sent live when [tool.assets] openlineage is set.
    """
    from datetime import UTC, datetime

    from assets_core.openlineage import export_lines, history_events

    start = None
    if since is not None:
        try:
            when = datetime.fromisoformat(since)
        except ValueError:
            raise AssetsError(
                f"--since {since!r} is not a date",
                hint="write it like 2026-01-01 or 2026-01-01T06:00",
            ) from None
        start = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    project, catalog = _open(ctx)
    lines = export_lines(history_events(project, catalog, since=start))
    if output is None:
        for line in lines:
            click.echo(line)
        return
    text = "".join(line + "\n" for line in lines)
    _write(output, text.encode())
    click.echo(f"wrote {output} ({text.count(chr(10))} events)", err=True)


def _focus(selection: tuple[str, ...], chosen: frozenset[str]) -> str | None:
    """The key when the selection names exactly one asset or source by key or name."""
    if len(selection) == 1 and len(chosen) == 1 and not any(c in selection[0] for c in "+:,*?["):
        return next(iter(chosen))
    return None


def _columns_text(view: object) -> str:
    from assets_core.lineage import NO_COLUMNS_NOTE, LineageView

    assert isinstance(view, LineageView)
    if not view.column_edges:
        return NO_COLUMNS_NOTE
    return "\n".join(
        f"{e.downstream}.{e.column}  <-  {e.upstream}.{e.upstream_column}"
        for e in view.column_edges
    )


def _write(output: str | None, data: bytes) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as e:
        raise AssetsError(
            f"cannot write {path}: {e.strerror}", hint="choose another -o FILE"
        ) from None


def _column_tree(
    project: object,
    catalog: object,
    selection: tuple[str, ...],
    column: str,
    as_json: bool,
    output: str | None,
) -> None:
    """``assets lineage KEY --column COL``: the tree of upstream columns feeding KEY.COL."""
    import json

    from assets_core.lineage_columns import column_lineage, render_text
    from assets_core.selection import select

    g = project.graph  # type: ignore[attr-defined]
    keys = [selection[0]] if len(selection) == 1 and selection[0] in g.defs else None
    if keys is None:
        keys = sorted(select(g, list(selection))) if selection else []
    if len(keys) != 1:
        raise AssetsError(
            "--column COL follows one asset's column",
            hint="name exactly one asset: assets lineage bi/roas_daily --column roas",
        )
    tree = column_lineage(project, catalog, keys[0], column)
    if as_json:
        body = {"key": tree.key, "column": tree.column, "tree": tree.as_dict()}
        body["edges"] = tree.edges()
        _write(output, (json.dumps(body, indent=2) + "\n").encode())
    else:
        _write(output, (render_text(tree) + "\n").encode())
