"""A graph as one plain dict: the serialisation every picture, table and JSON answer is drawn from.

``graph_dict(root)`` walks the graph that produced ``root`` and records what a circuit diagram
shows::

    {"nodes": [{"id", "op", "label", "value", "grad", "inputs": [id, ...]}, ...],
     "edges": [{"source", "target", "value", "local_grad", "contribution"}, ...]}

plus ``"error": {"message", "node"}`` when the backward pass stopped (a local gradient that is
not finite, such as d√x/dx at 0): ``message`` says why and ``node`` is the id of the gate, when
known. Every gradient is then ``None``.

Nodes come in topological order (inputs first, ``root`` last) and ``id`` is the position in
that order. A ``pow_const`` gate without a label of its own is labelled with its exponent
(``^2``), the one constant a picture cannot otherwise show.

An edge is one input feeding one gate (``source`` is the input's id), in the order of the gate's
arguments, so ``x * x`` has two edges from ``x``. Gradients are ∂root/∂node and come from a
backward pass of their own (the nodes' ``.grad`` is left alone): for an edge,
``contribution = upstream · local_grad`` with ``upstream`` = ∂root/∂target, and a node's
``grad`` is the sum of the contributions of its outgoing edges (fan-out accumulates).

:func:`stored_graph_dict` is the same dict drawn from what the nodes hold *now*: each node's
``grad`` is its ``.grad`` as the last ``backward()`` left it (``0.0`` for a ``Value`` never
differentiated, ``None`` for such a ``Tensor``), nothing is recomputed, and a wire carries its
source's gradient when the source feeds only that wire (with fan-out the shares were never
stored, so the wire shows none and the source's box its total). Jupyter draws this one.

Scalars are floats. For a ``Tensor`` graph each ``value``/``grad`` is a summary
``{"shape": [...], "norm": ‖a‖₂}`` and ``local_grad`` is ``None`` for tensor-only ops (their
local gradient is a Jacobian, never built).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Trace", "graph_dict", "stored_graph_dict", "summary", "trace"]


@dataclass
class Trace:
    """The result of one observed backward pass from ``root``.

    ``order``: nodes, inputs before users. ``grads``: ``{node: ∂root/∂node}`` (empty when the
    graph cannot be differentiated, e.g. a non-scalar tensor or a ``no_grad`` result).
    ``events``: the traversal's :class:`~chainrule.graph.BackwardEvent` s, in processing order.
    ``error``: the error that stopped the backward pass (a local gradient that is not finite,
    such as d√x/dx at 0), or ``None``; when set, ``grads`` and ``events`` are empty.
    """

    root: Any
    order: list[Any]
    grads: dict[Any, Any] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)
    error: Exception | None = None


def _seed(root: Any) -> Any:
    data = root.data
    if isinstance(data, float):
        return 1.0
    size = getattr(data, "size", 1)
    if size != 1:
        return None  # a non-scalar output has no single gradient to show
    import numpy as np

    return np.ones_like(data)


def trace(root: Any) -> Trace:
    """Run a backward pass from ``root`` with a listener; do not touch any ``.grad``."""
    from chainrule.errors import ChainruleError
    from chainrule.graph import backward_pass, listen, toposort

    order = toposort(root)
    result = Trace(root, order)
    seed = _seed(root)
    if seed is None or not getattr(root, "requires_grad", True):
        return result
    try:
        with listen(result.events.append):
            result.grads = backward_pass(root, seed)
    except ChainruleError as exc:
        # Kept, not swallowed: graph_dict reports it and a circuit raises it with the gate named.
        result.grads, result.events, result.error = {}, [], exc
    return result


def summary(x: Any) -> Any:
    """A JSON-ready number (scalar) or ``{"shape", "norm"}`` (array); ``None`` stays ``None``."""
    if x is None:
        return None
    # An engine node's number or array (an ndarray's own .data is a memoryview, not a number).
    data = x.data if getattr(type(x), "_is_node", False) else x
    if isinstance(data, (int, float)):
        return float(data)
    shape = tuple(int(n) for n in getattr(data, "shape", ()))
    if shape == () or math.prod(shape) == 1:
        return float(data.reshape(()) if hasattr(data, "reshape") else data)
    import numpy as np

    return {"shape": list(shape), "norm": float(np.linalg.norm(np.asarray(data, dtype=float)))}


def _op_name(node: Any) -> str | None:
    op = getattr(node, "op", None)
    if op is None or op.name == "no_grad":
        return None  # a no_grad result is a leaf: it carries a value but no history
    return str(op.name)


def _label(node: Any, op: str | None) -> str:
    label = str(getattr(node, "label", "") or "")
    if not label and op == "pow_const":
        # The exponent is a constant of the gate, not an input: the picture needs it in the label.
        c = float(node.ctx[0])
        label = f"^{int(c) if c.is_integer() else c}"
    return label


def graph_dict(root: Any, tr: Trace | None = None) -> dict[str, Any]:
    """The plain-dict serialisation of the graph ending at ``root`` (see the module docstring).

    Pass a :class:`Trace` already made for ``root`` to reuse its backward pass.
    """
    tr = tr if tr is not None else trace(root)
    ids = {node: i for i, node in enumerate(tr.order)}
    by_edge = {(id(ev.node), ev.index): ev for ev in tr.events}
    scalar = isinstance(root.data, float)
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for node in tr.order:
        op = _op_name(node)
        inputs = tuple(node.inputs) if op is not None else ()
        g = tr.grads.get(node)
        nodes.append({
            "id": ids[node],
            "op": op,
            "label": _label(node, op),
            "value": summary(node),
            "grad": summary(g) if g is not None else (0.0 if scalar and tr.grads else None),
            "inputs": [ids[x] for x in inputs],
        })
        for index, x in enumerate(inputs):
            ev = by_edge.get((id(node), index))
            edges.append({
                "source": ids[x],
                "target": ids[node],
                "value": summary(x),
                "local_grad": summary(ev.local) if ev is not None else None,
                "contribution": summary(ev.contribution) if ev is not None else None,
            })
    graph: dict[str, Any] = {"nodes": nodes, "edges": edges}
    if tr.error is not None:
        failed = getattr(tr.error, "node", None)
        graph["error"] = {"message": str(tr.error),
                          "node": ids.get(failed) if failed is not None else None}
    return graph


def stored_graph_dict(root: Any) -> dict[str, Any]:
    """The plain dict of the graph ending at ``root`` with the stored ``.grad`` of each node.

    No backward pass runs (see the module docstring): a picture of a node before
    ``backward()`` shows its values only, after it the gradients that ``backward()`` stored.
    """
    from chainrule.graph import toposort

    order = toposort(root)
    ids = {node: i for i, node in enumerate(order)}
    uses: dict[Any, int] = {}
    for node in order:
        if _op_name(node) is not None:
            for x in node.inputs:
                uses[x] = uses.get(x, 0) + 1
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for node in order:
        op = _op_name(node)
        inputs = tuple(node.inputs) if op is not None else ()
        grad = summary(getattr(node, "grad", None))
        nodes.append({"id": ids[node], "op": op, "label": _label(node, op),
                      "value": summary(node), "grad": grad, "inputs": [ids[x] for x in inputs]})
        for x in inputs:
            edges.append({"source": ids[x], "target": ids[node], "value": summary(x),
                          "local_grad": None,
                          "contribution": summary(getattr(x, "grad", None))
                          if uses.get(x) == 1 else None})
    return {"nodes": nodes, "edges": edges}
