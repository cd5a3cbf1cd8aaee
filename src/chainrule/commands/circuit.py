"""``chainrule circuit``: one row per gate of an expression's circuit, and its pictures."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import click

from chainrule.errors import ChainruleError
from chainrule.i18n import (
    N_,
    AmbiguousNumber,
    _,
    expression_numbers,
    number,
    parse_number,
)

_BINDING = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.ASCII)
# Bindings may be joined by commas (x=1,y=2); a comma not followed by NAME= belongs to the number
# (x=1,5 in pt-BR), and parse_number decides what it means in the active language.
_NEXT_BINDING = re.compile(r",(?=\s*[A-Za-z_][A-Za-z0-9_]*=)", re.ASCII)

_EPILOG = """\b
Examples:
  chainrule circuit "(x+y)*z" --at x=-2 y=5 z=-4
  chainrule circuit "sigmoid(w0*x0 + w1*x1 + w2)" --at w0=2 x0=-1 w1=-3 x1=-2 w2=-3 --check
  chainrule circuit --example staged --steps --svg staged.svg
  chainrule circuit --example fanout --json
  chainrule circuit "(x+y)*z" --at x=-2 y=5 z=-4 --quiz
  chainrule circuit --exercise 7 --quiz
"""


def _bindings(tokens: list[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for token in tokens:
        for part in filter(None, (p.strip() for p in _NEXT_BINDING.split(token))):
            m = _BINDING.match(part.strip(" ,"))
            if m is None:
                raise click.BadParameter(_("{part!r} is not NAME=NUMBER (write x=-2)").format(
                    part=part), param_hint="--at")
            name, text = m.groups()
            try:
                value = parse_number(text)
            except ValueError as exc:
                raise click.BadParameter(f"{name}={text}: {exc}", param_hint="--at") from None
            if not math.isfinite(value):
                raise click.BadParameter(_("{binding}: give a finite number").format(
                    binding=f"{name}={text}"), param_hint="--at")
            values[name] = value
    return values


@click.command(
    "circuit",
    epilog=_EPILOG,
    # Unknown "options" are kept as arguments, so an expression may start with a minus sign
    # ("-x*y") and assignments such as z=-4 after --at's first one are never taken for options.
    context_settings={"ignore_unknown_options": True},
)
@click.argument("words", nargs=-1, metavar="EXPR [NAME=VALUE]...")
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE",
              help="Input values, e.g. --at x=-2 y=5 z=-4 (more NAME=VALUE may follow).")
@click.option("--example", "example_name", metavar="NAME",
              help="A circuit from the notes: simple, neuron, neuron-sigmoid, staged, max, "
                   "fanout, scale.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON object instead of tables.")
@click.option("--steps", is_flag=True, help="Replay the backward pass one edge at a time.")
@click.option("--check", is_flag=True,
              help="Compare each gradient with central differences (h = 1e-5).")
@click.option("--explain", is_flag=True, help="One sentence per gate in plain words.")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the circuit to an SVG file.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the circuit to a PNG file.")
@click.option("--max-nodes", default=80, show_default=True, type=click.IntRange(2, 100_000),
              help="Nodes drawn in a picture; the rest are folded into one.")
@click.option("--quiz", is_flag=True,
              help="Practice: find each gradient yourself, wire by wire, with hints.")
@click.option("--exercise", "exercise_seed", type=click.IntRange(min=0), metavar="SEED",
              help="A random practice circuit; the same SEED gives everyone the same one.")
def circuit(
    words: tuple[str, ...],
    at: tuple[str, ...],
    example_name: str | None,
    as_json: bool,
    steps: bool,
    check: bool,
    explain: bool,
    svg_path: Path | None,
    png_path: Path | None,
    max_nodes: int,
    quiz: bool,
    exercise_seed: int | None,
) -> None:
    """Show every gate of EXPR's circuit: forward value, local gradients, upstream gradient and
    what it passes back, with the gate rule from the op catalogue.

    EXPR uses numbers, variables, + - * / **, parentheses and exp log sigmoid tanh relu abs
    sqrt max(a, b) min(a, b).
    """
    from chainrule import circuit as circuits

    options = [w for w in words if w.startswith("--")]
    if options:
        raise click.NoSuchOption(options[0])
    text_words = [w for w in words if not _BINDING.match(w)]
    values = _bindings([*at, *(w for w in words if _BINDING.match(w))])
    about = ""
    if exercise_seed is not None:
        from chainrule.practice import random_exercise

        if text_words or example_name is not None:
            raise click.UsageError(_("give either EXPR, --example or --exercise, not two"))
        text, drawn = random_exercise(exercise_seed)
        values = {**drawn, **values}
        about = _("practice exercise {seed}").format(seed=exercise_seed)
    elif example_name is not None:
        if text_words:
            raise click.UsageError(_("give either EXPR or --example, not both"))
        try:
            ex = circuits.example(example_name)
        except KeyError as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="--example") from None
        text, about = ex.expression, ex.description
        values = {**ex.at, **values}
    elif not text_words:
        raise click.UsageError(_("give an expression, e.g. chainrule circuit \"(x+y)*z\" "
                                 "--at x=-2 y=5 z=-4, or --example simple"))
    else:
        text = " ".join(text_words)

    try:
        c = circuits.run(expression_numbers(text), values)
        written = _pictures(c, svg_path, png_path, max_nodes, text)
    except (ChainruleError, AmbiguousNumber) as exc:
        raise click.ClickException(str(exc)) from None

    if quiz:
        if as_json:
            raise click.UsageError(_("--quiz asks questions in the terminal; it has no --json"))
        _quiz(c, about)
        return
    if as_json:
        data: dict[str, Any] = c.to_json()
        if steps:
            data["steps"] = c.steps()
        if check:
            data["check"] = c.check()
        if explain:
            data["explain"] = c.explain()
        data["notes"] = c.notes()
        click.echo(json.dumps(data, indent=2))
        return
    _show(c, typed=text, about=about, steps=steps, check=check, explain=explain,
          written=written)


def _quiz(c: Any, about: str) -> None:
    """Ask for each wire's gradient in backward order; hints after a wrong answer."""
    from chainrule.practice import is_right, questions
    from chainrule.viz import fmt

    qs = questions(c)
    values = ", ".join(f"{k} = {fmt(v)}" for k, v in c.values.items())
    click.echo(_("f = {expression} at {values}").format(expression=c.expression.text,
                                                         values=values)
               + (f"  ({about})" if about else ""))
    click.echo(_("Forward pass (values only; the gradients are yours to find):"))
    for row in c.gates():
        inputs = ", ".join(f"{i['name']} = {fmt(i['value'])}" for i in row["inputs"])
        click.echo(f"  #{row['id']} {row['op']}({inputs}) = {fmt(row['value'])}")
    click.echo(_("f = {output}; ∂f/∂f = 1. Now backward, one wire at a time.").format(
        output=fmt(c.output)))
    first_try = 0
    for k, q in enumerate(qs, 1):
        misses = 0
        while True:
            try:
                text = click.prompt(f"[{k}/{len(qs)}] {q.prompt}", prompt_suffix=" ",
                                    type=str)
            except click.Abort:
                click.echo()
                raise click.ClickException(
                    _("quiz stopped after {k} of {n} questions").format(k=k - 1, n=len(qs))
                ) from None
            try:
                given = parse_number(text.strip().replace("−", "-"))
            except ValueError:
                click.echo("  " + _("type a number, for example {a} or {b}").format(
                    a=fmt(-4), b=fmt(0.25)))
                continue
            if is_right(given, q.answer):
                first_try += misses == 0
                click.echo("  " + _("right: {input} receives {answer} along this wire.").format(
                    input=q.input_name, answer=fmt(q.answer)))
                break
            misses += 1
            hint = q.hints[min(misses, len(q.hints)) - 1]
            if misses >= len(q.hints):
                click.echo("  " + _("wrong. {hint}").format(hint=hint))
                break
            click.echo("  " + _("wrong: {hint}").format(hint=hint))
    gradients = ", ".join(f"∂f/∂{k} = {fmt(v)}" for k, v in c.gradients.items())
    click.echo(_("Done: {right} of {n} right at the first try.").format(right=first_try, n=len(qs))
               + f" {gradients}")


