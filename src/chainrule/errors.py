"""The exceptions chainrule raises: each names the op, the shapes or the position involved."""

from __future__ import annotations


class ChainruleError(Exception):
    """Base class of every error chainrule raises on purpose."""


class ShapeError(ChainruleError, ValueError):
    """Operand shapes do not fit an op (the message names the op and both shapes)."""


class OperandError(ChainruleError, TypeError):
    """An operand of the wrong kind: a string, a Value mixed with a Tensor, …"""


class GraphError(ChainruleError, RuntimeError):
    """The graph cannot be differentiated as asked (no graph recorded, non-scalar output, …)."""


class NumericError(ChainruleError, ArithmeticError):
    """A scalar op left the real numbers (log of a negative, division by zero, overflow).

    ``node`` is the gate whose local gradient failed, when the backward pass knows it.
    """

    node: object | None = None


class GradcheckError(ChainruleError, AssertionError):
    """Analytic and numerical gradients disagree; the message names the input and element."""


class ConfigError(ChainruleError, ValueError):
    """An unknown name (init scheme, activation, loss, reduction, optimizer) or impossible
    setting."""
