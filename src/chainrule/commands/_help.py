"""Help texts of the command line in the active language.

Click keeps every help text as written (English); these classes translate it each time a help
page or an error is drawn, so one process can answer in English and in Portuguese (tests, the
web). :func:`localize` gives a command tree these classes in one place, and
:func:`translate_click` routes click's own words ("Usage:", "Options", its error messages)
through the same catalog.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from chainrule.i18n import _, ngettext

# click's modules that bind gettext's functions at import time.
_CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types",
                  "utils")


def help_message(text: str | None) -> str | None:
    """The catalog's key of a help text: click's own normalisation (``inspect.cleandoc``)."""
    return None if text is None else inspect.cleandoc(text)


def _translated_help(text: str | None) -> str | None:
    key = help_message(text)
    return None if key is None else _(key)


@contextmanager
def _shown(obj: Any, *attributes: str) -> Iterator[None]:
    """Translate ``obj``'s help attributes for the duration of one drawing."""
    saved = {name: getattr(obj, name) for name in attributes}
    try:
        for name, value in saved.items():
            if isinstance(value, str):
                setattr(obj, name, _translated_help(value))
        yield
    finally:
        for name, value in saved.items():
            setattr(obj, name, value)


class LocalizedCommand(click.Command):
    def get_short_help_str(self, limit: int = 45) -> str:
        with _shown(self, "help", "short_help"):
            return super().get_short_help_str(limit)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _shown(self, "help"):
            super().format_help_text(ctx, formatter)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _shown(self, "epilog"):
            super().format_epilog(ctx, formatter)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        # click makes --help once per command, with the words of that moment: draw it anew.
        option = super().get_help_option(ctx)
        if option is not None:
            option.__class__ = _localized_class(type(option), LocalizedOption)
            # Made (and cached) in whatever language was active then; keep the English key.
            option.help = "Show this message and exit."
        return option


class LocalizedOption(click.Option):
    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        with _shown(self, "help"):
            return super().get_help_record(ctx)


_CLASSES: dict[type, type] = {}


def _localized_class(cls: type, mixin: type) -> type:
    if issubclass(cls, mixin):
        return cls
    made = _CLASSES.get(cls)
    if made is None:
        made = type(f"Localized{cls.__name__}", (mixin, cls), {"__module__": __name__})
        _CLASSES[cls] = made
    return made


def localize(command: click.Command) -> click.Command:
    """Give ``command``, its options and its subcommands the translating classes (in place)."""
    stack = [command]
    while stack:
        cmd = stack.pop()
        cmd.__class__ = _localized_class(type(cmd), LocalizedCommand)
        for param in cmd.params:
            if isinstance(param, click.Option):
                param.__class__ = _localized_class(type(param), LocalizedOption)
        if isinstance(cmd, click.Group):
            stack.extend(cmd.commands.values())
    return command


def command_texts(command: click.Command) -> Iterator[str]:
    """Every help text of a command tree, as catalog keys (for extraction and checks)."""
    stack = [command]
    while stack:
        cmd = stack.pop()
        for text in (cmd.help, cmd.short_help, cmd.epilog):
            key = help_message(text)
            if key:
                yield key
        for param in cmd.params:
            key = help_message(getattr(param, "help", None))
            if key:
                yield key
        if isinstance(cmd, click.Group):
            stack.extend(cmd.commands.values())


def translate_click() -> None:
    """Route click's own messages through chainrule's catalog (idempotent)."""
    import importlib

    for name in _CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = _  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
