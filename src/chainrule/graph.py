"""The backward traversal, shared by both engines.

A node (``Value`` or ``Tensor``) exposes ``data``, ``op`` (an :class:`~chainrule.ops.Op`, or
``None`` for a leaf), its inputs in the slots ``_a`` and ``_b`` (``None`` where absent: every op
takes one or two inputs, and two slots cost less than a tuple per node) and ``ctx`` (the op's
constants). The traversal never
recurses: a graph a million nodes deep backpropagates under Python's default recursion limit.

Gradients are kept in a dict keyed by node and accumulated with ``+`` where a node fans out
(the CS231n rule: a variable used twice receives the sum of both gradients). Listeners receive
one :class:`BackwardEvent` per edge; with no listener, no event is built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from chainrule.errors import GraphError, NumericError
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


def _consumer_counts(root: Any) -> dict[Any, int]:
    """For every node reachable from ``root``: how many edges leave it (how many uses)."""
    count: dict[Any, int] = {root: 0}
    stack = [root]
    pop, push, get = stack.pop, stack.append, count.get
    while stack:
        node = pop()
        a = node._a
        if a is None:
            continue
        c = get(a)
        if c is None:
            count[a] = 1
            if a._a is not None:  # a leaf has no inputs to count: not worth a trip round
                push(a)
        else:
            count[a] = c + 1
        b = node._b
        if b is not None:
            c = get(b)
            if c is None:
                count[b] = 1
                if b._a is not None:
                    push(b)
            else:
                count[b] = c + 1
    return count


def _inner_use_counts(root: Any) -> dict[Any, int]:
    """For every non-leaf node below a non-leaf ``root``: how many edges leave it. The
    backward pass needs no more: a leaf passes nothing on, so it never waits for its count."""
    count: dict[Any, int] = {}
    stack = [root]
    pop, push, get = stack.pop, stack.append, count.get
    while stack:
        node = pop()  # never a leaf
        a = node._a
        if a._a is not None:
            c = get(a)
            if c is None:
                count[a] = 1
                push(a)
            else:
                count[a] = c + 1
        b = node._b
        if b is not None and b._a is not None:
            c = get(b)
            if c is None:
                count[b] = 1
                push(b)
            else:
                count[b] = c + 1
    return count


def toposort(root: Any) -> list[Any]:
    """All nodes ``root`` depends on, inputs before the nodes that use them.

    Kahn's algorithm run from the output: a node is emitted once every node using it has been,
    which is exactly the order the backward pass needs; reversed, it is a topological order.
    Iterative and deterministic (inputs are visited in argument order), so pictures and
    step-through replays are stable.
    """
    count = _consumer_counts(root)
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

    A node is processed once all its consumers have added their share to its gradient (Kahn's
    order from the output), then it passes ``upstream · local`` to each input. With
    ``create_graph`` the local gradients are computed from engine nodes instead of raw numbers,
    so the gradients are graphs themselves. With ``drop_intermediate`` the returned dict keeps only
    the leaves' gradients and those of nodes marked ``_retain``; the others are dropped once passed
    on (memory for deep tensor graphs).
    """
    if root.op is NO_GRAD:
        raise GraphError(
            "backward: this result was computed under chainrule.no_grad(), so no graph was "
            "recorded; compute it outside no_grad() to differentiate it"
        )
    grads: dict[Any, Any] = {root: seed}
    if root._a is None:  # a leaf: its gradient is the seed
        return grads
    count = _inner_use_counts(root)
    shaped = getattr(type(root), "_shaped", False)
    listeners = tuple(_GradMode.listeners)
    if shaped and not listeners and not create_graph:
        return _backward_arrays(root, grads, count, drop_intermediate)
    get = grads.get
    ready = [root]
    pop, push = ready.pop, ready.append
    # Written out by arity and op kind: at a small batch this loop's Python, per node, costs as
    # much as the node's arithmetic. Leaves are never pushed (they pass nothing on), so their
    # consumer counts are not kept up to date either.
    try:
        while ready:
            node = pop()
            a = node._a
            b = node._b
            g = grads.pop(node) if drop_intermediate and not node._retain else grads[node]
            op = node.op
            ctx = node.ctx
            if create_graph:
                out, da, db = node, a, b
            else:
                out, da = node.data, a.data
                db = None if b is None else b.data
            local = op.local
            if local is not None:
                if b is None:
                    locals_ = local(out, da, *ctx) if ctx else local(out, da)
                else:
                    locals_ = local(out, da, db, *ctx) if ctx else local(out, da, db)
                contributions = None
            else:
                locals_ = None
                if op.takes_needs:
                    needs = (a.requires_grad, b is not None and b.requires_grad)
                    contributions = (op.vjp(g, out, da, *ctx, needs=needs) if b is None
                                     else op.vjp(g, out, da, db, *ctx, needs=needs))
                else:
                    contributions = (op.vjp(g, out, da, *ctx) if b is None
                                     else op.vjp(g, out, da, db, *ctx))
            i = -1
            for x in (a,) if b is None else (a, b):
                i += 1
                if x._a is not None:
                    c_left = count[x] - 1
                    count[x] = c_left
                    if not c_left:
                        push(x)
                if not x.requires_grad:
                    continue
                if locals_ is None:
                    contrib = contributions[i]  # type: ignore[index]
                    local_i = None
                else:
                    local_i = locals_[i]
                    if shaped and type(local_i) is float:
                        # ±1 (add, sub, neg) hand the gradient on without a multiply by a scalar.
                        contrib = g if local_i == 1.0 else -g if local_i == -1.0 else g * local_i
                    else:
                        contrib = g * local_i
                if shaped:
                    # x.data.shape, not the Tensor.shape property: one Python call less per edge.
                    xshape = x.data.shape
                    if contrib.shape != xshape:
                        contrib = unbroadcast(contrib, xshape)
                prev = get(x)
                grads[x] = contrib if prev is None else prev + contrib
                if listeners:
                    event = BackwardEvent(node, x, i, g, local_i, contrib)
                    for listener in listeners:
                        listener(event)
    except (ArithmeticError, ValueError) as exc:
        # Python floats raise where arrays give inf/nan (d√x/dx at 0, 0 ** −0.5, …).
        raise _local_gradient_error(node, exc) from None
    return grads


