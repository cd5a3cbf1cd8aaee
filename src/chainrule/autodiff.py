"""``chainrule.grad``: gradients as engine objects, optionally differentiable again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.errors import GraphError, OperandError
from chainrule.graph import backward_pass
from chainrule.tensor import Tensor, _seed
from chainrule.value import Value, _to_float

__all__ = ["grad"]


def grad(
    output: Value | Tensor,
    inputs: Value | Tensor | Sequence[Value | Tensor],
    grad_output: Any = None,
    create_graph: bool = False,
) -> tuple[Any, ...]:
    """∂output/∂input for each input, as ``Value``/``Tensor`` objects; ``.grad`` is untouched.

    With ``create_graph=True`` the gradients carry a graph of their own, so they can be
    differentiated again: ``grad(grad(y, x, create_graph=True)[0], x)`` is ∂²y/∂x², and
    ``grad((grad(f, w, create_graph=True)[0] * v).sum(), w)`` is a Hessian-vector product.
    Inputs the output does not depend on get a zero gradient.
    """
    targets = (inputs,) if isinstance(inputs, (Value, Tensor)) else tuple(inputs)
    if isinstance(output, Value):
        if any(not isinstance(x, Value) for x in targets):
            raise OperandError("grad: a Value output needs Value inputs")
        raw_seed = 1.0 if grad_output is None else _to_float(getattr(grad_output, "data",
                                                                      grad_output))
        seed: Any = Value(raw_seed) if create_graph else raw_seed
        grads = backward_pass(output, seed, create_graph=create_graph)
        return tuple(_as_value(grads.get(x, 0.0)) for x in targets)
    if isinstance(output, Tensor):
        if any(not isinstance(x, Tensor) for x in targets):
            raise OperandError("grad: a Tensor output needs Tensor inputs")
        if not output.requires_grad:
            raise GraphError("grad: the output does not require grad (no input it was computed "
                             "from has requires_grad=True)")
        array_seed = _seed(output, grad_output)
        seed = Tensor(array_seed) if create_graph else array_seed
        grads = backward_pass(output, seed, create_graph=create_graph)
        return tuple(_as_tensor(grads.get(x), x) for x in targets if isinstance(x, Tensor))
    raise OperandError(f"grad: output must be a Value or a Tensor, got {type(output).__name__}")


def _as_value(g: Any) -> Value:
    return g if isinstance(g, Value) else Value(g)


def _as_tensor(g: Any, like: Tensor) -> Tensor:
    if g is None:
        return Tensor(np.zeros_like(like.data))
    if isinstance(g, Tensor):
        return g
    return Tensor(np.array(g, dtype=like.data.dtype))
