"""The subcommands of ``assets``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from assets_core.cli import SELECTION_HELP, cli, emit_json
from assets_core.cli.executors import executor_options
from assets_core.errors import AssetsError
from assets_core.project import Project

JSON_OPT = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
SELECTION_ARG = click.argument("selection", nargs=-1)


def _project(ctx: click.Context) -> Project:
    return Project.load(ctx.obj["project_dir"])


def _catalog(ctx: click.Context, project: Project) -> Any:
    """The project's catalog, closed when the command ends: the last connection to a
    SQLite catalog folds its write-ahead log back into the database file then, not
    at the interpreter's exit (see :func:`assets_core.cli.main`)."""
    from assets_core.executor import open_catalog

    catalog = open_catalog(project)
    ctx.call_on_close(catalog.close)
    return catalog


def _import_catalog() -> None:
    """Import what opening the catalog needs (SQLAlchemy: ~0.3 s)."""
    import assets_core.catalog.catalog  # noqa: F401


def _open(ctx: click.Context) -> tuple[Project, Any]:
    project = _project(ctx)
    return project, _catalog(ctx, project)


@cli.command(epilog=SELECTION_HELP)
@SELECTION_ARG
@click.option("--force", is_flag=True, help="Plan every selected asset, stale or not.")
@JSON_OPT
@click.pass_context
def plan(ctx: click.Context, selection: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Show what `materialize` would run, and why.

    Nothing is computed or written. Each step lists its reasons: never_materialized,
    code_changed, upstream_changed, upstream_will_change, source_changed,
    last_attempt_failed, forced. An asset that reads a source whose observe=
    function fails is shown as blocked, with the error (exit code 1); the rest is
    planned as usual.
    """
    from assets_core.executor import make_plan, peek_state

    project = _project(ctx)
    state = peek_state(project)  # the catalog is opened only when it needs settling
    catalog = _catalog(ctx, project) if state is None else None
    p = make_plan(project, catalog, list(selection), force=force, state=state)
    if as_json:
        emit_json(p.as_dict())
    else:
        from assets_core.cli.render import print_plan  # rich: for people, not for --json

        print_plan(p)
    ctx.exit(1 if p.blocked else 0)


def _open_engines_ahead(ctx: click.Context, project: Project, p: Any) -> None:
    """Open the DuckDB files the plan writes to while the catalog is being opened."""
    defs = [project.graph.defs[s.key] for s in p.steps]
    if not any(d.kind == "sql" or getattr(d, "io", None) for d in defs):
        return  # nothing imported for a project without tables
    from assets_core.sql.engines import close_ahead, engines_written, open_ahead

    open_ahead(engines_written(project.root, project.config.raw, defs))
    ctx.call_on_close(close_ahead)


def _step_dict(r: Any) -> dict[str, Any]:
    """One step of ``materialize --json``."""
    return {
        "key": r.key,
        "status": r.status,
        "reason": r.reason,
        "data_version": r.data_version,
        "changed": r.changed,
        "duration_s": r.duration_s,
        "error": r.error,
        "checks": [o.as_dict() for o in r.checks],
    }


@cli.command(epilog=SELECTION_HELP)
@SELECTION_ARG
@click.option("--force", is_flag=True, help="Rematerialize every selected asset.")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@executor_options
@JSON_OPT
@click.pass_context
def materialize(
    ctx: click.Context,
    selection: tuple[str, ...],
    force: bool,
    dry_run: bool,
    as_json: bool,
    **how: Any,
) -> None:
    """Materialize the stale assets of SELECTION (all by default).

    Upstreams outside the selection are read as they are published now. A failing
    asset skips what depends on it; independent branches still run (exit code 1).
    So does an asset that reads a source whose observe= function fails: it is
    skipped with the source's error.
    Runs may overlap: an asset another run is materializing is waited for and
    then taken as that run published it (or skipped with --no-wait).
    """
    from assets_core.executor import StepResult, execute, make_plan, peek_state

    if not as_json:  # rich: for people, not for --json
        from assets_core.cli.render import ProgressListener, console, print_outcomes, print_plan
    from assets_core.parallel import meanwhile

    # SQL that changed is parsed by a child; this process imports the catalog's library then
    with meanwhile(_import_catalog):
        project = _project(ctx)
    catalog = None
    state = peek_state(project)  # nothing stale (the common case) is found without opening it
    if state is not None:
        p = make_plan(project, None, list(selection), force=force, state=state)
    if state is None or (p.steps and not dry_run):
        if state is not None and not dry_run:
            _open_engines_ahead(ctx, project, p)
        catalog = _catalog(ctx, project)
        # all a run reads (a peek holds what a plan compares), and what changed since
        state = catalog.state()
        p = make_plan(project, catalog, list(selection), force=force, state=state)
    if dry_run:
        if as_json:
            emit_json(p.as_dict())
        else:
            print_plan(p, title="Dry run")
        ctx.exit(1 if p.blocked else 0)
    if not p.steps:
        status = "failed" if p.blocked else "success"
        if as_json:
            blocked = [_step_dict(StepResult(k, "skipped", p.blocked_reason(k))) for k in p.blocked]
            emit_json({"run_id": None, "status": status, "steps": blocked, "fresh": list(p.fresh)})
        else:
            print_plan(p, title="Nothing run")
            console.print(
                f"materialized 0 | skipped fresh {len(p.fresh)} | skipped {len(p.blocked)} | failed 0"
            )
        ctx.exit(1 if p.blocked else 0)
    from assets_core.cli.executors import backend_from_options

    assert catalog is not None  # opened above whenever there are steps to run
    started = time.perf_counter()
    backend = backend_from_options(**how)
    run_opts = {"backend": backend, "wait": how["wait"]}
    try:
        if as_json:
            result = execute(
                project, p, catalog, state=state, selection_text=" ".join(selection), **run_opts
            )
        else:
            with ProgressListener(len(p.steps)) as listener:
                result = execute(
                    project,
                    p,
                    catalog,
                    state=state,
                    listener=listener,
                    selection_text=" ".join(selection),
                    **run_opts,
                )
    finally:
        backend.close()
    elapsed = time.perf_counter() - started
    if as_json:
        emit_json(
            {
                "run_id": result.run_id,
                "status": result.status,
                "steps": [_step_dict(r) for r in result.results],
                "fresh": list(result.fresh),
            }
        )
    else:
        print_outcomes(result.results)
        skipped = [r for r in result.results if r.status == "skipped"]
        for r in skipped:
            console.print(f"skipped {r.key}: {r.reason}", markup=False, style="dim")
        style = "green" if result.status == "success" else "red"
        extra = "".join(
            f" | {label} {result.count(s)}"
            for s, label in (
                ("timed_out", "timed out"),
                ("quarantined", "quarantined"),
                ("checked", "re-checked"),
                ("failed_checks", "failed checks"),
            )
            if result.count(s)
        )
        console.print(
            f"[{style}]run {result.run_id} {result.status}[/{style}] in {elapsed:.2f}s: "
            f"materialized {result.count('success')} | skipped fresh {len(result.fresh)} | "
            f"skipped {len(skipped)} | failed {result.count('failed')}{extra}"
        )
    ctx.exit(result.exit_code)


@cli.command(name="list", epilog=SELECTION_HELP)
@SELECTION_ARG
@JSON_OPT
@click.pass_context
def list_(ctx: click.Context, selection: tuple[str, ...], as_json: bool) -> None:
    """List the project's assets and sources with their upstreams (reads no catalog)."""
    from rich.table import Table

    from assets_core.cli.render import console
    from assets_core.selection import select

    project = _project(ctx)
    chosen = select(project.graph, list(selection))
    snap = project.definitions_snapshot()
    items = [{"key": k, **v} for k, v in snap.items() if k in chosen]
    if as_json:
        emit_json({"assets": items})
        return
    table = Table(title=f"{project.root.name}: {len(items)} definitions")
    for col in ("key", "kind", "group", "tags", "upstream", "defined at"):
        table.add_column(col)
    for it in items:
        table.add_row(
            it["key"],
            it["kind"],
            it["group"],
            ", ".join(it["tags"]),
            ", ".join(it["upstream"] + [f"{d} (order)" for d in it["deps"]]),
            f"{it['file']}:{it['line']}",
        )
    console.print(table)


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many runs, newest first.")
@click.option("--run", "run_id", default=None, help="Show the steps of one run.")
@JSON_OPT
@click.pass_context
def runs(ctx: click.Context, limit: int, run_id: str | None, as_json: bool) -> None:
    """Recent runs (or, with --run ID, the steps of one run)."""
    from rich.table import Table

    from assets_core.cli.render import console, styled, when

    _, catalog = _open(ctx)
    if run_id:
        run = catalog.run(run_id)
        if run is None:
            raise AssetsError(f"no run {run_id!r}", hint="list runs with: assets runs")
        steps = catalog.steps(run_id)
        if as_json:
            emit_json({"run": run, "steps": steps})
            return
        table = Table(title=f"run {run_id} ({run['status']})")
        for col in ("asset", "status", "reason", "data version", "duration"):
            table.add_column(col)
        for s in steps:
            reason = s["reason"] if s["status"] == "skipped" else _reason_kinds(s["reason"])
            dur = f"{s['duration_s']:.3f}s" if s["duration_s"] is not None else "-"
            dv = (s["data_version"] or "-")[:12]
            table.add_row(s["key"], styled(s["status"]), reason or "", dv, dur)
        console.print(table)
        return
    rows = catalog.runs(limit)
    if as_json:
        emit_json({"runs": rows})
        return
    table = Table(title="runs")
    for col in ("run", "status", "started", "duration", "planned", "ok", "skipped", "failed"):
        table.add_column(col)
    for r in rows:
        dur = f"{r['ended_at'] - r['started_at']:.2f}s" if r["ended_at"] else "-"
        table.add_row(
            r["id"],
            styled(r["status"]),
            when(r["started_at"]),
            dur,
            str(r["planned"]),
            str(r["materialized"]),
            str(r["skipped"]),
            str(r["failed"]),
        )
    console.print(table)


def _reason_kinds(reason_json: str | None) -> str:
    if not reason_json:
        return ""
    try:
        return ", ".join(r["kind"] for r in json.loads(reason_json))
    except (ValueError, TypeError, KeyError):
        return reason_json


@cli.command()
@click.argument("key")
@click.option("--limit", default=20, show_default=True, help="How many versions, newest first.")
@click.option(
    "--version",
    "version",
    default=None,
    metavar="V",
    help="Provenance of one version (a data version prefix or a materialization id): "
    "code with its source, input versions, run, timings, checks.",
)
@JSON_OPT
@click.pass_context
def show(ctx: click.Context, key: str, limit: int, version: str | None, as_json: bool) -> None:
    """Version history of KEY: code and data versions, inputs, timings, errors.

    For a source: the versions observed, and with --version V when V was seen and
    which materializations were built from it.
    """
    from rich.table import Table

    from assets_core.cli.render import console, styled, when
    from assets_core.selection import select

    project, catalog = _open(ctx)
    (key,) = select(project.graph, key) if key not in project.graph else (key,)
    if project.graph.is_source(key):
        from assets_core.cli.provenance import show_source

        show_source(project, catalog, key, version, limit, as_json)
        return
    if version is not None:
        from assets_core.cli.provenance import show_version

        show_version(project, catalog, key, version, as_json)
        return
    d = project.graph.defs[key]
    state = catalog.state().assets.get(key)
    hist = catalog.history(key, limit)
    checks_by_version: dict[int | None, list[dict[str, Any]]] = {}
    if project.graph.checks_of(key):
        from assets_core.catalog.checks import results_for

        seen: set[tuple[int, str]] = set()
        for r in results_for(catalog, key, [h["id"] for h in hist]):  # newest first
            if (r["materialization_id"], r["check_name"]) in seen:
                continue
            seen.add((r["materialization_id"], r["check_name"]))
            checks_by_version.setdefault(r["materialization_id"], []).append(
                {
                    k: r[k]
                    for k in ("check_name", "passed", "severity", "failing_rows", "description")
                }
            )
    for h in hist:
        for col in ("code_parts", "input_versions", "columns", "checks_parts"):
            h[col] = json.loads(h[col]) if h.get(col) else None
        h["checks"] = checks_by_version.get(h["id"], [])
    info = {
        "key": key,
        "kind": d.kind,
        "group": d.group,
        "tags": sorted(d.tags),
        "defined_at": str(d.location),
        "upstream": list(project.graph.upstream[key]),
        "downstream": list(project.graph.downstream[key]),
        "code_version": project.code_versions.texts.get(key),
        "published": {
            "data_version": state.data_version,
            "materialization_id": state.materialization_id,
            "published_at": state.published_at,
        }
        if state and state.published
        else None,
        "history": hist,
    }
    if as_json:
        emit_json(info)
        return
    console.print(f"[bold]{key}[/bold] ({d.kind}, group {d.group}) defined at {d.location}")
    console.print(f"upstream: {', '.join(info['upstream']) or '-'}")
    console.print(f"downstream: {', '.join(info['downstream']) or '-'}")
    console.print(f"current code version: {info['code_version']}")
    pub = info["published"]
    console.print(
        f"published: {pub['data_version']} (materialization {pub['materialization_id']})"
        if pub
        else "published: nothing yet"
    )
    table = Table(title=f"history of {key}")
    for col in ("id", "run", "status", "started", "code", "data", "rows", "inputs", "checks"):
        table.add_column(col)
    for h in hist:
        inputs = ", ".join(f"{u}@{v[:8]}" for u, v in (h["input_versions"] or {}).items())
        status = h["status"]
        if h["status"] == "skipped":
            status = f"skipped ({h['reason']})"
        table.add_row(
            str(h["id"]),
            h["run_id"],
            styled(status) if h["status"] != "skipped" else status,
            when(h["started_at"]),
            (h["code_version"] or "-")[:10],
            (h["data_version"] or "-")[:10],
            str(h["rows"]) if h["rows"] is not None else "-",
            inputs,
            _version_checks(h["checks"]),
        )
    console.print(table)
    failures = [h for h in hist if h["status"] == "failed" and h["error"]]
    if failures:
        console.print(f"\n[red]latest error[/red] (materialization {failures[0]['id']}):")
        console.print(failures[0]["error"], markup=False)


def _version_checks(results: list[dict[str, Any]]) -> str:
    if not results:
        return ""
    bad = [
        f"{'FAIL' if r['severity'] == 'error' else 'warn'} {r['check_name']}"
        for r in results
        if not r["passed"]
    ]
    return f"{len(results) - len(bad)}/{len(results)} passed" + "".join(f"\n{b}" for b in bad)


@cli.command()
@click.option(
    "--keep", default=3, show_default=True, help="Unpublished versions to keep per asset."
)
@click.option("--dry-run", is_flag=True, help="List what would be removed.")
@JSON_OPT
@click.pass_context
def gc(ctx: click.Context, keep: int, dry_run: bool, as_json: bool) -> None:
    """Remove old, unpublished versions from the store (published ones are never touched)."""
    from assets_core.cli.render import console
    from assets_core.executor import open_store

    project, catalog = _open(ctx)
    store = open_store(project, catalog)
    published, per_key = catalog.value_refs()
    keepers = set(published)
    for refs in per_key.values():
        keepers.update([r for r in refs if r not in published][:keep])
    remove_files: list[Path] = []
    remove_blobs: list[str] = []
    for refs in per_key.values():
        for ref in refs:
            if ref in keepers:
                continue
            if ref.startswith("blob:"):
                # like files, list only what is still there (an earlier gc may have run)
                if ref[5:] not in remove_blobs and catalog.blob(ref[5:]) is not None:
                    remove_blobs.append(ref[5:])
            else:
                path = store.path_of(ref)
                if path is not None and path.exists():
                    remove_files.append(path)
    root = project.config.store_path
    if root.exists():
        remove_files += [p for p in root.rglob(".staging-*.tmp")]
    if not dry_run:
        for path in remove_files:
            path.unlink(missing_ok=True)
        catalog.delete_blobs(remove_blobs)
    freed = sum(p.stat().st_size for p in remove_files if p.exists()) if dry_run else None
    if as_json:
        emit_json(
            {
                "removed_files": [str(p) for p in remove_files],
                "removed_blobs": remove_blobs,
                "dry_run": dry_run,
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb} {len(remove_files)} file(s) and {len(remove_blobs)} inline value(s)"
        + (f" ({freed} bytes)" if freed is not None else "")
    )
