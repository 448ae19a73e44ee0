"""`assets check` and `assets quarantine`: audit published values, decide on quarantined ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from assets_core.cli import SELECTION_HELP, cli, emit_json
from assets_core.cli.commands import _open
from assets_core.errors import AssetsError


def _asset_key(project: Any, key: str) -> str:
    from assets_core.selection import select

    if key in project.graph.defs:
        return key
    found = select(project.graph, key)
    if len(found) != 1:
        raise AssetsError(f"{key!r} names {len(found)} assets", hint="give one full asset key")
    return next(iter(found))


@cli.command(name="check", epilog=SELECTION_HELP)
@click.argument("selection", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_context
def check_cmd(ctx: click.Context, selection: tuple[str, ...], as_json: bool) -> None:
    """Run the checks of SELECTION on what is published now, and record the results.

    Nothing is recomputed. A blocking check that fails on a published value marks
    the asset failed_checks and blocks its downstream until it is fixed or released
    (assets quarantine release KEY --reason ...). Exit code 1 when one fails.
    """
    from assets_core.cli.render import console, print_outcomes, styled
    from assets_core.executor import audit

    project, catalog = _open(ctx)
    result = audit(project, catalog, list(selection))
    if as_json:
        emit_json(
            {
                "run_id": result.run_id,
                "status": result.status,
                "assets": [
                    {
                        "key": r.key,
                        "status": r.status,
                        "data_version": r.data_version,
                        "checks": [o.as_dict() for o in r.checks],
                    }
                    for r in result.results
                ],
            }
        )
        ctx.exit(result.exit_code)
    if not result.results:
        console.print("No published asset with checks in the selection.")
        return
    for r in result.results:
        passed = sum(1 for o in r.checks if o.passed)
        console.print(f"{r.key}: {styled(r.status)} ({passed}/{len(r.checks)} checks passed)")
    print_outcomes(result.results)
    ctx.exit(result.exit_code)


@cli.group()
def quarantine() -> None:
    """Versions that failed a blocking check: list, inspect, release or discard them.

    \b
      assets quarantine list
      assets quarantine show KEY
      assets quarantine release KEY --reason "checked with finance: refunds are expected"
      assets quarantine discard KEY
    """


@quarantine.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_context
def q_list(ctx: click.Context, as_json: bool) -> None:
    """Quarantined versions, and published versions whose checks fail now."""
    from rich.table import Table

    from assets_core.catalog.checks import failing_published, quarantined
    from assets_core.cli.render import age, console

    _, catalog = _open(ctx)
    rows = quarantined(catalog)
    failing = failing_published(catalog)
    if as_json:
        emit_json(
            {
                "quarantined": [_version(r) for r in rows],
                "failed_checks": [
                    {"key": r["key"], "materialization_id": r["materialization_id"]}
                    for r in failing
                ],
            }
        )
        return
    if not rows and not failing:
        console.print("Nothing is quarantined.")
        return
    table = Table(title="quarantine")
    for col in ("asset", "version", "materialization", "run", "when", "state"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["key"],
            (r["data_version"] or "-")[:12],
            str(r["id"]),
            r["run_id"],
            age(r["ended_at"]),
            "quarantined (never published)",
        )
    for r in failing:
        table.add_row(
            r["key"],
            (r["data_version"] or "-")[:12],
            str(r["materialization_id"]),
            "-",
            age(r["published_at"]),
            "published, fails its checks",
        )
    console.print(table)


def _version(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": r["key"],
        "materialization_id": r["id"],
        "run_id": r["run_id"],
        "data_version": r["data_version"],
        "ended_at": r["ended_at"],
        "rows": r["rows"],
    }


@quarantine.command(name="show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_context
def q_show(ctx: click.Context, key: str, as_json: bool) -> None:
    """Check results and failing-row samples of KEY's quarantined version."""
    from assets_core.catalog.checks import quarantined, results_for
    from assets_core.cli.render import console

    project, catalog = _open(ctx)
    key = _asset_key(project, key)
    rows = quarantined(catalog, key)
    if not rows:
        state = catalog.state().assets.get(key)
        if state is None or state.checks_status != "failed":
            raise AssetsError(
                f"{key} has no quarantined version", hint="see: assets quarantine list"
            )
        mids = [state.materialization_id]
        header = f"{key}: published version {state.data_version} fails its checks"
    else:
        mids = [rows[0]["id"]]
        header = (
            f"{key}: quarantined version {rows[0]['data_version']} "
            f"(materialization {rows[0]['id']}, run {rows[0]['run_id']})"
        )
    results = results_for(catalog, key, mids)
    latest: dict[str, dict[str, Any]] = {}
    for r in results:
        latest.setdefault(r["check_name"], r)
    if as_json:
        emit_json(
            {"key": key, "versions": [_version(r) for r in rows], "checks": list(latest.values())}
        )
        return
    console.print(header, markup=False)
    for r in latest.values():
        mark = (
            "[green]pass[/green]"
            if r["passed"]
            else ("[red]FAIL[/red]" if r["severity"] == "error" else "[yellow]warn[/yellow]")
        )
        console.print(f"  {mark} {r['check_name']}: {r['description'] or ''}")
        if r["error"]:
            console.print(r["error"], markup=False)
        for s in (r["sample"] or [])[:5]:
            console.print(f"      {json.dumps(s, default=str)}", markup=False)
        expectations = (r["metadata"] or {}).get("expectations") if r["metadata"] else None
        for e in expectations or []:
            ok = "ok " if e["success"] else "BAD"
            console.print(
                f"      {ok} {e['expectation']} {e['kwargs']} observed={e['observed_value']}"
                f" unexpected={e['unexpected_count']}",
                markup=False,
            )


