"""The op catalogue: every op defined once — name, forward, local gradient, gate rule.

Elementwise ops serve both engines. Their forward comes as a pair (``scalar`` on Python floats,
``array`` on NumPy arrays: same function, two speeds) and their local gradient ``local`` is
written once, in plain arithmetic that works on floats, arrays *and* engine nodes alike. Passing
engine nodes is how ``create_graph=True`` works: the same formula then records a graph of its
own, so gradients can be differentiated again.

``local(out, *inputs, *ctx)`` returns ∂out/∂input for each input (elementwise); the traversal
multiplies it by the upstream gradient. Tensor-only ops (reductions, matmul, reshape, indexing)
have a Jacobian rather than a local scalar, so they give ``vjp(g, out, *inputs, *ctx)`` directly.
An op whose gradient reuses work of its forward (cross-entropy's softmax) declares ``saves``: its
``array`` then returns ``(out, saved)`` and the node keeps ``saved`` as the last entry of its ctx.
Broadcasting is undone by the traversal (``graph.unbroadcast``), never here.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule import blas
from chainrule.i18n import N_, _

__all__ = ["OPS", "Code", "Op", "is_node", "raw"]


@dataclass(frozen=True, slots=True, eq=False)
class Op:
    """One gate. ``local`` (elementwise) or ``vjp`` (tensor-only) holds its derivative."""

    name: str
    rule: str
    doc: str
    arity: int
    scalar: Callable[..., float] | None = None
    array: Callable[..., Any] | None = None
    local: Callable[..., tuple[Any, ...]] | None = None
    vjp: Callable[..., tuple[Any, ...]] | None = None
    symbol: str = field(default="")
    # vjp takes needs=(bool per input) and may skip gradients nobody asked for.
    takes_needs: bool = False
    # array returns (out, saved); saved rides at the end of the node's ctx into vjp.
    saves: bool = False
    # Whether the gradient reads the values of the inputs or of the output (mul does, add does
    # not): an input modified in place after use breaks only the gradients that read it.
    reads_values: bool = True
    # A reduced loss whose ctx is (target, scale, ...) and whose output is scale × the sum:
    # ``loss / c`` and ``loss * c`` fold into the scale (one node instead of two).
    scaled: bool = False
    # The same rule as NumPy source for chainrule.compile's straight-line plans (see Code).
    code: Code | None = None

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    @property
    def rule_text(self) -> str:
        """The gate rule in the active language (``rule`` is the English source)."""
        return _(self.rule)

    @property
    def elementwise(self) -> bool:
        return self.local is not None


@dataclass(frozen=True, slots=True)
class Code:
    """An op's forward and gradients spelled as NumPy expressions on arrays, which
    ``chainrule.compile`` writes into its plans instead of calling ``array`` and ``local``/``vjp``
    (for a small batch the calls cost as much as the arithmetic).

    The expressions are the functions' own arithmetic, in the same order, so a plan's results
    are bitwise those of the eager engine (tests/test_compile.py checks every op that has one).
    Placeholders: ``{a}``, ``{b}`` the inputs, ``{out}`` the output, ``{g}`` the upstream
    gradient, ``{mm}`` the matrix product (NumPy's, or ``blas.matmul`` where it picks threads).
    ``grads[k]`` is input k's whole contribution (upstream × local gradient, or the vjp), before
    broadcasting is undone. ``two_d``: only for 2-D operands (else the plan calls the functions).
    """

    forward: str | None
    grads: tuple[str, ...]
    two_d: bool = False


OPS: dict[str, Op] = {}


def _register(op: Op) -> Op:
    OPS[op.name] = op
    return op


# ---------------------------------------------------------------- helpers shared by the rules


def is_node(x: object) -> bool:
    """True for engine nodes (Value, Tensor); they mark themselves with ``_is_node``."""
    return getattr(type(x), "_is_node", False)


# Arrays and floats answer first: for them getattr above has to fail (an AttributeError raised
# and swallowed), which cost more than the rest of a small backward step's Python.
_PLAIN = (np.ndarray, float)


def raw(x: Any) -> Any:
    """The number or array behind ``x`` (an engine node's data, or ``x`` itself)."""
    if isinstance(x, _PLAIN):
        return x
    return x.data if is_node(x) else x


def _indicator(cond: Any) -> Any:
    # Arrays stay boolean: g * bool keeps g's dtype (float32 stays float32).
    return cond if isinstance(cond, np.ndarray) else float(cond)


def _call(name: str, x: Any, npfn: Callable[[Any], Any], mathfn: Callable[[float], float]) -> Any:
    if isinstance(x, np.ndarray):  # the common case first (see _PLAIN)
        return npfn(x)
    if is_node(x):
        return getattr(x, name)()
    return mathfn(x)


def _exp(x: Any) -> Any:
    return _call("exp", x, np.exp, math.exp)


def _log(x: Any) -> Any:
    return _call("log", x, np.log, _scalar_log)


def _sigmoid(x: Any) -> Any:
    return _call("sigmoid", x, _array_sigmoid, _scalar_sigmoid)


def _max_const(x: Any, c: float) -> Any:
    """max(x, c) elementwise, for a float, an array or an engine node."""
    if isinstance(x, np.ndarray):
        return np.maximum(x, c)
    if is_node(x):
        return x.maximum(c)
    return x if x >= c else c


def _sum_keep(x: Any, axis: Any) -> Any:
    if isinstance(x, np.ndarray):
        # ndarray.sum goes through a Python wrapper (numpy/_core/_methods.py) on every call.
        return np.add.reduce(x, axis=axis, keepdims=True)
    return x.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- scalar forwards that can fail


def _scalar_div(a: float, b: float) -> float:
    return a / b


def _scalar_log(x: float) -> float:
    return math.log(x)


def _scalar_sigmoid(x: float) -> float:
    # Two branches so exp never overflows: σ(x) = 1/(1+e^−x) for x ≥ 0, e^x/(1+e^x) below.
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


# Above these, e^x overflows the dtype (ln of its largest value, rounded down).
# (0-d arrays: NumPy converts a Python float operand on every call.)
_EXP_LIMIT = {np.dtype(t): np.array(v, dtype=t)
              for t, v in ((np.float64, 709.0), (np.float32, 88.0), (np.float16, 11.0))}


# Up to this many elements one in-place clip is the cheapest guard; above it a max-reduction
# (vectorised, unlike the clip against a scalar) costs less than touching every element again.
_CLIP_BELOW = 2048


def _array_sigmoid(x: np.ndarray) -> np.ndarray:
    # 1/(1+e^−x) where e^−x must not overflow (NumPy would warn; 1/(1+inf) = 0 is right).
    # np.errstate costs as much as the exp of a small batch, so it is only entered when some
    # element can overflow. Small arrays clip −x instead: the result there, 1/(1+e^limit), is
    # below the dtype's smallest normal number, as σ(x) is. Every step after the negation
    # works in place (at a small batch, allocations cost as much as arithmetic).
    limit = _EXP_LIMIT.get(x.dtype)
    if x.ndim == 0:  # NumPy hands 0-d results back as scalars, which cannot be written into
        return np.asarray(_scalar_sigmoid(float(x)), dtype=x.dtype if limit is not None else None)
    if limit is None:  # integers, long doubles: the plain formula
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))
    t = np.negative(x)
    if t.size <= _CLIP_BELOW:
        np.minimum(t, limit, out=t)
        np.exp(t, out=t)
    elif np.maximum.reduce(t, axis=None) <= limit:
        np.exp(t, out=t)
    else:  # some element overflows (or is NaN, which compares False above)
        with np.errstate(over="ignore"):
            np.exp(t, out=t)
    t += 1.0
    if t.size <= _CLIP_BELOW:
        return np.reciprocal(t, out=t)
    # The same correctly rounded 1/t: NumPy's divide has a vectorised loop where reciprocal
    # has none, 1.3x (float32) to 1.8x (float64) faster on a batch of 256 × 30.
    return np.divide(1.0, t, out=t)


def _scalar_relu(x: float) -> float:
    return x if x > 0.0 else 0.0


def _array_relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def _scalar_abs(x: float) -> float:
    return abs(x)


def _scalar_max(a: float, b: float) -> float:
    return a if a >= b else b


def _scalar_min(a: float, b: float) -> float:
    return a if a <= b else b


def _scalar_pow(a: float, b: float) -> float:
    result = a**b
    if isinstance(result, complex):
        raise ValueError(_("negative base with fractional exponent"))
    return float(result)


def _scalar_sign(x: float) -> float:
    return (x > 0.0) - (x < 0.0)


def _sign(x: Any) -> Any:
    x = raw(x)
    return np.sign(x) if isinstance(x, np.ndarray) else float(_scalar_sign(x))


