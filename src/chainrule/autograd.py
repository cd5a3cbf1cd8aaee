"""``chainrule.autograd``: torch's namespace for gradients, custom functions and anomaly mode.

A custom :class:`Function` is the CS231n gate written by the learner: ``forward`` computes the
output from plain tensors, ``backward`` turns the upstream gradient into one gradient per input.
``Function.apply`` records it as one node, drawn in the circuit view under the class's name like
any op of the catalogue.

>>> class Square(Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x * x
...     @staticmethod
...     def backward(ctx, grad_output):
...         (x,) = ctx.saved_tensors
...         return 2 * x * grad_output
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from chainrule.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from chainrule.autodiff import grad
from chainrule.errors import GraphError, OperandError, ShapeError
from chainrule.factories import cat
from chainrule.graph import no_grad
from chainrule.i18n import N_, _
from chainrule.ops import Op, is_node
from chainrule.tensor import Tensor

# The module, not the function chainrule.tensor that shadows its name on the package.
_tensor : Any = importlib.import_module("chainrule.tensor")

__all__ = ["Function", "FunctionCtx", "backward", "detect_anomaly", "grad",
           "is_anomaly_enabled", "set_detect_anomaly"]


class FunctionCtx:
    """What ``forward`` hands to ``backward``: ``save_for_backward(*tensors)`` and any
    attributes set on it (``ctx.alpha = 0.1``)."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple[Any, ...] = ()

    def save_for_backward(self, *tensors: Any) -> None:
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        return self._saved

    def mark_non_differentiable(self, *tensors: Any) -> None:
        """Accepted for torch code; outputs of a Function here are one tensor."""


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``, call
    ``MyFunction.apply(*args)``. Any number of the arguments may be tensors that require grad;
    other arguments are passed through.

    A node of the graph has one or two inputs: with one or two tracked tensors they are the
    gate's inputs; with three or more, their flattened values are concatenated into one input
    (a ``concat`` of ``reshape`` nodes, so the circuit view shows the packing) and the
    gradients ``backward`` returns are packed the same way."""

    _ops: dict[tuple[type, int], Op] = {}

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise NotImplementedError(_("a Function subclass defines forward(ctx, *args)"))

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError(_("a Function subclass defines backward(ctx, *grad_outputs)"))

    @classmethod
    def apply(cls, *args: Any) -> Any:
        positions = [i for i, x in enumerate(args) if isinstance(x, Tensor)]
        needs = tuple(isinstance(x, Tensor) and x.requires_grad for x in args)
        ctx = FunctionCtx(needs)
        with no_grad():
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise OperandError(_("{function}.forward must return one Tensor, got {kind}").format(
                function=cls.__name__, kind=type(out).__name__))
        tracked = [i for i in positions if needs[i]]
        if not tracked:
            return Tensor(out.data)
        if len(tracked) > 2:
            shapes = tuple(args[i].shape for i in tracked)
            packed = cat([args[i].reshape(-1) for i in tracked])
            return _tensor._node(out.data, cls._op(0), packed, None,
                                 (ctx, tuple(tracked), shapes))
        op = cls._op(len(tracked))
        inputs = [args[i] for i in tracked]
        return _tensor._node(out.data, op, inputs[0], inputs[1] if len(inputs) > 1 else None,
                     (ctx, tuple(tracked)))

    @classmethod
    def _op(cls, arity: int) -> Op:
        """The gate for ``arity`` tracked inputs (0: many, packed into one input)."""
        key = (cls, arity)
        op = Function._ops.get(key)
        if op is None:
            doc = (cls.__doc__ or "").strip().splitlines()
            rule = doc[0] if doc else N_("the gradient its backward() returns")

            def vjp(g: Any, out: Any, *rest: Any) -> tuple[Any, ...]:
                *inputs, ctx, tracked = rest
                shapes = [(x.data if is_node(x) else x).shape for x in inputs]
                return _call_backward(cls, ctx, tracked, g, shapes)

            def packed_vjp(g: Any, out: Any, packed: Any, ctx: FunctionCtx,
                           tracked: tuple[int, ...], shapes: tuple[Any, ...]) -> tuple[Any, ...]:
                grads = _call_backward(cls, ctx, tracked, g, list(shapes))
                if any(is_node(x) for x in grads):  # create_graph: stay differentiable
                    return (cat([(x if is_node(x) else Tensor(np.asarray(x))).expand(*shape)
                                 .reshape(-1) for x, shape in zip(grads, shapes, strict=True)]),)
                return (np.concatenate([np.broadcast_to(x, shape).ravel()
                                        for x, shape in zip(grads, shapes, strict=True)]),)

            op = Op(cls.__name__, rule, "the gradient returned by the learner's backward()",
                    arity or 1, vjp=packed_vjp if arity == 0 else vjp, symbol=cls.__name__)
            Function._ops[key] = op
        return op


def _call_backward(cls: type[Function], ctx: FunctionCtx, tracked: tuple[int, ...], g: Any,
                   shapes: list[Any]) -> tuple[Any, ...]:
    graph = is_node(g)  # create_graph: keep the results as nodes
    upstream = g if graph else Tensor(g)
    result = cls.backward(ctx, upstream)
    grads = result if isinstance(result, tuple) else (result,)
    if len(grads) < max(tracked) + 1:
        raise GraphError(_("{function}.backward returned {count} gradient(s), but "
                           "forward took {needed} or more arguments; return one per "
                           "argument (None for those without a gradient)").format(
                               function=cls.__name__, count=len(grads), needed=max(tracked) + 1))
    out: list[Any] = []
    for i, shape in zip(tracked, shapes, strict=True):
        gi = grads[i]
        if gi is None:
            out.append(np.zeros(shape))
            continue
        value = gi if graph and isinstance(gi, Tensor) else np.asarray(
            gi.data if isinstance(gi, Tensor) else gi)
        if value.shape != shape and np.broadcast_shapes(value.shape, shape) != shape:
            raise ShapeError(_("{function}.backward: gradient {i} has shape "
                               "{shape}, its input has {expected}").format(
                                   function=cls.__name__, i=i + 1, shape=value.shape,
                                   expected=shape))
        out.append(value)
    return tuple(out)


def backward(tensors: Any, grad_tensors: Any = None) -> None:
    """``chainrule.autograd.backward(y)``: the same as ``y.backward()``."""
    t = tensors[0] if isinstance(tensors, (list, tuple)) else tensors
    g = grad_tensors[0] if isinstance(grad_tensors, (list, tuple)) else grad_tensors
    t.backward(g)