@quarantine.command(name="release")
@click.argument("key")
@click.option("--reason", required=True, help="Why this version may be published (recorded).")
@click.option("--id", "materialization_id", type=int, default=None, help="A specific version.")
@click.pass_context
def q_release(ctx: click.Context, key: str, reason: str, materialization_id: int | None) -> None:
    """Publish KEY's quarantined version anyway; records who (OS user) and why."""
    from assets_core.catalog.catalog import _os_user
    from assets_core.catalog.checks import release
    from assets_core.cli.render import console

    project, catalog = _open(ctx)
    key = _asset_key(project, key)
    done = release(
        catalog,
        key,
        user=_os_user(),
        reason=reason,
        materialization_id=materialization_id,
        publish=_table_publisher(project, catalog, key, materialization_id),
    )
    if not done:
        raise AssetsError(
            f"{key} has nothing quarantined to release", hint="see: assets quarantine list"
        )
    console.print(
        f"released {key} (materialization {done['materialization_id']}) by {_os_user()}: {reason}",
        markup=False,
    )


@quarantine.command(name="discard")
@click.argument("key")
@click.option("--reason", default="", help="Why (recorded).")
@click.pass_context
def q_discard(ctx: click.Context, key: str, reason: str) -> None:
    """Remove KEY's quarantined versions (their data is deleted from the store)."""
    from assets_core.catalog.catalog import _os_user
    from assets_core.catalog.checks import discard, ref_in_use
    from assets_core.cli.render import console
    from assets_core.executor import open_store

    project, catalog = _open(ctx)
    key = _asset_key(project, key)
    rows = discard(catalog, key, user=_os_user(), reason=reason)
    if not rows:
        raise AssetsError(f"{key} has nothing quarantined", hint="see: assets quarantine list")
    store = open_store(project, catalog)
    for r in rows:
        ref = r["value_ref"]
        if not ref or ref_in_use(catalog, ref):
            continue
        if ref.startswith("blob:"):
            catalog.delete_blobs([ref[5:]])
        elif ref.startswith("table:"):
            from assets_core.sql.table_store import drop_table

            drop_table(project, ref)
        else:
            path = store.path_of(ref)
            if path is not None:
                path.unlink(missing_ok=True)
    console.print(f"discarded {len(rows)} quarantined version(s) of {key}")


def _table_publisher(
    project: Any, catalog: Any, key: str, materialization_id: int | None
) -> Callable[[str, str], str] | None:
    """Swaps a quarantined staging table in, when the version to release is a table
    (other values are published by the catalog alone)."""
    from assets_core.catalog.checks import quarantined
    from assets_core.sql.table_store import is_table_ref, release_table

    versions = [v for v in quarantined(catalog, key) if materialization_id in (None, v["id"])]
    if not versions or not is_table_ref(versions[0]["value_ref"]):
        return None

    def publish(ref: str, data_version: str) -> str:
        return release_table(project, key, ref, data_version)

    return publish
