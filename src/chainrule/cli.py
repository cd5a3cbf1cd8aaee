"""The `chainrule` command line: a click group whose subcommands load only when used.

Each subcommand lives in its own module under ``chainrule.commands`` so that ``chainrule --help``
and one command never import the whole library (matplotlib, the web stack, …).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from typing import Any

import click

from chainrule.commands._help import LocalizedCommand, localize, translate_click
from chainrule.i18n import LANGUAGES, chosen, set_language, use_language

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


class LazyGroup(LocalizedCommand, click.Group):
    """A group that imports a subcommand's module the first time it is asked for; its help and
    its subcommands' help are drawn in the active language."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        # A process that runs several commands (tests, a notebook) never keeps a run's language.
        with use_language(chosen()):
            words = list(sys.argv[1:] if args is None else args)
            early = _early_language(words)
            if early is not None:
                # --help may come before --lang; both are eager, so choose the language first.
                with contextlib.suppress(ValueError):  # the option's callback reports it
                    set_language(early)
            return super().main(words, *rest, **kwargs)

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
        return localize(command)


def _early_language(words: list[str]) -> str | None:
    """The value of the group's ``--lang`` among ``words`` (before the subcommand), if any."""
    for k, word in enumerate(words):
        if word == "--lang" and k + 1 < len(words):
            return words[k + 1]
        if word.startswith("--lang="):
            return word.partition("=")[2]
        if not word.startswith("-"):
            return None  # the subcommand: its options are its own
    return None


def _available(name: str) -> bool:
    module_name = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


def _choose_language(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # Every run chooses afresh (None: the environment decides); LazyGroup.main gives the
    # previous choice back once the run, its error message included, is over.
    try:
        set_language(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


_LANG_CHOICES = ", ".join(code.replace("_", "-") for code in LANGUAGES)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chainrule")
@click.option("--lang", metavar="LANG", is_eager=True, expose_value=False,
              callback=_choose_language,
              help=f"Language of the output ({_LANG_CHOICES}); default: CHAINRULE_LANG, then "
                   "LC_ALL, LC_MESSAGES, LANG. --json keys stay English.")
def main() -> None:
    """chainrule: see backpropagation work, and find out why a deep net is not learning."""


translate_click()
localize(main)


if __name__ == "__main__":  # pragma: no cover
    main()
