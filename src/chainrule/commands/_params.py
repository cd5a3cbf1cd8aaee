"""The command line's number types: every numeric option of every command is one of these.

Numbers are read in the active language (:func:`chainrule.i18n.parse_number`): in pt-BR
``--lr 0,5`` is 0.5. Lists keep the comma between items (``--sizes 784,30,10``); in pt-BR a list
of decimals may separate items with ``;`` (``--weights 0,8;-0,6``), and ``--weights 1,5`` is
refused with both readings. Each refuses what cannot be meant (``nan``, ``inf``, a value out
of range, an empty layer in ``784,,10``) while the command line is parsed, with click's one-line
usage error naming the option (exit status 2), before any work starts.
"""

from __future__ import annotations

import math
from typing import Any

import click

from chainrule.i18n import AmbiguousNumber, _, language, number, parse_number

__all__ = [
    "ANY_NUMBER", "BATCH", "COUNT", "FLOATS", "LEARNING_RATE", "LIMIT", "MOMENTUM",
    "NON_NEGATIVE", "PORT", "SAMPLES", "SECONDS", "SEED", "SIZES", "WEIGHT_SCALE",
    "FiniteFloat", "LayerSizes", "Numbers",
]

MAX_UNITS = 100_000
"""Units in one layer."""
MAX_LAYERS = 1_000


class FiniteFloat(click.ParamType):
    """A finite number in a range; ``open_low``/``open_high`` exclude the bound itself."""

    name = "number"

    def __init__(self, low: float | None = None, high: float | None = None, *,
                 open_low: bool = False, open_high: bool = False) -> None:
        self.low, self.high = low, high
        self.open_low, self.open_high = open_low, open_high

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, bool):
            self.fail(_("{value!r} is not a number").format(value=value), param, ctx)
        if isinstance(value, (int, float)):
            x = float(value)
        else:
            try:
                x = parse_number(str(value))
            except AmbiguousNumber as exc:
                self.fail(str(exc), param, ctx)
            except (TypeError, ValueError, OverflowError):
                self.fail(_("{value!r} is not a number").format(value=value), param, ctx)
        if not math.isfinite(x):
            self.fail(_("{value!r} is not a finite number").format(value=value), param, ctx)
        too_low = self.low is not None and (x < self.low or (self.open_low and x == self.low))
        too_high = self.high is not None and (x > self.high or (self.open_high and x == self.high))
        if too_low or too_high:
            self.fail(_("{value} is not in {range}").format(value=number(x, "g"),
                                                           range=self.describe()), param, ctx)
        return x

    def describe(self) -> str:
        low = "-∞" if self.low is None else number(self.low, "g")
        high = "∞" if self.high is None else number(self.high, "g")
        # pt-BR writes intervals with a semicolon, since the comma is the decimal mark.
        sep = "; " if language() == "pt_BR" else ", "
        return f"{'(' if self.open_low else '['}{low}{sep}{high}{')' if self.open_high else ']'}"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "NUMBER"

    def __repr__(self) -> str:
        return f"FiniteFloat {self.describe()}"


class LayerSizes(click.ParamType):
    """``784,30,10``: at least two positive layer sizes, inputs first, no empty entries."""

    name = "sizes"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        parts = [p.strip() for p in str(value).split(",")]
        if any(not p for p in parts):
            self.fail(_("{value!r} has an empty layer; give sizes like 784,30,10").format(
                value=value), param, ctx)
        try:
            sizes = tuple(int(p) for p in parts)
        except ValueError:
            self.fail(_("sizes must be comma-separated integers like 784,30,10, got "
                        "{value!r}").format(value=value), param, ctx)
        if len(sizes) < 2:
            self.fail(_("sizes need at least two layers (inputs and outputs), got "
                        "{value!r}").format(value=value), param, ctx)
        if len(sizes) > MAX_LAYERS + 1:
            self.fail(_("at most {limit} hidden layers, got {count}").format(
                limit=number(MAX_LAYERS, ","), count=number(len(sizes) - 2, ",")), param, ctx)
        if min(sizes) < 1 or max(sizes) > MAX_UNITS:
            self.fail(_("every layer needs 1 to {limit} units, got {value!r}").format(
                limit=number(MAX_UNITS, ","), value=value), param, ctx)
        return sizes

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "784,30,…,10"


class Numbers(click.ParamType):
    """``0.8,-0.6,1.3``: comma-separated finite numbers (each checked like `FiniteFloat`)."""

    name = "numbers"

    def __init__(self, item: FiniteFloat | None = None) -> None:
        self.item = item or FiniteFloat()

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[float, ...]:
        if isinstance(value, tuple):
            return value
        text = str(value)
        if language() == "pt_BR" and ";" in text:
            parts = [p.strip() for p in text.split(";")]
        else:
            parts = [p.strip() for p in text.split(",")]
            if language() == "pt_BR" and len(parts) == 2 and all(p.isdigit() for p in parts):
                self.fail(_("{value!r} is ambiguous: the number {decimal} (decimal comma) or the "
                            "list {first} and {second}; write {point} for the number, or "
                            "{first};{second} for the list").format(
                    value=text, decimal=text, first=parts[0], second=parts[1],
                    point=text.replace(",", ".")), param, ctx)
        if any(not p for p in parts):
            self.fail(_("{value!r} has an empty entry; give numbers like 0.8,-0.6,1.3").format(
                value=value), param, ctx)
        for p in parts:
            try:
                parse_number(p)
            except ValueError:
                self.fail(_("{value!r} is not a comma-separated list of numbers").format(
                    value=value), param, ctx)
        return tuple(self.item.convert(p, param, ctx) for p in parts)


ANY_NUMBER = FiniteFloat()
LEARNING_RATE = FiniteFloat(0, 1e6, open_low=True)
NON_NEGATIVE = FiniteFloat(0, 1e6)
"""Penalties such as weight decay and λ."""
MOMENTUM = FiniteFloat(0, 1, open_high=True)
WEIGHT_SCALE = FiniteFloat(0, 1e6)
SECONDS = FiniteFloat(0, 86_400, open_low=True)
SEED = click.IntRange(0, 2**32 - 1)
COUNT = click.IntRange(1, 1_000_000)
"""Epochs, seeds, grid points and other counts."""
BATCH = click.IntRange(1, 10_000_000)
SAMPLES = click.IntRange(1, 10_000_000)
LIMIT = click.IntRange(1, 10_000_000)
PORT = click.IntRange(0, 65535)
SIZES = LayerSizes()
FLOATS = Numbers()
