"""The scalar engine: one Python float per node, micrograd-compatible.

>>> a, b = Value(-4.0), Value(2.0)
>>> c = a * b + b**3
>>> c.backward()
>>> a.grad, b.grad
(2.0, -4.0)

A ``Value`` holds no closure: the op that made it (``op``), its ``inputs`` and the op's constants
(``ctx``) are plain slots, and the derivative lives once, in :mod:`chainrule.ops`. So a node is
small (no ``__dict__``), is never part of a reference cycle, and a million of them can be built
and backpropagated without the garbage collector taking over.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.display import CircuitDisplay
from chainrule.errors import (
    DIVISION_BY_ZERO,
    OUTSIDE_DOMAIN,
    OVERFLOW,
    NumericError,
    OperandError,
    numeric_error,
)
from chainrule.graph import _GradMode, accumulate_scalar, backward_pass, has_listeners
from chainrule.i18n import _
from chainrule.math_methods import MathMethods
from chainrule.ops import NO_GRAD, Op

__all__ = ["Value", "maximum", "minimum"]

_MICROGRAD_OPS = {"add": "+", "mul": "*", "pow_const": "**", "relu": "ReLU"}


class Value(CircuitDisplay, MathMethods):
    """A scalar node: ``data`` (float), ``grad`` (float), an optional ``label`` for pictures."""

    # _g and _n are the backward pass's scratch (running gradient, uses left; see
    # chainrule.graph._propagate): None and 0 between passes.
    __slots__ = ("data", "grad", "label", "op", "_a", "_b", "ctx", "_g", "_n")

    _is_node = True
    _shaped = False
    requires_grad = True
    # NumPy must not broadcast over a Value as an object: ndarray ⊗ Value ends in our error.
    __array_ufunc__ = None

    data: float
    grad: float
    label: str
    op: Op | None
    _a: Value | None
    _b: Value | None
    ctx: tuple[Any, ...]

    def __init__(
        self, data: Any, _children: tuple[Any, ...] = (), _op: str = "", label: str = ""
    ) -> None:
        # _children and _op are accepted for micrograd's signature; history is recorded by ops.
        # (A float is taken as is without a call: leaves are half the nodes of a wide graph.)
        self.data = data if type(data) is float else _to_float(data)
        self.grad = 0.0
        self.label = label
        self.op = None
        self._a = None
        self._b = None
        self.ctx = ()
        self._g = None
        self._n = 0

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The nodes this one was computed from, in argument order (empty for a leaf)."""
        a, b = self._a, self._b
        return () if a is None else (a,) if b is None else (a, b)

    # ------------------------------------------------------------------ arithmetic

    def __add__(self, other: Any) -> Value:
        return _binary(ops.ADD, self, other if type(other) is Value else _lift(other, "add"))

    def __radd__(self, other: Any) -> Value:
        return _binary(ops.ADD, _lift(other, "add"), self)

    def __sub__(self, other: Any) -> Value:
        return _binary(ops.SUB, self, other if type(other) is Value else _lift(other, "sub"))

    def __rsub__(self, other: Any) -> Value:
        return _binary(ops.SUB, _lift(other, "sub"), self)

    def __mul__(self, other: Any) -> Value:
        return _binary(ops.MUL, self, other if type(other) is Value else _lift(other, "mul"))

    def __rmul__(self, other: Any) -> Value:
        return _binary(ops.MUL, _lift(other, "mul"), self)

    def __truediv__(self, other: Any) -> Value:
        return _binary(ops.DIV, self, other if type(other) is Value else _lift(other, "div"))

    def __rtruediv__(self, other: Any) -> Value:
        return _binary(ops.DIV, _lift(other, "div"), self)

    def __pow__(self, other: Any) -> Value:
        if type(other) is Value:
            return _binary(ops.POW, self, other)
        exponent = _lift(other, "pow").data
        return _unary(ops.POW_CONST, self, (exponent,))

    def __rpow__(self, other: Any) -> Value:
        return _binary(ops.POW, _lift(other, "pow"), self)

    # Comparisons compare the numbers (plain bools, no gradient), so `if x > 0:` works.
    # == stays identity: nodes are dict keys of the backward pass.
    def __gt__(self, other: Any) -> bool:
        return self.data > _compared(other)

    def __ge__(self, other: Any) -> bool:
        return self.data >= _compared(other)

    def __lt__(self, other: Any) -> bool:
        return self.data < _compared(other)

    def __le__(self, other: Any) -> bool:
        return self.data <= _compared(other)

    def __neg__(self) -> Value:
        return _unary(ops.NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _unary(ops.ABS, self)

    def exp(self) -> Value:
        return _unary(ops.EXP, self)

    def log(self) -> Value:
        return _unary(ops.LOG, self)

    def sigmoid(self) -> Value:
        return _unary(ops.SIGMOID, self)

    def tanh(self) -> Value:
        return _unary(ops.TANH, self)

    def relu(self) -> Value:
        return _unary(ops.RELU, self)

    def abs(self) -> Value:
        return _unary(ops.ABS, self)

    def sqrt(self) -> Value:
        return _unary(ops.SQRT, self)

    def sin(self) -> Value:
        return _unary(ops.SIN, self)

    def cos(self) -> Value:
        return _unary(ops.COS, self)

    def log1p(self) -> Value:
        return _unary(ops.LOG1P, self)

    def softplus(self) -> Value:
        return _unary(ops.SOFTPLUS, self)

    def clamp(self, min: float | None = None, max: float | None = None) -> Value:  # noqa: A002
        return _unary(ops.CLAMP, self, (min, max))

    # The gates of chainrule.math_methods (tan, atan2, remainder, ...) on this engine.
    def _gate1(self, op: Op, ctx: tuple[Any, ...] = ()) -> Value:
        return _unary(op, self, ctx)

    def _gate2(self, op: Op, other: Any, reflected: bool = False) -> Value:
        operand = other if type(other) is Value else _lift(other, op.name)
        return _binary(op, operand, self) if reflected else _binary(op, self, operand)

    # ------------------------------------------------------------------ gradients

    def backward(self, grad: float = 1.0) -> None:
        """Add ∂self/∂node to ``.grad`` of every node this value depends on (as micrograd)."""
        seed = _to_float(grad)
        if self.op is NO_GRAD or has_listeners():
            # The general pass emits events (and explains a no_grad result).
            for node, g in backward_pass(self, seed).items():
                node.grad += g
        else:
            accumulate_scalar(self, seed)
        # The root's gradient is the seed itself, not a running total (micrograd sets it to 1):
        # only the nodes below it accumulate across backward calls.
        self.grad = seed

    def zero_grad(self) -> None:
        """Set ``.grad`` of every node of the graph back to 0."""
        from chainrule.graph import toposort

        for node in toposort(self):
            node.grad = 0.0

    def detach(self) -> Value:
        """The same number as a new leaf, with no history."""
        return Value(self.data, label=self.label)

    def item(self) -> float:
        return self.data

    def __float__(self) -> float:
        return self.data

    # ------------------------------------------------------------------ micrograd's view

    @property
    def _prev(self) -> set[Value]:
        """micrograd's name for the inputs (a set there; visualisation code iterates it)."""
        return set(self.inputs)

    @property
    def _op(self) -> str:
        """micrograd's op string ('+', '*', '**2', 'ReLU'…); '' for a leaf."""
        if self.op is None or self.op is NO_GRAD:
            return ""
        symbol = _MICROGRAD_OPS.get(self.op.name, self.op.name)
        if self.op is ops.POW_CONST:
            return f"**{_format(self.ctx[0])}"
        return symbol

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{label})"



