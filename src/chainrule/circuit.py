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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chainrule.expr import EvaluationError, Expression, parse
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
    """A circuit from the notes: expression, input values and what it teaches."""

    expression: str
    at: dict[str, float]
    about: str


EXAMPLES: dict[str, Example] = {
    "simple": Example(
        "(x + y) * z", {"x": -2.0, "y": 5.0, "z": -4.0},
        "CS231n's first circuit: f = −12; the add gate passes −4 to x and y, the multiply gate "
        "swaps its inputs so z gets q = 3."),
    "neuron": Example(
        "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))",
        {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0},
        "The 2-D sigmoid neuron as elementary gates: f = 0.73, dx = [0.39, −0.59], "
        "dw = [−0.20, −0.39, 0.20]. Compare the example neuron-sigmoid."),
    "neuron-sigmoid": Example(
        "sigmoid(w0*x0 + w1*x1 + w2)",
        {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0},
        "The same neuron with one sigmoid gate, whose local gradient σ(1−σ) = 0.2 replaces four "
        "gates: the gradients are identical."),
    "staged": Example(
        "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)", {"x": 3.0, "y": -4.0},
        "CS231n's staged computation: x and y each reach the output along several paths, and "
        "the gradients from those paths add up."),
    "max": Example(
        "2 * (x*y + max(z, w))", {"x": 3.0, "y": -4.0, "z": 2.0, "w": -1.0},
        "The max gate routes the whole gradient to the larger input (z) and sends 0 to the "
        "smaller one (w)."),
    "fanout": Example(
        "x*y + x", {"x": 3.0, "y": -2.0},
        "x is used twice: the gradients flowing back along its two wires (y = −2 and 1) add up "
        "to ∂f/∂x = −1."),
    "scale": Example(
        "x * w", {"x": 1000.0, "w": 0.001},
        "The multiply gate gives w the gradient x = 1000 and x the gradient w = 0.001: the "
        "scale of the inputs sets the scale of the weights' gradients, which is why inputs are "
        "preprocessed."),
}


def example(name: str) -> Example:
    """The named example, or a ``KeyError`` listing the names."""
    try:
        return EXAMPLES[name]
    except KeyError:
        raise KeyError(f"no example {name!r}; the examples are {', '.join(EXAMPLES)}") from None


def relative_error(a: float, n: float) -> float:
    """|a − n| / max(|a|, |n|), and 0 when both are 0 (CS231n's gradient-check measure)."""
    scale = max(abs(a), abs(n))
    return 0.0 if scale == 0.0 else abs(a - n) / scale


def verdict(rel: float) -> str:
    """``"wrong"`` above 1e-2, ``"good"`` below 1e-7, ``"check"`` in between (CS231n)."""
    if rel > WRONG:
        return "wrong"
    if rel < GOOD:
        return "good"
    return "check"


# Display words only: what each gate does, for the sentences of --explain.
_VERBS = {
    "add": "adds", "sub": "subtracts", "mul": "multiplies", "div": "divides", "neg": "negates",
    "pow": "raises to a power", "pow_const": "raises to a constant power",
    "exp": "exponentiates", "log": "takes the log of", "sigmoid": "squashes with σ",
    "tanh": "squashes with tanh", "relu": "rectifies", "maximum": "takes the larger of",
    "minimum": "takes the smaller of", "abs": "takes the absolute value of",
    "sqrt": "takes the square root of",
}


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
                "rule": OPS[node["op"]].rule,
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
        return [
            f"{s['step']}. {OPS[s['op']].symbol or s['op']} gate #{s['gate']}: upstream "
            f"{fmt(s['upstream'])} × local {fmt(s['local_grad'])} = {fmt(s['contribution'])}, "
            f"added to {s['input_name']} (now {fmt(s['total'])})"
            for s in self.steps()
        ]

    def explain(self) -> list[str]:
        """One plain sentence per gate: what it computed, what came back, where it went."""
        sentences = []
        for row in self.gates():
            names = " and ".join(i["name"] for i in row["inputs"])
            sent = " and ".join(f"{fmt(i['passed'])} to {i['name']}" for i in row["inputs"])
            sentences.append(
                f"Gate #{row['id']} {_VERBS.get(row['op'], row['op'])} {names}, giving "
                f"{fmt(row['value'])}; the gradient {fmt(row['upstream'])} arrives from the "
                f"output and, since {row['rule'].rstrip('.')}, it passes back {sent}.")
        return sentences

    # ------------------------------------------------------------------ the numerical check

    def check(self, h: float = H) -> list[dict[str, Any]]:
        """Analytic against numerical gradient for every variable (central differences).

        ``numerical = (f(v+h) − f(v−h)) / 2h``, ``rel_error = |a − n| / max(|a|, |n|)``,
        ``verdict`` from :func:`verdict`. Near a kink (relu, abs, max at a tie) the two sides
        of the difference see different slopes, so “check” there is expected, not a bug. If
        f cannot be evaluated at v ± h (sqrt at 0), ``numerical`` is ``None`` and ``verdict``
        says why.
        """
        from chainrule.graph import no_grad
        from chainrule.value import Value

        def f(values: Mapping[str, float]) -> float:
            with no_grad():
                leaves = {k: Value(v) for k, v in values.items()}
                return float(self.expression.build_from(leaves).data)

        rows = []
        for var, analytic in self.gradients.items():
            plus, minus = dict(self.values), dict(self.values)
            plus[var] += h
            minus[var] -= h
            try:
                numerical: float | None = (f(plus) - f(minus)) / (2 * h)
            except EvaluationError as exc:
                rows.append({"variable": var, "analytic": analytic, "numerical": None,
                             "rel_error": None, "verdict": f"n/a: {exc.message}"})
                continue
            assert numerical is not None
            rel = relative_error(analytic, numerical)
            rows.append({"variable": var, "analytic": analytic, "numerical": numerical,
                         "rel_error": rel, "verdict": verdict(rel)})
        return rows


def run(text: str | Expression, at: Mapping[str, float]) -> Circuit:
    """Parse ``text``, build its graph at ``at`` and observe one backward pass from the output."""
    expression = text if isinstance(text, Expression) else parse(text)
    values = {k: float(v) for k, v in at.items()}
    output, leaves = expression.build(values)
    return Circuit(expression, values, output, leaves, trace(output))
