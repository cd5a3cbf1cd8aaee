"""Every op of the catalogue against central differences, with hypothesis-drawn inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.ops import OPS
from chainrule.tensor import _apply as tensor_apply
from chainrule.tensor import _binary as tensor_binary
from chainrule.tensor import matmul_t
from chainrule.value import _binary as value_binary
from chainrule.value import _unary as value_unary

FLOATS = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
POSITIVE = st.floats(0.2, 4.0, allow_nan=False, allow_infinity=False)
PROBABILITY = st.floats(0.05, 0.95)
UNIT = st.floats(0.0, 1.0)
# Odd multiples of 0.05: never on a step of floor, ceil, round or sign (no derivative there),
# and never a multiple of TENTHS, so a remainder never jumps between the central differences.
OFF_GRID = st.integers(-30, 29).map(lambda k: k / 10 + 0.05)
TENTHS = st.integers(2, 40).map(lambda k: k / 10)
INSIDE_UNIT = st.floats(-0.9, 0.9)


def _tensor(array: np.ndarray) -> cr.Tensor:
    return cr.tensor(np.array(array, dtype=np.float64), requires_grad=True)


def _away_from_kinks(array: np.ndarray) -> np.ndarray:
    # relu/abs/max have no derivative at 0 or at ties; central differences straddle the kink.
    return np.where(np.abs(array) < 1e-3, 0.5, array)


shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)

UNARY = {
    "exp": (FLOATS, lambda t: t.exp()),
    "log": (POSITIVE, lambda t: t.log()),
    "sigmoid": (FLOATS, lambda t: t.sigmoid()),
    "tanh": (FLOATS, lambda t: t.tanh()),
    "relu": (FLOATS, lambda t: t.relu()),
    "abs": (FLOATS, lambda t: abs(t)),
    "sqrt": (POSITIVE, lambda t: t.sqrt()),
    "norm_sqrt": (POSITIVE, lambda t: _gate1("norm_sqrt", t)),
    "neg": (FLOATS, lambda t: -t),
    "pow_const": (POSITIVE, lambda t: t**2.5),
    "sin": (FLOATS, lambda t: t.sin()),
    "cos": (FLOATS, lambda t: t.cos()),
    "log1p": (POSITIVE, lambda t: t.log1p()),
    "softplus": (FLOATS, lambda t: t.softplus()),
    "clamp": (FLOATS, lambda t: t.clamp(-1.0, 1.0)),
    "tan": (st.floats(-1.2, 1.2), lambda t: t.tan()),
    "sinh": (FLOATS, lambda t: t.sinh()),
    "cosh": (FLOATS, lambda t: t.cosh()),
    "asin": (INSIDE_UNIT, lambda t: t.asin()),
    "acos": (INSIDE_UNIT, lambda t: t.arccos()),
    "atan": (FLOATS, lambda t: t.atan()),
    "asinh": (FLOATS, lambda t: t.arcsinh()),
    "acosh": (FLOATS, lambda t: (t * t + 1.1).acosh()),  # (inside the domain also at 0.7)
    "atanh": (INSIDE_UNIT, lambda t: t.atanh()),
    "exp2": (FLOATS, lambda t: t.exp2()),
    "expm1": (FLOATS, lambda t: t.expm1()),
    "log2": (POSITIVE, lambda t: t.log2()),
    "log10": (POSITIVE, lambda t: t.log10()),
    "sign": (OFF_GRID, lambda t: t.sign() * t),
    "floor": (OFF_GRID, lambda t: t.floor() + t),
    "ceil": (OFF_GRID, lambda t: t.ceil() * t),
    "trunc": (OFF_GRID, lambda t: t.trunc() * t),
    "round": (OFF_GRID, lambda t: t.round() * t),
    "reciprocal": (POSITIVE, lambda t: t.reciprocal()),
    "rsqrt": (POSITIVE, lambda t: t.rsqrt()),
    "deg2rad": (FLOATS, lambda t: t.deg2rad()),
    "rad2deg": (FLOATS, lambda t: t.rad2deg()),
    "sinc": (FLOATS, lambda t: t.sinc()),
}

BINARY = {
    "add": (FLOATS, FLOATS, lambda a, b: a + b),
    "sub": (FLOATS, FLOATS, lambda a, b: a - b),
    "mul": (FLOATS, FLOATS, lambda a, b: a * b),
    "div": (FLOATS, POSITIVE, lambda a, b: a / b),
    "pow": (POSITIVE, FLOATS, lambda a, b: a**b),
    "maximum": (FLOATS, FLOATS, lambda a, b: a.maximum(b)),
    "minimum": (FLOATS, FLOATS, lambda a, b: a.minimum(b)),
    "binary_cross_entropy": (PROBABILITY, UNIT, lambda a, b: _gate("binary_cross_entropy", a, b)),
    "remainder": (OFF_GRID, TENTHS, lambda a, b: a % b),
    "fmod": (OFF_GRID, TENTHS, lambda a, b: a.fmod(b)),
    "logaddexp": (FLOATS, FLOATS, lambda a, b: a.logaddexp(b)),
    "logaddexp2": (FLOATS, FLOATS, lambda a, b: a.logaddexp2(b)),
    "atan2": (OFF_GRID, FLOATS, lambda a, b: a.atan2(b)),
    "hypot": (OFF_GRID, FLOATS, lambda a, b: a.hypot(b)),
    "fmax": (OFF_GRID, TENTHS, lambda a, b: a.fmax(b)),
    "fmin": (OFF_GRID, TENTHS, lambda a, b: a.fmin(b)),
}


def _gate1(name: str, a: Any) -> Any:
    """The catalogue op ``name`` on one node of either engine."""
    return (tensor_apply if isinstance(a, cr.Tensor) else value_unary)(OPS[name], a)


def _gate(name: str, a: Any, b: Any) -> Any:
    """The catalogue op ``name`` on two nodes of either engine."""
    binary = tensor_binary if isinstance(a, cr.Tensor) else value_binary
    return binary(OPS[name], a, b)


def test_every_elementwise_op_is_covered() -> None:
    elementwise = {name for name, op in OPS.items() if op.elementwise}
    assert elementwise == set(UNARY) | set(BINARY)


def test_every_op_has_a_rule_and_a_derivative_doc() -> None:
    for op in OPS.values():
        assert op.rule and "∂" in op.doc, op.name
        assert (op.local is None) != (op.vjp is None), op.name


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_unary_tensor_op_matches_central_differences(name: str, data: st.DataObject) -> None:
    elements, fn = UNARY[name]
    array = data.draw(hnp.arrays(np.float64, shapes, elements=elements))
    if name in ("relu", "abs"):
        array = _away_from_kinks(array)
    if name == "clamp":
        array = np.where(np.abs(np.abs(array) - 1.0) < 1e-3, 0.5, array)
    assert cr.gradcheck(fn, [_tensor(array)])


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_binary_tensor_op_with_broadcasting(name: str, data: st.DataObject) -> None:
    left, right, fn = BINARY[name]
    (shape_a, shape_b), _ = data.draw(pairs)
    a = data.draw(hnp.arrays(np.float64, shape_a, elements=left))
    b = data.draw(hnp.arrays(np.float64, shape_b, elements=right))
    if name in ("maximum", "minimum"):
        # On a 0.1 grid offset by 0.05 the two inputs never tie (max has no derivative there).
        a = np.round(a, 1)
        b = np.round(b, 1) + 0.05
    ta, tb = _tensor(a), _tensor(b)
    assert cr.gradcheck(fn, [ta, tb])
    out = fn(ta, tb)
    assert out.shape == np.broadcast_shapes(a.shape, b.shape)


@pytest.mark.parametrize("name", sorted(set(UNARY)))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_unary_value_op_matches_central_differences(name: str, data: st.DataObject) -> None:
    elements, fn = UNARY[name]
    x = data.draw(elements)
    if name in ("relu", "abs") and abs(x) < 1e-3:
        x = 0.5
    if name == "clamp" and abs(abs(x) - 1.0) < 1e-3:
        x = 0.5
    assert cr.gradcheck(fn, [cr.Value(x)])


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_binary_value_op_matches_central_differences(name: str, data: st.DataObject) -> None:
    left, right, fn = BINARY[name]
    a, b = data.draw(left), data.draw(right)
    if name in ("maximum", "minimum") and abs(a - b) < 1e-3:
        b = a + 0.5
    if name == "maximum":
        fn = cr.maximum
    if name == "minimum":
        fn = cr.minimum
    assert cr.gradcheck(fn, [cr.Value(a), cr.Value(b)])


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_where_prod_concat_and_cast(data: st.DataObject) -> None:
    (shape_a, shape_b), _ = data.draw(pairs)
    a = _tensor(data.draw(hnp.arrays(np.float64, shape_a, elements=FLOATS)))
    b = _tensor(data.draw(hnp.arrays(np.float64, shape_b, elements=FLOATS)))
    cond = data.draw(hnp.arrays(np.bool_, np.broadcast_shapes(shape_a, shape_b)))
    assert cr.gradcheck(lambda x, y: cr.where(cond, x, y), [a, b])
    x = _tensor(data.draw(hnp.arrays(np.float64, shapes, elements=FLOATS)))
    x.data[0] = 0.0 if data.draw(st.booleans()) else x.data[0]  # a zero factor now and then
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    assert cr.gradcheck(lambda t: t.prod(axis), [x])
    y = _tensor(data.draw(hnp.arrays(np.float64, x.shape, elements=FLOATS)))
    dim = data.draw(st.integers(0, x.ndim - 1))
    assert cr.gradcheck(lambda s, t: cr.cat([s, t * 2.0, s], dim), [x, y])
    assert cr.gradcheck(lambda s, t: cr.stack([s, t], dim), [x, y])
    single = x.float()
    assert single.dtype == np.float32
    (single * 3.0).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, np.full(x.shape, 3.0))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_reductions_over_every_axis(data: st.DataObject) -> None:
    # Distinct values at least 0.05 apart: max has no derivative where two elements tie.
    ints = data.draw(hnp.arrays(np.int64, shapes, elements=st.integers(-60, 60), unique=True))
    array = ints * 0.05
    axis = data.draw(st.one_of(st.none(), st.integers(-array.ndim, array.ndim - 1)))
    keepdims = data.draw(st.booleans())
    x = _tensor(array)
    assert cr.gradcheck(lambda t: t.sum(axis=axis, keepdims=keepdims), [x])
    assert cr.gradcheck(lambda t: t.mean(axis=axis, keepdims=keepdims), [x])
    assert cr.gradcheck(lambda t: t.max(axis=axis, keepdims=keepdims), [x])
    assert cr.gradcheck(lambda t: t.logsumexp(axis=axis, keepdims=keepdims), [x])


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_softmax_family_and_shape_ops(data: st.DataObject) -> None:
    array = data.draw(hnp.arrays(np.float64, shapes, elements=FLOATS))
    axis = data.draw(st.integers(-array.ndim, array.ndim - 1))
    x = _tensor(array)
    assert cr.gradcheck(lambda t: t.softmax(axis), [x])
    assert cr.gradcheck(lambda t: t.log_softmax(axis), [x])
    assert cr.gradcheck(lambda t: t.reshape(-1) * 2.0, [x])
    assert cr.gradcheck(lambda t: t.T * 3.0, [x])
    perm = data.draw(st.permutations(list(range(array.ndim))))
    assert cr.gradcheck(lambda t: t.transpose(*perm) ** 2, [x])


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4), batch=st.integers(0, 2)
)
def test_matmul_2d_1d_and_batched(n: int, k: int, m: int, batch: int) -> None:
    rng = np.random.default_rng(n * 100 + k * 10 + m)
    lead = (2,) * batch
    a = _tensor(rng.standard_normal(lead + (n, k)))
    b = _tensor(rng.standard_normal((k, m)))
    v = _tensor(rng.standard_normal(k))
    assert cr.gradcheck(lambda x, y: x @ y, [a, b])
    assert cr.gradcheck(lambda x, y: x @ y, [a, v])
    assert cr.gradcheck(lambda x, y: x @ y, [v, b])
    assert cr.gradcheck(lambda x, y: x @ y, [v, v])
    w = _tensor(rng.standard_normal((m, k)))
    assert cr.gradcheck(lambda x, y: matmul_t(x, y), [_tensor(rng.standard_normal((n, k))), w])


def test_matmul_t_is_matmul_by_the_transpose_to_second_order() -> None:
    rng = np.random.default_rng(5)
    x, w = _tensor(rng.standard_normal((3, 4))), _tensor(rng.standard_normal((2, 4)))
    np.testing.assert_allclose(matmul_t(x, w).data, x.data @ w.data.T)
    # create_graph: the vjp's own formula is differentiable again (Hessian-vector products).

    def second_order(f: Any) -> tuple[Any, ...]:
        gx, gw = cr.grad(f(x, w), [x, w], create_graph=True)
        return cr.grad((gx * gx).sum() + (gw * gw).sum(), [x, w])

    fused = second_order(lambda a, b: (matmul_t(a, b) ** 2).sum())
    plain = second_order(lambda a, b: ((a @ b.T) ** 2).sum())
    for u, v in zip(fused, plain, strict=True):
        np.testing.assert_allclose(u.data, v.data)


def test_integer_indexing_accumulates_repeated_indices() -> None:
    x = _tensor(np.arange(5.0))
    y = x[[0, 0, 3, 0]]
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 0.0, 1.0, 0.0])
    z = _tensor(np.arange(12.0).reshape(3, 4))
    assert cr.gradcheck(lambda t: t[1:, ::2] * t[[0, 2, 2]][:, 1:3].sum(), [z])
    assert cr.gradcheck(lambda t: t[np.array([0, 2, 0]), np.array([1, 1, 3])], [z])


def test_softmax_is_stable_for_huge_logits() -> None:
    x = _tensor(np.array([[1000.0, -1000.0, 0.0]]))
    np.testing.assert_allclose(x.softmax(1).data, [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(x.log_softmax(1).data, [[0.0, -2000.0, -1000.0]])
    assert x.logsumexp(1).item() == pytest.approx(1000.0)
    # Arrays clamp −x where e^−x would overflow: σ(−1000) comes out at σ(−709), below the
    # smallest normal float64, and without an overflow warning (warnings are errors here).
    low, high = cr.sigmoid(np.array([-1000.0, 1000.0])).tolist()
    assert 0.0 <= low <= np.finfo(np.float64).tiny and high == 1.0
    low32 = cr.sigmoid(np.array([-1000.0], dtype=np.float32))[0]
    assert 0.0 <= low32 <= np.finfo(np.float32).tiny
    assert cr.Value(-1000.0).sigmoid().data == 0.0


def test_max_gate_routes_gradient_to_the_larger_input() -> None:
    x, y = cr.Value(2.0), cr.Value(5.0)
    cr.maximum(x, y).backward()
    assert (x.grad, y.grad) == (0.0, 1.0)
    a, b = cr.tensor([1.0, 4.0], requires_grad=True), cr.tensor([3.0, 2.0], requires_grad=True)
    cr.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 1.0] and b.grad.tolist() == [1.0, 0.0]


def test_module_functions_on_plain_numbers_and_arrays() -> None:
    assert cr.exp(1.0) == pytest.approx(math.e)
    assert cr.sigmoid(0.0) == 0.5
    np.testing.assert_allclose(cr.tanh(np.array([0.0, 1.0])), [0.0, math.tanh(1.0)])
    assert cr.relu(-3) == 0.0
    assert cr.maximum(2.0, 3.0) == 3.0
    assert isinstance(cr.log(cr.Value(2.0)), cr.Value)
    assert isinstance(cr.sqrt(cr.tensor([4.0])), cr.Tensor)


@pytest.mark.parametrize("shape", [(), (0,), (2, 0)])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_on_0d_and_empty_tensors(name: str, shape: tuple[int, ...]) -> None:
    _, fn = UNARY[name]
    x = _tensor(np.full(shape, 0.7))
    out = fn(x)
    assert type(out.data) is np.ndarray and out.shape == shape
    assert cr.gradcheck(fn, [x])


@pytest.mark.parametrize(("shape_a", "shape_b"), [((), ()), ((), (3,)), ((0,), ()), ((2, 0), (0,))])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_on_0d_and_empty_tensors(name: str, shape_a: tuple[int, ...],
                                           shape_b: tuple[int, ...]) -> None:
    _, _, fn = BINARY[name]
    a, b = _tensor(np.full(shape_a, 0.3)), _tensor(np.full(shape_b, 0.6))
    out = fn(a, b)
    assert type(out.data) is np.ndarray and out.shape == np.broadcast_shapes(shape_a, shape_b)
    assert cr.gradcheck(fn, [a, b])


@pytest.mark.parametrize("op", ["sum", "mean", "max", "logsumexp", "prod", "softmax",
                                "log_softmax"])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_reductions_and_softmax_of_a_0d_tensor(op: str, axis: int | None) -> None:
    x = _tensor(np.array(0.4))
    fn = (lambda t: getattr(t, op)(axis if axis is not None else -1)) if "softmax" in op \
        else (lambda t: getattr(t, op)(axis=axis) if op != "prod" else t.prod(axis))
    out = fn(x)
    assert out.shape == ()
    assert cr.gradcheck(fn, [x])
