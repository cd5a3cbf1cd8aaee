"""``chainrule.compile(fn)``: record a loss function's graph once, replay it as a flat plan.

The eager engine builds a graph of Python node objects on every call and walks it backwards;
for a training loop whose graph is the same every step, that bookkeeping costs as much as the
arithmetic at small batches. ``compile`` runs ``fn`` once per input signature (shapes, dtypes),
turns the graph it built into a *plan* — a list of gates, each an op of the catalogue with the
indices of its inputs, plus the list of arrays they read and write — and afterwards runs the plan
instead of ``fn``:

- forward: each gate's ``op.array`` on the arrays of its inputs; elementwise ufuncs write into
  buffers allocated at trace time and reused on every call;
- backward: the same rule as :func:`chainrule.graph.backward_pass` (local gradient × upstream,
  ``+=`` where a value fans out, broadcasting undone by ``graph.unbroadcast``), in the order
  the eager pass uses, limited to the gates that lead to a parameter.

So the gradients are the eager ones (same formulas, same order of additions). Parameters are
the ``requires_grad`` leaves ``fn`` reaches (a model it closes over); their ``.data`` is read on
every call, so optimizer updates are seen.

What ``fn`` does in Python is frozen at trace time, as in ``jax.jit``: a branch on a value
(``if loss.item() > 1``), a number read with ``.item()`` or an array taken out with ``.data``
and fed back through NumPy become constants of the plan. That is the caller's responsibility;
a new input shape or dtype (a smaller last batch) traces again. A graph that cannot be replayed
faithfully (``fn`` returns something other than one number with a gradient, a result computed
under ``no_grad``, a constant that is a view of an input) runs eagerly with a warning instead,
and so does every call made while a backward listener is active or gradients are disabled.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.errors import GraphError, ShapeError
from chainrule.graph import _GradMode, no_grad, toposort, unbroadcast
from chainrule.ops import NO_GRAD, Op
from chainrule.tensor import Tensor, _seed

__all__ = ["CompiledFunction", "CompiledLoss", "Gate", "Plan", "compile"]


class CompileWarning(UserWarning):
    """A compiled function could not be recorded and runs eagerly."""


class _Unrecordable(Exception):
    """Why a traced graph cannot become a plan (the text of the warning)."""


def compile(fn: Callable[..., Any]) -> CompiledFunction:  # noqa: A001 - torch.compile's name
    """Wrap a loss function ``fn(*tensors) -> scalar Tensor`` for trace and replay.

    Arguments may be Tensors or NumPy arrays (traced by shape and dtype) and hashable Python
    values (part of the signature: a new value traces again). The result of a call supports
    ``.backward()``, which fills ``.grad`` of the parameters exactly as the eager call would.
    """
    return CompiledFunction(fn)


@dataclass(frozen=True, slots=True)
class Gate:
    """One step of a plan: ``out = op(inputs…, *ctx)``; indices point into the plan's values."""

    op: Op
    out: int
    a: int
    b: int | None
    ctx: tuple[Any, ...]


