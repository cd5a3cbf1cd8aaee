"""The backward traversal, shared by both engines.

A node (``Value`` or ``Tensor``) exposes ``data``, ``op`` (an :class:`~chainrule.ops.Op`, or
``None`` for a leaf), its inputs in the slots ``_a`` and ``_b`` (``None`` where absent: every op
takes one or two inputs, and two slots cost less than a tuple per node) and ``ctx`` (the op's
constants). The traversal never
recurses: a graph a million nodes deep backpropagates under Python's default recursion limit.

``backward_pass`` is the one backward loop: each node hands each input ``upstream × local``
(the chain rule on one edge), and gradients are accumulated with ``+`` where a node fans out
(the CS231n rule: a variable used twice receives the sum of both gradients) and returned as a
dict keyed by node. While the pass runs, an intermediate node keeps its running gradient and
its count of uses left in two scratch slots of its own (``_g``, ``_n``) rather than in dicts:
that is what makes a million-node graph fast enough (see ``_propagate``). Listeners receive
one :class:`BackwardEvent` per edge; with no listener, no event is built. Speed for graphs that
repeat comes from replaying them (``chainrule.compile``), not from specialised copies of this
loop.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from chainrule.errors import GraphError, NumericError, python_reason
from chainrule.i18n import _
from chainrule.ops import NO_GRAD

__all__ = [
    "BackwardEvent",
    "accumulate_scalar",
    "backward_pass",
    "grad_enabled",
    "has_listeners",
    "listen",
    "no_grad",
    "toposort",
    "unbroadcast",
]

F = TypeVar("F", bound=Callable[..., Any])


class _ThreadState(threading.local):
    """Per-thread engine switches: one thread's no_grad() or listener never affects another's
    (a web server computes circuits in one thread while it trains in another)."""

    def __init__(self) -> None:
        self.enabled = True
        self.saved: list[bool] = []
        self.listeners: list[Callable[[BackwardEvent], None]] = []
        # Inputs of a function chainrule.compile is tracing: what is computed from them is
        # recorded even when nothing requires grad (the replay recomputes it).
        self.traced: frozenset[Any] = frozenset()


_GradMode = _ThreadState()


def grad_enabled() -> bool:
    """Whether ops currently record a graph."""
    return _GradMode.enabled


class no_grad:  # noqa: N801 - named like torch.no_grad, which users expect
    """Context manager (and decorator): ops inside build no graph.

    Results carry values but no history; calling ``backward()`` on one raises ``GraphError``.
    """

    def __enter__(self) -> None:
        _GradMode.saved.append(_GradMode.enabled)
        _GradMode.enabled = False

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = _GradMode.saved.pop()

    def __call__(self, fn: F) -> F:
        import functools

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class BackwardEvent:
    """One edge of the backward pass: ``input`` feeds ``node`` as its ``index``-th argument.

    ``contribution = upstream · local`` is what this edge adds (``+=``) to ``input``'s gradient.
    ``local`` is ∂node/∂input for elementwise ops and ``None`` for tensor-only ops, whose
    local gradient is a Jacobian that is never built.
    """

    node: Any
    input: Any
    index: int
    upstream: Any
    local: Any
    contribution: Any


def has_listeners() -> bool:
    """Whether a backward pass now would emit events."""
    return bool(_GradMode.listeners)


@contextmanager
def listen(callback: Callable[[BackwardEvent], None]) -> Iterator[None]:
    """Call ``callback(event)`` for every edge of every backward pass inside the block
    (in this thread)."""
    _GradMode.listeners.append(callback)
    try:
        yield
    finally:
        _GradMode.listeners.remove(callback)


def _use_counts(root: Any, leaves: bool = True) -> dict[Any, int]:
    """For every node below ``root``: how many edges leave it (how many times it is used).

    ``leaves=False`` counts only nodes that have inputs themselves: the backward pass never
    waits for a leaf (a leaf passes nothing on), so it need not count them.
    """
    count: dict[Any, int] = {}
    stack = [root]
    pop, push, get = stack.pop, stack.append, count.get  # (bound once: a million calls each)
    while stack:
        node = pop()
        for x in (node._a, node._b):
            if x is not None and (leaves or x._a is not None):
                n = get(x, 0)
                count[x] = n + 1
                if not n:  # first time seen: visit its inputs once
                    push(x)
    return count


def toposort(root: Any) -> list[Any]:
    """All nodes ``root`` depends on, inputs before the nodes that use them.

    Kahn's algorithm run from the output: a node is emitted once every node using it has been,
    which is exactly the order the backward pass needs; reversed, it is a topological order.
    Iterative and deterministic (inputs are visited in argument order), so pictures and
    step-through replays are stable.
    """
    count = _use_counts(root)
    order: list[Any] = []
    ready = [root]
    pop, push = ready.pop, ready.append
    while ready:
        node = pop()
        order.append(node)
        for x in (node._a, node._b):
            if x is not None:
                c = count[x] - 1
                count[x] = c
                if c == 0:
                    push(x)
    order.reverse()
    return order


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` down to ``shape``: the one place broadcasting is undone.

    A broadcast input was copied along the new leading axes and along its size-1 axes; each copy
    received gradient, so the copies' gradients add up.
    """
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if shape and gshape[lead:] == shape:
        # Only new leading axes (a bias under a batch): summing them away gives the shape
        # directly, as an array of its own, so no reshape view that backward() must copy.
        # ndarray.sum is a Python wrapper around np.add.reduce; a bias pays it every step.
        axis = 0 if lead == 1 else tuple(range(lead))
        return np.add.reduce(g, axis=axis) if type(g) is np.ndarray else g.sum(axis=axis)
    inner = tuple(i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1)
    g = g.sum(axis=tuple(range(lead)) + inner, keepdims=True)
    return g.reshape(shape)


