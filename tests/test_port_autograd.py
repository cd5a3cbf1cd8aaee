"""HIPS autograd's systematic gradient checks, ported to chainrule.

Source: github.com/HIPS/autograd, ``tests/test_systematic.py`` (``stat_check``,
``unary_ufunc_check``, ``binary_ufunc_check``, ``binary_ufunc_check_no_same_args`` and
``combo_check`` from ``tests/numpy_utils.py``),
``tests/test_numpy.py``, ``tests/test_scalar_ops.py``, ``tests/test_binary_ops.py``,
``tests/test_core.py`` and ``tests/test_graphs.py``. The same functions, shapes, input ranges
and seeds; autograd's ``check_grads(f)`` (first and second order, VJP checked with respect to
the input and the upstream vector) is ``peer_check.check_grads``, built on
``chainrule.gradcheck``, with torch as a second oracle.

Ported: every check whose function chainrule has: the elementwise families (tan, sinh, cosh,
arc*, exp2, expm1, log2, log10, sign, sinc, ceil, floor, fabs, degree conversions,
mod/remainder, logaddexp, fmax/fmin; np.arctan2 and np.hypot, which autograd's suite does not
check, are checked here the same way) and the tensor functions torch spells ``cumsum``,
``flip``/``fliplr``/``flipud``, ``roll``, ``sort``, ``tril``/``triu``, ``diag``, ``diagonal``,
``trace`` (np.trace's offset as ``diagonal(offset).sum(-1)``), ``repeat_interleave``
(np.repeat), ``einsum``, ``tensordot``, ``inner``, ``outer``, ``dot`` (np.dot of n-d operands as
``tensordot``) and ``kron``. Not ported, because chainrule has no such function: complex inputs
(chainrule is real-valued), cross, partition, select, rot90, diff, gradient, make_diagonal,
np.r_/np.c_, atleast_nd, einsum's integer-list form (torch has no such spelling), forward mode
(chainrule is reverse mode only). ``x[::-1]`` has no torch spelling; torch's side uses ``flip``.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from peer_check import check_grads

Fn = Callable[..., Any]


def rng(seed: int) -> np.random.RandomState:
    """autograd seeds NumPy's global generator per file (``npr.seed(0)``); a fresh
    RandomState with that seed draws the same numbers and does not depend on test order."""
    return np.random.RandomState(seed)


def combo_check(fn: Fn, argnums: Sequence[int], **options: Any) -> Callable[..., None]:
    """autograd's ``combo_check``: every combination of the listed arguments and keywords."""

    def run(*arg_lists: Sequence[Any], **kwarg_lists: Sequence[Any]) -> None:
        keys = list(kwarg_lists)
        for args in itertools.product(*arg_lists):
            for values in itertools.product(*(kwarg_lists[k] for k in keys)):
                kwargs = dict(zip(keys, values, strict=True))
                check_grads(lambda T, *xs, kw=kwargs: fn(T, *xs, **kw), *args,
                            argnums=argnums, **options)

    return run


def _reduce(T: Any, x: Any, name: str, axis: int | None, keepdims: bool, **kw: Any) -> Any:
    """np.<name>(x, axis, keepdims) in torch's spelling (dim=None reduces everything)."""
    if axis is None:
        out = getattr(x, name)(**kw)
        return out.reshape([1] * x.ndim) if keepdims else out
    out = getattr(x, name)(dim=axis, keepdim=keepdims, **kw)
    return out[0] if name in ("max", "min") else out


# ---------------------------------------------------------------- tests/numpy_utils.py

