"""``chainrule export``: a view of the explorer as one self-contained HTML file (an offline lesson).

The file holds the page, its style, its scripts and the numbers, and works from ``file://``
with no network and nothing installed: hand it to a class, open it on a phone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from chainrule.commands.circuit import _BINDING, _bindings
from chainrule.i18n import _, number

_EPILOG = """\b
Examples:
  chainrule export circuit "(x+y)*z" --at x=-2 y=5 z=-4 -o lesson.html
  chainrule export circuit --example neuron-sigmoid --practice -o practice.html
  chainrule export chain --depth 8 --activation tanh -o chain.html
  chainrule export vanishing --depth 10 -o vanishing.html
  chainrule export diagnose --depth 10 --activation relu --init he -o doctor.html
"""

_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
_PREPROCESSINGS = ("raw", "scale", "standardize")


def _number_text(v: float) -> str:
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def _write(path: Path, kind: str, answers: dict[str, Any], state: dict[str, str],
           title: str) -> None:
    from chainrule.web.lesson import lesson_html

    html = lesson_html(kind, answers, state, title)
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise click.FileError(str(path), hint=exc.strerror or str(exc)) from None
    click.echo(_("wrote {path} ({size} KB): open it in any browser, no network needed").format(
        path=path, size=number(len(html.encode()) / 1024, ",.0f")))


def _computed(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """An answer of the explorer's own functions; a refused request is a one-line error."""
    from chainrule.errors import ChainruleError
    from chainrule.web.server import ApiError

    try:
        return fn()
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    except ChainruleError as exc:
        raise click.ClickException(str(exc)) from None


def _output_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-o", "--output", "output", required=True,
                        type=click.Path(dir_okay=False, path_type=Path),
                        help="The HTML file to write.")(f)


@click.group("export", epilog=_EPILOG)
def export() -> None:
    """Write a view of the explorer to ONE self-contained HTML file that works offline."""


@export.command("circuit", context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, metavar="EXPR [NAME=VALUE]...")
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE",
              help="Input values, e.g. --at x=-2 y=5 z=-4.")
@click.option("--example", "example_name", metavar="NAME", help="A circuit from the notes.")
@click.option("--exercise", "exercise_seed", type=click.IntRange(min=0), metavar="SEED",
              help="A random practice circuit (the same SEED gives the same one).")
@click.option("--practice", is_flag=True, help="Open the lesson in practice mode.")
@_output_option
def circuit(words: tuple[str, ...], at: tuple[str, ...], example_name: str | None,
            exercise_seed: int | None, practice: bool, output: Path) -> None:
    """A circuit with its step-through of the backward pass and practice mode."""
    from chainrule.web.server import Limits, circuit_payload, meta_payload, parse_payload

    options = [w for w in words if w.startswith("--")]
    if options:
        raise click.NoSuchOption(options[0])
    text_words = [w for w in words if not _BINDING.match(w)]
    values = _bindings([*at, *(w for w in words if _BINDING.match(w))])
    chosen = [x for x in (text_words or None, example_name, exercise_seed) if x is not None]
    if len(chosen) != 1:
        raise click.UsageError(_("give one of EXPR, --example NAME or --exercise SEED"))
    body: dict[str, Any] = {"at": values}
    if text_words:
        body["expression"] = " ".join(text_words)
    elif example_name is not None:
        body["example"] = example_name
    else:
        body["exercise"] = exercise_seed
    limits = Limits()
    answer = _computed(lambda: circuit_payload(body, limits))
    parsed = _computed(lambda: parse_payload({"expression": answer["expression"]}, limits))
    state = {"expr": answer["expression"],
             "at": ",".join(f"{k}:{_number_text(v)}" for k, v in answer["at"].items())}
    if practice:
        state["practice"] = "1"
    answers = {"/api/meta": meta_payload(limits), "/api/parse": parsed, "/api/circuit": answer}
    _write(output, "circuit", answers, state, f"f = {answer['expression']}")


def _network_options(f: Callable[..., Any]) -> Callable[..., Any]:
    from chainrule.nn.init import INITS

    for option in reversed([
        click.option("--depth", type=int, default=5, show_default=True, help="Hidden layers."),
        click.option("--width", type=int, default=30, show_default=True,
                     help="Units per hidden layer."),
        click.option("--activation", type=click.Choice(_ACTIVATIONS), default="sigmoid",
                     show_default=True),
        click.option("--init", type=click.Choice(tuple(INITS)), default="nielsen",
                     show_default=True),
        click.option("--weight-scale", type=float, default=1.0, show_default=True,
                     help="Multiplies every initial weight."),
        click.option("--preprocess", type=click.Choice(_PREPROCESSINGS), default="scale",
                     show_default=True, help="Input scaling."),
    ]):
        f = option(f)
    return _output_option(f)


_PARTS = {
    "chain": ("/api/chain",),
    "diagnose": ("/api/diagnose",),
    "vanishing": ("/api/vanishing", "/api/chain", "/api/diagnose"),
}


def _network_lesson(kind: str, depth: int, width: int, activation: str, init: str,
                    weight_scale: float, preprocess: str, output: Path) -> None:
    from chainrule.web.server import (
        Limits,
        chain_payload,
        diagnose_payload,
        meta_payload,
        vanishing_payload,
    )

    limits = Limits()
    body = {"depth": depth, "width": width, "activation": activation, "init": init,
            "weight_scale": weight_scale, "preprocess": preprocess}
    compute: dict[str, Callable[[dict[str, Any], Limits], dict[str, Any]]] = {
        "/api/vanishing": vanishing_payload, "/api/chain": chain_payload,
        "/api/diagnose": diagnose_payload}
    answers: dict[str, Any] = {"/api/meta": meta_payload(limits)}
    for path in _PARTS[kind]:
        fn = compute[path]
        answers[path] = _computed(lambda: fn(body, limits))  # noqa: B023 (called at once)
    state = {"depth": str(depth), "width": str(width), "act": activation, "init": init,
             "ws": _number_text(weight_scale), "pre": preprocess}
    what = {"chain": _("the chain of factors"), "diagnose": _("the diagnosis"),
            "vanishing": _("vanishing gradients")}[kind]
    title = (_("{what}: {depth} hidden layers of {width} {activation} units, {init} init")
             if kind != "chain" else _("{what}: {depth} {activation} neurons, {init} init")
             ).format(what=what, depth=depth, width=width, activation=activation, init=init)
    _write(output, kind, answers, state, title)


@export.command("chain")
@_network_options
def chain(**options: Any) -> None:
    """The chain network's factors w·φ'(z), one neuron per layer (Nielsen's product)."""
    _network_lesson("chain", **options)


@export.command("vanishing")
@_network_options
def vanishing(**options: Any) -> None:
    """The vanishing panel: per-layer gradient norms, the chain and the diagnosis."""
    _network_lesson("vanishing", **options)


@export.command("diagnose")
@_network_options
def diagnose(**options: Any) -> None:
    """The diagnosis of a freshly initialised network: findings and suggestions."""
    _network_lesson("diagnose", **options)
