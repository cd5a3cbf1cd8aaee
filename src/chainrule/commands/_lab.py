"""Helpers shared by the lab's commands (chain, vanishing, diagnose, study)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from chainrule.i18n import _, number, parse_number

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu")
INIT_NAMES = ("nielsen-large", "nielsen", "xavier", "he", "uniform")
PREPROCESS_NAMES = ("raw", "scale", "standardize")
LOSS_NAMES = ("cross-entropy", "quadratic", "softmax")

PLOT_HELP = "Save a plot to FILE (.png, .svg or .pdf)."
JSON_HELP = "Print one JSON object with the same data instead of tables."
# (Help texts are translated when drawn: see chainrule.commands._help.)


def emit_json(data: Any) -> None:
    """One JSON object on stdout; NaN/∞ become null so any JSON parser reads it."""
    from chainrule.lab._util import jsonable

    click.echo(json.dumps(jsonable(data), indent=2, allow_nan=False, ensure_ascii=False))


def floats(text: str | tuple[float, ...], hint: str) -> list[float]:
    """``"0.8,-0.6,1.3"`` → [0.8, -0.6, 1.3], or a usage error naming the option (values that
    an option's type already read pass through)."""
    if isinstance(text, tuple):
        return list(text)
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise click.BadParameter(_("give comma-separated numbers, e.g. 0.8,-0.6,1.3"),
                                 param_hint=hint)
    try:
        return [parse_number(p) for p in parts]
    except ValueError:
        raise click.BadParameter(_("{text!r} is not a comma-separated list of numbers").format(
            text=text), param_hint=hint) from None


def sizes(text: str | tuple[int, ...], hint: str = "--sizes") -> tuple[int, ...]:
    from chainrule.errors import ChainruleError
    from chainrule.nn import parse_sizes

    try:
        return parse_sizes(text)
    except ChainruleError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None


@contextmanager
def lab_errors() -> Iterator[None]:
    """Turn the library's errors into a clean message and exit status 1."""
    from chainrule.errors import ChainruleError

    try:
        yield
    except ChainruleError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; yields ``update(done, total)``."""
    if not enabled:
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (imported only when a plot is asked for)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> None:
    from chainrule import files

    plt = pyplot()
    try:
        files.save_figure(fig, path, dpi=130, bbox_inches="tight")
    except (OSError, ValueError) as exc:
        raise click.FileError(str(path), hint=str(exc)) from None
    finally:
        plt.close(fig)


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def numbers_table(title: str, columns: Sequence[str], **column_options: Any) -> Any:
    """The lab's result table: title on the left, a rule under the header, numbers right-aligned
    (``column_options`` go to every column)."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in columns:
        table.add_column(name, justify="right", **column_options)
    return table


def fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "—"
    if x == 0.0:
        return "0"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return number(x, f".{digits - 1}e")
    return number(x, f".{digits}g")
