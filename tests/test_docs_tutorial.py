"""The tutorial (docs/tutorial.md) and the quickstart (docs/index.md) run as written,
and print what they show.

Their fenced blocks are replayed in order in an empty folder: a block with a
``title="PATH"`` writes that file (a later block with the same title replaces
it), and each ``$ command`` of a ``console`` block runs in a shell, with
``assets`` being this checkout's CLI. The lines a command's block shows after it
must be the lines it prints, in order, once the parts that differ from run to
run (run ids, hashes, timestamps, ages, durations, the project's absolute path)
are masked; a line ``...`` stands for any number of lines. ``$ echo $?`` asserts
the exit code of the command before it; any other command must exit 0.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import cli_env

DOCS = Path(__file__).resolve().parents[1] / "docs"
TUTORIAL = DOCS / "tutorial.md"
EXECUTED_PAGES = ("index.md", "tutorial.md")
HOME = "/home/you"  # where the reader runs `mkdir shop`

_FENCE = re.compile(r'^```(?P<lang>[\w-]*)(?:\s+title="(?P<title>[^"]+)")?\s*$')
_BOX = "│┃┏┓┗┛━─┳┻╇┡┩└┘┌┐┴┬├┤╋┼╭╮╰╯"
_MASKS = (
    (re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{8}\b"), "<run>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\b"), "<time>"),
    (re.compile(r"\b\d+(\.\d+)?[smhd] ago\b"), "<age> ago"),
    (re.compile(r"\b[0-9a-f]{8,}\b"), "<hex>"),
    (re.compile(r"\b\d+(\.\d+)?s\b"), "<duration>"),
)


@dataclass(frozen=True)
class Block:
    lang: str
    title: str | None
    text: str
    line: int  # 1-based line of the opening fence in the tutorial


@dataclass(frozen=True)
class Command:
    line: str  # the command as typed after "$ "
    expected: tuple[str, ...]  # the lines the tutorial shows after it
    where: int


def blocks(markdown: str) -> list[Block]:
    """The fenced code blocks of ``markdown``, in order."""
    out: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None or not m.group("lang"):
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        out.append(Block(m.group("lang"), m.group("title"), "\n".join(body) + "\n", start + 1))
        i += 1
    return out


def commands(block: Block) -> list[Command]:
    """The ``$ ...`` lines of a console block, each with the output shown after it."""
    out: list[Command] = []
    current: str | None = None
    shown: list[str] = []
    for ln in block.text.splitlines():
        if ln.startswith("$ "):
            if current is not None:
                out.append(Command(current, tuple(shown), block.line))
            current, shown = ln[2:].strip(), []
        elif current is not None:
            shown.append(ln)
    if current is not None:
        out.append(Command(current, tuple(shown), block.line))
    return out


def normalized(line: str, project: Path | None = None) -> list[str]:
    """The tokens of an output line, with what varies between runs masked."""
    if project is not None:
        line = line.replace(str(project), f"{HOME}/{project.name}")
    for pattern, mask in _MASKS:
        line = pattern.sub(mask, line)
    return line.translate({ord(c): " " for c in _BOX}).split()


def output_matches(expected: tuple[str, ...], actual: str, project: Path) -> str | None:
    """None when ``actual`` shows the ``expected`` lines; otherwise what differs."""
    want = [normalized(ln) for ln in expected]
    want = [w for w in want if w]
    got = [g for g in (normalized(ln, project) for ln in actual.splitlines()) if g]
    gi = 0
    for wi, w in enumerate(want):
        if w == ["..."]:
            # skip actual lines up to the one matching the next expected line
            nxt = next((x for x in want[wi + 1 :] if x != ["..."]), None)
            while gi < len(got) and got[gi] != nxt:
                gi += 1
            continue
        if gi >= len(got) or got[gi] != w:
            seen = " ".join(got[gi]) if gi < len(got) else "(end of output)"
            return f"expected line: {' '.join(w)}\n  actual line: {seen}"
        gi += 1
    if gi < len(got) and (not want or want[-1] != ["..."]):
        return f"unexpected extra line: {' '.join(got[gi])}"
    return None


def _assets_on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``assets`` is this checkout's CLI, run by this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "assets"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m assets_core.cli "$@"\n')
    script.chmod(0o755)
    env = cli_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_tutorial_shows_files_and_commands() -> None:
    found = blocks(TUTORIAL.read_text(encoding="utf-8"))
    titles = {b.title for b in found if b.title}
    assert {"pyproject.toml", "defs.py", "cleaning.py", "data/orders.csv"} <= titles
    ran = [c.line.split()[:2] for b in found if b.lang == "console" for c in commands(b)]
    for sub in ("plan", "materialize", "status", "show"):
        assert ["assets", sub] in ran, f"the tutorial never runs assets {sub}"


@pytest.mark.slow
@pytest.mark.parametrize("page", EXECUTED_PAGES)
def test_page_runs_as_written_and_prints_what_it_shows(page: str, tmp_path: Path) -> None:
    env = _assets_on_path(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    cwd = home
    last: subprocess.CompletedProcess[str] | None = None
    last_cmd = ""
    for block in blocks((DOCS / page).read_text(encoding="utf-8")):
        if block.title is not None:
            path = cwd / block.title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text, encoding="utf-8")
            continue
        if block.lang != "console":
            continue
        for cmd in commands(block):
            where = f"docs/{page}:{cmd.where}: $ {cmd.line}"
            if cmd.line == "echo $?":
                assert last is not None, f"{where}: no command before it"
                assert [ln for ln in cmd.expected if ln.strip()] == [str(last.returncode)], (
                    f"{where}: `{last_cmd}` exited {last.returncode}\n{last.stdout}{last.stderr}"
                )
                last = None  # its exit code has been asserted
                continue
            if last is not None:
                assert last.returncode == 0, (
                    f"`{last_cmd}` exited {last.returncode} and the tutorial does not say so "
                    f"(add `$ echo $?`)\n{last.stdout}{last.stderr}"
                )
            argv = shlex.split(cmd.line)
            if argv[0] == "cd":
                cwd = cwd / argv[1]
                last = None
                continue
            last_cmd = cmd.line
            last = subprocess.run(
                ["bash", "-c", cmd.line],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            diff = output_matches(cmd.expected, last.stdout + last.stderr, cwd)
            assert diff is None, f"{where}\n{diff}\n--- output:\n{last.stdout}{last.stderr}"
    assert last is None or last.returncode == 0, f"`{last_cmd}` exited {last.returncode}"
    assert (cwd / ".assets" / "catalog.db").is_file()


def test_output_comparison_ignores_run_ids_hashes_and_ages_but_not_reasons(tmp_path: Path) -> None:
    shown = (
        "│ 1 │ staging/orders │ source_changed raw/orders_csv: 1289db5e5436 -> d238cc85a921 │",
        "run 20261125-152937-45d60428 success in 0.23s: materialized 3",
    )
    same = (
        "│ 1 │ staging/orders   │ source_changed raw/orders_csv: 0123456789ab -> ba9876543210 │\n"
        "run 20270101-000000-0badcafe success in 12.5s: materialized 3\n"
    )
    assert output_matches(shown, same, tmp_path) is None
    other_reason = same.replace("source_changed", "code_changed")
    assert "expected line" in (output_matches(shown, other_reason, tmp_path) or "")
    assert "extra line" in (output_matches(shown, same + "failed 1\n", tmp_path) or "")
    assert output_matches(("...", shown[1]), same, tmp_path) is None
