"""Elementwise math shared by both engines: torch's names, and NumPy's where they differ.

``Value`` and ``Tensor`` both inherit :class:`MathMethods`; each engine says once how a gate
is made (``_gate1`` for one input, ``_gate2`` for two) and every method below names a catalogue
op (:mod:`chainrule.ops`), where its forward and derivative are written. So ``x.tan()`` is the
same gate on a ``Value`` and on a ``Tensor``, and no derivative is written in this file.
"""

from __future__ import annotations

from typing import Any, TypeVar

from chainrule import ops
from chainrule.ops import Op

__all__ = ["MathMethods"]

N = TypeVar("N", bound="MathMethods")


class MathMethods:
    """Mixin of the engines' node classes (``self`` is a Value or a Tensor)."""

    __slots__ = ()

    def _gate1(self: N, op: Op, ctx: tuple[Any, ...] = ()) -> N:
        raise NotImplementedError  # pragma: no cover - each engine defines it

    def _gate2(self: N, op: Op, other: Any, reflected: bool = False) -> N:
        raise NotImplementedError  # pragma: no cover - each engine defines it

    # ------------------------------------------------------------------ trigonometric

    def tan(self: N) -> N:
        return self._gate1(ops.TAN)

    def asin(self: N) -> N:
        return self._gate1(ops.ASIN)

    def acos(self: N) -> N:
        return self._gate1(ops.ACOS)

    def atan(self: N) -> N:
        return self._gate1(ops.ATAN)

    def atan2(self: N, other: Any) -> N:
        """The angle of the point (other, self): ``atan2(y=self, x=other)``, as torch."""
        return self._gate2(ops.ATAN2, other)

    def deg2rad(self: N) -> N:
        return self._gate1(ops.DEG2RAD)

    def rad2deg(self: N) -> N:
        return self._gate1(ops.RAD2DEG)

    def sinc(self: N) -> N:
        """sin(πx)/(πx), 1 at 0 (the normalised sinc of torch and NumPy)."""
        return self._gate1(ops.SINC)

    def hypot(self: N, other: Any) -> N:
        return self._gate2(ops.HYPOT, other)

    # ------------------------------------------------------------------ hyperbolic

    def sinh(self: N) -> N:
        return self._gate1(ops.SINH)

    def cosh(self: N) -> N:
        return self._gate1(ops.COSH)

    def asinh(self: N) -> N:
        return self._gate1(ops.ASINH)

    def acosh(self: N) -> N:
        return self._gate1(ops.ACOSH)

    def atanh(self: N) -> N:
        return self._gate1(ops.ATANH)

    # ------------------------------------------------------------------ exponentials, logarithms

    def exp2(self: N) -> N:
        return self._gate1(ops.EXP2)

    def expm1(self: N) -> N:
        """eˣ − 1, exact for small x."""
        return self._gate1(ops.EXPM1)

    def log2(self: N) -> N:
        return self._gate1(ops.LOG2)

    def log10(self: N) -> N:
        return self._gate1(ops.LOG10)

    def logaddexp(self: N, other: Any) -> N:
        """ln(eˣ + eʸ) without overflow."""
        return self._gate2(ops.LOGADDEXP, other)

    def logaddexp2(self: N, other: Any) -> N:
        """log₂(2ˣ + 2ʸ) without overflow."""
        return self._gate2(ops.LOGADDEXP2, other)

    def reciprocal(self: N) -> N:
        return self._gate1(ops.RECIPROCAL)

    def rsqrt(self: N) -> N:
        """1/√x."""
        return self._gate1(ops.RSQRT)

    # ------------------------------------------------------------------ steps (zero gradient)

    def sign(self: N) -> N:
        return self._gate1(ops.SIGN)

    def floor(self: N) -> N:
        return self._gate1(ops.FLOOR)

    def ceil(self: N) -> N:
        return self._gate1(ops.CEIL)

    def trunc(self: N) -> N:
        return self._gate1(ops.TRUNC)

    def round(self: N, decimals: int = 0) -> N:
        """Rounded half to even (as torch and NumPy), to ``decimals`` decimal places."""
        return self._gate1(ops.ROUND, (int(decimals),))

    # ------------------------------------------------------------------ remainders, extremes

    def remainder(self: N, other: Any) -> N:
        """x − other·⌊x/other⌋: the sign of the divisor (torch's ``remainder``, Python's and
        NumPy's ``%``)."""
        return self._gate2(ops.REMAINDER, other)

    def __mod__(self: N, other: Any) -> N:
        return self._gate2(ops.REMAINDER, other)

    def __rmod__(self: N, other: Any) -> N:
        return self._gate2(ops.REMAINDER, other, reflected=True)

    def fmod(self: N, other: Any) -> N:
        """x − other·trunc(x/other): the sign of the dividend (C's ``fmod``)."""
        return self._gate2(ops.FMOD, other)

    def fmax(self: N, other: Any) -> N:
        """The elementwise maximum that ignores a NaN (NaN only where both are NaN)."""
        return self._gate2(ops.FMAX, other)

    def fmin(self: N, other: Any) -> N:
        """The elementwise minimum that ignores a NaN (NaN only where both are NaN)."""
        return self._gate2(ops.FMIN, other)

    # ------------------------------------------------------------------ other names

    # torch's own aliases and NumPy's spellings of the same gates.
    arcsin = asin
    arccos = acos
    arctan = atan
    arctan2 = atan2
    arcsinh = asinh
    arccosh = acosh
    arctanh = atanh
    fix = trunc
    mod = remainder
    radians = deg2rad
    degrees = rad2deg

    def fabs(self: N) -> N:
        """|x| (NumPy's name; the same gate as ``abs``)."""
        return self._gate1(ops.ABS)

    def absolute(self: N) -> N:
        """|x| (torch's and NumPy's alias of ``abs``)."""
        return self._gate1(ops.ABS)