class CompiledFunction:
    """The callable ``compile`` returns; one :class:`Plan` per input signature in ``plans``."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.plans: dict[tuple[Any, ...], Plan | None] = {}
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any) -> Any:
        if _GradMode.listeners or not _GradMode.enabled:
            # Listeners want the eager graph's events; under no_grad there is nothing to record.
            return self.fn(*args)
        key = _signature(args)
        if key is None:
            return self.fn(*args)
        plan = self.plans.get(key, _MISSING)
        if plan is _MISSING:
            return self._trace(key, args)
        if plan is None:
            return self.fn(*args)
        if not plan.verified:
            return self._verify(key, plan, args)
        return plan.run(args)

    def _verify(self, key: tuple[Any, ...], plan: Plan, args: tuple[Any, ...]) -> Any:
        """The first replay is checked against an eager forward: a value the trace froze (a
        number taken out with .item() or .data, a branch on a value) shows up as a different
        result on the second batch, and the function then stays eager."""
        result = plan.run(args)
        with no_grad():
            expected = self.fn(*args)
        got = np.asarray(result.data, dtype=np.float64)
        want = np.asarray(getattr(expected, "data", np.nan), dtype=np.float64)
        if got.shape == want.shape and np.allclose(got, want, rtol=1e-12, atol=0.0,
                                                   equal_nan=True):
            plan.verified = True
            return result
        self._give_up(key, "its replay differs from the eager call on new inputs (a value "
                      "read in Python, e.g. with .item() or .data, was frozen at the trace)")
        return self.fn(*args)

    def _give_up(self, key: tuple[Any, ...], why: object) -> None:
        name = getattr(self.fn, "__qualname__", "the function")
        warnings.warn(f"chainrule.compile: {name} runs eagerly: {why}", CompileWarning,
                      stacklevel=4)
        self.plans[key] = None

    def _trace(self, key: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
        traced = tuple(_traced_input(a) for a in args)
        out = self.fn(*traced)
        try:
            plan = Plan.record(out, args, traced)
        except _Unrecordable as why:
            self._give_up(key, why)
            if any(t is not a for t, a in zip(traced, args, strict=True)):
                return self.fn(*args)  # the eager result on the caller's own tensors
            return out
        self.plans[key] = plan
        return out


_MISSING: Any = object()


def _signature(args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    key: list[Any] = []
    for a in args:
        if isinstance(a, Tensor):
            d = a.data
            key.append((d.shape, d.dtype, a.requires_grad))
        elif isinstance(a, np.ndarray):
            key.append((a.shape, a.dtype, False))
        else:
            try:
                hash(a)
            except TypeError:
                return None
            key.append(("value", type(a), a))
    return tuple(key)


def _traced_input(a: Any) -> Any:
    return Tensor(a) if isinstance(a, np.ndarray) else a


class Plan:
    """A recorded graph: ``gates`` in forward order, the arrays they need, the backward order.

    ``values[i]`` holds node i's array during a call; inputs and parameters are refreshed on
    every call, constants kept, gate outputs overwritten (into the same buffer where the op is
    a ufunc).
    """

    def __init__(self) -> None:
        self.gates: list[Gate] = []
        self.values: list[Any] = []
        self.inputs: list[tuple[int, int]] = []  # (value index, argument position)
        self.params: list[tuple[int, Tensor]] = []  # leaves that require grad
        self.shapes: list[tuple[int, ...]] = []
        self.root = -1
        self.forward: list[tuple[Any, ...]] = []
        self.backward: list[tuple[Any, ...]] = []
        self.generation = 0
        self.verified = False

    # ------------------------------------------------------------------ recording

    @classmethod
    def record(cls, out: Any, args: tuple[Any, ...], traced: tuple[Any, ...]) -> Plan:
        if not isinstance(out, Tensor):
            raise _Unrecordable(f"it returned {type(out).__name__}, not a Tensor")
        if out.data.size != 1:
            raise _Unrecordable(f"it returned a tensor of shape {out.shape}, not one number")
        if not out.requires_grad:
            raise _Unrecordable("its result does not depend on any parameter or input that "
                                "requires grad")
        for t in traced:
            if isinstance(t, Tensor) and t._a is not None:
                raise _Unrecordable("an argument is itself computed by a graph; pass leaf "
                                    "tensors (or arrays) and compute the rest inside")
        plan = cls()
        position = {id(t): i for i, t in enumerate(traced) if isinstance(t, Tensor)}
        user_requires = {i for i, a in enumerate(args) if isinstance(a, Tensor)
                         and a.requires_grad}
        input_arrays = {id(t.data): i for i, t in enumerate(traced) if isinstance(t, Tensor)}
        order = toposort(out)  # inputs first; reversed, the eager backward order
        index: dict[Any, int] = {}
        needs: list[bool] = []
        for node in order:
            i = len(plan.values)
            index[node] = i
            plan.shapes.append(node.data.shape)
            if node._a is None:
                plan.values.append(node.data)
                if node.op is NO_GRAD:
                    raise _Unrecordable("a value computed under no_grad() feeds the result")
                pos = position.get(id(node))
                if pos is not None:
                    plan.inputs.append((i, pos))
                    needs.append(pos in user_requires)
                elif node.requires_grad:
                    plan.params.append((i, node))
                    needs.append(True)
                else:
                    _check_constant(node.data, traced)
                    needs.append(False)
                continue
            op = node.op
            ctx = node.ctx[:-1] if op.saves else node.ctx
            ctx = _ctx_template(ctx, input_arrays, traced)
            a = index[node._a]
            b = None if node._b is None else index[node._b]
            plan.gates.append(Gate(op, i, a, b, ctx))
            needs.append(needs[a] or (b is not None and needs[b]))
            # The root is handed to the caller, who may keep it: never a reused buffer.
            reuse = isinstance(op.array, np.ufunc) and node is not out
            plan.values.append(np.empty_like(node.data) if reuse else None)
        plan.root = index[out]
        plan._compile(needs)
        return plan

    def _compile(self, needs: list[bool]) -> None:
        """The flat forward and backward step lists the replay loops run."""
        shapes = self.shapes
        for gate in self.gates:
            buf = self.values[gate.out] if self.values[gate.out] is not None else None
            self.forward.append((gate.op, gate.out, gate.a, gate.b, gate.ctx, buf))
        for gate in reversed(self.gates):
            if not needs[gate.out]:
                continue
            a, b = gate.a, gate.b
            need_a = needs[a]
            need_b = b is not None and needs[b]
            shape_a = shapes[a]
            shape_b = None if b is None else shapes[b]
            self.backward.append((gate.op, gate.out, a, b, gate.ctx, need_a, need_b,
                                  shape_a, shape_b))

    # ------------------------------------------------------------------ replay

    def run(self, args: tuple[Any, ...]) -> CompiledLoss:
        """Forward through the plan with new inputs and the parameters' current arrays."""
        values = self.values
        for i, pos in self.inputs:
            a = args[pos]
            values[i] = a.data if isinstance(a, Tensor) else a
        shapes = self.shapes
        for i, p in self.params:
            d = p.data
            if d.shape != shapes[i]:
                raise ShapeError(f"compile: a parameter changed shape from {shapes[i]} to "
                                 f"{d.shape} since the trace; compile the function again")
            values[i] = d
        saved: dict[int, Any] = {}
        try:
            for op, out, a, b, ctx, buf in self.forward:
                if ctx and ctx[0] is _ARG:
                    ctx = _fill(ctx, args)
                if buf is not None:
                    if b is None:
                        values[out] = op.array(values[a], *ctx, out=buf)
                    else:
                        values[out] = op.array(values[a], values[b], *ctx, out=buf)
                    continue
                data = op.array(values[a], *ctx) if b is None else \
                    op.array(values[a], values[b], *ctx)
                if op.saves:
                    data, saved[out] = data
                if type(data) is not np.ndarray:  # a full reduction gives a NumPy scalar
                    data = np.asarray(data)
                values[out] = data
        except ValueError as exc:
            raise ShapeError(f"compile: the replay failed ({exc}); the function's graph may "
                             "depend on values, which a compiled function cannot follow") from None
        self.generation += 1
        return CompiledLoss(values[self.root], self, self.generation, saved, args)

    def backpropagate(self, seed: Any, saved: dict[int, Any], args: tuple[Any, ...]) -> None:
        """Gradients of the last run into ``.grad`` of its parameters (and of inputs that
        require grad), added to what is there, as ``Tensor.backward`` does."""
        values = self.values
        grads: list[Any] = [None] * len(values)
        grads[self.root] = seed
        for op, out, a, b, ctx, need_a, need_b, shape_a, shape_b in self.backward:
            g = grads[out]
            grads[out] = None
            if ctx and ctx[0] is _ARG:
                ctx = _fill(ctx, args)
            if op.saves:
                ctx = (*ctx, saved[out])
            node_out, da = values[out], values[a]
            ga: Any
            gb: Any
            if op.local is not None:
                # local gradient × upstream: the CS231n rule, one factor per input
                if b is None:
                    ga, gb = op.local(node_out, da, *ctx)[0], None
                else:
                    ga, gb = op.local(node_out, da, values[b], *ctx)
                # (±1 from add, sub and neg hand the gradient on without a multiply.)
                if need_a:
                    ga = (g if ga == 1.0 else -g if ga == -1.0 else g * ga) \
                        if type(ga) is float else g * ga
                if need_b:
                    gb = (g if gb == 1.0 else -g if gb == -1.0 else g * gb) \
                        if type(gb) is float else g * gb
            elif b is None:
                (ga,) = op.vjp(g, node_out, da, *ctx)
                gb = None
            elif op.takes_needs:
                ga, gb = op.vjp(g, node_out, da, values[b], *ctx, needs=(need_a, need_b))
            else:
                ga, gb = op.vjp(g, node_out, da, values[b], *ctx)
            # a's share first, then b's, as the eager pass adds them: the same sums, bitwise.
            # (unbroadcast sums a broadcast input's gradient down to its shape: a bias.)
            if need_a:
                if ga.shape != shape_a:
                    ga = unbroadcast(ga, shape_a)
                prev = grads[a]
                grads[a] = ga if prev is None else prev + ga
            if need_b:
                if gb.shape != shape_b:
                    gb = unbroadcast(gb, shape_b)
                prev = grads[b]
                grads[b] = gb if prev is None else prev + gb
        assigned: set[int] = set()
        leaves = [(i, p) for i, p in self.params] + [
            (i, args[pos]) for i, pos in self.inputs
            if isinstance(args[pos], Tensor) and args[pos].requires_grad]
        for i, node in leaves:
            g = grads[i]
            if g is None:
                continue
            if node.grad is None:
                if g.base is not None or g is seed or id(g) in assigned:
                    g = g.copy()  # every .grad owns its array, as in eager
                assigned.add(id(g))
                node.grad = g
            else:
                node.grad = node.grad + g

    # ------------------------------------------------------------------ reading

    def describe(self) -> list[dict[str, Any]]:
        """The plan as a list of gates (op, output shape, inputs by index): a circuit in text."""
        kinds = {i: "input" for i, _ in self.inputs} | {i: "parameter" for i, _ in self.params}
        rows: list[dict[str, Any]] = []
        for i, shape in enumerate(self.shapes):
            if self.values[i] is not None and i not in kinds and all(
                    g.out != i for g in self.gates):
                rows.append({"index": i, "kind": "constant", "shape": list(shape)})
            elif i in kinds:
                rows.append({"index": i, "kind": kinds[i], "shape": list(shape)})
        for gate in self.gates:
            rows.append({"index": gate.out, "kind": "gate", "op": gate.op.name,
                         "inputs": [gate.a] if gate.b is None else [gate.a, gate.b],
                         "shape": list(self.shapes[gate.out])})
        return rows

    def __repr__(self) -> str:
        return (f"Plan({len(self.gates)} gates, {len(self.params)} parameters, "
                f"{len(self.inputs)} inputs)")