def _backward_arrays(
    root: Any, grads: dict[Any, Any], count: dict[Any, int], drop_intermediate: bool
) -> dict[Any, Any]:
    """backward_pass for array nodes when nobody listens and no graph is built: the same
    arithmetic, with the per-edge bookkeeping of the general loop left out (at a batch of ten,
    a training step spends as long in this loop's Python as in its arithmetic).

    When a node's first input becomes ready and its gradient need not be kept, that input is
    processed next with the gradient in hand, skipping the dict and the stack: a layer stack
    is a chain, so most nodes go this way.
    """
    ga: Any
    gb: Any
    ready = [root]
    pop, push, get = ready.pop, ready.append, grads.get
    add_reduce, ndarray = np.add.reduce, np.ndarray
    node = root
    try:
        while ready:
            node = pop()
            # Only non-leaves are ever pushed, so here "intermediate" needs no leaf test.
            g = grads.pop(node) if drop_intermediate and not node._retain else grads[node]
            while True:
                a = node._a
                b = node._b
                op = node.op
                ctx = node.ctx
                local = op.local
                if local is not None:
                    if b is None:
                        (ga,) = local(node.data, a.data, *ctx) if ctx else \
                            local(node.data, a.data)
                        gb = None
                    else:
                        ga, gb = local(node.data, a.data, b.data, *ctx) if ctx else \
                            local(node.data, a.data, b.data)
                        # ±1 (add, sub) hand the gradient on without a multiply by a scalar.
                        if type(gb) is float:
                            gb = g if gb == 1.0 else -g if gb == -1.0 else g * gb
                        else:
                            gb = g * gb
                    if type(ga) is float:
                        ga = g if ga == 1.0 else -g if ga == -1.0 else g * ga
                    else:
                        ga = g * ga
                elif b is None:
                    (ga,) = op.vjp(g, node.data, a.data, *ctx)
                    gb = None
                elif op.takes_needs:
                    ga, gb = op.vjp(g, node.data, a.data, b.data, *ctx,
                                    needs=(a.requires_grad, b.requires_grad))
                else:
                    ga, gb = op.vjp(g, node.data, a.data, b.data, *ctx)
                pushed = False
                if b is not None:
                    if b._a is not None:
                        c = count[b] - 1
                        count[b] = c
                        if not c:
                            push(b)
                            pushed = True
                    if b.requires_grad:
                        shape = b.data.shape
                        if gb.shape != shape:
                            # A bias under a batch, inline: this loop's one common broadcast.
                            gb = add_reduce(gb, axis=0) if shape and gb.shape[1:] == shape \
                                and type(gb) is ndarray else unbroadcast(gb, shape)
                        prev = get(b)
                        grads[b] = gb if prev is None else prev + gb
                if a.requires_grad:
                    shape = a.data.shape
                    if ga.shape != shape:
                        ga = unbroadcast(ga, shape)
                    if a._a is not None:
                        c = count[a] - 1
                        count[a] = c
                        if not c and not pushed and drop_intermediate and not a._retain:
                            # a's gradient is complete and nobody keeps it: go on with a.
                            prev = grads.pop(a, None)
                            g = ga if prev is None else prev + ga
                            node = a
                            continue
                        if not c:
                            push(a)
                    prev = get(a)
                    grads[a] = ga if prev is None else prev + ga
                # (An input without requires_grad is a leaf: no count to keep.)
                break
    except (ArithmeticError, ValueError) as exc:
        raise _local_gradient_error(node, exc) from None
    return grads


