"""``chainrule.compile(fn)``: record a loss function's graph once, replay it as a flat plan.

The eager engine builds a graph of Python node objects on every call and walks it backwards;
for a training loop whose graph is the same every step, that bookkeeping costs as much as the
arithmetic at small batches. ``compile`` runs ``fn`` once per input signature (shapes, dtypes),
turns the graph it built into a *plan* — a list of gates, each an op of the catalogue with the
indices of its inputs, plus the arrays they read — and afterwards runs the plan instead of
``fn``. The plan is generated as two straight-line Python functions (``Plan.source``):

- forward: one line per gate, the gate's ``op.array`` on its inputs' arrays; ufunc gates write
  into buffers allocated at the trace and reused on every call;
- backward: one block per gate that leads to a parameter, the same rule as
  :func:`chainrule.graph.backward_pass` (the catalogue's local gradient × upstream, or its
  ``vjp``; ``+=`` where a value fans out; broadcasting undone by ``graph.unbroadcast``), in the
  order the eager pass uses.

So the gradients are the eager ones (same formulas, same order of additions). Parameters are
the ``requires_grad`` leaves ``fn`` reaches (a model it closes over); their ``.data`` is read on
every call, so optimizer updates are seen. Computation on the inputs through Tensor ops is
recorded too (the inputs are marked while ``fn`` is traced).

What ``fn`` does in Python is frozen at the trace, as in ``jax.jit``: a branch on a value
(``if loss.item() > 1``), a number read with ``.item()`` or an array taken out with ``.data``
and fed back through NumPy become constants of the plan, and the set of parameters that receive
gradients is fixed. That is the caller's responsibility; a new input shape or dtype (a smaller
last batch) traces again. As a safety net the first replay of each plan is compared with an
eager forward. A graph that cannot be replayed faithfully (``fn`` returns something other than
one number with a gradient, a result computed under ``no_grad``, a constant that is a view of an
input, a first replay that differs from the eager call) runs eagerly from then on with a
:class:`CompileWarning`, and so does every call made while a backward listener is active or
gradients are disabled.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule import blas
from chainrule.errors import GraphError, ShapeError
from chainrule.graph import _GradMode, no_grad, toposort, unbroadcast
from chainrule.i18n import _
from chainrule.ops import ADD, NEG, NO_GRAD, SUB, Code, Op
from chainrule.tensor import Tensor, _fill_leaf, _seed, _store_grads

__all__ = ["CompileWarning", "CompiledFunction", "CompiledLoss", "Gate", "Plan", "compile"]


_CONSTANT_LOCALS = (ADD, SUB, NEG)


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

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        # A decorated method: the instance is the first argument (part of the signature).
        return self if instance is None else functools.partial(self, instance)

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
        self._give_up(key, _("its replay differs from the eager call on new inputs (a value read "
                             "in Python, e.g. with .item() or .data, was frozen at the trace)"))
        return self.fn(*args)

    def _give_up(self, key: tuple[Any, ...], why: object) -> None:
        name = getattr(self.fn, "__qualname__", None) or _("the function")
        warnings.warn(_("chainrule.compile: {name} runs eagerly: {why}").format(name=name, why=why),
                      CompileWarning, stacklevel=4)
        self.plans[key] = None

    def _trace(self, key: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
        _GradMode.traced = frozenset(a for a in args if isinstance(a, Tensor))
        try:
            out = self.fn(*args)
        finally:
            _GradMode.traced = frozenset()
        try:
            plan = Plan.record(out, args)
        except _Unrecordable as why:
            self._give_up(key, why)
            return out
        self.plans[key] = plan
        return out


_MISSING: Any = object()


def _signature(args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    key: list[Any] = []
    for a in args:
        if type(a) is Tensor or isinstance(a, Tensor):
            d = a.data
            key.append(("tensor", d.shape, d.dtype, a.requires_grad))
        elif isinstance(a, np.ndarray):
            key.append(("array", a.shape, a.dtype))
        else:
            try:
                hash(a)
            except TypeError:
                return None
            key.append(("value", type(a), a))
    return tuple(key)


class Plan:
    """A recorded graph: ``gates`` in forward order and the arrays they read.

    The plan is turned into two straight-line Python functions (``source`` shows them): the
    forward pass, one line per gate, and the backward pass, one block per gate that leads to a
    parameter, each the catalogue's ``local`` (times the upstream gradient) or ``vjp``. Gate
    outputs of ufunc ops are written into buffers allocated at the trace and reused.
    """

    def __init__(self) -> None:
        self.gates: list[Gate] = []
        self.shapes: list[tuple[int, ...]] = []
        self.inputs: list[tuple[int, int]] = []  # (value index, argument position)
        self.params: list[tuple[int, Tensor]] = []  # leaves that require grad
        self.constants: dict[int, np.ndarray] = {}
        self.root = -1
        self.source = ""
        self.generation = 0
        self.verified = False
        self.lock = threading.Lock()
        self._forward: Callable[..., Any] = _unset
        self._backward: Callable[..., Any] = _unset
        self._grad_leaves: list[tuple[int, int | Tensor]] = []
        self._root_slot = -1

    # ------------------------------------------------------------------ recording

    @classmethod
    def record(cls, out: Any, args: tuple[Any, ...]) -> Plan:
        """The plan of the graph ``out`` was computed by from ``args`` (raises
        ``_Unrecordable`` when it cannot be replayed faithfully)."""
        traced = args
        if not isinstance(out, Tensor):
            raise _Unrecordable(_("it returned {kind}, not a Tensor").format(
                kind=type(out).__name__))
        if out.data.size != 1:
            raise _Unrecordable(_("it returned a tensor of shape {shape}, not one number").format(
                shape=out.shape))
        if not out.requires_grad:
            raise _Unrecordable(_("its result does not depend on any parameter or input that "
                                  "requires grad"))
        for t in traced:
            if isinstance(t, Tensor) and t._a is not None:
                raise _Unrecordable(_("an argument is itself computed by a graph; pass leaf "
                                      "tensors (or arrays) and compute the rest inside"))
        plan = cls()
        position = {id(t): i for i, t in enumerate(traced) if isinstance(t, Tensor)}
        # An array argument enters the graph as a constant leaf holding that very array.
        input_arrays = {id(t.data if isinstance(t, Tensor) else t): i
                        for i, t in enumerate(traced) if isinstance(t, (Tensor, np.ndarray))}
        index: dict[Any, int] = {}
        needs: list[bool] = []
        unit_locals: dict[tuple[int, int], float] = {}
        buffers: dict[int, np.ndarray] = {}
        for node in toposort(out):  # inputs first; reversed, the eager backward order
            i = len(plan.shapes)
            index[node] = i
            plan.shapes.append(node.data.shape)
            if node._a is None:
                if node.op is NO_GRAD:
                    raise _Unrecordable(_("a value computed under no_grad() feeds the result"))
                pos = position.get(id(node))
                if pos is None and not node.requires_grad:
                    pos = input_arrays.get(id(node.data))
                    if pos is not None and isinstance(args[pos], Tensor):
                        pos = None  # a Tensor argument's array rewrapped: a view (refused)
                if pos is not None:
                    plan.inputs.append((i, pos))
                    needs.append(args[pos] is node and node.requires_grad)
                elif node.requires_grad:
                    plan.params.append((i, node))
                    needs.append(True)
                else:
                    _check_constant(node.data, traced)
                    plan.constants[i] = node.data
                    needs.append(False)
                continue
            op = node.op
            ctx = node.ctx[:-1] if op.saves else node.ctx
            template = _ctx_template(ctx, input_arrays, traced)
            a = index[node._a]
            b = None if node._b is None else index[node._b]
            plan.gates.append(Gate(op, i, a, b, template))
            needs.append(needs[a] or (b is not None and needs[b]))
            if op in _CONSTANT_LOCALS:
                # Their local gradients are ±1 whatever the data: the replay hands the gradient
                # on instead of multiplying by them. (Other ops' floats, such as relu's on a
                # 0-d tensor, depend on the data and are computed on every call.)
                inputs = (node._a,) if node._b is None else (node._a, node._b)
                local = op.local(node.data, *(x.data for x in inputs), *node.ctx)
                for k, d in enumerate(local):
                    if type(d) is float:
                        unit_locals[(i, k)] = d
            # The root is handed to the caller, who may keep it: never a reused buffer.
            if isinstance(op.array, np.ufunc) and node is not out:
                buffers[i] = np.empty_like(node.data)
        plan.root = index[out]
        plan._generate(needs, unit_locals, buffers)
        return plan

    def _generate(self, needs: list[bool], unit_locals: dict[tuple[int, int], float],
                  buffers: dict[int, np.ndarray]) -> None:
        """Write the forward and backward passes as Python source and compile them."""
        env: dict[str, Any] = {"ndarray": np.ndarray, "asarray": np.asarray,
                               "unbroadcast": unbroadcast, "_shape_changed": _shape_changed,
                               "matmul": np.matmul, "blas_matmul": blas.matmul,
                               "add_reduce": np.add.reduce}
        shapes = self.shapes
        refs: set[int] = set()

        def const(value: Any, name: str) -> str:
            env[name] = value
            return name

        def ctx_args(gate: Gate) -> list[str]:
            items = gate.ctx[1:] if gate.ctx and gate.ctx[0] is _ARG else gate.ctx
            return [ctx_expr(item, f"c{gate.out}_{k}") for k, item in enumerate(items)]

        def ctx_expr(item: Any, name: str) -> str:
            if isinstance(item, _Ref):
                refs.add(item.position)
                return f"A{item.position}"
            if isinstance(item, _Nested):
                parts = [ctx_expr(x, f"{name}_{k}") for k, x in enumerate(item.template[1:])]
                return f"({', '.join(parts)},)"
            return const(item, name)

        fwd = ["def forward(args):"]
        for i, pos in self.inputs:
            fwd.append(f"    v{i} = args[{pos}]")
        for i, p in self.params:
            env[f"p{i}"] = p
            env[f"s{i}"] = shapes[i]
            fwd.append(f"    v{i} = p{i}.data")
            fwd.append(f"    if v{i}.shape != s{i}: _shape_changed(s{i}, v{i}.shape)")
        for i, array in self.constants.items():
            env[f"v{i}"] = array
        body: list[str] = []
        saved: list[str] = []
        for gate in self.gates:
            i = gate.out
            operands = [f"v{gate.a}"] + ([] if gate.b is None else [f"v{gate.b}"])
            code = self._code(gate)
            if code is not None and code.forward is not None:
                body.append(f"    v{i} = {self._spell(code.forward, gate)}  # {gate.op.name}")
                continue
            call = ", ".join(operands + ctx_args(gate))
            env[f"op{i}"] = gate.op.array
            if i in buffers:
                env[f"buf{i}"] = buffers[i]
                body.append(f"    v{i} = op{i}({call}, out=buf{i})  # {gate.op.name}")
                continue
            target = f"v{i}, sv{i}" if gate.op.saves else f"v{i}"
            if gate.op.saves:
                saved.append(f"sv{i}")
            body.append(f"    {target} = op{i}({call})  # {gate.op.name}")
            # A full reduction gives a NumPy scalar; the engine keeps arrays.
            body.append(f"    if type(v{i}) is not ndarray: v{i} = asarray(v{i})")
        fwd += [f"    A{k} = args[{k}]" for k in sorted(refs)] + body
        live = [f"v{i}" for i in range(len(shapes)) if i not in self.constants] + saved
        fwd.append(f"    return ({', '.join(live)},)")
        self._root_slot = live.index(f"v{self.root}")

        bwd = ["def backward(seed, vals, args):", f"    ({', '.join(live)},) = vals"]
        bwd += [f"    A{k} = args[{k}]" for k in sorted(refs)]
        bwd.append(f"    g{self.root} = seed")
        have: set[int] = {self.root}
        for gate in reversed(self.gates):
            i = gate.out
            if not needs[i]:
                continue
            op = gate.op
            inputs = [gate.a] + ([] if gate.b is None else [gate.b])
            arguments = ", ".join([f"v{x}" for x in inputs] + ctx_args(gate)
                                  + ([f"sv{i}"] if op.saves else []))
            wanted = [needs[x] for x in inputs]
            names = [f"d{i}_{k}" for k in range(len(inputs))]
            bwd.append(f"    # {op.name}")
            code = self._code(gate)
            if code is not None:
                for k in range(len(inputs)):
                    if wanted[k]:
                        bwd.append(f"    {names[k]} = {self._spell(code.grads[k], gate)}")
            elif op.local is not None:
                if not all(unit_locals.get((i, k)) is not None or not w
                           for k, w in enumerate(wanted)):
                    env[f"local{i}"] = op.local
                    bwd.append(f"    {', '.join(names)}, = local{i}(v{i}, {arguments})")
                for k in range(len(inputs)):
                    if not wanted[k]:
                        continue
                    unit = unit_locals.get((i, k))
                    # the chain rule: upstream × local gradient
                    product = f"g{i}" if unit == 1.0 else f"-g{i}" if unit == -1.0 else \
                        f"g{i} * {unit!r}" if unit is not None else f"g{i} * {names[k]}"
                    bwd.append(f"    {names[k]} = {product}")
            else:
                env[f"vjp{i}"] = op.vjp
                extra = f", needs={tuple(wanted)!r}" if op.takes_needs else ""
                bwd.append(f"    {', '.join(names)}, = vjp{i}(g{i}, v{i}, {arguments}{extra})")
            for k, x in enumerate(inputs):
                if not wanted[k]:
                    continue
                env[f"s{x}"] = shapes[x]
                if op.local is not None:
                    # An elementwise contribution has the output's shape, known at the trace.
                    if shapes[x] != shapes[i]:
                        undo = _unbroadcast_call(names[k], shapes[i], x, shapes[x])
                        bwd.append(f"    {names[k]} = {undo}")
                elif not (code is not None and code.two_d):  # (a product's fit exactly)
                    bwd.append(f"    if {names[k]}.shape != s{x}: "
                               f"{names[k]} = unbroadcast({names[k]}, s{x})")
                # += where a value fans out
                bwd.append(f"    g{x} = g{x} + {names[k]}" if x in have else
                           f"    g{x} = {names[k]}")
                have.add(x)
            bwd.append(f"    del g{i}")
        self._grad_leaves = [(i, p) for i, p in self.params] + [
            (i, pos) for i, pos in self.inputs if needs[i]]
        # (Every leaf listed leads to the root, so each has received a gradient.)
        bwd.append("    return (" + "".join(f"g{i}, " for i, _ in self._grad_leaves) + ")")
        self.source = "\n".join(fwd) + "\n\n\n" + "\n".join(bwd) + "\n"
        exec(compile_source(self.source), env)  # noqa: S102 - our own generated source
        self._forward, self._backward = env["forward"], env["backward"]

    def _code(self, gate: Gate) -> Code | None:
        """The op's NumPy spelling where it applies to this gate (arrays of the traced shapes,
        no constants in the ctx), else None: the plan calls the op's functions."""
        code = gate.op.code
        if code is None or gate.ctx:
            return None
        if code.two_d and not all(len(self.shapes[x]) == 2
                                  for x in (gate.a, gate.b) if x is not None):
            return None
        return code

    def _spell(self, template: str, gate: Gate) -> str:
        """``template`` with the gate's value names; ``{mm}`` is NumPy's product unless
        ``chainrule.blas`` would pick the product's threads (decided once, for these shapes)."""
        a = self.shapes[gate.a]
        mm = "matmul"
        if gate.op.code is not None and gate.op.code.two_d:
            if blas.switches_threads(a[0], a[1], self.shapes[gate.out][1]):
                mm = "blas_matmul"
        return template.format(a=f"v{gate.a}", b=f"v{gate.b}", out=f"v{gate.out}",
                               g=f"g{gate.out}", mm=mm)

    # ------------------------------------------------------------------ replay

    def run(self, args: tuple[Any, ...]) -> CompiledLoss:
        """Forward through the plan with new inputs and the parameters' current arrays."""
        arrays = tuple([a.data if isinstance(a, Tensor) else a for a in args])
        with self.lock:  # the buffers are shared: one call (forward or backward) at a time
            try:
                vals = self._forward(arrays)
            except ValueError as exc:
                raise ShapeError(_("compile: the replay failed ({reason}); the function's graph "
                                   "may depend on values, which a compiled function cannot "
                                   "follow").format(reason=exc)) from None
            self.generation += 1
            generation = self.generation
        return CompiledLoss(vals[self._root_slot], self, generation, vals, args, arrays)

    def backpropagate(self, seed: Any, vals: tuple[Any, ...], args: tuple[Any, ...],
                      arrays: tuple[Any, ...]) -> None:
        """Gradients of a run into ``.grad`` of its parameters (and of inputs that require
        grad), added to what is there, as ``Tensor.backward`` does."""
        grads = self._backward(seed, vals, arrays)
        # Into .grad exactly as an eager backward() stores them (each leaf owns its array).
        nodes = (leaf if isinstance(leaf, Tensor) else args[leaf]
                 for _index, leaf in self._grad_leaves)
        _store_grads(zip(nodes, grads, strict=True), seed)

    # ------------------------------------------------------------------ reading

    def describe(self) -> list[dict[str, Any]]:
        """The plan as a list of gates (op, output shape, inputs by index): a circuit in text."""
        kinds = {i: "input" for i, _ in self.inputs} | {i: "parameter" for i, _ in self.params}
        kinds |= {i: "constant" for i in self.constants}
        rows: list[dict[str, Any]] = [{"index": i, "kind": kind, "shape": list(self.shapes[i])}
                                      for i, kind in sorted(kinds.items())]
        for gate in self.gates:
            rows.append({"index": gate.out, "kind": "gate", "op": gate.op.name,
                         "inputs": [gate.a] if gate.b is None else [gate.a, gate.b],
                         "shape": list(self.shapes[gate.out])})
        return rows

    def graph_dict(self) -> dict[str, Any]:
        """The plan in the circuit serialisation (``chainrule.viz.graph_dict``'s format), so
        every circuit view draws it: leaves and gates with their shapes (norms and gradients
        are not kept by a plan: ``None``)."""
        names = {i: f"x{pos}" for i, pos in self.inputs}
        names |= {i: p.label or "param" for i, p in self.params}
        names |= {i: "const" for i in self.constants}
        by_out = {gate.out: gate for gate in self.gates}
        nodes: list[dict[str, Any]] = []
        edges: list[dict[str, Any]] = []
        for i, shape in enumerate(self.shapes):
            value = {"shape": list(shape), "norm": None}
            gate = by_out.get(i)
            inputs = [] if gate is None else [gate.a] + ([] if gate.b is None else [gate.b])
            nodes.append({"id": i, "op": None if gate is None else gate.op.name,
                          "label": names.get(i, ""), "value": value, "grad": None,
                          "inputs": inputs})
            edges += [{"source": x, "target": i, "value": {"shape": list(self.shapes[x]),
                                                          "norm": None},
                       "local_grad": None, "contribution": None} for x in inputs]
        return {"nodes": nodes, "edges": edges}

    def __repr__(self) -> str:
        return (f"Plan(gates={len(self.gates)}, parameters={len(self.params)}, "
                f"inputs={len(self.inputs)})")