def _pictures(c: Any, svg: Path | None, png: Path | None, max_nodes: int, title: str) -> list[str]:
    from chainrule import files
    from chainrule.viz import render_dot, to_dot

    written: list[str] = []
    if svg is None and png is None:
        return written
    dot = to_dot(c.graph, max_nodes=max_nodes, title=title)
    for path, kind in ((svg, "svg"), (png, "png")):
        if path is None:
            continue
        try:
            files.write_bytes(path, render_dot(dot, kind))
        except OSError as exc:
            raise click.FileError(str(path), hint=exc.strerror or str(exc)) from None
        written.append(str(path))
    return written


# ---------------------------------------------------------------- terminal view

_TREE_LIMIT = 40  # nodes drawn in the terminal tree; larger circuits show the table only
_ROW_LIMIT = 100  # gates, steps and sentences printed; --json always has all of them
_WIRE_LIMIT = 8  # wires spelled out in a fan-out sum


def _capped(items: list[Any], what: str, console: Any) -> list[Any]:
    if len(items) > _ROW_LIMIT:
        console.print("[dim]" + _("(showing the first {shown} of {total} {what}; --json has "
                                  "them all)").format(shown=_ROW_LIMIT,
                                                      total=number(len(items), ","),
                                                      what=what) + "[/]")
    return items[:_ROW_LIMIT]


