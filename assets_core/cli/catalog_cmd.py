"""``assets catalog``: the catalog database's schema version, and upgrading it.

These commands read only the project's ``[tool.assets]`` table (or
``ASSETS_CATALOG_URL``), not its definitions, so they work while definitions
are broken. URLs are printed with their password masked.
"""

from __future__ import annotations

from typing import Any

import click

from assets_core.cli import cli, emit_json

JSON_OPT = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def _catalog_url(ctx: click.Context) -> str:
    from pathlib import Path

    from assets_core.project import find_root, read_config

    given = ctx.obj["project_dir"]
    root = find_root() if given is None else Path(given)
    return read_config(root).catalog_url


def _open_unchecked(ctx: click.Context) -> Any:
    from assets_core.catalog.catalog import Catalog

    return Catalog.open(_catalog_url(ctx), mark_interrupted=False, check_schema=False)


@cli.group()
def catalog() -> None:
    """The catalog database: its schema version, and upgrading it."""


@catalog.command()
@JSON_OPT
@click.pass_context
def version(ctx: click.Context, as_json: bool) -> None:
    """Show the catalog's schema version and the migrations it still needs."""
    from assets_core.catalog import migrate
    from assets_core.catalog.catalog import safe_url
    from assets_core.catalog.schema import SCHEMA_VERSION

    cat = _open_unchecked(ctx)
    try:
        with cat.engine.connect() as conn:
            found = migrate.read_version(conn)
    finally:
        cat.close()
    older = found.found is not None and 0 < found.found < SCHEMA_VERSION
    todo = migrate.pending(found) if older else []
    info = {
        "url": safe_url(cat.url),
        "schema_version": found.found,
        "required": SCHEMA_VERSION,
        "up_to_date": found.current,
        "pending": [{"revision": r, "description": d} for r, d in todo],
    }
    if as_json:
        emit_json(info)
        return
    click.echo(f"catalog {info['url']}")
    click.echo(f"schema version {found.found}, this assets-core needs {SCHEMA_VERSION}")
    if found.current:
        click.echo("up to date")
    for r, d in todo:
        click.echo(f"  pending {r}: {d}")
    if todo:
        click.echo("upgrade with: assets catalog upgrade")


@catalog.command()
@JSON_OPT
@click.pass_context
def upgrade(ctx: click.Context, as_json: bool) -> None:
    """Migrate the catalog to the schema this assets-core needs (Alembic).

    The upgrade runs in one transaction: if it fails, the catalog stays as it was.
    Stop other `assets` commands on this catalog first, and back it up.
    """
    from assets_core.catalog.catalog import safe_url

    cat = _open_unchecked(ctx)
    try:
        before, after = cat.upgrade()
    finally:
        cat.close()
    shown = safe_url(cat.url)
    if as_json:
        emit_json({"url": shown, "before": before, "after": after})
        return
    if before == after:
        click.echo(f"catalog {shown} is up to date (schema version {after})")
    elif before is None:
        click.echo(f"catalog {shown} created at schema version {after}")
    else:
        click.echo(f"catalog {shown} upgraded from schema version {before} to {after}")