def _unbroadcast_call(name: str, have: tuple[int, ...], x: int, want: tuple[int, ...]) -> str:
    """Source undoing the broadcast from ``have`` to ``want`` (the shapes of the trace): the bias
    case as the very reduction ``graph.unbroadcast`` makes, anything else a call of it."""
    if want and len(have) == len(want) + 1 and have[1:] == want:
        return f"add_reduce({name}, axis=0)"
    return f"unbroadcast({name}, s{x})"


def _unset(*args: Any) -> Any:
    raise GraphError(_("compile: this plan was never generated"))


def _shape_changed(before: tuple[int, ...], now: tuple[int, ...]) -> None:
    raise ShapeError(_("compile: a parameter changed shape from {before} to {now} since the "
                       "trace; compile the function again").format(before=before, now=now))


def compile_source(source: str) -> Any:
    """The code object of a plan's generated source (named so tracebacks point at it)."""
    import builtins

    return builtins.compile(source, "<chainrule.compile plan>", "exec")


class CompiledLoss(Tensor):
    """The result of a compiled call: its value, and ``backward()`` through the plan.

    It is not a graph node: arithmetic on it builds no gradient (compute the whole loss inside
    the compiled function). ``backward()`` must come before the next call of the same compiled
    function, which reuses the plan's buffers.
    """

    __slots__ = ("_plan", "_generation", "_values", "_args", "_arrays")

    def __init__(self, data: np.ndarray, plan: Plan, generation: int, values: tuple[Any, ...],
                 args: tuple[Any, ...], arrays: tuple[Any, ...]) -> None:
        _fill_leaf(self, data)  # data is the plan's own buffer
        self._plan = plan
        self._generation = generation
        self._values = values
        self._args = args
        self._arrays = arrays  # the arguments' arrays as the forward read them

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, *, grad: Any = None) -> None:
        """Accumulate ∂self/∂parameter into ``.grad`` of every parameter of the plan."""
        if create_graph:
            raise GraphError(_("backward(create_graph=True) needs the eager graph: call the "
                               "function without chainrule.compile for higher derivatives"))
        seed = _seed(self, grad if grad is not None else gradient)
        plan = self._plan
        with plan.lock:
            if self._generation != plan.generation:
                raise GraphError(_("backward: the compiled function was called again since "
                                   "this loss was computed, and its buffers now hold the newer "
                                   "call; call backward() before the next call"))
            plan.backpropagate(seed, self._values, self._args, self._arrays)


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


def _check_constant(array: Any, traced: tuple[Any, ...]) -> None:
    if not isinstance(array, np.ndarray):
        return
    for t in traced:
        if isinstance(t, (Tensor, np.ndarray)) and np.may_share_memory(
                array, t.data if isinstance(t, Tensor) else t):
            raise _Unrecordable(_("a constant of the graph is a view of an input (taken with "
                                  ".data or NumPy), so a replay would keep the first call's "
                                  "values; compute it with Tensor ops"))
