"""A gate's local gradient written out with its numbers, from the op catalogue's own formula.

Each elementwise op states its local gradients once, in its docstring
(:attr:`chainrule.ops.Op.doc`, e.g. ``∂(a·b)/∂a = b, ∂(a·b)/∂b = a.``). :func:`local_formula`
picks the formula of one input, in its last (most computable) form, and substitutes the gate's
numbers for ``a``, ``b``, ``c`` and ``out``: the multiply gate's first input gives
``∂(a·b)/∂a = b = -4``, a sigmoid gate ``∂σ(a)/∂a = out·(1 − out) = 0.7311·(1 − 0.7311)``.
No derivative is written here: the words and symbols are the catalogue's.
"""

from __future__ import annotations

import re
from typing import Any

from chainrule.ops import OPS
from chainrule.viz.dot import fmt

__all__ = ["local_formula", "step_formula"]

_SYMBOL = re.compile(r"(?<![A-Za-z])(out|a|b|c)(?![A-Za-z])")


def _number(x: float, alone: bool) -> str:
    text = fmt(x)
    return text if alone or not text.startswith("-") else f"({text})"



def local_formula(op: str, index: int, inputs: list[float], out: float,
                  constant: float | None = None) -> str | None:
    """``∂gate/∂input = formula = the formula with numbers`` for input ``index`` of ``op``.

    ``inputs`` are the gate's input values (a, b), ``out`` its output, ``constant`` the
    exponent c of ``pow_const``. ``None`` for ops whose catalogue entry has no such formula.
    """
    entry = OPS.get(op)
    if entry is None or entry.local is None or not entry.doc.startswith("∂"):
        return None
    parts = ["∂" + p if k else p for k, p in enumerate(entry.doc.rstrip(".").split(", ∂"))]
    if index >= len(parts):
        return None
    # Qualifiers after a formula ("for a constant exponent c", "(0 at a = 0)") are words.
    part = re.sub(r" \([^()]*\)$", "", parts[index].split(" for ")[0]).strip()
    sides = [s.strip() for s in part.split(" = ")]
    if len(sides) < 2:
        return None
    lhs, rhs = sides[0], sides[-1]
    values = {"out": out, "a": inputs[0] if inputs else None,
              "b": inputs[1] if len(inputs) > 1 else None, "c": constant}
    missing = [s for s in _SYMBOL.findall(rhs) if values.get(s) is None]
    if missing:
        return None

    def number(m: re.Match[str]) -> str:
        # A negative number gets parentheses unless it stands alone or inside f(…) already.
        before, after = rhs[:m.start()].rstrip()[-1:], rhs[m.end():].lstrip()[:1]
        alone = before in ("", "(") and after in ("", ")", ",")
        value = values[m.group(1)]
        assert value is not None
        return _number(float(value), alone)

    numbers = _SYMBOL.sub(number, rhs)
    return lhs + " = " + rhs if numbers == rhs else f"{lhs} = {rhs} = {numbers}"


def step_formula(circuit: Any, step: dict[str, Any]) -> str | None:
    """:func:`local_formula` for one step of :meth:`chainrule.circuit.Circuit.steps`."""
    node = circuit.graph["nodes"][step["gate"]]
    inputs = [circuit.graph["nodes"][i]["value"] for i in node["inputs"]]
    constant = None
    if step["op"] == "pow_const":
        ctx = getattr(circuit.trace.order[step["gate"]], "ctx", ())
        constant = float(ctx[0]) if ctx else None
    return local_formula(step["op"], step["index"], inputs, node["value"], constant)