def _log_for_pow(x: Any, exponent: Any) -> Any:
    """log(base) for ∂(a^b)/∂b; a negative base has no real log, so its slope is NaN. A zero
    base with b ≥ 0 gets slope 0, as in PyTorch: 0^b is 0 for every b > 0, and the product
    out·log a would be 0·(−∞) = NaN."""
    data, b = raw(x), raw(exponent)
    if isinstance(data, np.ndarray) or isinstance(b, np.ndarray):
        if np.all(np.asarray(data) > 0):
            return _log(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.log(np.where(data > 0, data, np.nan))
        return np.where((data == 0) & (b >= 0), 0.0, slope)
    if data > 0:
        return _log(x)
    return 0.0 if data == 0 and b >= 0 else math.nan


# ---------------------------------------------------------------- elementwise ops


def _add_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂(a+b)/∂a = 1, ∂(a+b)/∂b = 1."""
    return 1.0, 1.0


def _sub_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂(a−b)/∂a = 1, ∂(a−b)/∂b = −1."""
    return 1.0, -1.0


def _mul_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂(a·b)/∂a = b, ∂(a·b)/∂b = a."""
    return b, a


def _div_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b² = −out/b."""
    return 1.0 / b, -out / b


def _neg_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂(−a)/∂a = −1."""
    return (-1.0,)


def _pow_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂(a^b)/∂a = b·a^(b−1), ∂(a^b)/∂b = a^b·log a."""
    # At a = 0 with b < 1 the slope is infinite, as in PyTorch; NumPy's divide warning would
    # come from the backward pass of a forward that gave a finite 0^b without one.
    with np.errstate(divide="ignore"):
        return b * a ** (b - 1.0), out * _log_for_pow(a, b)


def _pow_const_local(out: Any, a: Any, c: float) -> tuple[Any, ...]:
    """∂(a^c)/∂a = c·a^(c−1) for a constant exponent c (0 for c = 0, also at a = 0)."""
    if c == 2.0:
        return (2.0 * a,)  # the common square, without a second pow
    if c == 0.0:
        return (0.0 * a,)  # a⁰ = 1 everywhere: not 0·0⁻¹ = NaN at a = 0
    with np.errstate(divide="ignore"):
        return (c * a ** (c - 1.0),)


def _exp_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂e^a/∂a = e^a = out."""
    return (out,)


def _log_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂log a/∂a = 1/a."""
    return (1.0 / a,)


def _sigmoid_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂σ(a)/∂a = σ(a)(1 − σ(a)) = out·(1 − out)."""
    return (out * (1.0 - out),)


def _tanh_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂tanh a/∂a = 1 − tanh² a = 1 − out²."""
    return (1.0 - out * out,)


def _relu_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂relu(a)/∂a = 1 if a > 0 else 0."""
    # At exactly 0 we pick 0 (the subgradient PyTorch also uses), so a unit at 0 stays dead.
    return (_indicator(raw(a) > 0),)


def _maximum_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂max(a,b)/∂a = [a ≥ b], ∂max(a,b)/∂b = [a < b]."""
    # Ties route to the first input, so exactly one input receives the gradient.
    first = raw(a) >= raw(b)
    return _indicator(first), _indicator(~first if isinstance(first, np.ndarray) else not first)


def _minimum_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂min(a,b)/∂a = [a ≤ b], ∂min(a,b)/∂b = [a > b]."""
    first = raw(a) <= raw(b)
    return _indicator(first), _indicator(~first if isinstance(first, np.ndarray) else not first)


def _abs_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂|a|/∂a = sign(a) (0 at a = 0)."""
    return (_sign(a),)


def _sqrt_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂√a/∂a = 1/(2√a) = 0.5/out."""
    return (0.5 / out,)


def _norm_sqrt_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂√a/∂a = 1/(2√a) = 0.5/out for a > 0, and 0 at a = 0."""
    # a is a variance or a sum of squares: a = 0 is its minimum, where its own gradient is
    # 0, so the chain is 0 there (PyTorch's std and norm). Taking √'s 1/(2√0) = ∞ instead
    # would give ∞·0 = NaN. Dividing by 1 where out = 0 keeps NumPy quiet.
    value = raw(out)
    return ((0.5 / (out + _indicator(value <= 0))) * _indicator(value > 0),)


def _sin_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂sin a/∂a = cos a."""
    return (_call("cos", a, np.cos, math.cos),)


def _cos_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂cos a/∂a = −sin a."""
    return (-_call("sin", a, np.sin, math.sin),)


def _log1p_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂ln(1 + a)/∂a = 1/(1 + a)."""
    return (1.0 / (1.0 + a),)


def _scalar_log1p(x: float) -> float:
    return math.log1p(x)


def _scalar_softplus(x: float) -> float:
    # ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|): e^−|x| ≤ 1 never overflows, and log1p keeps the
    # tiny values of x ≪ 0 (ln(1 + 1e−20) is 1e−20, not the 0 that 1 + 1e−20 rounds to).
    return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-abs(x)))


def _array_softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)  # the same stable form, in C


def _softplus_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂ln(1 + eᵃ)/∂a = σ(a)."""
    return (_sigmoid(a),)


# PyTorch's floor for a(1 − a) in the gradient below: 1e−12 as a float32 constant (9.99999996e−13).
_BCE_EPS = float(np.float32(1e-12))
_LOG_FLOOR = -100.0  # PyTorch's floor for each log of the cost


def _clamped_log(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        with np.errstate(divide="ignore"):
            return np.maximum(np.log(x), _LOG_FLOOR)
    return math.log(x) if x > math.exp(_LOG_FLOOR) else _LOG_FLOOR


def _scalar_bce(a: float, y: float) -> float:
    return -(y * _clamped_log(a) + (1.0 - y) * _clamped_log(1.0 - a))


def _array_bce(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    result: np.ndarray = -(y * _clamped_log(a) + (1.0 - y) * _clamped_log(1.0 - a))
    return result


def _bce_local(out: Any, a: Any, y: Any) -> tuple[Any, ...]:
    """∂C/∂a = (a − b)/max(a·(1 − a), 10⁻¹²), ∂C/∂b = max(ln(1 − a), −100) − max(ln a, −100).

    C = −[b·max(ln a, −100) + (1 − b)·max(ln(1 − a), −100)] for a prediction a and a target
    b = y, differentiated as PyTorch does: finite at a = 0 and 1."""
    da = (a - y) / _max_const(a * (1.0 - a), _BCE_EPS)
    dy = _clamped_log(raw(1.0 - a)) - _clamped_log(raw(a))
    return da, dy


def _scalar_clamp(x: float, lo: float | None, hi: float | None) -> float:
    if lo is not None and x < lo:
        x = lo
    if hi is not None and x > hi:
        x = hi
    return x


def _array_clamp(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    return np.clip(x, lo, hi)


def _clamp_local(out: Any, a: Any, lo: float | None, hi: float | None) -> tuple[Any, ...]:
    """∂clamp(a, lo, hi)/∂a = 1 where lo ≤ a ≤ hi (bounds included, as PyTorch), else 0."""
    x = raw(a)
    inside = (x >= (-math.inf if lo is None else lo)) & (x <= (math.inf if hi is None else hi))
    return (_indicator(inside),)


ADD = _register(Op("add", N_("add distributes: every input receives the upstream gradient "
                              "unchanged"),
                   _add_local.__doc__ or "", 2, operator.add, np.add, _add_local, symbol="+",
                   reads_values=False))
SUB = _register(Op("sub", N_("subtract passes the gradient to the first input and its negative "
                   "to the second"), _sub_local.__doc__ or "", 2, operator.sub, np.subtract,
                   _sub_local, symbol="−", reads_values=False))
MUL = _register(Op("mul", N_("multiply swaps its inputs: each input's gradient is the other input "
                   "times the upstream gradient"), _mul_local.__doc__ or "", 2, operator.mul,
                   np.multiply, _mul_local, symbol="×",
                   code=Code(None, ("{g} * {b}", "{g} * {a}"))))
DIV = _register(Op("div", N_("divide scales the gradient by 1/b for the numerator and by −a/b² for "
                   "the denominator"), _div_local.__doc__ or "", 2, _scalar_div, np.divide,
                   _div_local, symbol="÷"))
NEG = _register(Op("neg", N_("negate flips the sign of the gradient"), _neg_local.__doc__ or "", 1,
                   operator.neg, np.negative, _neg_local, symbol="−", reads_values=False))
POW = _register(Op("pow", N_("power: the base gets b·a^(b−1), the exponent gets a^b·log a, each "
                   "times the upstream gradient"), _pow_local.__doc__ or "", 2, _scalar_pow,
                   np.power, _pow_local, symbol="^"))
POW_CONST = _register(Op("pow_const", N_("power by a constant c scales the gradient by c·a^(c−1)"),
                         _pow_const_local.__doc__ or "", 1, _scalar_pow, np.power,
                         _pow_const_local, symbol="^"))
EXP = _register(Op("exp", N_("exp multiplies the gradient by its own output"), _exp_local.__doc__
                   or "", 1, math.exp, np.exp, _exp_local))
LOG = _register(Op("log", N_("log divides the gradient by its input"), _log_local.__doc__ or "", 1,
                   _scalar_log, np.log, _log_local))
SIGMOID = _register(Op("sigmoid", N_("sigmoid scales the gradient by σ(1−σ), at most 1/4"),
                       _sigmoid_local.__doc__ or "", 1, _scalar_sigmoid, _array_sigmoid,
                       _sigmoid_local, symbol="σ",
                       code=Code(None, ("{g} * ({out} * (1.0 - {out}))",))))
TANH = _register(Op("tanh", N_("tanh scales the gradient by 1 − tanh², at most 1"),
                    _tanh_local.__doc__ or "", 1, math.tanh, np.tanh, _tanh_local,
                    code=Code(None, ("{g} * (1.0 - {out} * {out})",))))
RELU = _register(Op("relu", N_("relu passes the gradient where its input is positive and blocks it "
                    "elsewhere"), _relu_local.__doc__ or "", 1, _scalar_relu, _array_relu,
                    _relu_local))
MAXIMUM = _register(Op("maximum", N_("max routes the gradient to the larger input; the smaller "
                       "gets zero"), _maximum_local.__doc__ or "", 2, _scalar_max, np.maximum,
                       _maximum_local, symbol="max"))
MINIMUM = _register(Op("minimum", N_("min routes the gradient to the smaller input; the larger "
                       "gets zero"), _minimum_local.__doc__ or "", 2, _scalar_min, np.minimum,
                       _minimum_local, symbol="min"))
ABS = _register(Op("abs", N_("abs passes the gradient times the sign of its input"),
                   _abs_local.__doc__ or "", 1, _scalar_abs, np.abs, _abs_local))
SQRT = _register(Op("sqrt", N_("sqrt scales the gradient by 1/(2√a)"), _sqrt_local.__doc__ or "", 1,
                    math.sqrt, np.sqrt, _sqrt_local, symbol="√"))
NORM_SQRT = _register(Op("norm_sqrt", N_("the square root of a variance or a sum of squares "
                         "scales the gradient by 1/(2√a), and by 0 at a = 0, its minimum"),
                         _norm_sqrt_local.__doc__ or "", 1, math.sqrt, np.sqrt,
                         _norm_sqrt_local, symbol="√"))
SIN = _register(Op("sin", N_("sin scales the gradient by cos a"), _sin_local.__doc__ or "", 1,
                   math.sin, np.sin, _sin_local))
COS = _register(Op("cos", N_("cos scales the gradient by −sin a"), _cos_local.__doc__ or "", 1,
                   math.cos, np.cos, _cos_local))
LOG1P = _register(Op("log1p", N_("log1p divides the gradient by 1 + a"), _log1p_local.__doc__ or "",
                     1, _scalar_log1p, np.log1p, _log1p_local))
SOFTPLUS = _register(Op("softplus", N_("softplus scales the gradient by σ(a), a smooth relu's "
                        "slope"), _softplus_local.__doc__ or "", 1, _scalar_softplus,
                        _array_softplus, _softplus_local))
BCE = _register(Op("binary_cross_entropy", N_("binary cross-entropy sends the probability "
                   "(a − y)/(a(1 − a)) times the upstream gradient"), _bce_local.__doc__ or "", 2,
                   _scalar_bce, _array_bce, _bce_local, symbol="BCE"))
CLAMP = _register(Op("clamp", N_("clamp passes the gradient where the input is inside the bounds "
                     "and blocks it outside"), _clamp_local.__doc__ or "", 1, _scalar_clamp,
                     _array_clamp, _clamp_local))


# ---------------------------------------------------------- elementwise math of torch and NumPy
# Trigonometric and hyperbolic functions, exponentials and logarithms in other bases, rounding,
# remainders and two-input functions. Scalar forwards come from ``math`` (a domain error there
# raises, which the Value engine reports as a NumericError, as for log and sqrt); array
# forwards are NumPy's ufuncs (NaN or ±∞ outside the domain, as NumPy and torch give).

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _cosh(x: Any) -> Any:
    return _call("cosh", x, np.cosh, math.cosh)


def _sinh(x: Any) -> Any:
    return _call("sinh", x, np.sinh, math.sinh)


def _exp2(x: Any) -> Any:
    return _call("exp2", x, np.exp2, _scalar_exp2)


def _zero_local(a: Any) -> tuple[Any, ...]:
    # A step function is flat on both sides of each step; at the step torch also gives 0.
    x = raw(a)
    return (np.zeros_like(x) if isinstance(x, np.ndarray) else 0.0,)


def _inverse_sqrt(x: Any) -> Any:
    """x^(−1/2): ∞ at 0 for arrays, as torch's rsqrt (Python floats raise, reported by the
    backward pass as a local gradient that is not finite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return x ** -0.5


def _tan_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂tan a/∂a = 1 + tan² a = 1 + out²."""
    return (1.0 + out * out,)


def _sinh_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂sinh a/∂a = cosh a."""
    return (_cosh(a),)


def _cosh_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂cosh a/∂a = sinh a."""
    return (_sinh(a),)


def _asin_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂asin a/∂a = 1/√(1 − a²)."""
    return (_inverse_sqrt(1.0 - a * a),)


def _acos_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂acos a/∂a = −1/√(1 − a²)."""
    return (-_inverse_sqrt(1.0 - a * a),)


def _atan_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂atan a/∂a = 1/(1 + a²)."""
    return (1.0 / (1.0 + a * a),)


def _asinh_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂asinh a/∂a = 1/√(a² + 1)."""
    return (_inverse_sqrt(a * a + 1.0),)


def _acosh_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂acosh a/∂a = 1/√(a² − 1)."""
    return (_inverse_sqrt(a * a - 1.0),)


def _atanh_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂atanh a/∂a = 1/(1 − a²)."""
    with np.errstate(divide="ignore"):  # ±∞ at a = ±1, where the forward is ±∞ too
        return (1.0 / (1.0 - a * a),)


def _scalar_exp2(x: float) -> float:
    return 2.0**x  # math.exp2 is Python 3.11+; an overflow raises OverflowError either way


def _exp2_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂2ᵃ/∂a = 2ᵃ·ln 2 = out·ln 2."""
    return (out * _LN2,)


def _expm1_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂(eᵃ − 1)/∂a = eᵃ = out + 1."""
    return (out + 1.0,)


def _log2_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂log₂ a/∂a = 1/(a·ln 2)."""
    return (1.0 / (a * _LN2),)


def _log10_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂log₁₀ a/∂a = 1/(a·ln 10)."""
    return (1.0 / (a * _LN10),)


def _sign_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂sign(a)/∂a = 0 (also at the step, as torch)."""
    return _zero_local(a)


def _array_sign(x: np.ndarray) -> np.ndarray:
    return np.sign(x)


def _scalar_sign_float(x: float) -> float:
    return float(_scalar_sign(x)) if x == x else x  # NaN stays NaN, as np.sign and torch.sign


def _keep_integers(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """A rounding ufunc that leaves integer tensors as they are (NumPy would make them
    floats; torch keeps the dtype)."""

    def rounded(x: np.ndarray) -> np.ndarray:
        return x.copy() if x.dtype.kind in "biu" else fn(x)

    return rounded


def _finite_only(fn: Callable[[float], int]) -> Callable[[float], float]:
    """math.floor/ceil/trunc as floats; ±∞ and NaN are their own floor, as in NumPy and torch
    (math.floor would raise on them)."""

    def rounded(x: float) -> float:
        return float(fn(x)) if math.isfinite(x) else x

    return rounded


def _floor_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂⌊a⌋/∂a = 0 (also at the steps, as torch)."""
    return _zero_local(a)


def _ceil_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂⌈a⌉/∂a = 0 (also at the steps, as torch)."""
    return _zero_local(a)


def _trunc_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂trunc(a)/∂a = 0 (also at the steps, as torch)."""
    return _zero_local(a)


def _scalar_round(x: float, decimals: int) -> float:
    # NumPy's rounding (half to even, scaled by 10^decimals) so both engines agree.
    return float(np.round(x, decimals))


def _array_round(x: np.ndarray, decimals: int) -> np.ndarray:
    if x.dtype.kind in "biu" and decimals >= 0:
        return x.copy()
    return np.round(x, decimals)


def _round_local(out: Any, a: Any, decimals: int) -> tuple[Any, ...]:
    """∂round(a)/∂a = 0 (also at the steps, as torch)."""
    return _zero_local(a)


def _scalar_reciprocal(x: float) -> float:
    return 1.0 / x


def _array_reciprocal(x: np.ndarray) -> np.ndarray:
    # np.reciprocal of an integer array is an integer division (1/2 = 0): torch gives floats.
    return np.reciprocal(x) if x.dtype.kind == "f" else np.divide(1.0, x)


def _reciprocal_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂(1/a)/∂a = −1/a² = −out²."""
    return (-(out * out),)


def _scalar_rsqrt(x: float) -> float:
    return 1.0 / math.sqrt(x)


def _array_rsqrt(x: np.ndarray) -> np.ndarray:
    return np.reciprocal(np.sqrt(x))  # (np.sqrt of integers gives floats)


def _rsqrt_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂(1/√a)/∂a = −1/(2a·√a) = −0.5·out³."""
    return (-0.5 * (out * out * out),)


def _deg2rad_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂deg2rad(a)/∂a = π/180."""
    return (math.pi / 180.0,)


def _rad2deg_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂rad2deg(a)/∂a = 180/π."""
    return (180.0 / math.pi,)


def _scalar_sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    y = math.pi * x
    return math.sin(y) / y


def _array_sinc(x: np.ndarray) -> np.ndarray:
    # sin(πx)/(πx), 1 at 0 (torch.sinc; np.sinc is the same normalised sinc).
    result: np.ndarray = np.sinc(x)
    return result


def _sinc_local(out: Any, a: Any) -> tuple[Any, ...]:
    """∂sinc(a)/∂a = (cos(π·a) − sinc(a))/a = (cos(π·a) − out)/a (0 at a = 0)."""
    # sinc(a) = sin(π·a)/(π·a) is even, so its slope at 0 is 0 (torch masks it there too).
    # Dividing by a + [a = 0] and multiplying by [a ≠ 0] keeps one formula for floats,
    # arrays and nodes, without a 0/0 at a = 0.
    x = raw(a)
    at_zero = _indicator(x == 0)
    slope = (_call("cos", a * math.pi, np.cos, math.cos) - out) / (a + at_zero)
    return (slope * _indicator(x != 0),)


def _scalar_remainder(a: float, b: float) -> float:
    return a % b  # Python's % takes the sign of the divisor, as torch.remainder and np.mod


def _floor_of(x: Any) -> Any:
    # (A 0-d array divided by another gives a NumPy scalar: NumPy keeps its dtype.)
    return np.floor(x) if isinstance(x, (np.ndarray, np.generic)) else float(math.floor(x))


def _trunc_of(x: Any) -> Any:
    return np.trunc(x) if isinstance(x, (np.ndarray, np.generic)) else float(math.trunc(x))


def _remainder_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂(a mod b)/∂a = 1, ∂(a mod b)/∂b = −⌊a/b⌋."""
    # a mod b = a − b·⌊a/b⌋, and ⌊a/b⌋ is flat between its steps (a constant here).
    with np.errstate(divide="ignore", invalid="ignore"):  # b = 0: NaN, as the forward
        return 1.0, -_floor_of(raw(a) / raw(b))


def _scalar_fmod(a: float, b: float) -> float:
    return math.fmod(a, b)


def _fmod_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂fmod(a, b)/∂a = 1, ∂fmod(a, b)/∂b = −trunc(a/b)."""
    # fmod(a, b) = a − b·trunc(a/b): the remainder with the sign of a (C's fmod).
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0, -_trunc_of(raw(a) / raw(b))


def _scalar_logaddexp(a: float, b: float) -> float:
    # max + ln(1 + e^−|a−b|): the exponent is ≤ 0, so nothing overflows.
    if a == b:  # also ±∞ on both sides, where a − b would be NaN
        return a + _LN2
    top = a if a > b else b
    return top + math.log1p(math.exp(-abs(a - b)))


def _logaddexp_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂ln(eᵃ + eᵇ)/∂a = e^(a − out), ∂ln(eᵃ + eᵇ)/∂b = e^(b − out)."""
    return _exp(a - out), _exp(b - out)


def _scalar_logaddexp2(a: float, b: float) -> float:
    if a == b:
        return a + 1.0
    top = a if a > b else b
    return top + math.log1p(2.0 ** -abs(a - b)) / _LN2


def _logaddexp2_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂log₂(2ᵃ + 2ᵇ)/∂a = 2^(a − out), ∂log₂(2ᵃ + 2ᵇ)/∂b = 2^(b − out)."""
    return _exp2(a - out), _exp2(b - out)


def _atan2_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂atan2(a, b)/∂a = b/(a² + b²), ∂atan2(a, b)/∂b = −a/(a² + b²)."""
    # At a = b = 0 the angle has no slope: 0/0, NaN as in torch.
    with np.errstate(divide="ignore", invalid="ignore"):
        squared = a * a + b * b
        return b / squared, -a / squared


def _hypot_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂√(a² + b²)/∂a = a/out, ∂√(a² + b²)/∂b = b/out."""
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 at the origin, as torch
        return a / out, b / out


def _nan_ignoring_route(x: Any, y: Any, first: Any) -> tuple[Any, ...]:
    # The first input gets the gradient where it won the comparison or the other is NaN
    # (fmax/fmin return the number then); the second everywhere else.
    if isinstance(first, (np.ndarray, np.bool_)):
        first = first | np.isnan(y)
        return _indicator(first), _indicator(np.logical_not(first))
    first = first or y != y
    return float(first), float(not first)


def _scalar_fmax(a: float, b: float) -> float:
    return a if a >= b or b != b else b


def _fmax_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂fmax(a, b)/∂a = [a ≥ b or b is NaN], ∂fmax(a, b)/∂b = 1 − [a ≥ b or b is NaN]."""
    x, y = raw(a), raw(b)
    return _nan_ignoring_route(x, y, x >= y)


def _scalar_fmin(a: float, b: float) -> float:
    return a if a <= b or b != b else b


def _fmin_local(out: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """∂fmin(a, b)/∂a = [a ≤ b or b is NaN], ∂fmin(a, b)/∂b = 1 − [a ≤ b or b is NaN]."""
    x, y = raw(a), raw(b)
    return _nan_ignoring_route(x, y, x <= y)


TAN = _register(Op("tan", N_("tan scales the gradient by 1 + tan² a"), _tan_local.__doc__ or "",
                   1, math.tan, np.tan, _tan_local))
SINH = _register(Op("sinh", N_("sinh scales the gradient by cosh a"), _sinh_local.__doc__ or "",
                    1, math.sinh, np.sinh, _sinh_local))
COSH = _register(Op("cosh", N_("cosh scales the gradient by sinh a"), _cosh_local.__doc__ or "",
                    1, math.cosh, np.cosh, _cosh_local))
ASIN = _register(Op("asin", N_("asin scales the gradient by 1/√(1 − a²), infinite at a = ±1"),
                    _asin_local.__doc__ or "", 1, math.asin, np.arcsin, _asin_local))
ACOS = _register(Op("acos", N_("acos scales the gradient by −1/√(1 − a²), infinite at a = ±1"),
                    _acos_local.__doc__ or "", 1, math.acos, np.arccos, _acos_local))
ATAN = _register(Op("atan", N_("atan scales the gradient by 1/(1 + a²), at most 1"),
                    _atan_local.__doc__ or "", 1, math.atan, np.arctan, _atan_local))
ASINH = _register(Op("asinh", N_("asinh scales the gradient by 1/√(a² + 1), at most 1"),
                     _asinh_local.__doc__ or "", 1, math.asinh, np.arcsinh, _asinh_local))
ACOSH = _register(Op("acosh", N_("acosh scales the gradient by 1/√(a² − 1), infinite at a = 1"),
                     _acosh_local.__doc__ or "", 1, math.acosh, np.arccosh, _acosh_local))
ATANH = _register(Op("atanh", N_("atanh scales the gradient by 1/(1 − a²), at least 1"),
                     _atanh_local.__doc__ or "", 1, math.atanh, np.arctanh, _atanh_local))
EXP2 = _register(Op("exp2", N_("exp2 multiplies the gradient by its own output times ln 2"),
                    _exp2_local.__doc__ or "", 1, _scalar_exp2, np.exp2, _exp2_local))
EXPM1 = _register(Op("expm1", N_("expm1 multiplies the gradient by its own output plus 1, that "
                     "is by eᵃ"), _expm1_local.__doc__ or "", 1, math.expm1, np.expm1,
                     _expm1_local))
LOG2 = _register(Op("log2", N_("log2 divides the gradient by a·ln 2"), _log2_local.__doc__ or "",
                    1, math.log2, np.log2, _log2_local))
LOG10 = _register(Op("log10", N_("log10 divides the gradient by a·ln 10"),
                     _log10_local.__doc__ or "", 1, math.log10, np.log10, _log10_local))
SIGN = _register(Op("sign", N_("sign is flat: it passes no gradient"), _sign_local.__doc__ or "",
                    1, _scalar_sign_float, _array_sign, _sign_local, reads_values=False))
FLOOR = _register(Op("floor", N_("floor is flat between its steps: it passes no gradient"),
                     _floor_local.__doc__ or "", 1, _finite_only(math.floor),
                     _keep_integers(np.floor), _floor_local, symbol="⌊⌋", reads_values=False))
CEIL = _register(Op("ceil", N_("ceil is flat between its steps: it passes no gradient"),
                    _ceil_local.__doc__ or "", 1, _finite_only(math.ceil),
                    _keep_integers(np.ceil), _ceil_local, symbol="⌈⌉", reads_values=False))
TRUNC = _register(Op("trunc", N_("trunc is flat between its steps: it passes no gradient"),
                     _trunc_local.__doc__ or "", 1, _finite_only(math.trunc),
                     _keep_integers(np.trunc), _trunc_local, reads_values=False))
ROUND = _register(Op("round", N_("round is flat between its steps: it passes no gradient"),
                     _round_local.__doc__ or "", 1, _scalar_round, _array_round, _round_local,
                     reads_values=False))
RECIPROCAL = _register(Op("reciprocal", N_("reciprocal scales the gradient by −1/a², minus its "
                          "output squared"), _reciprocal_local.__doc__ or "", 1,
                          _scalar_reciprocal, _array_reciprocal, _reciprocal_local))
RSQRT = _register(Op("rsqrt", N_("rsqrt scales the gradient by −1/(2a√a), minus half its output "
                     "cubed"), _rsqrt_local.__doc__ or "", 1, _scalar_rsqrt, _array_rsqrt,
                     _rsqrt_local))
DEG2RAD = _register(Op("deg2rad", N_("deg2rad scales the gradient by π/180"),
                       _deg2rad_local.__doc__ or "", 1, math.radians, np.deg2rad,
                       _deg2rad_local, reads_values=False))
RAD2DEG = _register(Op("rad2deg", N_("rad2deg scales the gradient by 180/π"),
                       _rad2deg_local.__doc__ or "", 1, math.degrees, np.rad2deg,
                       _rad2deg_local, reads_values=False))
SINC = _register(Op("sinc", N_("sinc scales the gradient by (cos πa − sinc a)/a, and by 0 at "
                    "a = 0"), _sinc_local.__doc__ or "", 1, _scalar_sinc, _array_sinc,
                    _sinc_local))
REMAINDER = _register(Op("remainder", N_("remainder (the sign of the divisor) passes the gradient "
                         "to the dividend and −⌊a/b⌋ times it to the divisor"),
                         _remainder_local.__doc__ or "", 2, _scalar_remainder, np.remainder,
                         _remainder_local, symbol="mod"))
FMOD = _register(Op("fmod", N_("fmod (the sign of the dividend) passes the gradient to the "
                    "dividend and −trunc(a/b) times it to the divisor"), _fmod_local.__doc__ or "",
                    2, _scalar_fmod, np.fmod, _fmod_local))
LOGADDEXP = _register(Op("logaddexp", N_("logaddexp sends each input the gradient times its "
                         "softmax weight e^(x − out)"), _logaddexp_local.__doc__ or "", 2,
                         _scalar_logaddexp, np.logaddexp, _logaddexp_local))
LOGADDEXP2 = _register(Op("logaddexp2", N_("logaddexp2 sends each input the gradient times "
                          "2^(x − out)"), _logaddexp2_local.__doc__ or "", 2, _scalar_logaddexp2,
                          np.logaddexp2, _logaddexp2_local))
ATAN2 = _register(Op("atan2", N_("atan2 sends b/(a² + b²) times the gradient to a and "
                     "−a/(a² + b²) times it to b"), _atan2_local.__doc__ or "", 2, math.atan2,
                     np.arctan2, _atan2_local))
HYPOT = _register(Op("hypot", N_("hypot sends each input the gradient times that input divided "
                     "by the output"), _hypot_local.__doc__ or "", 2, math.hypot, np.hypot,
                     _hypot_local))
FMAX = _register(Op("fmax", N_("fmax routes the gradient to the larger input, ignoring a NaN; the "
                    "other gets zero"), _fmax_local.__doc__ or "", 2, _scalar_fmax, np.fmax,
                    _fmax_local))
FMIN = _register(Op("fmin", N_("fmin routes the gradient to the smaller input, ignoring a NaN; "
                    "the other gets zero"), _fmin_local.__doc__ or "", 2, _scalar_fmin, np.fmin,
                    _fmin_local))


# ---------------------------------------------------------------- tensor-only ops
# Forward signatures: array(*input_arrays, *ctx). vjp(g, out, *inputs, *ctx) -> per-input grads.
# g, out and inputs are arrays normally, engine Tensors under create_graph=True; the formulas use
# only methods both have (sum, reshape, transpose, @, indexing).


def _swap_last(x: Any) -> Any:
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return x.transpose(*axes)


def _matmul_vjp(
    g: Any, out: Any, a: Any, b: Any, needs: tuple[bool, ...] = (True, True)
) -> tuple[Any, ...]:
    """∂(A@B): Ā = G @ Bᵀ, B̄ = Aᵀ @ G (operands are at least 2-D; batches broadcast)."""
    # A data batch needs no gradient; skipping its product saves the largest matmul of a step.
    flat = a.ndim == 2 and b.ndim == 2  # arrays and Tensors both have ndim
    ga = _mm(g, b.T if flat else _swap_last(b)) if needs[0] else None
    gb = _mm(a.T if flat else _swap_last(a), g) if needs[1] else None
    return ga, gb


def _mm(a: Any, b: Any) -> Any:
    # Arrays go through chainrule.blas (one thread for mid-sized products); Tensors (under
    # create_graph) record a matmul node.
    return blas.matmul(a, b) if type(a) is np.ndarray and type(b) is np.ndarray else a @ b


def _matmul_t_array(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return blas.matmul(a, b.T)


def _matmul_t_vjp(
    g: Any, out: Any, a: Any, b: Any, needs: tuple[bool, ...] = (True, True)
) -> tuple[Any, ...]:
    """∂(A@Bᵀ): Ā = G @ B, B̄ = Gᵀ @ A (2-D operands: a batch and a layer's (out, in) weight)."""
    return _mm(g, b) if needs[0] else None, _mm(g.T, a) if needs[1] else None


def _reduced_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _expand(g: Any, shape: tuple[int, ...], axis: tuple[int, ...] | None) -> Any:
    """Reshape a reduced gradient to keepdims form, then broadcast it to ``shape``."""
    g = g.reshape(_reduced_shape(shape, axis))
    if is_node(g):
        return g.broadcast_to(shape)
    if type(g) is not np.ndarray:  # a 0-d result of NumPy arithmetic is a NumPy scalar
        g = np.asarray(g)
    if math.prod(shape) <= _COPY_BELOW:
        # np.broadcast_to is Python-level and costs as much as a small batch's matmul; a small
        # gradient is cheaper copied out in C (same values; an array of its own).
        out = np.empty(shape, dtype=g.dtype)
        np.copyto(out, g)
        return out
    return np.broadcast_to(g, shape)


_COPY_BELOW = 4096  # elements: copying fewer is cheaper than building a broadcast view


def _sum_array(a: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    return a.sum(axis=axis, keepdims=keepdims)


def _sum_vjp(g: Any, out: Any, a: Any, axis: Any, keepdims: bool) -> tuple[Any, ...]:
    """∂Σa/∂a = 1 for every summed element: the gradient is copied back over the axis."""
    return (_expand(g, raw(a).shape, axis),)


def _mean_array(a: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    if a.size == 0:  # the mean of nothing is NaN (as in torch), without NumPy's warning
        with np.errstate(invalid="ignore", divide="ignore"):
            return a.sum(axis=axis, keepdims=keepdims) / 0.0
    return a.mean(axis=axis, keepdims=keepdims)


def _count(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> int:
    return math.prod(shape) if axis is None else math.prod(shape[i] for i in axis)


def _mean_vjp(g: Any, out: Any, a: Any, axis: Any, keepdims: bool) -> tuple[Any, ...]:
    """∂mean(a)/∂a = 1/n for each of the n averaged elements."""
    shape = raw(a).shape
    n = _count(shape, axis)
    return (_expand(g, shape, axis) * (1.0 / n if n else math.nan),)


def _max_array(a: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    return a.max(axis=axis, keepdims=keepdims)


def _max_vjp(g: Any, out: Any, a: Any, axis: Any, keepdims: bool) -> tuple[Any, ...]:
    """∂max(a)/∂aᵢ = 1 for the maximal element (ties share it equally), 0 elsewhere."""
    data = raw(a)
    top = raw(out).reshape(_reduced_shape(data.shape, axis))
    mask = data == top
    share = mask / mask.sum(axis=axis, keepdims=True)
    return (_expand(g, data.shape, axis) * share.astype(data.dtype),)


def _reshape_vjp(g: Any, out: Any, a: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """∂reshape(a)/∂a is the identity on values: the gradient is reshaped back."""
    return (g.reshape(raw(a).shape),)


def _transpose_array(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return a.transpose(axes)


def _transpose_vjp(g: Any, out: Any, a: Any, axes: tuple[int, ...]) -> tuple[Any, ...]:
    """∂aᵀ/∂a permutes values: the gradient is permuted back by the inverse permutation."""
    return (g.transpose(*np.argsort(axes).tolist()),)


def _broadcast_array(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(a, shape)


def _broadcast_vjp(g: Any, out: Any, a: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """∂broadcast(a)/∂a copies values; the traversal sums the copies back (unbroadcast)."""
    return (g,)


def _getitem_array(a: np.ndarray, index: Any) -> np.ndarray:
    return a[index]


def _getitem_vjp(g: Any, out: Any, a: Any, index: Any) -> tuple[Any, ...]:
    """∂a[i]/∂a picks elements: the gradient flows back to them, repeats accumulating."""
    shape = raw(a).shape
    if is_node(g):
        return (g.scatter_add(index, shape),)
    return (_scatter_add_array(g, index, shape),)


def _scatter_add_array(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    # np.add.at, unlike z[index] += g, adds once per repetition of an index.
    z = np.zeros(shape, dtype=g.dtype)
    np.add.at(z, index, g)
    return z


def _scatter_add_vjp(g: Any, out: Any, a: Any, index: Any, shape: Any) -> tuple[Any, ...]:
    """∂scatter(a)/∂a is the transpose of indexing: the gradient is indexed back."""
    return (g[index],)


def _logsumexp_array(a: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    # Subtracting the maximum keeps exp from overflowing (logits of ±1000 stay finite).
    if a.size == 0:  # nothing to subtract: a sum of no terms is 0, its log −∞ (as torch)
        with np.errstate(divide="ignore"):
            return np.log(np.exp(a).sum(axis=axis, keepdims=keepdims))
    top = a.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.exp(a - top).sum(axis=axis, keepdims=True)) + top
    return out if keepdims else out.reshape(np.sum(a, axis=axis).shape)


def _logsumexp_vjp(g: Any, out: Any, a: Any, axis: Any, keepdims: bool) -> tuple[Any, ...]:
    """∂logΣexp(a)/∂aᵢ = softmax(a)ᵢ = exp(aᵢ − out)."""
    shape = raw(a).shape
    kept = out.reshape(_reduced_shape(shape, axis))
    return (_expand(g, shape, axis) * _exp(a - kept),)


def _log_softmax_array(a: np.ndarray, axis: int) -> np.ndarray:
    if a.size == 0:
        return a.copy()
    top = np.maximum.reduce(a, axis=axis, keepdims=True)
    if np.logical_and.reduce(np.isfinite(top), axis=None):
        # Every row's maximum is finite (the usual case): the same arithmetic as logsumexp
        # below, bit for bit, without its isfinite/where guard and reshape (a third of the
        # calls, which matters for the small batches of a training loop).
        lse = np.log(np.add.reduce(np.exp(a - top), axis=axis, keepdims=True))
        lse += top
        result: np.ndarray = a - lse
        return result
    result = a - _logsumexp_array(a, (axis,), True)
    return result


def _log_softmax_vjp(g: Any, out: Any, a: Any, axis: int) -> tuple[Any, ...]:
    """∂log softmax: ā = g − softmax(a)·Σg (softmax = exp(out))."""
    return (g - _exp(out) * _sum_keep(g, axis),)


def _softmax_array(a: np.ndarray, axis: int) -> np.ndarray:
    # The ufuncs' reduce directly: ndarray.max/.sum go through a Python wrapper on every call.
    if a.size == 0:
        return a.copy()
    e = np.exp(a - np.maximum.reduce(a, axis=axis, keepdims=True))
    e /= np.add.reduce(e, axis=axis, keepdims=True)
    return e


def _softmax_vjp(g: Any, out: Any, a: Any, axis: int) -> tuple[Any, ...]:
    """∂softmax: ā = out·(g − Σ g·out)."""
    return (out * (g - _sum_keep(g * out, axis)),)


# The fused losses (ops with ``scaled=True``) share their reduction: ``scale`` is None for
# reduction "none" (one loss per element or row), 1 for "sum", 1/size for "mean".


def _scaled_total(losses: np.ndarray, scale: float | None) -> Any:
    """The losses as the node's value: as they are for "none", else their sum times scale."""
    return losses if scale is None else np.add.reduce(losses, axis=None) * scale


def _loss_factor(g: Any, scale: float | None) -> Any:
    """What a fused loss's gradient is multiplied by: upstream × scale (the upstream itself for
    "none", where each loss has its own)."""
    if scale is None:
        return g
    if type(g) is np.ndarray and g.ndim == 0:
        return float(g) * scale  # a Python number: NumPy converts a 0-d array on every use
    return g * scale


def _cross_entropy_array(
    z: np.ndarray, target: np.ndarray, scale: float | None
) -> tuple[Any, tuple[np.ndarray, ...]]:
    # C = Σᵢ −Σ_c yᵢ_c·ln softmax(zᵢ)_c with ln softmax(zᵢ)_c = (zᵢ_c − mᵢ) − ln Σ_k e^(zᵢ_k − mᵢ),
    # mᵢ the row maximum: every exponent is ≤ 0, so logits of ±1000 neither overflow nor lose
    # the answer (e^−2000 underflowing to 0 only drops a term that is 0 to the precision).
    # Saved for the gradient: e^(z − m) and its row sums, the softmax before its division.
    shifted = z - np.maximum.reduce(z, axis=1, keepdims=True)
    e = np.exp(shifted)
    sums = np.add.reduce(e, axis=1, keepdims=True)
    lse = np.log(sums)
    if target.ndim == 1:  # class indices: Σ_c yᵢ_c = 1 and only the target's logit is picked
        rows = np.arange(len(target))
        losses = lse[:, 0] - shifted[rows, target]
        saved: tuple[np.ndarray, ...] = (e, sums, rows)
    else:
        losses = lse[:, 0] * np.add.reduce(target, axis=1) - np.add.reduce(target * shifted, axis=1)
        saved = (e, sums)
    return _scaled_total(losses, scale), saved


def _cross_entropy_vjp(
    g: Any, out: Any, z: Any, target: np.ndarray, scale: float | None, saved: tuple[Any, ...]
) -> tuple[Any, ...]:
    """∂C/∂z = (softmax(z)·Σ_c y_c − y)·scale·g; for class targets (y one-hot, Σ_c y_c = 1)
    that is (softmax(z) − onehot(y))·scale·g."""
    # scale is 1/n for "mean", 1 for "sum"; "none" (scale None) has one upstream value per row.
    factor = _loss_factor(g if scale is not None else g.reshape(-1, 1), scale)
    if is_node(z):  # create_graph: the same formula through Tensor ops, differentiable again
        p = z.softmax(axis=1)
        if target.ndim == 1:
            onehot = np.zeros(raw(z).shape, dtype=raw(z).dtype)
            onehot[np.arange(len(target)), target] = 1.0
            return ((p - onehot) * factor,)
        return ((p * _sum_keep(target, 1) - target) * factor,)
    e, sums = saved[0], saved[1]
    p = e / sums  # the softmax, a fresh array: the updates below are in place
    if target.ndim == 1:
        p[saved[2], target] -= 1.0
    else:
        p *= _sum_keep(target, 1)
        p -= target
    p *= factor
    return (p,)


def _where_array(a: np.ndarray, b: np.ndarray, cond: np.ndarray) -> np.ndarray:
    return np.where(cond, a, b)


def _where_vjp(g: Any, out: Any, a: Any, b: Any, cond: np.ndarray) -> tuple[Any, ...]:
    """∂where(c, a, b)/∂a = [c], ∂/∂b = [not c]."""
    if is_node(g):
        return g * cond, g * ~cond
    # Selected, not multiplied: an infinite gradient on the other branch stays out (∞·0 = NaN).
    zero = np.zeros((), dtype=g.dtype)
    return np.where(cond, g, zero), np.where(cond, zero, g)


def _prod_array(a: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    return a.prod(axis=axis, keepdims=keepdims)


def _prod_vjp(g: Any, out: Any, a: Any, axis: Any, keepdims: bool) -> tuple[Any, ...]:
    """∂Πa/∂aᵢ = Π_{j≠i} aⱼ (the product of the others; right even where some aⱼ are 0)."""
    shape = raw(a).shape
    if is_node(g):  # create_graph: out/aᵢ through engine ops (inputs without zeros)
        return (_expand(g, shape, axis) * out.reshape(_reduced_shape(shape, axis)) / a,)
    return (_expand(g, shape, axis) * _others_product(a, axis),)


def _others_product(x: np.ndarray, axis: tuple[int, ...] | None) -> np.ndarray:
    # Move the reduced axes last and flatten them; then the product of the others is the
    # product of everything before (exclusive cumprod) times everything after.
    if x.size == 0:
        return np.zeros_like(x)
    axes = tuple(range(x.ndim)) if axis is None else axis
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    moved = np.transpose(x, rest + axes)
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (before * after).reshape(moved.shape)
    return np.transpose(others, np.argsort(rest + axes))


def _concat_array(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    return np.concatenate([a, b], axis=axis)


def _concat_vjp(g: Any, out: Any, a: Any, b: Any, axis: int) -> tuple[Any, ...]:
    """∂concat(a, b): each input gets its own slice of the gradient back."""
    n = raw(a).shape[axis]
    before = (slice(None),) * axis
    return g[before + (slice(0, n),)], g[before + (slice(n, None),)]


def _cast_array(a: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    return a.astype(dtype)


def _cast_vjp(g: Any, out: Any, a: Any, dtype: Any) -> tuple[Any, ...]:
    """∂cast(a)/∂a is the identity on values: the gradient is cast back to a's dtype."""
    back = raw(a).dtype
    return (g.astype(back) if isinstance(g, np.ndarray) else g.to(back),)


CAST = _register(Op("cast", N_("a dtype conversion passes the gradient back in the input's dtype"),
                    _cast_vjp.__doc__ or "", 1, array=_cast_array, vjp=_cast_vjp,
                    reads_values=False))
WHERE = _register(Op("where", N_("where routes the gradient to the first input where the "
                     "condition holds and to the second elsewhere"), _where_vjp.__doc__ or "", 2,
                     array=_where_array, vjp=_where_vjp, reads_values=False))
PROD = _register(Op("prod", N_("product sends each factor the gradient times the product of the "
                    "other factors"), _prod_vjp.__doc__ or "", 1, array=_prod_array,
                    vjp=_prod_vjp, symbol="Π"))
CONCAT = _register(Op("concat", N_("concatenation hands each input its own slice of the gradient"),
                      _concat_vjp.__doc__ or "", 2, array=_concat_array, vjp=_concat_vjp,
                      reads_values=False))
MATMUL = _register(Op("matmul", N_("matmul: each operand's gradient is the upstream gradient "
                      "multiplied by the other operand, transposed"), _matmul_vjp.__doc__ or "", 2,
                      array=np.matmul, vjp=_matmul_vjp, symbol="@",
                      takes_needs=True,
                      code=Code("{mm}({a}, {b})", ("{mm}({g}, {b}.T)", "{mm}({a}.T, {g})"),
                                two_d=True)))
MATMUL_T = _register(Op("matmul_t", N_("matmul by a transposed weight (a layer's x·Wᵀ, one gate "
                        "instead of a transpose and a matmul): each operand's gradient is the "
                        "upstream gradient multiplied by the other operand"),
                        _matmul_t_vjp.__doc__ or "", 2, array=_matmul_t_array, vjp=_matmul_t_vjp,
                        symbol="@ᵀ", takes_needs=True,
                        code=Code("{mm}({a}, {b}.T)", ("{mm}({g}, {b})", "{mm}({g}.T, {a})"),
                                  two_d=True)))
SUM = _register(Op("sum", N_("sum copies the gradient back to every summed element"),
                   _sum_vjp.__doc__ or "", 1, array=_sum_array, vjp=_sum_vjp, symbol="Σ",
                   reads_values=False))
MEAN = _register(Op("mean", N_("mean copies the gradient back, divided by the count"),
                    _mean_vjp.__doc__ or "", 1, array=_mean_array, vjp=_mean_vjp,
                    reads_values=False))
MAX = _register(Op("max", N_("max routes the gradient to the largest element"),
                   _max_vjp.__doc__ or "", 1, array=_max_array, vjp=_max_vjp))
RESHAPE = _register(Op("reshape", N_("reshape passes the gradient back in the input's shape"),
                       _reshape_vjp.__doc__ or "", 1, array=np.reshape, vjp=_reshape_vjp,
                       reads_values=False))
TRANSPOSE = _register(Op("transpose", N_("transpose passes the gradient back transposed"),
                         _transpose_vjp.__doc__ or "", 1, array=_transpose_array,
                         vjp=_transpose_vjp, symbol="ᵀ", reads_values=False))
BROADCAST_TO = _register(Op("broadcast_to", N_("broadcasting copies a value; its gradients are "
                            "summed back"), _broadcast_vjp.__doc__ or "", 1,
                            array=_broadcast_array, vjp=_broadcast_vjp, reads_values=False))
GETITEM = _register(Op("getitem", N_("indexing routes the gradient to the picked elements, adding "
                       "where an element is picked twice"), _getitem_vjp.__doc__ or "", 1,
                       array=_getitem_array, vjp=_getitem_vjp, symbol="[]", reads_values=False))
SCATTER_ADD = _register(Op("scatter_add", N_("scatter-add gathers the gradient back from the "
                           "written positions"), _scatter_add_vjp.__doc__ or "", 1,
                           array=_scatter_add_array, vjp=_scatter_add_vjp, reads_values=False))
LOGSUMEXP = _register(Op("logsumexp", N_("logsumexp sends each input the gradient times its "
                         "softmax weight"), _logsumexp_vjp.__doc__ or "", 1,
                         array=_logsumexp_array, vjp=_logsumexp_vjp))
LOG_SOFTMAX = _register(Op("log_softmax", N_("log-softmax passes the gradient minus softmax times "
                           "the gradient's total"), _log_softmax_vjp.__doc__ or "", 1,
                           array=_log_softmax_array, vjp=_log_softmax_vjp))
SOFTMAX = _register(Op("softmax", N_("softmax couples its outputs: out·(g − Σ g·out)"),
                       _softmax_vjp.__doc__ or "", 1, array=_softmax_array, vjp=_softmax_vjp))
CROSS_ENTROPY = _register(Op("cross_entropy", N_("softmax cross-entropy sends each logit its "
                             "softmax probability minus its target, times the upstream gradient"),
                             _cross_entropy_vjp.__doc__ or "", 1, array=_cross_entropy_array,
                             vjp=_cross_entropy_vjp, saves=True, scaled=True))

# ------------------------------------------- torch's tensor functions: scans, flips, sort, pad,
# triangles, diagonals, einsum. Each vjp works on arrays and, under create_graph, on Tensors
# (through the Tensor methods of the same ops, so a second derivative is recorded too).


def _flip_any(x: Any, axes: tuple[int, ...]) -> Any:
    return x.flip(axes) if is_node(x) else np.flip(x, axes)


def _reverse_cumsum(g: Any, axis: int) -> Any:
    """Σ_{j≥k} g_j at each k: the cumulative sum taken from the end."""
    if is_node(g):
        return g.flip((axis,)).cumsum(axis).flip((axis,))
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def _cumsum_array(a: np.ndarray, axis: int) -> np.ndarray:
    return np.cumsum(a, axis=axis)


def _cumsum_vjp(g: Any, out: Any, a: Any, axis: int) -> tuple[Any, ...]:
    """∂cumsum: aₖ is in every partial sum from k on, so āₖ = Σ_{j≥k} gⱼ."""
    return (_reverse_cumsum(g, axis),)


def _cumprod_array(a: np.ndarray, axis: int) -> np.ndarray:
    return np.cumprod(a, axis=axis)


def _cumprod_vjp(g: Any, out: Any, a: Any, axis: int) -> tuple[Any, ...]:
    """∂cumprod: āₖ = Σ_{j≥k} gⱼ·Π_{i≤j, i≠k} aᵢ (= Σ_{j≥k} gⱼ·outⱼ / aₖ where aₖ ≠ 0)."""
    if is_node(g):  # create_graph: the quotient form through engine ops (inputs without zeros)
        return (_reverse_cumsum(g * out, axis) / a,)
    if np.all(a != 0):
        return (_reverse_cumsum(g * out, axis) / a,)
    return (_cumprod_grad_with_zeros(g, a, axis),)


def _cumprod_grad_with_zeros(g: np.ndarray, a: np.ndarray, axis: int) -> np.ndarray:
    # Along the axis (moved last, length n): C[k, j] = Π_{k<i≤j} aᵢ (1 for j ≤ k) is the
    # cumprod of a with the entries up to k set to 1; then āₖ = Π_{i<k} aᵢ · Σ_{j≥k} C[k, j]·gⱼ.
    # No division, so zeros in a give torch's exact gradient (n² work per lane).
    am = np.moveaxis(a, axis, -1)
    gm = np.moveaxis(g, axis, -1)
    n = am.shape[-1]
    upto = np.tri(n, dtype=bool)  # upto[k, i]: i ≤ k
    c = np.cumprod(np.where(upto, np.ones((), dtype=a.dtype), am[..., None, :]), axis=-1)
    after = np.einsum("...kj,...j->...k", c * upto.T, gm)
    ones = np.ones(am.shape[:-1] + (1,), dtype=a.dtype)
    before = np.cumprod(np.concatenate([ones, am[..., :-1]], axis=-1), axis=-1)
    return np.moveaxis(before * after, -1, axis)


def _flip_array(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    # A tensor of its own, as torch.flip gives (no axes: a 0-d tensor, flipped along nothing).
    return np.flip(a, axes).copy() if axes else a.copy()


def _flip_vjp(g: Any, out: Any, a: Any, axes: tuple[int, ...]) -> tuple[Any, ...]:
    """∂flip(a)/∂a reverses positions: the gradient is flipped back."""
    return (_flip_any(g, axes) if axes else g,)


def _roll_array(a: np.ndarray, shifts: tuple[int, ...], axes: tuple[int, ...] | None) -> Any:
    return np.roll(a, shifts, axes)


def _roll_vjp(g: Any, out: Any, a: Any, shifts: tuple[int, ...],
              axes: tuple[int, ...] | None) -> tuple[Any, ...]:
    """∂roll(a)/∂a moves positions: the gradient is rolled back by −shifts."""
    back = tuple(-s for s in shifts)
    if is_node(g):
        return (g.roll(back, axes),)
    return (np.roll(g, back, axes),)


def _sort_array(a: np.ndarray, axis: int, descending: bool) -> tuple[Any, np.ndarray]:
    # Stable either way: ties keep their order (descending through the negated keys).
    if descending:
        keys = -a if a.dtype.kind in "fi" else -a.astype(np.int64)
    else:
        keys = a
    indices = np.argsort(keys, axis=axis, kind="stable")
    return np.take_along_axis(a, indices, axis=axis), indices


def _along(indices: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """The index tuple that picks ``indices`` along ``axis`` (torch's gather as indexing)."""
    grids: tuple[np.ndarray, ...] = np.indices(indices.shape, sparse=True)
    return tuple(indices if i == axis else grid for i, grid in enumerate(grids))


def _sort_vjp(g: Any, out: Any, a: Any, axis: int, descending: bool,
              indices: np.ndarray) -> tuple[Any, ...]:
    """∂sort(a)/∂a permutes: each element gets back the gradient of the place it moved to."""
    return (g[_along(np.argsort(indices, axis=axis), axis)],)


def _pad_array(a: np.ndarray, widths: tuple[tuple[int, int], ...], value: float) -> np.ndarray:
    return np.pad(a, widths, mode="constant", constant_values=value)


def _pad_vjp(g: Any, out: Any, a: Any, widths: tuple[tuple[int, int], ...],
             value: float) -> tuple[Any, ...]:
    """∂pad(a)/∂a: the constant border has no input; a gets its own region of the gradient."""
    shape = raw(a).shape
    return (g[tuple(slice(lo, lo + n) for (lo, _hi), n in zip(widths, shape, strict=True))],)


def _triangle(shape: tuple[int, ...], k: int, lower: bool) -> np.ndarray:
    keep = np.ones(shape[-2:], dtype=bool)
    return np.tril(keep, k) if lower else np.triu(keep, k)


def _tril_vjp(g: Any, out: Any, a: Any, k: int) -> tuple[Any, ...]:
    """∂tril(a)/∂a is 1 on and below diagonal k, 0 above: the gradient is masked the same way."""
    return (g * _triangle(raw(a).shape, k, True),)


def _triu_vjp(g: Any, out: Any, a: Any, k: int) -> tuple[Any, ...]:
    """∂triu(a)/∂a is 1 on and above diagonal k, 0 below: the gradient is masked the same way."""
    return (g * _triangle(raw(a).shape, k, False),)


def _tril_array(a: np.ndarray, k: int) -> np.ndarray:
    return np.tril(a, k)


def _triu_array(a: np.ndarray, k: int) -> np.ndarray:
    return np.triu(a, k)


def _diagonal_positions(n: int, m: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of diagonal ``offset`` of an n×m matrix (above the main one for > 0)."""
    length = max(0, min(n + min(offset, 0), m - max(offset, 0)))
    steps = np.arange(length)
    return steps + max(-offset, 0), steps + max(offset, 0)


def _diag_array(v: np.ndarray, k: int) -> np.ndarray:
    return np.diag(v, k)


def _diag_vjp(g: Any, out: Any, v: Any, k: int) -> tuple[Any, ...]:
    """∂diag(v)/∂v places v on diagonal k: each vᵢ gets the gradient at its place there."""
    n, m = raw(g).shape
    return (g[_diagonal_positions(n, m, k)],)


def _diagonal_array(a: np.ndarray, offset: int, dim1: int, dim2: int) -> np.ndarray:
    return np.diagonal(a, offset, dim1, dim2).copy()


def _diagonal_vjp(g: Any, out: Any, a: Any, offset: int, dim1: int,
                  dim2: int) -> tuple[Any, ...]:
    """∂diagonal(a)/∂a picks the diagonal: the gradient goes back there, zeros elsewhere."""
    shape = raw(a).shape
    rest = tuple(i for i in range(len(shape)) if i not in (dim1, dim2))
    order = rest + (dim1, dim2)
    moved = tuple(shape[i] for i in order)
    index = (Ellipsis, *_diagonal_positions(shape[dim1], shape[dim2], offset))
    back = np.argsort(order).tolist()
    if is_node(g):
        return (g.scatter_add(index, moved).permute(*back),)
    return (np.transpose(_scatter_add_array(g, index, moved), back),)


def _trace_array(a: np.ndarray) -> np.ndarray:
    return np.asarray(np.trace(a))


def _trace_vjp(g: Any, out: Any, a: Any) -> tuple[Any, ...]:
    """∂trace(a)/∂aᵢⱼ = 1 on the main diagonal (i = j), 0 elsewhere."""
    return (g * (np.eye(*raw(a).shape) != 0),)


def _einsum_array(*args: Any) -> Any:
    *operands, spec = args
    return np.einsum(spec, *operands, optimize=len(operands) > 1)


def _einsum_vjp(g: Any, out: Any, *args: Any) -> tuple[Any, ...]:
    """∂einsum: each operand's gradient is the einsum of the upstream gradient with the other
    operands, subscripted back to the operand's own (ā_ij = Σ g_ik·b_jk for "ij,jk->ik"...
    written in general: ∂ of a sum of products is the sum of the other factors)."""
    *operands, spec = args
    inputs, result = spec.split("->")
    subs = inputs.split(",")
    grads = []
    for k, target in enumerate(subs):
        others = [(subs[j], operands[j]) for j in range(len(subs)) if j != k]
        grads.append(_einsum_grad(g, result, others, target, raw(operands[k]).shape))
    return tuple(grads)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_grad(g: Any, result: str, others: list[tuple[str, Any]], target: str,
                 shape: tuple[int, ...]) -> Any:
    # The operand's subscripts may repeat a letter ("ii": a diagonal) or hold letters no other
    # term has ("ij->i": summed over j). Einsum writes neither as an output, so each repeat
    # gets a fresh letter tied to the first by an identity matrix and each lone letter a
    # vector of ones; both are constants, folded into one array.
    used = set(result + target + "".join(s for s, _x in others))
    fresh = iter(c for c in _LETTERS if c not in used)
    seen: dict[str, int] = {}
    written = []
    dtype = raw(g).dtype
    consts: list[tuple[str, np.ndarray]] = []
    for letter, n in zip(target, shape, strict=True):
        if letter in seen:
            new = next(fresh)
            consts.append((letter + new, np.eye(seen[letter], n, dtype=dtype)))
            written.append(new)
        else:
            seen[letter] = n
            written.append(letter)
    present = set(result + "".join(s for s, _x in others))
    for letter, n in seen.items():
        if letter not in present:
            consts.append((letter, np.ones(n, dtype=dtype)))
    terms = [(result, g), *others]
    if consts:
        const_subs = "".join(dict.fromkeys("".join(s for s, _c in consts)))
        folded = np.einsum(",".join(s for s, _c in consts) + "->" + const_subs,
                           *(c for _s, c in consts))
        terms.append((const_subs, folded))
    spec = ",".join(s for s, _x in terms) + "->" + "".join(written)
    values = [x for _s, x in terms]
    # A dimension another operand broadcast from size 1 comes out of size 1: it is copied up
    # to the operand's size here (dimensions this operand broadcast are summed back by the
    # traversal, as for every op).
    if any(is_node(x) for x in values):  # create_graph: einsum nodes, differentiable again
        import importlib

        grad = importlib.import_module("chainrule.tensor_functions").einsum(spec, *values)
    else:
        grad = np.einsum(spec, *values, optimize=len(values) > 1)
    full = np.broadcast_shapes(grad.shape, shape)
    return grad if grad.shape == full else grad.broadcast_to(full) if is_node(grad) \
        else np.broadcast_to(grad, full)


CUMSUM = _register(Op("cumsum", N_("cumulative sum sends each input the total of the gradients "
                      "of its own and every later partial sum"), _cumsum_vjp.__doc__ or "", 1,
                      array=_cumsum_array, vjp=_cumsum_vjp, reads_values=False))
CUMPROD = _register(Op("cumprod", N_("cumulative product sends each input the gradients of the "
                       "partial products it is in, times the other factors of each"),
                       _cumprod_vjp.__doc__ or "", 1, array=_cumprod_array, vjp=_cumprod_vjp))
FLIP = _register(Op("flip", N_("flip passes the gradient back flipped"), _flip_vjp.__doc__ or "",
                    1, array=_flip_array, vjp=_flip_vjp, reads_values=False))
ROLL = _register(Op("roll", N_("roll passes the gradient back rolled the other way"),
                    _roll_vjp.__doc__ or "", 1, array=_roll_array, vjp=_roll_vjp,
                    reads_values=False))
SORT = _register(Op("sort", N_("sort sends each element the gradient of the place it was sorted "
                    "to"), _sort_vjp.__doc__ or "", 1, array=_sort_array, vjp=_sort_vjp,
                    saves=True, reads_values=False))
PAD = _register(Op("pad", N_("padding passes back the gradient of the input's region; the border "
                   "is a constant"), _pad_vjp.__doc__ or "", 1, array=_pad_array, vjp=_pad_vjp,
                   reads_values=False))
TRIL = _register(Op("tril", N_("tril passes the gradient on and below the diagonal, zero above"),
                    _tril_vjp.__doc__ or "", 1, array=_tril_array, vjp=_tril_vjp,
                    reads_values=False))
TRIU = _register(Op("triu", N_("triu passes the gradient on and above the diagonal, zero below"),
                    _triu_vjp.__doc__ or "", 1, array=_triu_array, vjp=_triu_vjp,
                    reads_values=False))
DIAG = _register(Op("diag", N_("diag (vector to matrix) gathers the gradient back from the "
                    "diagonal"), _diag_vjp.__doc__ or "", 1, array=_diag_array, vjp=_diag_vjp,
                    reads_values=False))
DIAGONAL = _register(Op("diagonal", N_("diagonal passes the gradient back to the diagonal, zero "
                        "elsewhere"), _diagonal_vjp.__doc__ or "", 1, array=_diagonal_array,
                        vjp=_diagonal_vjp, reads_values=False))
TRACE = _register(Op("trace", N_("trace copies the gradient to every diagonal element"),
                     _trace_vjp.__doc__ or "", 1, array=_trace_array, vjp=_trace_vjp,
                     reads_values=False))
EINSUM = _register(Op("einsum", N_("einsum sends each operand the einsum of the gradient with the "
                      "other operands"), _einsum_vjp.__doc__ or "", 2, array=_einsum_array,
                      vjp=_einsum_vjp, symbol="Σ∏"))

def _bce_logits_array(
    z: np.ndarray, target: np.ndarray, scale: float | None
) -> tuple[Any, np.ndarray]:
    # softplus(z) − y·z with softplus(z) = max(z, 0) + ln(1 + e^−|z|): the exponent is ≤ 0, so
    # logits of ±1000 neither overflow nor lose the answer. Saved for the gradient: e^−|z|.
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    losses = np.log1p(e)
    losses += np.maximum(z, 0.0)
    losses -= target * z
    return _scaled_total(losses, scale), e


def _bce_logits_vjp(
    g: Any, out: Any, z: Any, target: np.ndarray, scale: float | None, e: Any
) -> tuple[Any, ...]:
    """∂C/∂z = (σ(z) − y)·scale·g, with σ(z) = 1/(1 + e^−|z|) for z ≥ 0 and
    e^−|z|/(1 + e^−|z|) below."""
    factor = _loss_factor(g, scale)
    if is_node(z):  # create_graph: the same formula through Tensor ops, differentiable again
        return ((z.sigmoid() - target) * factor,)
    p = np.where(z >= 0, 1.0, e)
    p /= 1.0 + e
    p -= target
    p *= factor
    return (p,)


BCE_WITH_LOGITS = _register(Op("bce_with_logits", N_("binary cross-entropy of logits sends "
                               "each logit σ(z) minus its target, times the upstream gradient"),
                               _bce_logits_vjp.__doc__ or "", 1, array=_bce_logits_array,
                               vjp=_bce_logits_vjp, saves=True, scaled=True))


def _mse_array(a: np.ndarray, target: np.ndarray, scale: float | None) -> tuple[Any, np.ndarray]:
    # (a − y)², summed and scaled; the difference is saved for the gradient.
    diff = a - target
    losses = diff * diff
    return _scaled_total(losses, scale), diff


def _mse_vjp(
    g: Any, out: Any, a: Any, target: np.ndarray, scale: float | None, diff: Any
) -> tuple[Any, ...]:
    """∂C/∂a = 2·(a − y)·scale·g."""
    factor = _loss_factor(g, scale)
    if is_node(a):  # create_graph: the same formula through Tensor ops, differentiable again
        return ((a - target) * (factor * 2.0),)
    return (diff * (factor * 2.0),)


MSE = _register(Op("mse", N_("the squared error sends each output twice its difference from "
                   "the target, times the upstream gradient"), _mse_vjp.__doc__ or "", 1,
                   array=_mse_array, vjp=_mse_vjp, saves=True, scaled=True))

# The leaf marker for results computed under no_grad: they carry a value but no history.
NO_GRAD = Op("no_grad", N_("computed under no_grad: no history was recorded"), "", 0)
