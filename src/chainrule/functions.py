"""Module-level math that works on every kind of operand: Value, Tensor, number or array.

``chainrule.sigmoid(x)`` builds a gate when ``x`` is an engine node and simply computes the
number (or array) otherwise, with the forward of the same op from the catalogue.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import ops
from chainrule.errors import OperandError
from chainrule.i18n import _
from chainrule.tensor import Tensor, _binary
from chainrule.value import Value
from chainrule.value import maximum as _value_maximum
from chainrule.value import minimum as _value_minimum

__all__ = ["abs", "exp", "log", "maximum", "minimum", "relu", "sigmoid", "sqrt", "tanh"]


def _unary(name: str, x: Any) -> Any:
    if isinstance(x, (Value, Tensor)):
        return getattr(x, name)()
    op = ops.OPS[name]
    if isinstance(x, np.ndarray):
        return op.array(x)  # type: ignore[misc]
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        return op.scalar(float(x))  # type: ignore[misc]
    if isinstance(x, (list, tuple)):
        return op.array(np.asarray(x, dtype=np.float64))  # type: ignore[misc]
    raise OperandError(_("{name}: unsupported operand {kind} {operand}").format(
        name=name, kind=type(x).__name__, operand=f"{x!r:.40}"))


def exp(x: Any) -> Any:
    """e^x; ∂/∂x = e^x."""
    return _unary("exp", x)


def log(x: Any) -> Any:
    """Natural log; ∂/∂x = 1/x."""
    return _unary("log", x)


def sigmoid(x: Any) -> Any:
    """σ(x) = 1/(1+e^−x); ∂/∂x = σ(x)(1−σ(x))."""
    return _unary("sigmoid", x)


def tanh(x: Any) -> Any:
    """tanh x; ∂/∂x = 1 − tanh² x."""
    return _unary("tanh", x)


def relu(x: Any) -> Any:
    """max(x, 0); ∂/∂x = [x > 0]."""
    return _unary("relu", x)


def abs(x: Any) -> Any:  # noqa: A001 - the public name users expect
    """|x|; ∂/∂x = sign x."""
    return _unary("abs", x)


def sqrt(x: Any) -> Any:
    """√x; ∂/∂x = 1/(2√x)."""
    return _unary("sqrt", x)


def _pair(name: str, a: Any, b: Any) -> Any:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        first = a if isinstance(a, Tensor) else None
        if first is None:
            if isinstance(a, Value):
                raise OperandError(_("{name}: cannot combine a Value with a Tensor").format(
                    name=name))
            from chainrule.tensor import _lift

            return _binary(ops.OPS[name], _lift(a, b, name), b)
        return _binary(ops.OPS[name], first, b)
    if isinstance(a, Value) or isinstance(b, Value):
        return _value_maximum(a, b) if name == "maximum" else _value_minimum(a, b)
    op = ops.OPS[name]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return op.array(np.asarray(a), np.asarray(b))  # type: ignore[misc]
    return op.scalar(float(a), float(b))  # type: ignore[misc]


def maximum(a: Any, b: Any) -> Any:
    """The max gate: routes the gradient to the larger input."""
    return _pair("maximum", a, b)


def minimum(a: Any, b: Any) -> Any:
    """The min gate: routes the gradient to the smaller input."""
    return _pair("minimum", a, b)