def accumulate_scalar(root: Any, seed: float) -> None:
    """Backpropagate through a scalar graph, adding ∂root/∂node to every node's ``.grad``.

    The scalar engine's hot path, used when nobody listens: instead of dicts it keeps the
    consumer count and the running gradient in two scratch slots of each node (``_n``, ``_g``),
    which a completed pass leaves back at 0. A million-node graph spends most of its time here,
    so the loop is written out by arity; every local gradient still comes from its op's one
    ``local`` rule.
    """
    # Pass 1: count each node's uses inside this graph. (No list of visited nodes is kept for
    # the error path below: a million appends cost more than re-walking the graph there.)
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        a = node._a
        if a is None:
            continue
        if not a._n:
            push(a)
        a._n += 1
        b = node._b
        if b is not None:
            if not b._n:
                push(b)
            b._n += 1
    # Pass 2: a node's gradient is complete once all its uses have been processed.
    root._g = seed
    ready = [root]
    pop, push = ready.pop, ready.append
    try:
        while ready:
            node = pop()
            g = node._g
            node._g = 0.0
            node.grad += g
            a = node._a
            if a is None:
                continue
            b = node._b
            if b is None:
                ctx = node.ctx
                if ctx:
                    (la,) = node.op.local(node.data, a.data, *ctx)
                else:
                    (la,) = node.op.local(node.data, a.data)
                a._g += g * la
                a._n -= 1
                if not a._n:
                    push(a)
            else:
                la, lb = node.op.local(node.data, a.data, b.data)
                a._g += g * la
                b._g += g * lb
                a._n -= 1
                if not a._n:
                    push(a)
                b._n -= 1
                if not b._n:
                    push(b)
    except (ArithmeticError, ValueError) as exc:
        _reset_scratch(root)
        raise _local_gradient_error(node, exc) from None


def _local_gradient_error(node: Any, exc: Exception) -> NumericError:
    where = ", ".join(_short(x.data) for x in (node._a, node._b) if x is not None)
    error = NumericError(
        f"backward: the local gradient of {node.op.name} at {where} is not finite ({exc})"
    )
    error.node = node  # lets a circuit view point at the gate
    return error


def _short(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else f"array of shape {getattr(x, 'shape', '?')}"


def _reset_scratch(root: Any) -> None:
    """Put the scratch slots of every node back to 0 after a pass that stopped halfway."""
    seen = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        node._n = 0
        node._g = 0.0
        for x in (node._a, node._b):
            if x is not None and id(x) not in seen:
                seen.add(id(x))
                stack.append(x)
