"""What a NumPy ufunc does when one of its operands is a ``Tensor`` (``Tensor.__array_ufunc__``).

- ``array ⊗ tensor`` for the operators a Tensor has (``+ - * / ** % @``, comparisons, ``&|^``,
  ``np.maximum``/``np.minimum``, ``np.fmod``, ``np.arctan2``, ``np.hypot``, ``np.logaddexp``,
  ``np.fmax``, ...): the tensor's own (reflected) operator, so the result is a
  Tensor in the graph, exactly as ``tensor ⊗ array`` is.
- ``out=`` arrays (``p.data -= lr * p.grad``, where ``p.data`` is an ndarray): the values are
  written into those arrays, as NumPy would with two arrays.
- any other ufunc (``np.abs(t)``, ``np.isfinite(t)``, ``np.add.reduce(t)``): NumPy on the
  values, an array as the result; refused for a tensor that requires grad, whose gradient would
  be lost without a word (torch refuses ``.numpy()`` there too).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from chainrule.errors import OperandError
from chainrule.i18n import _
from chainrule.tensor import Tensor

__all__ = ["array_ufunc"]


def _reflected(method: Any) -> Any:
    """``other ⊗ t`` for an operation a Tensor has only one way round (maximum, minimum)."""
    def apply(t: Tensor, other: Any) -> Tensor:
        from chainrule.tensor import _lift

        return method(_lift(other, t, "numpy"), t)

    return apply


# ufunc → (tensor ⊗ other, other ⊗ tensor), each called with the tensor first.
_OPERATORS: dict[Any, tuple[Any, Any]] = {
    np.add: (Tensor.__add__, Tensor.__radd__),
    np.subtract: (Tensor.__sub__, Tensor.__rsub__),
    np.multiply: (Tensor.__mul__, Tensor.__rmul__),
    np.true_divide: (Tensor.__truediv__, Tensor.__rtruediv__),
    np.power: (Tensor.__pow__, Tensor.__rpow__),
    np.matmul: (Tensor.__matmul__, Tensor.__rmatmul__),
    np.maximum: (Tensor.maximum, _reflected(Tensor.maximum)),
    np.minimum: (Tensor.minimum, _reflected(Tensor.minimum)),
    np.remainder: (Tensor.__mod__, Tensor.__rmod__),
    np.fmod: (Tensor.fmod, _reflected(Tensor.fmod)),
    np.arctan2: (Tensor.atan2, _reflected(Tensor.atan2)),
    np.hypot: (Tensor.hypot, _reflected(Tensor.hypot)),
    np.logaddexp: (Tensor.logaddexp, _reflected(Tensor.logaddexp)),
    np.logaddexp2: (Tensor.logaddexp2, _reflected(Tensor.logaddexp2)),
    np.fmax: (Tensor.fmax, _reflected(Tensor.fmax)),
    np.fmin: (Tensor.fmin, _reflected(Tensor.fmin)),
    # A comparison seen from the tensor's side: a < t is t > a.
    np.less: (operator.lt, operator.gt),
    np.less_equal: (operator.le, operator.ge),
    np.greater: (operator.gt, operator.lt),
    np.greater_equal: (operator.ge, operator.le),
    np.equal: (operator.eq, operator.eq),
    np.not_equal: (operator.ne, operator.ne),
    np.logical_and: (operator.and_, operator.and_),
    np.logical_or: (operator.or_, operator.or_),
    np.logical_xor: (operator.xor, operator.xor),
}


def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The result of ``getattr(ufunc, method)(*inputs, **kwargs)`` where some input is a Tensor."""
    out = kwargs.get("out")
    if out is None and method == "__call__" and len(inputs) == 2 and not kwargs \
            and ufunc in _OPERATORS:
        first, second = inputs
        forward, reflected = _OPERATORS[ufunc]
        if isinstance(first, Tensor):
            return forward(first, second)
        return reflected(second, first)
    if out is not None and any(isinstance(o, Tensor) for o in out):
        raise OperandError(_("numpy: {ufunc} cannot write into a Tensor with out=; use the "
                             "tensor's in-place methods (add_, mul_, copy_) instead").format(
            ufunc=ufunc.__name__))
    if out is None:
        for x in inputs:
            if isinstance(x, Tensor) and x.requires_grad:
                raise OperandError(_(
                    "numpy: np.{ufunc} on a tensor that requires grad would lose its gradient; "
                    "use the tensor's own method or function of chainrule, or .detach() first"
                ).format(ufunc=ufunc.__name__))
    arrays = tuple(x.numpy() if isinstance(x, Tensor) else x for x in inputs)
    return getattr(ufunc, method)(*arrays, **kwargs)
