"""``chainrule.grad``: gradients as engine objects, optionally differentiable again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.errors import GraphError, OperandError
from chainrule.graph import backward_pass, listen
from chainrule.i18n import _
from chainrule.tensor import _CLOCK, Tensor, _seed, anomaly_mode
from chainrule.value import Value, _to_float

__all__ = ["grad"]


def grad(
    output: Value | Tensor | Sequence[Any],
    inputs: Value | Tensor | Sequence[Value | Tensor],
    grad_output: Any = None,
    create_graph: bool = False,
    *,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    allow_unused: bool | None = None,
) -> tuple[Any, ...]:
    """∂output/∂input for each input, as ``Value``/``Tensor`` objects; ``.grad`` is untouched.

    With ``create_graph=True`` the gradients carry a graph of their own, so they can be
    differentiated again: ``grad(grad(y, x, create_graph=True)[0], x)`` is ∂²y/∂x², and
    ``grad((grad(f, w, create_graph=True)[0] * v).sum(), w)`` is a Hessian-vector product.
    ``grad_output`` (torch: ``grad_outputs``) is ∂loss/∂output; under ``create_graph`` it stays
    part of the graph, so the result can be differentiated with respect to it too.

    Inputs the output does not depend on get a zero gradient; with ``allow_unused=True`` they
    get ``None`` and with ``allow_unused=False`` they are an error (torch's two behaviours).
    ``retain_graph`` is accepted for torch code: a chainrule graph is never freed by backward.
    """
    if grad_outputs is not None:
        if grad_output is not None:
            raise OperandError(_("grad: give grad_output or grad_outputs, not both"))
        grad_output = grad_outputs
    if isinstance(output, (list, tuple)):  # torch takes sequences of one output
        if len(output) != 1:
            raise OperandError(_("grad: one output at a time (sum several outputs first)"))
        output = output[0]
        if isinstance(grad_output, (list, tuple)) and len(grad_output) == 1:
            grad_output = grad_output[0]
    targets = (inputs,) if isinstance(inputs, (Value, Tensor)) else tuple(inputs)
    if isinstance(output, Value):
        if any(not isinstance(x, Value) for x in targets):
            raise OperandError(_("grad: a Value output needs Value inputs"))
        seed: Any
        if create_graph and isinstance(grad_output, Value):
            seed = grad_output
        else:
            raw_seed = 1.0 if grad_output is None else _to_float(getattr(grad_output, "data",
                                                                          grad_output))
            seed = Value(raw_seed) if create_graph else raw_seed
        grads = backward_pass(output, seed, create_graph=create_graph)
        return _unused(tuple(grads.get(x) for x in targets), allow_unused,
                       lambda g, x: _as_value(0.0 if g is None else g))
    if isinstance(output, Tensor):
        if any(not isinstance(x, Tensor) for x in targets):
            raise OperandError(_("grad: a Tensor output needs Tensor inputs"))
        if not output.requires_grad:
            raise GraphError(_("grad: the output does not require grad (no input it was computed "
                               "from has requires_grad=True)"))
        if _CLOCK.now:
            from chainrule.inplace import check_versions

            check_versions(output)
        array_seed = _seed(output, grad_output)
        if create_graph and isinstance(grad_output, Tensor):
            # The seed stays a node: ∂(result)/∂grad_output is then part of the graph.
            seed = grad_output if grad_output.dtype == array_seed.dtype else \
                grad_output * np.ones((), dtype=array_seed.dtype)
        else:
            seed = Tensor(array_seed) if create_graph else array_seed
        if anomaly_mode():  # every edge is checked
            from chainrule.anomaly import check_event

            with listen(check_event):
                grads = backward_pass(output, seed, create_graph=create_graph)
        else:
            grads = backward_pass(output, seed, create_graph=create_graph)
        return _unused(tuple(grads.get(x) for x in targets), allow_unused, _as_tensor, targets)
    raise OperandError(_("grad: output must be a Value or a Tensor, got {kind}").format(
        kind=type(output).__name__))


def _unused(found: tuple[Any, ...], allow_unused: bool | None, convert: Any,
            targets: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    if allow_unused is False and any(g is None for g in found):
        i = next(i for i, g in enumerate(found) if g is None)
        raise GraphError(_("grad: input {i} was not used to compute the output; pass "
                           "allow_unused=True to get None for it").format(i=i + 1))
    if allow_unused:
        return tuple(None if g is None else convert(g, x)
                     for g, x in zip(found, targets or found, strict=True))
    return tuple(convert(g, x) for g, x in zip(found, targets or found, strict=True))


def _as_value(g: Any) -> Value:
    return g if isinstance(g, Value) else Value(g)


def _as_tensor(g: Any, like: Tensor) -> Tensor:
    if g is None:
        return Tensor(np.zeros_like(like.data))
    if isinstance(g, Tensor):
        return g
    return Tensor(np.array(g, dtype=like.data.dtype))  # a copy: never an array of the graph