def _format(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _to_float(data: Any) -> float:
    if type(data) is float:
        return data
    if isinstance(data, (int, float, np.integer, np.floating)) and not isinstance(data, complex):
        return float(data)
    if isinstance(data, np.ndarray) and data.ndim == 0 and data.dtype.kind in "biuf":
        return float(data)
    raise OperandError(_("Value: expected a real number, got {kind} {value}").format(
        kind=type(data).__name__, value=f"{data!r:.60}"))


def _compared(other: Any) -> float:
    return other.data if type(other) is Value else _lift(other, "compare").data


def _lift(other: Any, opname: str) -> Value:
    """Wrap a plain number as a constant leaf; refuse anything else with a one-line reason."""
    if type(other) is Value:
        return other
    if type(other) in (int, float) or isinstance(other, (np.integer, np.floating)):
        return Value(other)
    if getattr(type(other), "_shaped", False):
        raise OperandError(_(
            "{op}: cannot combine a Value (scalar engine) with a Tensor (array engine); "
            "use chainrule.tensor for both, or .item() to take the Tensor's number"
        ).format(op=opname))
    if isinstance(other, np.ndarray):
        raise OperandError(_(
            "{op}: cannot combine a Value with a NumPy array of shape {shape}; "
            "use chainrule.tensor(...) for arrays"
        ).format(op=opname, shape=other.shape))
    raise OperandError(_(
        "{op}: unsupported operand {kind} {value}; expected a number or a Value"
    ).format(op=opname, kind=type(other).__name__, value=f"{other!r:.40}"))


def _numeric_error(op: Op, args: tuple[float, ...], exc: Exception) -> NumericError:
    shown = ", ".join(f"{a:g}" for a in args)
    if isinstance(exc, ZeroDivisionError):
        reason = DIVISION_BY_ZERO
    elif isinstance(exc, OverflowError):
        reason = OVERFLOW
    else:
        reason = OUTSIDE_DOMAIN
    # In anomaly mode the message also names the user's line (the mode is only ever on if its
    # module was imported, so a plain run never loads it).
    anomaly = sys.modules.get("chainrule.anomaly")
    where = anomaly.user_line() if anomaly is not None and anomaly.is_anomaly_enabled() else ""
    return numeric_error(op.name, shown, reason, where)


_new = object.__new__

# _binary and _unary fill the new node's slots themselves rather than through a shared helper:
# one Python call less per op is a tenth of the time to build a million-node graph.


def _binary(op: Op, a: Value, b: Value) -> Value:
    try:
        data = op.scalar(a.data, b.data)  # type: ignore[misc]
    except (ArithmeticError, ValueError) as exc:
        raise _numeric_error(op, (a.data, b.data), exc) from None
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out.ctx = ()
    out._g = None
    out._n = 0
    if _GradMode.enabled:
        out.op = op
        out._a = a
        out._b = b
    else:
        out.op = NO_GRAD
        out._a = out._b = None
    return out


def _unary(op: Op, a: Value, ctx: tuple[Any, ...] = ()) -> Value:
    try:
        data = op.scalar(a.data, *ctx) if ctx else op.scalar(a.data)  # type: ignore[misc]
    except (ArithmeticError, ValueError) as exc:
        raise _numeric_error(op, (a.data, *ctx), exc) from None
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out.ctx = ctx
    out._g = None
    out._n = 0
    if _GradMode.enabled:
        out.op = op
        out._a = a
        out._b = None
    else:
        out.op = NO_GRAD
        out._a = out._b = None
    return out


def maximum(a: Any, b: Any) -> Value:
    """The two-input max gate: routes the gradient to the larger input."""
    return _binary(ops.MAXIMUM, _lift(a, "maximum"), _lift(b, "maximum"))


def minimum(a: Any, b: Any) -> Value:
    """The two-input min gate: routes the gradient to the smaller input."""
    return _binary(ops.MINIMUM, _lift(a, "minimum"), _lift(b, "minimum"))