def backward_pass(
    root: Any,
    seed: Any,
    *,
    create_graph: bool = False,
    drop_intermediate: bool = False,
) -> dict[Any, Any]:
    """Propagate ``seed`` (∂out/∂root) back through the graph; return ``{node: gradient}``.

    The whole backward pass, for both engines. A node is processed once every node that uses
    it has added its share to its gradient (Kahn's order from the output, kept with a count of
    uses left per node); it then hands each input ``upstream × local`` (the chain rule, one
    edge at a time), and an input used several times sums what it receives (``+=`` at a
    fan-out). Elementwise ops give their local gradient (``op.local``); tensor-only ops, whose
    local gradient is a Jacobian never built, give the product directly (``op.vjp``).

    With ``create_graph`` the local gradients are computed from engine nodes instead of raw
    numbers, so the gradients are graphs themselves. With ``drop_intermediate`` the returned
    dict keeps only the leaves' gradients and those of nodes marked ``_retain``; the others are
    dropped once passed on (memory for deep tensor graphs). Fixed graphs that need more speed
    than this loop gives are replayed by ``chainrule.compile`` instead.
    """
    if root.op is NO_GRAD:
        raise GraphError(_(
            "backward: this result was computed under chainrule.no_grad(), so no graph was "
            "recorded; compute it outside no_grad() to differentiate it"
        ))
    grads: dict[Any, Any] = {root: seed}
    if root._a is None:  # a leaf: its gradient is the seed
        return grads
    # The pass creates no reference cycles, so the cyclic collector has nothing to find in it;
    # left on, it would walk a large graph's nodes again and again while the dicts fill up.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _propagate(root, grads, create_graph, drop_intermediate)
    finally:
        if collecting:
            gc.enable()


def _count_uses(root: Any) -> None:
    """Write into ``_n`` of every node below ``root`` that has inputs how many edges leave it.

    The same count as :func:`_use_counts` (``leaves=False``), kept in the nodes' scratch slot
    rather than a dict: the backward pass reads and lowers it once per edge, and a slot is
    about twice as fast as a dict entry keyed by the node (a million-node graph counts in half
    the time). Leaves are never counted, so a leaf shared by several graphs (a model's
    parameter) is never written to.
    """
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        for x in (node._a, node._b):
            if x is not None and x._a is not None:
                n = x._n
                x._n = n + 1
                if not n:  # first time seen: visit its inputs once
                    push(x)


def _clear_scratch(root: Any) -> None:
    """Reset ``_n`` and ``_g`` of every node below ``root`` (after a pass that stopped midway)."""
    seen = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        node._n = 0
        node._g = None
        for x in (node._a, node._b):
            if x is not None and x._a is not None and id(x) not in seen:
                seen.add(id(x))
                stack.append(x)


