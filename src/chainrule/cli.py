"""The `chainrule` command line: a click group whose subcommands load only when used.

Each subcommand lives in its own module under ``chainrule.commands`` so that ``chainrule --help``
and one command never import the whole library (matplotlib, the web stack, …).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

# name -> "module:attribute" of a click command; modules import lazily.
COMMANDS: dict[str, str] = {
    "demo": "chainrule.commands.demo:demo",
    "circuit": "chainrule.commands.circuit:circuit",
    "train": "chainrule.commands.train:train",
    "data": "chainrule.commands.data:data",
    "chain": "chainrule.commands.chain:chain",
    "vanishing": "chainrule.commands.vanishing:vanishing",
    "diagnose": "chainrule.commands.diagnose:diagnose",
    "study": "chainrule.commands.study:study",
    "serve": "chainrule.commands.serve:serve",
    "sweep": "chainrule.commands.sweep:sweep",
    "export": "chainrule.commands.export:export",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module the first time it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command: Any = getattr(module, attr)
        return command


def _available(name: str) -> bool:
    module_name = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chainrule")
def main() -> None:
    """chainrule: see backpropagation work, and find out why a deep net is not learning."""


if __name__ == "__main__":  # pragma: no cover
    main()
