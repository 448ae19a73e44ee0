"""Terminal output: rich tables, a live progress bar, plain lines when not a TTY."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:  # imported where used: `assets plan` and the like never show a bar
    from rich.progress import Progress

    from assets_core.executor import StepResult
    from assets_core.planner import Plan

console = Console(highlight=False, soft_wrap=True)
if not console.is_terminal:  # logs and pipes: do not squeeze tables into 80 columns
    console = Console(highlight=False, soft_wrap=True, width=160)

STATUS_STYLE = {
    "fresh": "green",
    "stale": "yellow",
    "never": "cyan",
    "failed": "red",
    "success": "green",
    "skipped": "dim",
    "running": "blue",
    "publishing": "blue",  # a table being committed in its engine, its record not settled yet
    "releasing": "blue",  # a quarantined table being swapped in by `assets quarantine release`
    "interrupted": "magenta",
    "source": "blue",
    "quarantined": "red",
    "failed_checks": "red",
    "checked": "green",
    "overdue": "dark_orange",
    "blocked": "red",
    "unobservable": "red",
    "warn": "yellow",
    "error": "red",
}


def styled(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def age(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "-"
    secs = max(0.0, (now or time.time()) - ts)
    if secs < 60:
        return f"{secs:.0f}s ago"
    if secs < 3600:
        return f"{secs / 60:.0f}m ago"
    if secs < 86400:
        return f"{secs / 3600:.1f}h ago"
    return f"{secs / 86400:.1f}d ago"


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def print_plan(plan: Plan, title: str = "Plan") -> None:
    if not plan.steps and not plan.blocked:
        console.print(
            f"[green]Nothing to do:[/green] {len(plan.fresh)} selected asset(s) are fresh."
        )
        return
    if plan.steps:
        from rich.table import Table

        table = Table(title=f"{title}: {len(plan.steps)} to materialize, {len(plan.fresh)} fresh")
        table.add_column("#", justify="right", style="dim")
        table.add_column("asset", style="bold")
        table.add_column("why")
        for i, step in enumerate(plan.steps, 1):
            why = "\n".join(f"[yellow]{r.kind}[/yellow] {r.detail}" for r in step.reasons)
            table.add_row(str(i), step.key, why)
        console.print(table)
    else:
        console.print(f"Nothing to materialize: {len(plan.fresh)} selected asset(s) are fresh.")
    print_blocked(plan)


def print_blocked(plan: Plan) -> None:
    """The assets that read a source that could not be observed, by source, with its error."""
    readers: dict[str, list[str]] = {}
    for key, source in plan.blocked.items():
        readers.setdefault(source, []).append(key)
    for source, keys in readers.items():
        one = len(keys) == 1
        console.print(
            f"[red bold]blocked:[/red bold] {', '.join(keys)} read{'s' if one else ''} source "
            f"{source}, which could not be observed; whether {'it is' if one else 'they are'} "
            f"stale cannot be told, and {'it' if one else 'they'} cannot run:",
            highlight=False,
        )
        console.print(f"  {plan.unobservable[source]}", markup=False, highlight=False)


class ProgressListener:
    """A live bar on a terminal; one plain line per asset otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.live = console.is_terminal
        self.started = time.perf_counter()
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> ProgressListener:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]materialize"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[current]}"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("run", total=self.total, current="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def step_started(self, key: str, index: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, current=key)

    def step_finished(self, result: StepResult, index: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1)
            if result.status in ("failed", "timed_out"):
                self._progress.console.print(f"[red]{result.status}[/red] {result.key}")
            return
        elapsed = time.perf_counter() - self.started
        extra = f" ({result.reason})" if result.reason else ""
        dv = f" {result.data_version[:12]}" if result.data_version else ""
        console.print(
            f"[{index + 1}/{total}] {result.key}: {result.status}{extra}{dv} "
            f"{result.duration_s:.2f}s (elapsed {elapsed:.1f}s)",
            markup=False,
        )


def print_outcomes(results: Any) -> None:
    """Failures and check problems of a run, each with what the user needs to act."""
    for r in results:
        if r.status in ("failed", "timed_out"):
            console.print(f"\n[red bold]{r.key} {r.status.replace('_', ' ')}[/red bold]")
            console.print(r.error or "", markup=False, highlight=False)
        for o in r.checks:
            if o.passed:
                continue
            level = "red" if o.check.blocking else "yellow"
            verdict = "BLOCKED by" if o.check.blocking else "warning from"
            console.print(
                f"[{level}]{r.key}: {verdict} check {o.check.name}[/{level}] "
                f"- {o.result.description}",
            )
            if o.error:
                console.print(o.error, markup=False, highlight=False)
            for row in list(o.result.sample)[:3]:
                console.print(f"    {row}", markup=False, highlight=False)
        if r.status == "quarantined":
            kept = (
                "the previous version stays published" if r.previous else "nothing is published yet"
            )
            console.print(
                f"[red]{r.key}: new version {r.data_version[:12]} quarantined; {kept}[/red] "
                f"(inspect: assets quarantine show {r.key})"
            )