def _propagate(root: Any, grads: dict[Any, Any], create_graph: bool,
               drop_intermediate: bool) -> dict[Any, Any]:
    # Scratch in the nodes, not in dicts (speed: a million-node graph backpropagates in about
    # half the time). A node with inputs keeps its uses left in ``_n`` and its running gradient
    # in ``_g``; both are back to 0 / None once the node has been processed, and the ``finally``
    # below clears them if the pass stops midway. Leaves (parameters, shared between graphs and
    # threads) keep their gradients in ``grads``. The consequence: one graph's intermediate
    # nodes must not be backpropagated by two threads at the same time (each thread's own
    # graph is fine, as is sharing leaves); nothing in chainrule does that.
    _count_uses(root)
    shaped = getattr(type(root), "_shaped", False)  # Tensors: broadcasting to undo
    listeners = tuple(_GradMode.listeners)
    root._g = grads.pop(root)
    ready = [root]
    node = root
    finished = False
    try:
        while ready:
            node = ready.pop()
            upstream = node._g  # complete: every node using this one has added its share
            node._g = None
            if not drop_intermediate or node._retain:
                grads[node] = upstream
            a, b = node._a, node._b
            inputs = (a,) if b is None else (a, b)
            if create_graph:
                out, args = node, inputs
            else:
                out, args = node.data, ((a.data,) if b is None else (a.data, b.data))
            op, ctx = node.op, node.ctx
            if op.local is not None:
                # ∂node/∂input, one per input (a node's constants, if any, come last)
                local = op.local(out, *args, *ctx) if ctx else op.local(out, *args)
                vjp = None
            else:
                local = (None, None)
                if op.takes_needs:  # it may skip the gradients nobody asked for
                    needs = (a.requires_grad,) if b is None else \
                        (a.requires_grad, b.requires_grad)
                    vjp = op.vjp(upstream, out, *args, *ctx, needs=needs)
                else:
                    vjp = op.vjp(upstream, out, *args, *ctx)  # upstream × Jacobian
            i = 0
            for x in inputs:
                if x.requires_grad:
                    if vjp is not None:
                        contribution = vjp[i]
                    elif type(local[i]) is float and local[i] == 1.0:
                        contribution = upstream  # add hands the gradient on as it is
                    else:
                        contribution = upstream * local[i]  # the chain rule, one edge
                    if shaped and contribution.shape != x.data.shape:
                        contribution = unbroadcast(contribution, x.data.shape)
                    if x._a is None:  # a leaf: its gradient goes straight into the result
                        earlier = grads.get(x)
                        grads[x] = contribution if earlier is None else earlier + contribution
                    else:
                        earlier = x._g
                        x._g = contribution if earlier is None else earlier + contribution
                    if listeners:
                        event = BackwardEvent(node, x, i, upstream, local[i], contribution)
                        for listener in listeners:
                            listener(event)
                if x._a is not None:  # a leaf is never waited for (see _count_uses)
                    left = x._n - 1
                    x._n = left
                    if not left:
                        ready.append(x)
                i += 1
        finished = True
    except (ArithmeticError, ValueError) as exc:
        # Python floats raise where arrays give inf/nan (d√x/dx at 0, 0 ** −0.5, …).
        raise _local_gradient_error(node, exc) from None
    finally:
        if not finished:  # an error or an interrupt: leave no scratch behind
            _clear_scratch(root)
    return grads


def accumulate_scalar(root: Any, seed: float) -> None:
    """Backpropagate through a scalar graph, adding ∂root/∂node to every node's ``.grad``."""
    for node, g in backward_pass(root, seed).items():
        node.grad += g


def _local_gradient_error(node: Any, exc: Exception) -> NumericError:
    where = ", ".join(_short(x.data) for x in (node._a, node._b) if x is not None)
    error = NumericError(_(
        "backward: the local gradient of {op} at {where} is not finite ({reason})"
    ).format(op=node.op.name, where=where, reason=python_reason(exc)))
    error.node = node  # lets a circuit view point at the gate
    return error


def _short(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else _("array of shape {shape}").format(
        shape=getattr(x, "shape", "?"))
