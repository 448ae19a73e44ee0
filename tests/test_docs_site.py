"""The docs site's reference pages cover what exists: every command, every public name."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import click

import assets_core
from assets_core.cli import load_commands

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _gen_cli() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _registered(group: click.Group, prefix: str = "assets") -> dict[str, click.Command]:
    """Every command reachable from ``group``, by its full name."""
    out: dict[str, click.Command] = {}
    for name, cmd in group.commands.items():
        out[f"{prefix} {name}"] = cmd
        if isinstance(cmd, click.Group):
            out.update(_registered(cmd, f"{prefix} {name}"))
    return out


def test_cli_reference_has_a_section_for_every_registered_command() -> None:
    page = _gen_cli().render(load_commands())
    headings = set(re.findall(r"^#+ `(assets[^`]*)`$", page, flags=re.MULTILINE))
    registered = _registered(load_commands())
    assert {"assets plan", "assets materialize", "assets quarantine release"} <= set(registered)
    assert set(registered) == headings


def test_cli_reference_shows_each_options_help_text() -> None:
    page = _gen_cli().render(load_commands())
    for name, cmd in _registered(load_commands()).items():
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert f"`{', '.join(param.opts)}" in page, f"{name}: {param.opts} missing"
                if param.help:
                    first_words = " ".join(param.help.split()[:3])
                    assert first_words in page.replace("\\", ""), f"{name} {param.opts}"


def test_cli_reference_usage_lines_are_what_help_prints() -> None:
    from click.testing import CliRunner

    group = load_commands()
    page = _gen_cli().render(group)
    for name in _registered(group):
        result = CliRunner().invoke(group, [*name.split()[1:], "--help"], prog_name="assets")
        assert result.exit_code == 0, result.output
        usage = result.output.splitlines()[0]
        assert f"```text\n{usage}\n```" in page, f"{name}: {usage!r} not on the page"


def test_cli_reference_keeps_unwrapped_help_blocks_verbatim() -> None:
    page = _gen_cli().render(load_commands())
    assert "```text\nassets quarantine list\nassets quarantine show KEY\n" in page


def test_api_reference_documents_every_public_name() -> None:
    page = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: assets_core\.(\w+)$", page, flags=re.MULTILINE))
    public = {n for n in assets_core.__all__ if not n.startswith("_")}
    assert public - documented == set(), "add them to docs/reference/api.md"


def test_readme_lists_every_command() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    for name in load_commands().commands:
        assert f"assets {name}" in readme, f"README does not list `assets {name}`"
