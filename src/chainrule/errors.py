"""The exceptions chainrule raises: each names the op, the shapes or the position involved."""

from __future__ import annotations

from chainrule.i18n import N_, _


class ChainruleError(Exception):
    """Base class of every error chainrule raises on purpose."""


class ShapeError(ChainruleError, ValueError, RuntimeError):
    """Operand shapes do not fit an op (the message names the op and both shapes). Also a
    ``RuntimeError``, what torch raises for the same mistakes, so code written for torch
    (``except RuntimeError``) catches it."""


class OperandError(ChainruleError, TypeError):
    """An operand of the wrong kind: a string, a Value mixed with a Tensor, …"""


class GraphError(ChainruleError, RuntimeError):
    """The graph cannot be differentiated as asked (no graph recorded, non-scalar output, …)."""


class NumericError(ChainruleError, ArithmeticError):
    """A scalar op left the real numbers (log of a negative, division by zero, overflow).

    ``node`` is the gate whose local gradient failed, when the backward pass knows it.
    """

    node: object | None = None


class DivisionByZeroError(NumericError, ZeroDivisionError):
    """A scalar division by zero: also a ``ZeroDivisionError``, as Python's own (and micrograd's)
    division raises, so ``except ZeroDivisionError`` catches it."""


class IndexOutOfRangeError(ShapeError, IndexError):
    """An index outside a tensor's shape: also an ``IndexError``, which ends iteration and
    unpacking (``for row in t``, ``a, b = t``) as it does for lists and torch tensors."""


def numeric_error(opname: str, operands: str, reason: str, where: str = "") -> NumericError:
    """The one wording for an op that left the real numbers: ``op(operands): reason``, plus the
    line of user code that called the op when known (anomaly mode). Both engines use it."""
    at = _(" (at {where})").format(where=where) if where else ""
    cls = DivisionByZeroError if reason == DIVISION_BY_ZERO else NumericError
    said = _(reason)
    return cls(f"{opname}({operands}): {said}{at}")


DIVISION_BY_ZERO = N_("division by zero")
OVERFLOW = N_("the result overflows a float")
OUTSIDE_DOMAIN = N_("the input is outside the op's domain")

# What Python's float arithmetic says when it refuses (English in every locale): the usual
# ones are shown in the reader's language, anything else as Python wrote it.
_PYTHON_REASONS = {
    "float division by zero": N_("float division by zero"),
    "division by zero": DIVISION_BY_ZERO,
    "float divmod()": N_("float divmod()"),
    "math domain error": N_("math domain error"),
    "math range error": N_("math range error"),
    "0.0 cannot be raised to a negative power": N_("0.0 cannot be raised to a negative power"),
    "negative number cannot be raised to a fractional power":
        N_("negative number cannot be raised to a fractional power"),
    "(34, 'Numerical result out of range')": N_("(34, 'Numerical result out of range')"),
}


def python_reason(exc: BaseException) -> str:
    """Python's words for an arithmetic failure, in the reader's language when we know them."""
    text = str(exc)
    return _(_PYTHON_REASONS[text]) if text in _PYTHON_REASONS else text


class GradcheckError(ChainruleError, AssertionError):
    """Analytic and numerical gradients disagree; the message names the input and element."""


class ConfigError(ChainruleError, ValueError):
    """An unknown name (init scheme, activation, loss, reduction, optimizer) or impossible
    setting."""
