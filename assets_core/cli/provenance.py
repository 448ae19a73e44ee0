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
    made = f" (fingerprint {info['fingerprint']})" if info["fingerprint"] else ""
    console.print(f"\n[bold]code version[/bold] {info['code_version']}{made}")
    for part in info["code"]:
        console.print(f"\n[cyan]{part['name']}[/cyan]  {part['file']}  digest {part['digest']}")
        if part["source"] is None:
            console.print("[dim](no source recorded for this part)[/dim]")
        elif console.is_terminal:
            lang = "sql" if str(part["file"]).endswith(".sql") else "python"
            syntax = Syntax(part["source"], lang, theme="ansi_dark", word_wrap=True)
            console.print(syntax, soft_wrap=False)
        else:  # exactly the text that was fingerprinted, not wrapped or cut
            console.print(part["source"], markup=False, highlight=False, soft_wrap=True)
    table = Table(title="inputs")
    for col in ("input", "data version", "follow"):
        table.add_column(col)
    for i in info["inputs"]:
        table.add_row(
            i["key"] + (" (source)" if i["kind"] == "source" else ""), i["data_version"], i["show"]
        )
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
    if info["audits"]:
        audits = Table(title="later audits of this version (assets check)")
        for col in ("run", "check", "result", "severity", "failing rows"):
            audits.add_column(col)
        for c in info["audits"]:
            result = "[green]passed[/green]" if c["passed"] else "[red]failed[/red]"
            rows = "-" if c["failing_rows"] is None else str(c["failing_rows"])
            audits.add_row(c["run_id"], c["check_name"], result, c["severity"], rows)
        console.print(audits)
    if info["error"]:
        console.print("\n[red]error[/red]")
        console.print(info["error"], markup=False)


def show_source(
    project: Any, catalog: Any, key: str, version: str | None, limit: int, as_json: bool
) -> None:
    """``assets show SOURCE [--version V]``: the versions observed of a source."""
    from rich.table import Table

    from assets_core.cli.render import console, when
    from assets_core.provenance import source_provenance, source_versions

    d = project.graph.defs[key]
    if version is not None:
        info = source_provenance(project, catalog, key, version)
        if as_json:
            emit_json(info)
            return
        console.print(f"[bold]{key}[/bold] (source) version {info['version']}")
        console.print(
            f"first seen {when(info['first_seen'])}, last seen {when(info['last_seen'])}, "
            f"in {info['observations']} observations"
        )
        table = Table(title=f"built from {key} at this version")
        for col in ("asset", "materialization", "status", "data version", "follow"):
            table.add_column(col)
        for b in info["built_from_it"]:
            dv = (b["data_version"] or "-")[:12]
            table.add_row(b["key"], str(b["materialization_id"]), b["status"], dv, b["show"])
        console.print(table if info["built_from_it"] else "nothing was built from it")
        return
    state = catalog.source_states().get(key)
    info = {
        "key": key,
        "kind": "source",
        "group": d.group,
        "defined_at": str(d.location),
        "path": d.path,
        "downstream": list(project.graph.downstream[key]),
        "version": state.version if state else None,
        "observed_at": state.observed_at if state else None,
        "changed_at": state.changed_at if state else None,
        "versions": source_versions(catalog, key, limit),
    }
    if as_json:
        emit_json(info)
        return
    console.print(f"[bold]{key}[/bold] (source, group {d.group}) defined at {d.location}")
    console.print(f"downstream: {', '.join(info['downstream']) or '-'}")
    if state is None:
        console.print(f"never observed (record its version with: assets observe {key})")
        return
    console.print(
        f"version {state.version}, changed {when(state.changed_at)}, "
        f"last observed {when(state.observed_at)}"
    )
    table = Table(title=f"versions of {key} (newest first)")
    for col in ("version", "first seen", "last seen", "observations"):
        table.add_column(col)
    for v in info["versions"]:
        table.add_row(
            v["version"], when(v["first_seen"]), when(v["last_seen"]), str(v["observations"])
        )
    console.print(table)