def stat_check(name: str, **kw: Any) -> None:
    r = rng(0)
    x = 3.5
    a = r.randn()
    b = r.randn(3)
    c = r.randn(2, 3)
    d = r.randn(1, 3)

    def fun(T: Any, v: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return _reduce(T, v, name, axis, keepdims, **kw)

    # Where a reduction meets one element (x, a; d along axis 0) the spread is 0: there
    # torch's second derivative of std is NaN, where central differences (and chainrule)
    # give 0, so std is compared with torch to first order.
    check = combo_check(fun, (0,), oracle_order=1 if name == "std" else None)
    check([x, a])
    check([b, c, d], axis=[None, 0], keepdims=[True, False])
    check([c, d], axis=[None, 0, 1], keepdims=[True, False])


def transform(lims: Sequence[float], x: Any) -> Any:
    return x * (lims[1] - lims[0]) + lims[0]


def unary_ufunc_check(fn: Fn, lims: Sequence[float] = (-2, 2)) -> None:
    r = rng(0)
    scalar = transform(lims, 0.4)
    vector = transform(lims, r.rand(2))
    mat = transform(lims, r.rand(3, 2))
    mat2 = transform(lims, r.rand(1, 2))
    combo_check(fn, (0,))([scalar, vector, mat, mat2])


def binary_ufunc_check(fn: Fn, lims_a: Sequence[float] = (-2, 2),
                       lims_b: Sequence[float] = (-2, 2)) -> None:
    r = rng(0)
    scalar = 0.6
    vector = r.rand(2)
    mat = r.rand(3, 2)
    mat2 = r.rand(1, 2)
    values = [scalar, vector, mat, mat2]
    combo_check(fn, (0, 1))([transform(lims_a, v) for v in values],
                            [transform(lims_b, v) for v in values])


# ---------------------------------------------------------------- tests/test_systematic.py

# stat_check: np.var/np.std are the population statistics (ddof=0), torch's correction=0.
STATS: dict[str, dict[str, Any]] = {
    "max": {}, "min": {}, "mean": {}, "sum": {}, "prod": {},
    "var": {"correction": 0}, "std": {"correction": 0},
}


@pytest.mark.parametrize("name", list(STATS))
def test_stat(name: str) -> None:
    stat_check(name, **STATS[name])


UNARY: dict[str, tuple[Fn, tuple[float, float]]] = {
    "sin": (lambda T, x: x.sin(), (-2, 2)),
    "abs": (lambda T, x: x.abs(), (0.1, 4.0)),
    "cos": (lambda T, x: x.cos(), (-2, 2)),
    "exp": (lambda T, x: x.exp(), (-2, 2)),
    "log": (lambda T, x: x.log(), (0.2, 2.0)),
    "log1p": (lambda T, x: x.log1p(), (0.2, 2.0)),
    "sqrt": (lambda T, x: x.sqrt(), (1.0, 3.0)),
    "square": (lambda T, x: x.square(), (-2, 2)),
    "tanh": (lambda T, x: x.tanh(), (-2, 2)),
    "arccosh": (lambda T, x: x.arccosh(), (1.1, 4.0)),
    "arcsinh": (lambda T, x: x.arcsinh(), (-0.9, 0.9)),
    "arctanh": (lambda T, x: x.arctanh(), (-0.9, 0.9)),
    "ceil": (lambda T, x: x.ceil(), (-1.5, 1.5)),
    "cosh": (lambda T, x: x.cosh(), (-2, 2)),
    "deg2rad": (lambda T, x: x.deg2rad(), (-2, 2)),
    "degrees": (lambda T, x: x.rad2deg() / 50.0, (-2, 2)),
    "exp2": (lambda T, x: x.exp2(), (-2, 2)),
    "expm1": (lambda T, x: x.expm1(), (-2, 2)),
    "fabs": (lambda T, x: T.abs(x) if T is not cr else T.fabs(x), (-2, 2)),
    "floor": (lambda T, x: x.floor(), (-1.5, 1.5)),
    "log10": (lambda T, x: x.log10(), (0.2, 2.0)),
    "log2": (lambda T, x: x.log2(), (0.2, 2.0)),
    "rad2deg": (lambda T, x: x.rad2deg() / 50.0, (-2, 2)),
    "radians": (lambda T, x: x.deg2rad(), (-2, 2)),
    "sign": (lambda T, x: x.sign(), (-2, 2)),
    "sinh": (lambda T, x: x.sinh(), (-2, 2)),
    "tan": (lambda T, x: x.tan(), (-1.1, 1.1)),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_ufunc(name: str) -> None:
    fn, lims = UNARY[name]
    unary_ufunc_check(fn, lims)


BINARY: dict[str, tuple[Fn, tuple[float, float], tuple[float, float]]] = {
    "add": (lambda T, a, b: T.add(a, b), (-2, 2), (-2, 2)),
    "true_divide": (lambda T, a, b: T.div(a, b), (-2, 2), (0.8, 1.2)),
    "true_divide_neg": (lambda T, a, b: T.div(a, b), (-2, 2), (-0.3, -2.0)),
    "op_mul": (operator.mul, (-2, 2), (-2, 2)),
    "op_add": (operator.add, (-2, 2), (-2, 2)),
    "op_sub": (operator.sub, (-2, 2), (-2, 2)),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_ufunc(name: str) -> None:
    fn, lims_a, lims_b = BINARY[name]
    if fn in (operator.mul, operator.add, operator.sub):
        op = fn
        fn = lambda T, a, b: op(a, b)  # noqa: E731
    binary_ufunc_check(fn, lims_a, lims_b)


def binary_ufunc_check_no_same_args(fn: Fn, lims_a: Sequence[float] = (-2, 2),
                                    lims_b: Sequence[float] = (-2, 2)) -> None:
    """autograd's check for functions without a derivative where both arguments are equal
    (the remainders): the two arguments are drawn apart."""
    r = rng(0)
    scalar1, scalar2 = 0.6, 0.7
    vector1, vector2 = r.rand(2), r.rand(2)
    mat11, mat12 = r.rand(3, 2), r.rand(3, 2)
    mat21, mat22 = r.rand(1, 2), r.rand(1, 2)
    combo_check(fn, (0, 1))([transform(lims_a, v) for v in (scalar1, vector1, mat11, mat21)],
                            [transform(lims_b, v) for v in (scalar2, vector2, mat12, mat22)])


BINARY_MATH: dict[str, tuple[Fn, tuple[float, float], tuple[float, float]]] = {
    "logaddexp": (lambda T, a, b: T.logaddexp(a, b), (-2, 2), (-2, 2)),
    "logaddexp2": (lambda T, a, b: T.logaddexp2(a, b), (-2, 2), (-2, 2)),
    "arctan2": (lambda T, a, b: T.arctan2(a, b), (-2, 2), (-2, 2)),
    "hypot": (lambda T, a, b: T.hypot(a, b), (-2, 2), (-2, 2)),
}


@pytest.mark.parametrize("name", list(BINARY_MATH))
def test_binary_math_ufunc(name: str) -> None:
    fn, lims_a, lims_b = BINARY_MATH[name]
    binary_ufunc_check(fn, lims_a, lims_b)


# np.mod and np.remainder are torch's remainder (the sign of the divisor), as Python's %.
NO_SAME_ARGS: dict[str, tuple[Fn, tuple[float, float], tuple[float, float]]] = {
    "remainder": (lambda T, a, b: T.remainder(a, b), (-0.9, 0.9), (0.7, 1.9)),
    "mod": (lambda T, a, b: T.remainder(a, b), (-2, 2), (0.8, 2.1)),
    "mod_neg": (lambda T, a, b: T.remainder(a, b), (-2, 2), (-0.3, -2.0)),
    "op_mod": (lambda T, a, b: a % b, (-2, 2), (0.3, 2.0)),
    "op_mod_neg": (lambda T, a, b: a % b, (-2, 2), (-0.3, -2.0)),
}


@pytest.mark.parametrize("name", list(NO_SAME_ARGS))
def test_binary_ufunc_no_same_args(name: str) -> None:
    fn, lims_a, lims_b = NO_SAME_ARGS[name]
    binary_ufunc_check_no_same_args(fn, lims_a, lims_b)


def _perm(ndim: int, axes: Sequence[int] | None) -> list[int]:
    return list(reversed(range(ndim))) if axes is None else list(axes)


def test_transpose() -> None:
    r = rng(0)
    combo_check(lambda T, x, axes: x.permute(*_perm(x.ndim, axes)), [0])(
        [r.randn(2, 3, 4)],
        axes=[None, [0, 1, 2], [0, 2, 1], [2, 0, 1], [2, 1, 0], [1, 0, 2], [1, 2, 0]])


def test_moveaxis() -> None:
    """np.moveaxis is a permutation; torch and chainrule spell it with ``permute``."""
    r = rng(0)

    def moveaxis(T: Any, x: Any, source: int, destination: int) -> Any:
        order = [d for d in range(x.ndim) if d != source]
        order.insert(destination, source)
        return x.permute(*order)

    combo_check(moveaxis, [0])([r.randn(2, 3, 4)], source=[0, 1, 2], destination=[0, 1, 2])


def test_tile() -> None:
    """np.tile(x, reps) is torch's ``x.repeat(reps)`` (reps at least as long as x.ndim)."""
    r = rng(0)

    def tile(T: Any, x: Any, reps: Any) -> Any:
        return x.repeat(*((reps,) if isinstance(reps, int) else reps))

    combo_check(tile, [0])([r.randn(2, 1, 3, 1)], reps=[(1, 4, 1, 2)])
    combo_check(tile, [0])([r.randn(1, 2)], reps=[(1, 2), (2, 3), (3, 2, 1)])
    combo_check(tile, [0])([r.randn(1)], reps=[(2,), 2])


def test_matmul() -> None:
    r = rng(0)
    combo_check(lambda T, a, b: a @ b, [0, 1])(
        [r.randn(3), r.randn(2, 3), r.randn(2, 2, 3)],
        [r.randn(3), r.randn(3, 4), r.randn(2, 3, 4)])


def test_matmul_broadcast() -> None:
    r = rng(0)
    combo_check(lambda T, a, b: a @ b, [0, 1])([r.randn(1, 2, 2)], [r.randn(3, 2, 1)])


def test_outer() -> None:
    """np.outer spelled with broadcasting (``outer`` itself: test_systematic_outer)."""
    r = rng(0)
    combo_check(lambda T, a, b: a.unsqueeze(1) * b.unsqueeze(0), [0, 1], order=2)(
        [r.randn(3)], [r.randn(3)])


def test_maximum() -> None:
    r = rng(0)
    shapes = [(1,), (1, 4), (3, 4)]
    combo_check(lambda T, a, b: T.maximum(a, b), [0, 1])(
        [r.randn(*s) for s in shapes], [r.randn(*s) for s in shapes])


def test_minimum() -> None:
    r = rng(0)
    shapes = [(1,), (1, 4), (3, 4)]
    combo_check(lambda T, a, b: T.minimum(a, b), [0, 1])(
        [r.randn(*s) for s in shapes], [r.randn(*s) for s in shapes])


def test_fmax() -> None:
    r = rng(0)
    shapes = [(1,), (1, 4), (3, 4)]
    combo_check(lambda T, a, b: T.fmax(a, b), [0, 1])(
        [r.randn(*s) for s in shapes], [r.randn(*s) for s in shapes])


def test_fmin() -> None:
    r = rng(0)
    shapes = [(1,), (1, 4), (3, 4)]
    combo_check(lambda T, a, b: T.fmin(a, b), [0, 1])(
        [r.randn(*s) for s in shapes], [r.randn(*s) for s in shapes])


def _cat(T: Any, a: Any, b: Any, axis: int) -> Any:
    return T.cat([a, b], dim=axis)


def test_concatenate() -> None:
    r = rng(0)
    combo_check(_cat, [0, 1])([r.randn(1)], [r.randn(3)], axis=[0])
    combo_check(_cat, [0, 1])([r.randn(2, 2)], [r.randn(2, 2)], axis=[0, 1])
    combo_check(_cat, [0, 1])([r.randn(2, 2, 2)], [r.randn(2, 2, 2)], axis=[0, 1, 2])


def test_vstack_hstack() -> None:
    """np.vstack of 2-D/3-D arrays is cat along 0, np.hstack cat along 1."""
    r = rng(0)
    combo_check(_cat, [0, 1])([r.randn(2, 4)], [r.randn(1, 4)], axis=[0])
    combo_check(_cat, [0, 1])([r.randn(2, 3, 4)], [r.randn(5, 3, 4)], axis=[0])
    combo_check(_cat, [0, 1])([r.randn(3, 4)], [r.randn(3, 5)], axis=[1])
    combo_check(_cat, [0, 1])([r.randn(2, 1, 4)], [r.randn(2, 5, 4)], axis=[1])


def test_stack_1d() -> None:
    r = rng(0)
    combo_check(lambda T, a, axis: T.stack([a], dim=axis), [0])([r.randn(2)], axis=[0, 1])
    combo_check(lambda T, a, b, axis: T.stack([a, b], dim=axis), [0, 1])(
        [r.randn(2)], [r.randn(2)], axis=[0, 1])


# ---------------------------------------------------------------- tests/test_numpy.py

def test_dot() -> None:
    """np.dot of 1-D and 2-D operands, which is matmul."""
    r = rng(1)
    mat1, mat2 = r.randn(10, 11), r.randn(10, 11)
    vect1, vect2, vect3 = r.randn(10), r.randn(11), r.randn(11)
    fun = lambda T, x, y: x @ y  # noqa: E731
    check_grads(fun, mat1, vect2)
    check_grads(fun, mat1, mat2.T)
    check_grads(fun, vect1, mat1)
    check_grads(fun, vect2, vect3)


@pytest.mark.parametrize(("name", "shape", "axis", "keepdims"), [
    ("max", (10, 11), None, False), ("max", (3, 4, 5), 1, False), ("max", (3, 4, 5), 1, True),
    ("min", (10, 11), None, False), ("min", (3, 4, 5), 1, False), ("min", (3, 4, 5), 1, True),
    ("sum", (10, 11), None, False), ("sum", (10, 11), 0, False), ("sum", (10, 11), 0, True),
    ("mean", (10, 11), None, False), ("mean", (10, 11), 0, False),
    ("mean", (10, 11), 0, True),
])
def test_reduction(name: str, shape: tuple[int, ...], axis: int | None, keepdims: bool) -> None:
    check_grads(lambda T, x: _reduce(T, x, name, axis, keepdims), rng(1).randn(*shape))


def test_sum_with_axis_tuple() -> None:
    check_grads(lambda T, x: x.sum(dim=(1, 2)), rng(1).randn(10, 11, 7))


def test_plain_reductions_of_exp() -> None:
    base = np.abs(rng(1).randn(5)) + 0.5
    for name in ("sum", "prod", "max", "min"):
        check_grads(lambda T, a, n=name: getattr(a.exp() * T.tensor(base), n)(), 0.7)


def test_non_numpy_sum() -> None:
    r = rng(1)
    check_grads(lambda T, x, y: sum([x, y]), r.randn(10, 11), r.randn(10, 11))


def test_mean_std_var_of_list() -> None:
    """grad of np.mean([x, x + 2]) is 1; of std and var 0 (symmetric around the mean)."""
    for name, expected in (("mean", 1.0), ("std", 0.0), ("var", 0.0)):
        x = cr.tensor(0.0, requires_grad=True)
        kw = {} if name == "mean" else {"correction": 0}
        (g,) = cr.grad(getattr(cr.stack([x, x + 2]), name)(**kw), [x])
        assert g.item() == expected


INDEXING: dict[str, tuple[tuple[int, ...], Fn]] = {
    "ints": ((5, 6, 4), lambda T, x: x[3, 0, 1]),
    "slice": ((5, 6, 4), lambda T, x: _flip0(T, x)[:, 2:4, :]),
    "lists": ((5, 6, 4), lambda T, x: x[[0, 1, 2], :, :]),
    # torch's rule on both: the integer is applied first, so the list's axis stays last.
    "mixed": ((5, 6, 4), lambda T, x: x[3, 2:, [1, 3]]),
    "vector_slice": ((5,), lambda T, x: x[2:4]),
    "slice_fanout": ((5, 6, 4), lambda T, x: _flip0(T, x)[:, 2:4, :] + _flip0(T, x)[:, 3:5, :]),
    "multiple_slices": ((7,), lambda T, x: x[2:6][1:3]),
    "multi_index": ((3,), lambda T, x: x[[0, 0]].sum()),
    "multi_index2": ((3,), lambda T, x: x[[0, 1, 0]].sum()),
    "index_dot_slices": ((4,), lambda T, x: x[:2] @ x[2:]),
}


def const(T: Any, value: Any) -> Any:
    """A float64 constant (torch.tensor(2.0) would be float32)."""
    return T.tensor(value, dtype=T.float64)


def _flip0(T: Any, x: Any) -> Any:
    # x[::-1]: NumPy's spelling works on chainrule; torch has no negative steps.
    return x[::-1] if T is cr else x.flip(0)


@pytest.mark.parametrize("name", list(INDEXING))
def test_index(name: str) -> None:
    shape, fn = INDEXING[name]
    check_grads(fn, rng(1).randn(*shape))


SHAPING: dict[str, tuple[tuple[int, ...], Fn]] = {
    "reshape_tuple": ((5, 6, 4), lambda T, x: x.reshape((5 * 4, 6))),
    "reshape_args": ((5, 6, 4), lambda T, x: x.reshape(5 * 4, 6)),
    "ravel": ((5, 6, 4), lambda T, x: x.reshape(-1)),
    "flatten": ((5, 6, 4), lambda T, x: x.flatten()),
    "transpose": ((8, 8), lambda T, x: x.T),
    "squeeze": ((5, 1, 4), lambda T, x: x.squeeze()),
    "expand_dims": ((5, 1, 4), lambda T, x: x.unsqueeze(2)),
    "len": ((3, 2), lambda T, x: x if len(x) == 3 else None),
    "clip": ((5, 5), lambda T, x: x.clamp(0.1, 1.1)),
}


@pytest.mark.parametrize("name", list(SHAPING))
def test_shaping(name: str) -> None:
    shape, fn = SHAPING[name]
    check_grads(fn, rng(1).randn(*shape))


def test_concatenate_with_constants() -> None:
    r = rng(1)
    a, b = r.randn(5, 6, 4), r.randn(4, 6, 4)
    check_grads(lambda T, x: T.cat([T.tensor(a), x]), b)
    a, b = r.randn(5, 6, 4), r.randn(5, 6, 4)
    check_grads(lambda T, x: T.cat([T.tensor(b), x, T.tensor(b)]), a)
    check_grads(lambda T, x: T.cat([T.tensor(b), x, T.tensor(b)], 1), a)


def test_prod() -> None:
    r = rng(1)
    check_grads(lambda T, x: x.prod(), r.randn(2, 3) ** 2 / 10.0 + 0.1)
    check_grads(lambda T, x: x.prod(0), r.randn(2, 3) ** 2 + 0.1)
    check_grads(lambda T, x: x.prod(0, keepdim=True), r.randn(2, 3) ** 2 + 0.1)
    check_grads(lambda T, x: x.prod(), r.randn(7) ** 2 + 0.1)


def test_array_from_scalars() -> None:
    """np.array([x, x * 1.0, x + 2.5]) and its 2-D and fan-out forms, as ``stack``."""

    def one_d(T: Any, x: Any) -> Any:
        return T.stack([x, x * 1.0, x + 2.5])

    def two_d(T: Any, x: Any) -> Any:
        return T.stack([T.stack([x, x * 1.0, x + 2.5]), T.stack([x ** 2, x, x / 2.0])])

    check_grads(one_d, 3.0)
    check_grads(two_d, 3.0)
    check_grads(lambda T, x: one_d(T, x) + one_d(T, x), 3.0)
    check_grads(lambda T, x: two_d(T, x) + two_d(T, x), 3.0)
    check_grads(lambda T, x: x.clone(), 3.0)


def test_array_from_arrays() -> None:
    r = rng(1)
    check_grads(lambda T, x: T.stack([x, x]), r.randn(3, 2))
    check_grads(lambda T, x: T.stack([T.stack([2 * x, x + 1]), T.stack([x, x])]), r.randn(3, 2))


def test_scalar_box_attributes() -> None:
    x = cr.tensor(3.0, requires_grad=True)
    assert x.shape == () and x.ndim == 0 and x.numel() == 1 and x.dtype == np.float64
    (g,) = cr.grad(x ** 2, [x])
    assert g.item() == 6.0


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_ddof(name: str) -> None:
    r = rng(1)
    b, c, d = r.randn(3), r.randn(3, 4), r.randn(1, 3)

    def fun(T: Any, x: Any, axis: int | None, keepdims: bool, ddof: int) -> Any:
        return _reduce(T, x, name, axis, keepdims, correction=ddof)

    combo_check(fun, (0,))([b, c, d], axis=[None], keepdims=[True, False], ddof=[0, 1])
    combo_check(fun, (0,))([c, d], axis=[None, 1], keepdims=[True, False], ddof=[2])


def test_where() -> None:
    r = rng(1)
    c = r.randn(4, 5) > 0
    a, b = r.randn(4, 5), r.randn(4, 5)
    check_grads(lambda T, x, y: T.where(T.tensor(c), x, y), a, b)


# ---------------------------------------------------------------- tests/test_scalar_ops.py

def test_scalar_abs() -> None:
    fun = lambda T, x: 3.0 * x.abs()  # noqa: E731
    check_grads(fun, 1.1)
    check_grads(fun, -1.1)
    check_grads(fun, 0.0, order=1)


SCALAR_UNARY: dict[str, tuple[Fn, Callable[[np.random.RandomState], float]]] = {
    "sin": (lambda T, x: 3.0 * x.sin(), lambda r: r.randn()),
    "exp": (lambda T, x: 3.0 * x.exp(), lambda r: r.randn()),
    "log": (lambda T, x: 3.0 * x.log(), lambda r: abs(r.randn())),
    "log1p": (lambda T, x: 3.0 * x.log1p(), lambda r: abs(r.randn())),
    "neg": (lambda T, x: 3.0 * -x, lambda r: r.randn()),
    "cos": (lambda T, x: 3.0 * x.cos(), lambda r: r.randn()),
    "tanh": (lambda T, x: 3.0 * x.tanh(), lambda r: r.randn()),
    "sqrt": (lambda T, x: 3.0 * x.sqrt(), lambda r: 10.0 * r.rand()),
    "reciprocal": (lambda T, x: 1.0 / x, lambda r: r.rand()),
    "negative": (lambda T, x: x.neg(), lambda r: r.rand()),
    "tan": (lambda T, x: 3.0 * x.tan(), lambda r: r.randn()),
    "cosh": (lambda T, x: 3.0 * x.cosh(), lambda r: r.randn()),
    "sinh": (lambda T, x: 3.0 * x.sinh(), lambda r: r.randn()),
    "arcsinh": (lambda T, x: 3.0 * x.arcsinh(), lambda r: r.randn()),
    "arccosh": (lambda T, x: 3.0 * x.arccosh(), lambda r: r.randn() ** 2 + 1),
    "log2": (lambda T, x: 3.0 * x.log2(), lambda r: abs(r.randn())),
    "log10": (lambda T, x: 3.0 * x.log10(), lambda r: abs(r.randn())),
    "expm1": (lambda T, x: 3.0 * x.expm1(), lambda r: abs(r.randn())),
    "exp2": (lambda T, x: 3.0 * x.exp2(), lambda r: abs(r.randn())),
    "reciprocal_fn": (lambda T, x: x.reciprocal(), lambda r: r.rand()),
    "rad2deg": (lambda T, x: 3.0 * x.rad2deg(), lambda r: 10.0 * r.rand()),
    "deg2rad": (lambda T, x: 3.0 * x.deg2rad(), lambda r: 10.0 * r.rand()),
    "radians": (lambda T, x: 3.0 * x.deg2rad(), lambda r: 10.0 * r.rand()),
    "degrees": (lambda T, x: 3.0 * x.rad2deg(), lambda r: 10.0 * r.rand()),
    "sinc": (lambda T, x: 3.0 * x.sinc(), lambda r: 10.0 * r.rand()),
}


@pytest.mark.parametrize(("name", "x"), [("arccos", 0.1), ("arcsin", 0.1), ("arctan", 0.2),
                                         ("arctanh", 0.2)])
def test_scalar_inverse_trigonometric(name: str, x: float) -> None:
    # autograd checks the function at one point and its derivative at the next (0.2, 0.3);
    # check_grads checks both orders at each.
    for point in (x, x + 0.1):
        check_grads(lambda T, v: 3.0 * getattr(v, name)(), point)


def test_scalar_sign() -> None:
    fun = lambda T, x: 3.0 * x.sign()  # noqa: E731
    check_grads(fun, 1.1)
    check_grads(fun, -1.1)


@pytest.mark.parametrize("argnum", [0, 1])
def test_mod_arg(argnum: int) -> None:
    r = rng(1)
    check_grads(lambda T, x, y: T.remainder(x, y), r.rand(), r.rand(), argnums=(argnum,))


@pytest.mark.parametrize("name", list(SCALAR_UNARY))
def test_scalar_unary(name: str) -> None:
    fn, draw = SCALAR_UNARY[name]
    check_grads(fn, draw(rng(1)))


def test_power_arg0() -> None:
    r = rng(1)
    y = r.randn() ** 2 + 1.0
    check_grads(lambda T, x: x.pow(y), r.rand() ** 2 + 1.0)
    # y == 0 is a special case (autograd issue #116): d/dx x⁰ = 0 at x = 0, and so is d²/dx².
    x = cr.tensor(0.0, requires_grad=True)
    (g,) = cr.grad(x.pow(0.0), [x], create_graph=True)
    assert g.item() == 0.0
    (gg,) = cr.grad(g, [x])
    assert gg.item() == 0.0


def test_power_arg1() -> None:
    r = rng(1)
    x = r.randn() ** 2
    check_grads(lambda T, y: T.pow(const(T, x), y), r.rand() ** 2)


def test_power_arg1_zero() -> None:
    check_grads(lambda T, y: T.pow(const(T, 0.0), y), rng(1).rand() ** 2, order=1)


def test_power_arg1_zero_second_order() -> None:
    # The second derivative of 0**y is 0 (checked against central differences); the backward
    # loop skips the constant base, so no 0·∞ arises. Torch multiplies that zero by the base's
    # infinite slope y·0^(y−1) and reports NaN, so it is the oracle to first order only.
    check_grads(lambda T, y: T.pow(const(T, 0.0), y), rng(1).rand() ** 2, oracle_order=1)


@pytest.mark.parametrize("name", ["divide", "multiply", "true_divide"])
def test_scalar_binary(name: str) -> None:
    r = rng(1)
    fn = (lambda T, x, y: x * y) if name == "multiply" else (lambda T, x, y: x / y)
    check_grads(fn, r.rand(), r.rand())


# ---------------------------------------------------------------- tests/test_binary_ops.py

def arg_pairs() -> list[tuple[Any, Any]]:
    r = rng(0)
    scalar = 2.0
    vector = r.randn(4)
    mat = r.randn(3, 4)
    mat2 = r.randn(1, 4)
    everything = [scalar, vector, mat, mat2]
    return list(itertools.product(everything, everything))


def _gap(x: Any) -> Any:
    return np.sqrt(np.square(x) + 0.5)


@pytest.mark.parametrize("name", ["mul", "add", "sub", "div", "pow"])
def test_binary_op(name: str) -> None:
    fun: Fn = {
        "mul": lambda T, x, y: x * y, "add": lambda T, x, y: x + y,
        "sub": lambda T, x, y: x - y, "div": lambda T, x, y: x / y,
        "pow": lambda T, x, y: x ** y,
    }[name]
    for a, b in arg_pairs():
        if name == "div":
            a, b = _gap(a), _gap(b)
        if name == "pow":
            a = np.abs(a) + 1.1  # numeric derivatives fail near zero
        check_grads(fun, a, b)


COMPARISONS: list[Fn] = [
    lambda x, y: x < y, lambda x, y: x <= y, lambda x, y: x > y,
    lambda x, y: x >= y, lambda x, y: x == y, lambda x, y: x != y,
]


def test_comparison_grads_and_values() -> None:
    """A comparison carries no gradient: sum(x < y) + 0.0 does not depend on x or y (autograd
    returns zeros; chainrule and torch say the result does not require grad), and its value
    is NumPy's."""
    for a, b in arg_pairs():
        x = cr.tensor(np.asarray(a), requires_grad=True)
        y = cr.tensor(np.asarray(b), requires_grad=True)
        for compare in COMPARISONS:
            out = compare(x, y).sum() + 0.0
            assert not out.requires_grad
            assert out.item() == np.sum(compare(np.asarray(a), np.asarray(b))) + 0.0


# ---------------------------------------------------------------- tests/test_core.py (Value)

def _nd(f: Callable[[float], float], x: float, eps: float = 1e-4) -> float:
    return (f(x + eps / 2) - f(x - eps / 2)) / eps


def _check_close(a: float, b: float, atol: float = 1e-4, rtol: float = 1e-4) -> None:
    assert abs(a - b) < atol + rtol * abs(b), f"Diffs are: {a - b}"


@pytest.mark.parametrize("name", ["add", "sub", "div", "mul", "pow"])
def test_core_binary_on_value(name: str) -> None:
    """test_core checks the engine without NumPy: here chainrule's scalar engine, Value."""
    fun: Callable[[Any, Any], Any] = {
        "add": operator.add, "sub": operator.sub, "div": operator.truediv,
        "mul": operator.mul, "pow": operator.pow,
    }[name]
    x, y = 0.7, 1.8
    vx, vy = cr.Value(x), cr.Value(y)
    fun(vx, vy).backward()
    _check_close(vx.grad, _nd(lambda t: fun(t, y), x))
    _check_close(vy.grad, _nd(lambda t: fun(x, t), y))


def test_core_comparisons_on_value() -> None:
    """Comparisons of a Value with a number are plain bools: nothing to differentiate."""
    x = cr.Value(0.7)
    assert (x < 1.8) is True and (x <= 1.8) is True
    assert (x > 1.8) is False and (x >= 1.8) is False


# ---------------------------------------------------------------- tests/test_graphs.py

def _grad(T: Any, y: Any, x: Any) -> Any:
    """autograd's ``grad(f)(x)`` inside a checked function: differentiable again, recorded
    even when the caller (gradcheck's numerical pass) runs under no_grad."""
    with T.enable_grad():
        return T.autograd.grad(y, [x], create_graph=True)[0]


def test_grad_fanout() -> None:
    r = rng(1)
    fun = lambda T, x: (x.sin() + x.sin()).sin()  # noqa: E731
    check_grads(fun, r.randn())

    def df(T: Any, x: Any) -> Any:
        with T.enable_grad():
            return _grad(T, fun(T, x), x)

    check_grads(df, r.rand())


def test_grad_const_and_identity() -> None:
    x = cr.tensor(2.0, requires_grad=True)
    (g,) = cr.grad(x * 0.0 + 1.0, [x])
    assert g.item() == 0.0
    (g,) = cr.grad(x, [x], create_graph=True)
    assert g.item() == 1.0
    # d²x/dx² = 0: the first derivative is a constant, with nothing left to differentiate
    # (torch answers the same way: its grad does not require grad).
    assert not g.requires_grad


def test_hess_vector_prod() -> None:
    r = rng(1)
    randv = r.randn(10)

    def fun(T: Any, x: Any) -> Any:
        return (x @ T.tensor(randv)).sin()

    def vector_product(T: Any, x: Any, v: Any) -> Any:
        with T.enable_grad():
            return (v @ _grad(T, fun(T, x), x)).sin()

    a, b = r.randn(10), r.randn(10)
    check_grads(fun, a)
    check_grads(vector_product, a, b)


def test_enclosing_scope_ref() -> None:
    """x · d(x·y)/dy at y = 2: an inner derivative that captures the outer variable."""

    def inner_grad(T: Any, x: Any, inner: Callable[[Any], Any]) -> Any:
        y = T.tensor(2.0, dtype=T.float64, requires_grad=True)
        with T.enable_grad():
            return _grad(T, inner(y), y)

    check_grads(lambda T, x: x * inner_grad(T, x, lambda y: x * y), 1.0)
    check_grads(lambda T, x: x * inner_grad(T, x, lambda y: y * x), 1.0)


def test_mutating_outgrad() -> None:
    def fun(T: Any, a: Any) -> Any:
        b = a + 1.0
        c = b + 1.5
        d = a + b
        return d + c

    check_grads(fun, rng(1).randn(5))


# ---------------------------------------------------------------- torch's tensor functions
# tests/test_systematic.py and tests/test_numpy.py for the functions torch spells as
# cumsum, flip, roll, sort, tril/triu, diag, diagonal, trace, repeat_interleave, einsum,
# tensordot, inner, outer, dot and kron.


def _np_dot(T: Any, a: Any, b: Any) -> Any:
    """np.dot: a product with a 0-d operand, else a's last axis against b's second-to-last
    (its only axis for 1-D b), which is tensordot."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return T.tensordot(a, b, dims=([a.ndim - 1], [max(b.ndim - 2, 0)]))


def test_systematic_dot() -> None:
    r = rng(0)
    combo_check(_np_dot, [0, 1])(
        [1.5, r.randn(3), r.randn(2, 3), r.randn(2, 2, 3)], [0.3, r.randn(3), r.randn(3, 4),
                                                            r.randn(2, 3, 4)])


def test_dot_of_vectors() -> None:
    """torch.dot is np.dot of two vectors."""
    r = rng(1)
    check_grads(lambda T, x, y: T.dot(x, y), r.randn(11), r.randn(11))
    check_grads(lambda T, x, y: x.dot(y), r.randn(3), r.randn(3))


def test_systematic_outer() -> None:
    r = rng(0)
    combo_check(lambda T, a, b: T.outer(a, b), [0, 1])([r.randn(3)], [r.randn(3)])
    v2, v3 = rng(1).randn(11), rng(1).randn(11)
    check_grads(lambda T, x, y: T.outer(x, y), v2, v3)


def test_inner() -> None:
    r = rng(0)
    combo_check(lambda T, a, b: T.inner(a, b), [0, 1])(
        [1.5, r.randn(3), r.randn(2, 3)], [0.3, r.randn(3), r.randn(4, 3)])


def _tensordot(axes: Any) -> Fn:
    def fn(T: Any, a: Any, b: Any) -> Any:
        dims = axes if isinstance(axes, int) else ([axes[0]] if isinstance(axes[0], int)
                                                   else list(axes[0]),
                                                   [axes[1]] if isinstance(axes[1], int)
                                                   else list(axes[1]))
        return T.tensordot(a, b, dims=dims)

    return fn


@pytest.mark.parametrize(("left", "right", "axes"), [
    ([(1, 3), (2, 3, 2)], [(3,), (3, 1), (3, 4, 2)], [((1,), (0,))]),
    ([(3,), (3, 1), (3, 4, 2)], [(1, 3), (2, 3, 2)], [((0,), (1,))]),
    ([(2, 3), (2, 3, 4)], [(1, 2, 3), (2, 2, 3, 4)], [((0, 1), (1, 2)), ((1, 0), (2, 1))]),
    ([(2, 2), (4, 2, 2)], [(2, 2), (2, 2, 4)], [1, 2]),
    ([(4,)], [()], [0]),
    ([(2, 6)], [(6, 3)], [((-1,), (0,))]),
    ([(2, 6)], [(6, 3)], [(-1, 0)]),
    ([(2,)], [(2, 2)], [(0, 1)]),
], ids=[f"tensordot_{k}" for k in range(1, 9)])
def test_tensordot(left: list[tuple[int, ...]], right: list[tuple[int, ...]],
                   axes: list[Any]) -> None:
    r = rng(0)
    a_list = [np.asarray(r.randn(*s)) for s in left]
    b_list = [np.asarray(r.randn(*s)) for s in right]
    for a, b in itertools.product(a_list, b_list):
        for ax in axes:
            da = ax if isinstance(ax, int) else ax[0]
            db = None if isinstance(ax, int) else ax[1]
            sizes_a = a.shape[-ax:] if isinstance(ax, int) and ax else ()
            sizes_b = b.shape[:ax] if isinstance(ax, int) else ()
            if not isinstance(ax, int):
                ia = (da,) if isinstance(da, int) else da
                ib = (db,) if isinstance(db, int) else db
                sizes_a = tuple(a.shape[i] for i in ia)
                sizes_b = tuple(b.shape[i] for i in ib)
            if sizes_a != sizes_b:
                continue  # NumPy raises for these pairs too; autograd's lists hold only valid ones
            check_grads(_tensordot(ax), a, b)


def test_kron() -> None:
    r = rng(0)
    left = [r.randn(5, 5), r.randn(4, 4), r.randn(5), r.randn(5, 1), r.randn(1, 5), r.randn()]
    right = [r.randn(3, 3), r.randn(2, 2), r.randn(3), r.randn(1, 3), r.randn(3, 1), r.randn()]
    combo_check(lambda T, a, b: T.kron(a, b), [0, 1], order=1)(left, right)


def test_sort() -> None:
    r = rng(0)
    combo_check(lambda T, x: T.sort(x).values, [0])([r.randn(1), r.randn(7)])


def test_repeat() -> None:
    """np.repeat(x, repeats, axis) is torch's repeat_interleave."""
    r = rng(0)
    combo_check(lambda T, x, repeats, axis: T.repeat_interleave(x, repeats, dim=axis), [0])(
        [r.randn(2, 3, 4), r.randn(3, 1)], repeats=[0, 1, 2], axis=[None, 0, 1])


EINSUM: dict[str, tuple[list[str], list[list[tuple[int, ...]]]]] = {
    "transpose": (["ij->ji"], [[(1, 1), (4, 4), (3, 4)]]),
    "matmult": (["ij,jk->ik"], [[(2, 3)], [(3, 4)]]),
    "matmult_broadcast": (["...ij,...jk->...ik"], [[(2, 3), (2, 2, 3)], [(3, 4), (2, 3, 4)]]),
    "matmult_broadcast_leadzero": (["...ij,...jk->...ik"], [[(0, 2, 3)], [(0, 3, 4)]]),
    "covsum": (["ijk,lji->lki"], [[(3, 4, 4)], [(4, 4, 3)]]),
    "ellipses": (["...jk,...lj->...lk", "...,...->..."], [[(4, 4), (3, 4, 4)],
                                                        [(4, 4), (3, 4, 4)]]),
    "ellipses_tail": (["jk...,lj...->lk..."], [[(3, 2), (3, 2, 4)], [(2, 3), (2, 3, 4)]]),
    "ellipses_center": (["j...k,lj...->lk..."], [[(2, 2), (2, 2, 2)], [(2, 2), (2, 2, 2)]]),
    "three_args": (["ijk,lji,lli->lki"], [[(3, 4, 4)], [(4, 4, 3)], [(4, 4, 3)]]),
    "naked_sum": (["k,nk->"], [[(5,)], [(10, 5)]]),
    "naked_sum2": (["abcd->bd"], [[(3, 2, 3, 2)]]),
    "naked_sum_ellipsis": (["...k,...nk->..."], [[(3, 5)], [(3, 10, 5)]]),
    "no_output_indices": (["ij,k"], [[(3, 4)], [(3,)]]),
}


@pytest.mark.parametrize("name", list(EINSUM))
def test_einsum(name: str) -> None:
    """autograd's test_einsum_* (test_systematic.py) and test_einsum_* (test_numpy.py)."""
    equations, shapes = EINSUM[name]
    r = rng(0)
    operand_lists = [[r.randn(*s) for s in options] for options in shapes]
    for eq in equations:
        for operands in itertools.product(*operand_lists):
            try:
                np.einsum(eq, *operands)
            except ValueError:
                continue  # shapes NumPy itself refuses together
            check_grads(lambda T, *xs, e=eq: T.einsum(e, *xs), *operands)


def test_flipud_fliplr() -> None:
    mat = rng(0).randn(10, 11)
    check_grads(lambda T, x: T.flipud(x), mat)
    check_grads(lambda T, x: T.fliplr(x), mat)


@pytest.mark.parametrize("axis", [0, 1, None])
def test_cumsum(axis: int | None) -> None:
    """test_cumsum_axis0/axis1/no_axis (NumPy's cumsum without an axis runs over the flattened
    array: torch's x.flatten().cumsum(0))."""
    mat = rng(0).randn(10, 11)
    if axis is None:
        check_grads(lambda T, x: T.cumsum(x.flatten(), 0), mat)
        check_grads(lambda T, x: T.cumsum(x, 0), rng(0).randn(10))
    else:
        check_grads(lambda T, x: T.cumsum(x, axis), mat)


def _np_trace(T: Any, x: Any, offset: int) -> Any:
    # np.trace(x, offset): the sum of diagonal `offset` of the first two axes.
    return T.diagonal(x, offset, 0, 1).sum(-1)


def test_trace() -> None:
    r = rng(0)
    for shape, low, high in (((10, 11), -9, 11), ((11, 10), -9, 11), ((5, 6, 4, 3), -5, 6)):
        mat = r.randn(*shape)
        offset = int(r.randint(low, high))
        check_grads(lambda T, x, k=offset: _np_trace(T, x, k), mat)
    combo_check(lambda T, x, offset: _np_trace(T, x, offset), [0])(
        [r.randn(5, 5), r.randn(4, 5), r.randn(5, 4)], offset=[-1, 0, 1])
    check_grads(lambda T, x: T.trace(x), r.randn(4, 5))


def test_diag() -> None:
    check_grads(lambda T, x: T.diag(x), rng(0).randn(10, 10))
    check_grads(lambda T, x: T.diag(x), rng(0).randn(4))


def test_roll() -> None:
    mat = rng(0).randn(4, 5)
    check_grads(lambda T, x: T.roll(x, 2, dims=1), mat)
    check_grads(lambda T, x: T.roll(x, 2), mat)  # test_roll_no_axis's intent: the flat roll


def test_triu_tril() -> None:
    mat = rng(0).randn(5, 5)
    check_grads(lambda T, x: T.triu(x, diagonal=2), mat)
    check_grads(lambda T, x: T.tril(x, diagonal=2), mat)


def test_diagonal() -> None:
    """np.diagonal(D, axis1=-1, axis2=-2) (test_numpy.py's test_diagonal)."""
    check_grads(lambda T, d: T.diagonal(d, dim1=-1, dim2=-2), rng(0).randn(4, 4))
    check_grads(lambda T, d: T.diagonal(d, dim1=-1, dim2=-2), rng(0).randn(3, 4, 4))


@pytest.mark.parametrize(("shape", "repeats", "axis"), [
    ((5, 3, 4), 2, 1), ((5, 3, 4), 1, 1), ((5, 3), 2, 0), ((5,), 2, 0), ((5, 1), 1, 0),
])
def test_repeat_numpy(shape: tuple[int, ...], repeats: int, axis: int) -> None:
    """test_numpy.py's test_repeat_*: np.repeat(x, repeats, axis)."""
    check_grads(lambda T, x: x.repeat_interleave(repeats, dim=axis), rng(0).randn(*shape))