class CompiledLoss(Tensor):
    """The result of a compiled call: its value, and ``backward()`` through the plan.

    It is not a graph node: arithmetic on it builds no gradient (compute the whole loss inside
    the compiled function). ``backward()`` must come before the next call of the same compiled
    function, which reuses the plan's buffers.
    """

    __slots__ = ("_plan", "_generation", "_saved", "_args")

    def __init__(self, data: np.ndarray, plan: Plan, generation: int, saved: dict[int, Any],
                 args: tuple[Any, ...]) -> None:
        super().__init__(data)
        self._plan = plan
        self._generation = generation
        self._saved = saved
        self._args = args

    def backward(self, grad: Any = None) -> None:
        """Accumulate ∂self/∂parameter into ``.grad`` of every parameter of the plan."""
        if self._generation != self._plan.generation:
            raise GraphError("backward: the compiled function was called again since this loss "
                             "was computed, and its buffers now hold the newer call; call "
                             "backward() before the next call")
        self._plan.backpropagate(_seed(self, grad), self._saved, self._args)


class _ArgMarker:
    def __repr__(self) -> str:
        return "<argument>"


_ARG = _ArgMarker()


def _ctx_template(ctx: tuple[Any, ...], input_arrays: dict[int, int],
                  traced: tuple[Any, ...]) -> tuple[Any, ...]:
    """The ctx with every input array replaced by a reference to its argument (a class target
    passed to ``cross_entropy``), marked by a leading ``_ARG``."""
    refs = False
    out: list[Any] = []
    for item in ctx:
        if isinstance(item, np.ndarray):
            pos = input_arrays.get(id(item))
            if pos is not None:
                out.append(_Ref(pos))
                refs = True
                continue
            _check_constant(item, traced)
        elif isinstance(item, tuple) and any(isinstance(x, np.ndarray) for x in item):
            inner = _ctx_template(item, input_arrays, traced)
            if inner and inner[0] is _ARG:
                out.append(_Nested(inner))
                refs = True
                continue
        out.append(item)
    return (_ARG, *out) if refs else tuple(out)


@dataclass(frozen=True, slots=True)
class _Ref:
    position: int


@dataclass(frozen=True, slots=True)
class _Nested:
    template: tuple[Any, ...]


def _fill(ctx: tuple[Any, ...], args: tuple[Any, ...]) -> tuple[Any, ...]:
    out: list[Any] = []
    for item in ctx[1:]:
        if isinstance(item, _Ref):
            a = args[item.position]
            out.append(a.data if isinstance(a, Tensor) else a)
        elif isinstance(item, _Nested):
            out.append(_fill(item.template, args))
        else:
            out.append(item)
    return tuple(out)


def _check_constant(array: Any, traced: tuple[Any, ...]) -> None:
    if not isinstance(array, np.ndarray):
        return
    for t in traced:
        if isinstance(t, Tensor) and np.may_share_memory(array, t.data):
            raise _Unrecordable("a constant of the graph is a view of an input (taken with "
                                ".data or NumPy), so a replay would keep the first call's "
                                "values; compute it with Tensor ops")
