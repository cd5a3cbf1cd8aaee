"""The command line reference (``docs/cli.md``), written from the click commands themselves.

``python -m chainrule.cli_reference > docs/cli.md`` regenerates it; the test suite checks that
every command and option of the installed CLI appears in the file.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

__all__ = ["commands", "markdown"]


def commands() -> Iterator[tuple[str, click.Command]]:
    """``(full name, command)`` for every command and subcommand, in alphabetical order."""
    from chainrule.cli import main

    def walk(prefix: str, group: click.Group) -> Iterator[tuple[str, click.Command]]:
        ctx = click.Context(group, info_name=prefix)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            full = f"{prefix} {name}"
            yield full, command
            if isinstance(command, click.Group):
                yield from walk(full, command)

    yield from walk("chainrule", main)


def _help(full: str, command: click.Command) -> str:
    ctx = click.Context(command, info_name=full, terminal_width=100, max_content_width=100,
                        help_option_names=["-h", "--help"])
    return command.get_help(ctx)


def markdown() -> str:
    """The whole reference as Markdown: one section per command with its ``--help``."""
    from chainrule.cli import main

    lines = [
        "# Command line reference",
        "",
        "Every `chainrule` command with its `--help`, generated from the commands themselves "
        "(`python -m chainrule.cli_reference > docs/cli.md`).",
        "",
        "```text",
        _help("chainrule", main),
        "```",
    ]
    for full, command in commands():
        lines += ["", f"## `{full}`", "", "```text", _help(full, command), "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - the documented way to regenerate docs/cli.md
    click.echo(markdown(), nl=False)
