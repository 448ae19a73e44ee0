"""``assets show KEY --version V``: how one version of an asset was produced."""

from __future__ import annotations

from typing import Any

from assets_core.cli import emit_json


def show_version(project: Any, catalog: Any, key: str, version: str, as_json: bool) -> None:
    from rich.syntax import Syntax
    from rich.table import Table

    from assets_core.cli.render import console, styled, when
    from assets_core.provenance import provenance

    info = provenance(project, catalog, key, version)
    if as_json:
        emit_json(info)
        return
    dv = info["data_version"] or "-"
    console.print(
        f"[bold]{key}[/bold] version {dv} (materialization {info['materialization_id']}, "
        f"{styled(info['status'])})"
    )
    run = info["run"]
    console.print(
        f"run {run['id']} ({run['command']}, {run['status']}) by {run['user']} on {run['host']}"
    )
    dur = f"{info['duration_s']:.3f}s" if info["duration_s"] is not None else "-"
    console.print(f"started {when(info['started_at'])}, ended {when(info['ended_at'])}, took {dur}")
    if info["rows"] is not None:
        console.print(f"rows {info['rows']}")
    console.print(f"\n[bold]code version[/bold] {info['code_version']}")
    for part in info["code"]:
        console.print(f"\n[cyan]{part['name']}[/cyan]  {part['file']}  digest {part['digest']}")
        if part["source"] is not None:
            console.print(Syntax(part["source"], "python", theme="ansi_dark", word_wrap=True))
        else:
            console.print("[dim](no source recorded for this part)[/dim]")
    table = Table(title="inputs")
    for col in ("input", "data version", "follow"):
        table.add_column(col)
    for i in info["inputs"]:
        table.add_row(i["key"], i["data_version"], i["show"] or f"({i['kind']})")
    console.print(table if info["inputs"] else "\ninputs: none")
    if info["checks"]:
        checks = Table(title="checks")
        for col in ("check", "result", "severity", "failing rows"):
            checks.add_column(col)
        for c in info["checks"]:
            result = "[green]passed[/green]" if c["passed"] else "[red]failed[/red]"
            rows = "-" if c["failing_rows"] is None else str(c["failing_rows"])
            checks.add_row(c["check_name"], result, c["severity"], rows)
        console.print(checks)
    if info["error"]:
        console.print("\n[red]error[/red]")
        console.print(info["error"], markup=False)
