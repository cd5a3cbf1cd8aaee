"""A circuit: an expression evaluated at given inputs, with every gate's part of backpropagation.

This is CS231n's “backprop as circuits” made inspectable. For each gate, in topological order:
its forward value, its local gradient ∂gate/∂input for every input, the upstream gradient
∂f/∂gate arriving from the output, and what it passes back, ``upstream · local`` (the chain
rule). A variable used twice has two wires; the gradients coming back along them add up
(fan-out). Everything is read from one observed backward pass (:func:`chainrule.viz.trace`), so
the table, the JSON, the step-through and the pictures can never disagree.

>>> c = run("(x + y) * z", {"x": -2, "y": 5, "z": -4})
>>> c.output, c.gradients
(-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chainrule.errors import NumericError
from chainrule.expr import FUNCTIONS, EvaluationError, Expression, parse
from chainrule.i18n import N_, _
from chainrule.ops import OPS
from chainrule.viz.dot import fmt
from chainrule.viz.graph_dict import Trace, graph_dict, trace

__all__ = [
    "EXAMPLES",
    "GOOD",
    "H",
    "WRONG",
    "Circuit",
    "Example",
    "example",
    "relative_error",
    "run",
    "verdict",
]

H = 1e-5
"""Step of the central difference (f(x+h) − f(x−h)) / 2h used by :meth:`Circuit.check`."""
WRONG = 1e-2
"""Relative error above which CS231n calls a gradient probably wrong."""
GOOD = 1e-7
"""Relative error below which a gradient is considered right."""


@dataclass(frozen=True)
class Example:
    """A circuit from the notes: expression, input values and what it teaches (``about``, in
    English; ``description`` in the active language)."""

    expression: str
    at: dict[str, float]
    about: str

    @property
    def description(self) -> str:
        return _(self.about)


EXAMPLES: dict[str, Example] = {
    "simple": Example(
        "(x + y) * z", {"x": -2.0, "y": 5.0, "z": -4.0},
        N_("CS231n's first circuit: f = −12; the add gate passes −4 to x and y, the multiply "
           "gate swaps its inputs so z gets q = 3.")),
    "neuron": Example(
        "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))",
        {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0},
        N_("The 2-D sigmoid neuron as elementary gates: f = 0.73, dx = [0.39, −0.59], "
           "dw = [−0.20, −0.39, 0.20]. Compare the example neuron-sigmoid.")),
    "neuron-sigmoid": Example(
        "sigmoid(w0*x0 + w1*x1 + w2)",
        {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0},
        N_("The same neuron with one sigmoid gate, whose local gradient σ(1−σ) = 0.2 replaces "
           "four gates: the gradients are identical.")),
    "staged": Example(
        "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)", {"x": 3.0, "y": -4.0},
        N_("CS231n's staged computation: x and y each reach the output along several paths, "
           "and the gradients from those paths add up.")),
    "max": Example(
        "2 * (x*y + max(z, w))", {"x": 3.0, "y": -4.0, "z": 2.0, "w": -1.0},
        N_("The max gate routes the whole gradient to the larger input (z) and sends 0 to the "
           "smaller one (w).")),
    "fanout": Example(
        "x*y + x", {"x": 3.0, "y": -2.0},
        N_("x is used twice: the gradients flowing back along its two wires (y = −2 and 1) add "
           "up to ∂f/∂x = −1.")),
    "scale": Example(
        "x * w", {"x": 1000.0, "w": 0.001},
        N_("The multiply gate gives w the gradient x = 1000 and x the gradient w = 0.001: the "
           "scale of the inputs sets the scale of the weights' gradients, which is why inputs "
           "are preprocessed.")),
}


def example(name: str) -> Example:
    """The named example, or a ``KeyError`` listing the names."""
    try:
        return EXAMPLES[name]
    except KeyError:
        raise KeyError(_("no example {name!r}; the examples are {names}").format(
            name=name, names=", ".join(EXAMPLES))) from None


def relative_error(a: float, n: float) -> float:
    """|a − n| / max(|a|, |n|), and 0 when both are 0 (CS231n's gradient-check measure)."""
    scale = max(abs(a), abs(n))
    return 0.0 if scale == 0.0 else abs(a - n) / scale


def verdict(rel: float) -> str:
    """``"wrong"`` above 1e-2, ``"good"`` below 1e-7, ``"check"`` in between (CS231n).

    :meth:`Circuit.check` says ``"kink"`` instead of ``"wrong"``/``"check"`` for a variable that
    feeds a relu or abs at exactly 0 or a max/min at a tie.
    """
    if rel > WRONG:
        return "wrong"
    if rel < GOOD:
        return "good"
    return "check"


# Display words only: what each gate does, for the sentences of --explain.
_VERBS = {
    "add": N_("adds"), "sub": N_("subtracts"), "mul": N_("multiplies"), "div": N_("divides"),
    "neg": N_("negates"), "pow": N_("raises to a power"),
    "pow_const": N_("raises to a constant power"), "exp": N_("exponentiates"),
    "log": N_("takes the log of"), "sigmoid": N_("squashes with σ"),
    "tanh": N_("squashes with tanh"), "relu": N_("rectifies"),
    "maximum": N_("takes the larger of"), "minimum": N_("takes the smaller of"),
    "abs": N_("takes the absolute value of"), "sqrt": N_("takes the square root of"),
}


def _and(items: list[str]) -> str:
    return _(" and ").join(items)


@dataclass
class Circuit:
    """An expression, its inputs, the graph built from them and one observed backward pass."""

    expression: Expression
    values: dict[str, float]
    output_node: Any
    leaves: dict[str, Any]
    trace: Trace
    graph: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.graph = graph_dict(self.output_node, self.trace)

    # ------------------------------------------------------------------ the numbers

    @property
    def output(self) -> float:
        return float(self.output_node.data)

    @property
    def gradients(self) -> dict[str, float]:
        """∂f/∂variable for every variable, in order of first appearance."""
        return {v: float(self.trace.grads.get(leaf, 0.0)) for v, leaf in self.leaves.items()}

    def name(self, node_id: int) -> str:
        """How a node is called in tables: its label (variable, constant) or ``#id``."""
        node = self.graph["nodes"][node_id]
        return str(node["label"]) if node["op"] is None or node["label"] else f"#{node_id}"

    def to_json(self) -> dict[str, Any]:
        """The JSON answer: expression, output, gradients by variable, nodes and edges."""
        return {
            "expression": self.expression.text,
            "output": self.output,
            "gradients": self.gradients,
            "nodes": self.graph["nodes"],
            "edges": self.graph["edges"],
        }

    # ------------------------------------------------------------------ the gate view

    def gates(self) -> list[dict[str, Any]]:
        """One row per gate in topological order (inputs before the gates that use them).

        Each row: ``id``, ``op``, ``value``, ``upstream`` (∂f/∂gate), ``rule`` (from the op
        catalogue) and ``inputs``: per input its ``id``, ``name``, ``value``, ``local_grad``
        (∂gate/∂input) and ``passed`` (= upstream · local_grad, what the gate sends back).
        """
        edges_into: dict[int, list[dict[str, Any]]] = {}
        for e in self.graph["edges"]:
            edges_into.setdefault(e["target"], []).append(e)
        rows = []
        for node in self.graph["nodes"]:
            if node["op"] is None:
                continue
            rows.append({
                "id": node["id"],
                "op": node["op"],
                "value": node["value"],
                "upstream": node["grad"],
                "rule": OPS[node["op"]].rule_text,
                "inputs": [
                    {"id": e["source"], "name": self.name(e["source"]), "value": e["value"],
                     "local_grad": e["local_grad"], "passed": e["contribution"]}
                    for e in edges_into.get(node["id"], [])
                ],
            })
        return rows

    def fanout(self) -> list[dict[str, Any]]:
        """Nodes used by more than one wire: each wire's contribution and their sum.

        The sum equals the node's gradient: that is the multivariable chain rule (fan-out
        accumulates with ``+=``).
        """
        wires: dict[int, list[dict[str, Any]]] = {}
        for e in self.graph["edges"]:
            wires.setdefault(e["source"], []).append(e)
        result = []
        for source, out in wires.items():
            if len(out) < 2:
                continue
            parts = [{"target": e["target"], "contribution": e["contribution"]} for e in out]
            total = sum(p["contribution"] or 0.0 for p in parts)
            result.append({"id": source, "name": self.name(source), "wires": parts,
                           "sum": total, "grad": self.graph["nodes"][source]["grad"]})
        return result

    def steps(self) -> list[dict[str, Any]]:
        """The backward pass replayed one edge at a time, in the order it ran.

        A step: gate ``gate`` (id, op) multiplied the upstream gradient by the local gradient
        of input ``input`` and added the product to that input's gradient, which then
        holds ``total``.
        """
        ids = {node: i for i, node in enumerate(self.trace.order)}
        running: dict[int, float] = {}
        result = []
        for k, ev in enumerate(self.trace.events, 1):
            target, source = ids[ev.node], ids[ev.input]
            running[source] = running.get(source, 0.0) + float(ev.contribution)
            result.append({
                "step": k, "gate": target, "op": ev.node.op.name, "input": source,
                "input_name": self.name(source), "index": ev.index,
                "upstream": float(ev.upstream), "local_grad": float(ev.local),
                "contribution": float(ev.contribution), "total": running[source],
            })
        return result

    def step_sentences(self) -> list[str]:
        """:meth:`steps` in words."""
        template = _("{step}. {op} gate #{gate}: upstream {upstream} × local {local} = "
                     "{contribution}, added to {name} (now {total})")
        return [
            template.format(step=s["step"], op=OPS[s["op"]].symbol or s["op"], gate=s["gate"],
                            upstream=fmt(s["upstream"]), local=fmt(s["local_grad"]),
                            contribution=fmt(s["contribution"]), name=s["input_name"],
                            total=fmt(s["total"]))
            for s in self.steps()
        ]

    def explain(self) -> list[str]:
        """One plain sentence per gate: what it computed, what came back, where it went."""
        sentences = []
        for row in self.gates():
            names = _and([i["name"] for i in row["inputs"]])
            sent = _and([_("{value} to {name}").format(value=fmt(i["passed"]), name=i["name"])
                         for i in row["inputs"]])
            verb = _VERBS.get(row["op"])
            text = _("Gate #{id} {verb} {names}, giving {value}; the gradient {upstream} arrives "
                     "from the output and, since {rule}, it passes back {sent}.").format(
                id=row["id"], verb=row["op"] if verb is None else _(verb), names=names,
                value=fmt(row["value"]), upstream=fmt(row["upstream"]),
                rule=row["rule"].rstrip("."), sent=sent)
            kink = _kink(self.trace.order[row["id"]])
            if kink:
                text += " " + _("Its {kink}: a kink, where the gate is not differentiable; what "
                                "it passes back is the subgradient chainrule uses.").format(
                                    kink=kink)
            sentences.append(text)
        return sentences

    def kinks(self) -> dict[str, list[str]]:
        """Per variable, the kinks it feeds: ``"relu #1 (input exactly 0)"``, ….

        A kink is a relu or abs gate whose input is exactly 0, or a max/min gate whose inputs
        tie: f is not differentiable there, and the analytic gradient is the subgradient
        chainrule picks (relu and abs pass 0; max and min route it to their first input).
        """
        ids = {node: i for i, node in enumerate(self.trace.order)}
        leaf_name = {id(leaf): v for v, leaf in self.leaves.items()}
        result: dict[str, list[str]] = {}
        for node in self.trace.order:
            why = _kink(node)
            if not why:
                continue
            seen: set[int] = set()
            stack = [node]
            while stack:  # the variables upstream of the gate (iterative: no recursion)
                n = stack.pop()
                if id(n) in seen:
                    continue
                seen.add(id(n))
                if id(n) in leaf_name:
                    result.setdefault(leaf_name[id(n)], []).append(
                        f"{node.op.name} #{ids[node]} ({why})")
                if getattr(n, "op", None) is not None and n.op.name != "no_grad":
                    stack.extend(n.inputs)
        return result

    def notes(self) -> list[str]:
        """Gradients that are undefined (NaN) here, and why.

        A ``pow`` gate a^b with a variable exponent has ∂(a^b)/∂b = a^b·log a, which needs
        a > 0: at a negative base that gradient is NaN (at a = 0 with b ≥ 0 it is 0, as in
        PyTorch: 0^b does not change with b > 0).
        """
        notes = []
        for row in self.gates():
            if row["op"] != "pow" or len(row["inputs"]) != 2:
                continue
            base, exponent = row["inputs"]
            local = exponent["local_grad"]
            if base["value"] > 0 or (isinstance(local, float) and math.isfinite(local)):
                continue
            a, b = base["name"], exponent["name"]
            notes.append(_(
                "∂({a}^{b})/∂{b} = {a}^{b}·log {a} needs {a} > 0, so it is undefined (nan) here "
                "({a} = {value}, gate #{id})").format(a=a, b=b, value=fmt(base["value"]),
                                                      id=row["id"]))
        return notes

    # ------------------------------------------------------------------ the numerical check

    def check(self, h: float = H) -> list[dict[str, Any]]:
        """Analytic against numerical gradient for every variable (central differences).

        ``numerical = (f(v+h) − f(v−h)) / 2h``, ``rel_error = |a − n| / max(|a|, |n|)``,
        ``verdict`` from :func:`verdict`. At a kink (a relu or abs input exactly 0, a max or
        min at a tie) the two sides of the difference see different slopes, so a variable
        feeding one gets the verdict ``"kink"`` instead of ``"wrong"``/``"check"``, and
        ``note`` says which gate. If f cannot be evaluated at v ± h (sqrt at 0), or the
        analytic gradient is NaN (x**y at x ≤ 0), ``numerical`` or ``rel_error`` is ``None``
        and ``verdict`` says why.
        """
        from chainrule.graph import no_grad
        from chainrule.value import Value

        def f(values: Mapping[str, float]) -> float:
            with no_grad():
                leaves = {k: Value(v) for k, v in values.items()}
                return float(self.expression.build_from(leaves).data)

        kinks = self.kinks()
        rows = []
        for var, analytic in self.gradients.items():
            plus, minus = dict(self.values), dict(self.values)
            plus[var] += h
            minus[var] -= h
            try:
                numerical: float | None = (f(plus) - f(minus)) / (2 * h)
            except EvaluationError as exc:
                rows.append({"variable": var, "analytic": analytic, "numerical": None,
                             "rel_error": None, "verdict": f"n/a: {exc.message}", "note": None})
                continue
            assert numerical is not None
            if not math.isfinite(analytic):
                rows.append({"variable": var, "analytic": analytic, "numerical": numerical,
                             "rel_error": None,
                             "verdict": "n/a: " + _("the analytic gradient is undefined (nan) "
                                                    "here"),
                             "note": None})
                continue
            rel = relative_error(analytic, numerical)
            word, note = verdict(rel), None
            if word != "good" and var in kinks:
                word = "kink"
                note = _("{var} feeds a kink: {kinks}. f is not differentiable here; the "
                         "analytic value {value} is the subgradient chainrule uses, while the "
                         "central difference averages the slopes on both sides.").format(
                    var=var, kinks="; ".join(kinks[var]), value=fmt(analytic))
            rows.append({"variable": var, "analytic": analytic, "numerical": numerical,
                         "rel_error": rel, "verdict": word, "note": note})
        return rows


def run(text: str | Expression, at: Mapping[str, float]) -> Circuit:
    """Parse ``text``, build its graph at ``at`` and observe one backward pass from the output."""
    expression = text if isinstance(text, Expression) else parse(text)
    values = {k: float(v) for k, v in at.items()}
    output, leaves = expression.build(values)
    tr = trace(output)
    if isinstance(tr.error, NumericError):
        raise _backward_error(expression, output, tr.error) from None
    return Circuit(expression, values, output, leaves, tr)


def _kink(node: Any) -> str:
    """Why a gate sits at a kink (``"input is exactly 0"``, ``"inputs tie at 1"``), or ``""``."""
    op = getattr(node, "op", None)
    name = getattr(op, "name", None)
    if name in ("relu", "abs") and float(node.inputs[0].data) == 0.0:
        return _("input is exactly 0")
    if name in ("maximum", "minimum"):
        a, b = (float(x.data) for x in node.inputs)
        if a == b:
            return _("inputs tie at {value}").format(value=fmt(a))
    return ""


_SYMBOLS = {"+": N_("addition"), "-": N_("subtraction"), "*": N_("multiplication"),
            "/": N_("division"), "**": N_("the power **")}


def _positions(expression: Expression, output: Any) -> dict[int, Any]:
    """``{id(gate node): instruction}``: where in the text each gate of ``output`` comes from.

    The postfix program is turned back into its tree and laid over the graph from the output
    down (a constant exponent is part of its ``pow_const`` gate, not an input).
    """
    program = expression.program
    children: list[list[int]] = []
    stack: list[int] = []
    for k, ins in enumerate(program):
        arity = {"binary": 2, "unary": 1, "call": FUNCTIONS.get(ins.name, 0)}.get(ins.kind, 0)
        if arity > len(stack):
            return {}
        kids = stack[len(stack) - arity:]
        del stack[len(stack) - arity:]
        children.append(kids)
        stack.append(k)
    if len(stack) != 1:
        return {}
    found: dict[int, Any] = {}
    todo = [(stack[0], output)]
    while todo:
        k, node = todo.pop()
        op = getattr(node, "op", None)
        if program[k].kind in ("num", "var") or op is None or id(node) in found:
            continue
        found[id(node)] = program[k]
        inputs = list(node.inputs)
        kids = children[k][:len(inputs)] if op.name == "pow_const" else children[k]
        if len(kids) == len(inputs):
            todo.extend(zip(kids, inputs, strict=True))
    return found


def _backward_error(expression: Expression, output: Any, exc: NumericError) -> NumericError:
    """The backward pass stopped at a gate: name it, and point at it when its place is known."""
    node: Any = exc.node
    detail = str(exc)
    if "(" in detail and detail.endswith(")"):
        detail = detail[detail.rindex("(") + 1:-1]
    if node is None:
        return NumericError(_("no finite gradient at these values ({detail})").format(
            detail=detail))
    ins = _positions(expression, output).get(id(node))
    gate = node.op.name if ins is None else (
        ins.name if ins.kind == "call" else _("negation") if ins.kind == "unary"
        else _(_SYMBOLS[ins.name]) if ins.name in _SYMBOLS else ins.name)
    # A labelled leaf (a variable) is named; a gate's output is just "an input".
    labels = [str(getattr(x, "label", "") or "") if x.op is None else "" for x in node.inputs]
    where = ", ".join(f"{label} = {fmt(float(x.data))}" if label
                      else _("an input of {value}").format(value=fmt(float(x.data)))
                      for label, x in zip(labels, node.inputs, strict=True))
    message = _("{gate} has no finite gradient at {where} ({detail}): the backward pass cannot "
                "go through this gate here").format(gate=gate, where=where, detail=detail)
    if ins is None:
        error = NumericError(message)
        error.node = node
        return error
    located = EvaluationError(message, expression.text, ins.pos)
    located.node = node
    return located
