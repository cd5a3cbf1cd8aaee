"""Practice mode: the learner computes the backward pass of a circuit, one wire at a time.

A circuit's backward pass (:meth:`chainrule.circuit.Circuit.steps`) becomes a list of
questions, in the order the pass runs: "which gradient does this gate send back along this
wire?" The answer is upstream × local. A wrong answer gets a hint, and the hints climb:

1. the gate's rule, in the op catalogue's words (:attr:`chainrule.ops.Op.rule`), and the local
   gradient with its number — unless a factor's number alone is the answer (the other is 1);
2. the product to compute, ``upstream × local``, still unevaluated;
3. the answer.

So the first miss never gives the answer away. The web page (practice switch, ``?exercise=1``)
and ``chainrule circuit ... --quiz`` ask the same questions with the same hints.

:func:`random_exercise` makes a small circuit with small whole-number inputs from a seed, so a
teacher can hand the same exercise to a whole class (``--exercise SEED``).
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Any

from chainrule.i18n import _
from chainrule.ops import OPS
from chainrule.viz.dot import fmt

__all__ = [
    "ABS_TOLERANCE",
    "REL_TOLERANCE",
    "Question",
    "is_right",
    "practice_json",
    "questions",
    "random_exercise",
]

REL_TOLERANCE = 0.005
"""An answer within 0.5% of the gradient is right (hand arithmetic rounds σ and e^x)."""
ABS_TOLERANCE = 0.001
"""… or within 0.001 of it (answers near zero)."""


@dataclass(frozen=True)
class Question:
    """One wire of the backward pass: what gate ``gate`` sends back to ``input``."""

    step: int
    gate: int
    gate_name: str
    op: str
    input: int
    input_name: str
    upstream: float
    local_grad: float
    answer: float
    prompt: str
    hints: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["hints"] = list(self.hints)
        return data


def is_right(given: float, answer: float) -> bool:
    """Whether ``given`` is ``answer`` up to :data:`REL_TOLERANCE` or :data:`ABS_TOLERANCE`."""
    if not math.isfinite(given):
        return False
    return abs(given - answer) <= REL_TOLERANCE * abs(answer) + ABS_TOLERANCE


def _same(a: float, b: float) -> bool:
    return is_right(a, b) and is_right(b, a)


def questions(circuit: Any) -> list[Question]:
    """The questions of a circuit's backward pass, in the order it runs (one per wire)."""
    result = []
    for s in circuit.steps():
        op = OPS[s["op"]]
        gate = circuit.name(s["gate"])
        target = s["input_name"]
        symbol = op.symbol or op.name
        upstream, local, answer = s["upstream"], s["local_grad"], s["contribution"]
        prompt = _("the {symbol} gate {gate} sends back to {target}: ∂f/∂{target} along this "
                   "wire = ?").format(symbol=symbol, gate=gate, target=target)
        rule = _(op.rule)
        local_text = f"∂{gate}/∂{target} = {fmt(local)}"
        if _same(local, answer) or _same(upstream, answer):
            # One factor is 1 (or the answer is 0), so either number would be the answer:
            # name the rule and the factors, not their values.
            first = _("{rule}. Work out the local gradient ∂{gate}/∂{target} from that rule and "
                      "multiply it by the upstream gradient ∂f/∂{gate}.").format(
                          rule=rule, gate=gate, target=target)
        else:
            first = _("{rule}: {local}. Multiply it by the upstream gradient ∂f/∂{gate}, found "
                      "one step earlier.").format(rule=rule, local=local_text, gate=gate)
        second = _("∂f/∂{target} = upstream × local = {upstream} × {local} (the chain rule)."
                   ).format(target=target, upstream=fmt(upstream), local=fmt(local))
        third = _("The answer is {answer} = {upstream} × {local}.").format(
            answer=fmt(answer), upstream=fmt(upstream), local=fmt(local))
        result.append(Question(
            step=s["step"], gate=s["gate"], gate_name=gate, op=s["op"], input=s["input"],
            input_name=target, upstream=upstream, local_grad=local, answer=answer,
            prompt=prompt, hints=(first, second, third)))
    return result


def practice_json(circuit: Any) -> dict[str, Any]:
    """The questions and the tolerance of a right answer, as the web page and lessons use them."""
    return {"questions": [q.to_json() for q in questions(circuit)],
            "rel_tolerance": REL_TOLERANCE, "abs_tolerance": ABS_TOLERANCE}


# ---------------------------------------------------------------- random exercises

# Gate templates: {A} is a sub-expression wrapped in parentheses unless it is a single name or a
# call; {a} is never wrapped. Each template says whether its result needs wrapping in turn.
_BINARY = (("{A} + {B}", False), ("{A} - {B}", False), ("{A} * {B}", False),
           ("max({a}, {b})", True))
_UNARY = (("relu({a})", True), ("-{A}", False))
_NAMES = ("x", "y", "z", "w")


def random_exercise(seed: int, gates: int = 3) -> tuple[str, dict[str, float]]:
    """A circuit of ``gates`` gates over up to 4 variables, and their values (−5 … 5, not 0).

    The same seed always gives the same exercise (its own ``random.Random``), so a class can
    share one. Every variable appears, so each one has a gradient to find.
    """
    if gates < 1:
        raise ValueError(_("an exercise needs at least one gate, got {gates}").format(
            gates=gates))
    rng = random.Random(seed)
    count = min(len(_NAMES), 2 + gates // 2)
    names = list(_NAMES[:count])
    unused = names[:]
    rng.shuffle(unused)

    def leaf() -> tuple[str, bool]:
        return (unused.pop() if unused else rng.choice(names)), True

    def fill(template: str, a: tuple[str, bool], b: tuple[str, bool] = ("", True)) -> str:
        wrap = [t if atomic else f"({t})" for t, atomic in (a, b)]
        return template.format(a=a[0], b=b[0], A=wrap[0], B=wrap[1])

    expr = leaf()
    made = 0
    while made < gates or unused:
        if unused or rng.random() < 0.8:
            template, atomic = rng.choice(_BINARY)
            other = leaf()
            pair = (expr, other) if rng.random() < 0.5 else (other, expr)
            expr = fill(template, *pair), atomic
        else:
            template, atomic = rng.choice(_UNARY)
            expr = fill(template, expr), atomic
        made += 1
    text = expr[0]
    values = {name: float(rng.choice([v for v in range(-5, 6) if v != 0]))
              for name in names}
    return text, values