def _show(c: Any, *, typed: str, about: str, steps: bool, check: bool, explain: bool,
          written: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from chainrule.viz import fmt

    console = Console(highlight=False)
    # The expression as typed (with its decimal commas), not as read.
    console.print(f"[bold]{typed}[/]  =  [green]{fmt(c.output)}[/]")
    if about:
        console.print(f"[dim]{about}[/]")
    if len(c.graph["nodes"]) <= _TREE_LIMIT:
        console.print(_tree(c))

    table = Table(title=_("gates in forward order (the backward pass runs them bottom to top)"),
                  title_justify="left")
    for name, style in ((_("gate"), "bold"), (_("value"), "green"), (_("input"), ""),
                        (_("local"), ""), (_("upstream"), "red"), (_("passed back"), "red")):
        table.add_column(name, style=style, overflow="fold")
    rules: dict[str, str] = {}
    gates = c.gates()
    for row in gates:
        rules.setdefault(row["op"], row["rule"])
    for row in _capped(gates, _("gates"), console):
        for k, inp in enumerate(row["inputs"]):
            first = k == 0
            table.add_row(
                f"#{row['id']} {row['op']}" if first else "",
                fmt(row["value"]) if first else "",
                f"{inp['name']} = {fmt(inp['value'])}",
                fmt(inp["local_grad"]),
                fmt(row["upstream"]) if first else "",
                fmt(inp["passed"]),
                end_section=k == len(row["inputs"]) - 1,
            )
    console.print(table)
    console.print("[dim]" + _("local = ∂gate/∂input, upstream = ∂f/∂gate, "
                              "passed back = upstream × local (the chain rule)") + "[/]")
    for op, rule in rules.items():
        console.print(f"[bold]{op}[/]: {rule}")

    for fan in c.fanout():
        parts = " + ".join(_("{value} (via #{gate})").format(value=fmt(w["contribution"]),
                                                             gate=w["target"])
                           for w in fan["wires"][:_WIRE_LIMIT])
        if len(fan["wires"]) > _WIRE_LIMIT:
            parts += " + … " + _("({count} more)").format(
                count=number(len(fan["wires"]) - _WIRE_LIMIT, ","))
        console.print(_("fan-out: {name} feeds {count} wires; their gradients add up: {parts} = "
                        "{total}").format(name=fan["name"], count=len(fan["wires"]), parts=parts,
                                          total=f"[red]{fmt(fan['sum'])}[/]"))
    grads = "  ".join(f"∂f/∂{v} = [red]{fmt(g)}[/]" for v, g in c.gradients.items())
    if grads:
        console.print(_("gradients: {list}").format(list=grads))
    for note in c.notes():
        console.print("[yellow]" + _("note") + f"[/]: {note}")

    if steps:
        console.print("\n[bold]" + _("backward pass, one edge at a time") + "[/]")
        for line in _capped(c.step_sentences(), _("steps"), console):
            console.print(line)
    if explain:
        console.print("\n[bold]" + _("in words") + "[/]")
        for line in _capped(c.explain(), _("sentences"), console):
            console.print("• " + line)
    if check:
        rows = c.check()
        console.print(_check_table(rows))
        for row in rows:
            if row.get("note"):
                console.print("[yellow]" + _("note") + f"[/]: {row['note']}")
    for path in written:
        console.print(_("wrote {path}").format(path=path))


def _tree(c: Any) -> Any:
    """The circuit as a tree from the output down to its inputs (iterative: no recursion)."""
    from rich.tree import Tree

    from chainrule.viz import fmt

    nodes = c.graph["nodes"]

    def text(i: int) -> str:
        n = nodes[i]
        what = c.name(i) if n["op"] is None else f"#{i} {n['op']}"
        grad = _("grad")
        return f"{what} = [green]{fmt(n['value'])}[/]  [red]{grad} {fmt(n['grad'])}[/]"

    root_id = nodes[-1]["id"]
    root = Tree(text(root_id), guide_style="dim")
    shown: set[int] = set()
    stack: list[tuple[Tree, int]] = [(root, root_id)]
    while stack:
        branch, i = stack.pop()
        if i in shown:
            continue
        shown.add(i)
        children = []
        for src in nodes[i]["inputs"]:
            if src in shown and nodes[src]["op"] is not None:
                branch.add(f"#{src} [dim]" + _("(shown above)") + "[/]")
                continue
            children.append((branch.add(text(src)), src))
        stack.extend(reversed(children))
    return root


# The check's verdict words are identifiers in --json; people read them translated.
_CHECK_WORDS = {"good": N_("good"), "check": N_("check"), "wrong": N_("wrong"),
                "kink": N_("kink")}


def _check_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    from chainrule.viz import fmt

    table = Table(title=_("gradient check: central differences, h = 1e-5"),
                  title_justify="left")
    for name in (_("variable"), _("analytic"), _("numerical"), _("relative error"),
                 _("verdict")):
        table.add_column(name)
    colours = {"good": "green", "check": "yellow", "wrong": "bold red", "kink": "yellow"}
    for row in rows:
        rel = "—" if row["rel_error"] is None else number(row["rel_error"], ".1e")
        style = colours.get(row["verdict"], "yellow")
        word = row["verdict"]
        shown = _(_CHECK_WORDS[word]) if word in _CHECK_WORDS else word
        table.add_row(row["variable"], fmt(row["analytic"]), fmt(row["numerical"]), rel,
                      f"[{style}]{shown}[/]")
    table.caption = _("|a−n|/max(|a|,|n|): > 1e-2 wrong, < 1e-7 good; kink: not differentiable "
                      "here, the analytic value is the subgradient chainrule uses")
    return table
