"""The CLI reference page, rendered from the ``assets`` command itself at build time.

mkdocs runs this file as a hook (``hooks:`` in mkdocs.yml): ``on_files`` adds the
page ``reference/cli.md``, written from the click group's own usage lines, help
texts and option help records, so the page cannot drift from the CLI.
"""

from __future__ import annotations

import re
from typing import Any

import click

PAGE = "reference/cli.md"
_MD_SPECIAL = re.compile(r"([\\*_\[\]<>])")


def _escape(text: str) -> str:
    """Escape Markdown outside `code spans`, which click help texts use for commands."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else _MD_SPECIAL.sub(r"\\\1", p) for p in parts)


def _help_blocks(text: str) -> list[str]:
    """Click help text as Markdown: paragraphs re-flowed, ``\\b`` blocks kept verbatim."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", click.unstyle(text).strip()):
        lines = para.splitlines()
        if lines and lines[0].strip() == "\b":
            body = "\n".join(lines[1:])
            indent = min((len(ln) - len(ln.lstrip()) for ln in lines[1:] if ln.strip()), default=0)
            body = "\n".join(ln[indent:] for ln in lines[1:])
            out.append(f"```text\n{body}\n```")
        else:
            out.append(_escape(" ".join(ln.strip() for ln in lines)))
    return out


def _options(cmd: click.Command, ctx: click.Context) -> list[str]:
    rows = []
    for param in cmd.get_params(ctx):
        record = None if isinstance(param, click.Argument) else param.get_help_record(ctx)
        if record is None:  # arguments are in the usage line; hidden options stay hidden
            continue
        names, help_text = record
        cell = _escape(help_text).replace("|", r"\|")
        rows.append(f"| `{names}` | {cell} |")
    if not rows:
        return []
    return ["| option | description |", "|---|---|", *rows]


def _arguments(cmd: click.Command) -> list[str]:
    return [p.human_readable_name for p in cmd.params if isinstance(p, click.Argument)]


def _command(cmd: click.Command, parent: click.Context, level: int) -> list[str]:
    """A heading, help, usage and options for ``cmd``, then the same for its subcommands."""
    # a child context inherits the group's settings (e.g. -h as well as --help)
    ctx = click.Context(cmd, info_name=cmd.name, parent=parent)
    name = ctx.command_path
    out = [f"{'#' * level} `{name}`", ""]
    if cmd.help:
        out += [block + "\n" for block in _help_blocks(cmd.help)]
    out += ["```text", cmd.get_usage(ctx).strip(), "```", ""]
    options = _options(cmd, ctx)
    if options:
        out += [*options, ""]
    if cmd.epilog:
        out += [block + "\n" for block in _help_blocks(cmd.epilog)]
    if isinstance(cmd, click.Group):
        for sub_name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                out += _command(sub, ctx, level + 1)
    return out


def commands(group: click.Group) -> list[str]:
    """Every visible command and subcommand of ``group`` as 'name sub', sorted as click lists them."""
    out: list[str] = []

    def walk(g: click.Group, prefix: list[str]) -> None:
        ctx = click.Context(g)
        for name in g.list_commands(ctx):
            cmd = g.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            out.append(" ".join([*prefix, name]))
            if isinstance(cmd, click.Group):
                walk(cmd, [*prefix, name])

    walk(group, [])
    return out


def render(group: click.Group, prog: str = "assets") -> str:
    """The whole reference page for ``group`` as Markdown."""
    ctx = group.make_context(prog, [], resilient_parsing=True)
    lines = [
        "# CLI reference",
        "",
        "This page is generated from the `assets` command itself when the site is built;",
        f"`{prog} COMMAND --help` prints the same text.",
        "",
    ]
    lines += [block + "\n" for block in _help_blocks(group.help or "")]
    lines += ["```text", group.get_usage(ctx).strip(), "```", ""]
    lines += [*_options(group, ctx), ""]
    lines += ["Commands:", ""]
    lines += [
        f"- [`{prog} {name}`](#{_anchor(prog + ' ' + name)})"
        for name in commands(group)
        if " " not in name
    ]
    lines.append("")
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is not None and not cmd.hidden:
            lines += _command(cmd, ctx, 2)
    return "\n".join(lines).rstrip() + "\n"


def _anchor(title: str) -> str:
    """The id Python-Markdown's toc extension gives a heading with this text."""
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", title).strip().lower())


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated CLI reference page."""
    from mkdocs.structure.files import File

    from assets_core.cli import load_commands

    files.append(File.generated(config, PAGE, content=render(load_commands())))
    return files
