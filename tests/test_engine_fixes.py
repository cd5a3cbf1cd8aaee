"""Engine behaviours a PyTorch or micrograd user relies on: each case once computed a wrong
result or crashed. PyTorch is the oracle where it is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import Tensor, Value
from chainrule.errors import GraphError, ShapeError
from chainrule.nn import functional as F

# ---------------------------------------------------------------- Value


def test_second_backward_sets_the_root_gradient_to_one_like_micrograd() -> None:
    x = Value(2.0)
    y = x * 3
    y.backward()
    y.backward()
    assert y.grad == 1.0
    assert x.grad == 6.0  # the nodes below accumulate


def test_value_division_by_zero_is_a_zero_division_error() -> None:
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        Value(1.0) / Value(0.0)
    with pytest.raises(cr.NumericError):
        Value(1.0) / 0


@pytest.mark.parametrize("other", [0, 0.0, Value(0.0), np.float64(0.0)])
def test_value_compares_with_numbers_and_values(other: object) -> None:
    x = Value(2.0)
    assert x > other and x >= other and not x < other and not x <= other
    assert Value(-1.0) < other


def test_value_comparison_with_a_string_is_a_clear_error() -> None:
    with pytest.raises(cr.OperandError, match="compare"):
        Value(1.0) > "a"  # noqa: B015


def test_grad_output_stays_in_the_graph_with_create_graph_value() -> None:
    x, v = Value(3.0), Value(2.0)
    y = x * x
    (gx,) = cr.grad(y, x, grad_output=v, create_graph=True)  # v·2x
    assert gx.data == 12.0
    (dv,) = cr.grad(gx, v)
    assert dv.data == 6.0  # ∂(v·2x)/∂v = 2x


def test_grad_output_stays_in_the_graph_with_create_graph_tensor() -> None:
    torch = pytest.importorskip("torch")
    x0, v0 = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7, -1.1])
    x, v = cr.tensor(x0, requires_grad=True), cr.tensor(v0, requires_grad=True)
    (gx,) = cr.grad((x * x).sin(), x, grad_outputs=v, create_graph=True)
    (dv,) = cr.grad(gx.sum(), v)
    tx = torch.tensor(x0, requires_grad=True)
    tv = torch.tensor(v0, requires_grad=True)
    (tgx,) = torch.autograd.grad((tx * tx).sin(), tx, grad_outputs=tv, create_graph=True)
    (tdv,) = torch.autograd.grad(tgx.sum(), tv)
    np.testing.assert_allclose(gx.data, tgx.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dv.data, tdv.numpy(), rtol=1e-12)
    assert np.all(dv.data != 0)


def test_grad_allow_unused() -> None:
    x, w = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0], requires_grad=True)
    y = (x * 2).sum()
    gx, gw = cr.grad(y, (x, w), allow_unused=True)
    assert gw is None and gx is not None
    np.testing.assert_array_equal(gx.data, [2.0, 2.0])
    with pytest.raises(GraphError, match="input 2 was not used"):
        cr.grad(y, (x, w), allow_unused=False)
    np.testing.assert_array_equal(cr.grad(y, (x, w), retain_graph=True)[1].data, [0.0])


# ---------------------------------------------------------------- Tensor comparisons, indexing


def test_tensor_equality_is_elementwise() -> None:
    a, b = cr.tensor([1.0, 2.0, 3.0]), cr.tensor([1.0, 0.0, 3.0])
    eq = a == b
    assert isinstance(eq, Tensor) and eq.dtype == np.bool_
    np.testing.assert_array_equal(eq.data, [True, False, True])
    np.testing.assert_array_equal((a != b).data, [False, True, False])
    np.testing.assert_array_equal((a == 2.0).data, [False, True, False])
    assert {a: 1, b: 2}[a] == 1  # still usable as a dict key (by identity)


def test_comparisons_give_bool_tensors_that_mask() -> None:
    x = cr.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    mask = x > 0
    assert isinstance(mask, Tensor) and mask.dtype == np.bool_
    picked = x[mask]
    np.testing.assert_array_equal(picked.data, [2.0, 4.0])
    picked.sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(x[~mask].data, [-1.0, -3.0])
    np.testing.assert_array_equal(x[(x > 0) & (x < 3)].data, [2.0])


def test_bool_tensor_built_from_a_list_masks() -> None:
    x = cr.tensor([10.0, 20.0, 30.0])
    mask = cr.tensor([True, False, True])
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(x[mask].data, [10.0, 30.0])


def test_bool_mask_of_the_wrong_shape_is_a_clear_error() -> None:
    with pytest.raises(IndexError, match="does not fit shape"):
        cr.tensor([1.0, 2.0, 3.0])[cr.tensor([True, False])]


def test_max_with_dim_returns_values_and_indices_like_torch() -> None:
    torch = pytest.importorskip("torch")
    data = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    x = cr.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    for dim in (0, 1, -1):
        values, indices = x.max(dim)
        tv, ti = t.max(dim)
        np.testing.assert_array_equal(values.data, tv.detach().numpy())
        np.testing.assert_array_equal(indices.data, ti.numpy())
        np.testing.assert_array_equal(x.max(dim)[0].data, t.max(dim)[0].detach().numpy())
        np.testing.assert_array_equal(x.min(dim=dim).values.data, t.min(dim=dim).values
                                      .detach().numpy())
    (x.max(1)[0].sum() + x.min(0, keepdim=True)[0].sum()).backward()
    (t.max(1)[0].sum() + t.min(0, keepdim=True)[0].sum()).backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())  # type: ignore[arg-type]
    assert x.max().item() == 7.0 and x.min().item() == 0.0
    assert x.argmax().item() == 3 and x.argmax(1).data.tolist() == [1, 0]
    np.testing.assert_array_equal(x.max(axis=1).data, [5.0, 7.0])  # NumPy style: values only


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_max_and_min_with_ties_route_the_gradient_like_torch(dim: int | None) -> None:
    torch = pytest.importorskip("torch")
    data = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 0.0]])
    for name in ("max", "min"):
        x = cr.tensor(data, requires_grad=True)
        t = torch.tensor(data, requires_grad=True)
        ours = getattr(x, name)() if dim is None else getattr(x, name)(dim)[0]
        theirs = getattr(t, name)() if dim is None else getattr(t, name)(dim)[0]
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_array_equal(x.grad, t.grad.numpy())  # type: ignore[arg-type]


def test_max_of_a_0d_tensor() -> None:
    z = cr.tensor(2.0, requires_grad=True)
    values, indices = z.max(0)
    assert values.shape == () and indices.shape == () and indices.item() == 0
    values.backward()
    assert float(z.grad) == 1.0  # type: ignore[arg-type]


# ---------------------------------------------------------------- in place


def test_in_place_update_under_no_grad_updates_the_parameter() -> None:
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    held = [p]
    (p * p).sum().backward()
    with cr.no_grad():
        p -= 0.1 * p.grad  # type: ignore[operator]
    assert held[0] is p and p.requires_grad and p.op is None
    np.testing.assert_allclose(p.data, [0.8, 1.6])
    p.grad = None
    (p * 3).sum().backward()  # the updated parameter is still a leaf with a gradient
    np.testing.assert_array_equal(p.grad, [3.0, 3.0])


def test_in_place_on_a_leaf_that_requires_grad_raises_like_torch() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(GraphError, match="leaf tensor that requires grad.*no_grad"):
        x += 1
    np.testing.assert_array_equal(x.data, [1.0, 2.0])


def test_recorded_in_place_op_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    w0 = np.array([0.5, -1.5, 2.0])
    w = cr.tensor(w0, requires_grad=True)
    h = w * 2
    h += w * w
    h *= 3
    h.sum().backward()
    tw = torch.tensor(w0, requires_grad=True)
    th = tw * 2
    th += tw * tw
    th *= 3
    th.sum().backward()
    np.testing.assert_allclose(h.data, th.detach().numpy())
    np.testing.assert_allclose(w.grad, tw.grad.numpy())  # type: ignore[arg-type]


def test_modifying_a_tensor_saved_for_backward_errors_at_backward() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2
    y = (h * h).sum()  # mul reads h
    with cr.no_grad():
        h += 1
    with pytest.raises(GraphError, match="modified in place"):
        y.backward()


def test_modifying_a_tensor_whose_value_no_gradient_reads_is_allowed() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([5.0, 5.0])
    y = (w + c).sum()  # add reads neither value
    c += 1
    y.backward()
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])


def test_a_node_redefined_in_place_after_use_errors() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2
    y = (h + 1).sum()
    h *= 3  # recorded: h is now another node; y's edge to h would be wrong
    with pytest.raises(GraphError, match="modified in place"):
        y.backward()


# ---------------------------------------------------------------- construction


def test_tensor_of_an_array_copies_it_like_torch() -> None:
    a = np.array([1.0, 2.0])
    t = cr.tensor(a)
    a[0] = 99.0
    assert t.data[0] == 1.0


# ---------------------------------------------------------------- stable losses


def test_softplus_keeps_precision_far_below_zero() -> None:
    x = cr.tensor([-40.0, -25.0, -1.0, 0.0, 30.0, 800.0], requires_grad=True)
    y = F.softplus(x)
    expected = [math.log1p(math.exp(v)) if v < 30 else v + math.log1p(math.exp(-v))
                for v in x.data]
    np.testing.assert_allclose(y.data, expected, rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1 / (1 + np.exp(-x.data)), rtol=1e-15)  # type: ignore[arg-type]


@pytest.mark.parametrize(("a", "y"), [(0.0, 1.0), (1e-50, 1.0), (1e-30, 1.0), (0.5, 1.0),
                                      (1.0, 1.0), (1.0, 0.0), (0.0, 0.0), (1e-50, 0.3), (0.2, 0.7)])
def test_bce_gradient_is_the_documented_clamped_formula_as_torch(a: float, y: float) -> None:
    x = cr.tensor([a], requires_grad=True)
    loss = F.binary_cross_entropy(x, [y])
    loss.backward()
    expected = (a - y) / max(a * (1 - a), float(np.float32(1e-12)))
    assert x.grad is not None
    assert x.grad[0] == pytest.approx(expected, rel=1e-12)
    torch = pytest.importorskip("torch")
    t = torch.tensor([a], dtype=torch.float64, requires_grad=True)
    tl = torch.nn.functional.binary_cross_entropy(t, torch.tensor([y], dtype=torch.float64))
    tl.backward()
    assert loss.item() == pytest.approx(tl.item(), rel=1e-12)
    assert x.grad[0] == pytest.approx(t.grad.item(), rel=1e-9)


# ---------------------------------------------------------------- crashes


def test_indexing_out_of_range_is_an_index_error_so_iteration_works() -> None:
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(IndexError):
        t[2]
    with pytest.raises(ShapeError):  # still a chainrule error too
        t[0, 5]
    rows = list(t)
    assert len(rows) == 2 and rows[1].data.tolist() == [3.0, 4.0]
    a, b = t
    assert a.data.tolist() == [1.0, 2.0] and b.data.tolist() == [3.0, 4.0]
    assert [float(v) for v in t[0]] == [1.0, 2.0]


def test_zero_d_results_are_arrays() -> None:
    a, b = cr.tensor(2.0, requires_grad=True), cr.tensor(3.0, requires_grad=True)
    p = a * b
    assert type(p.numpy()) is np.ndarray and p.shape == ()
    p.backward()
    assert a.grad is not None and type(a.grad.numpy()) is np.ndarray
    assert a.grad.shape == () and float(a.grad) == 3.0
    assert cr.gradcheck(lambda t: t.sigmoid() * t.abs(), [cr.tensor(0.7, requires_grad=True)])


def test_empty_softmax_and_logsumexp_match_torch() -> None:
    torch = pytest.importorskip("torch")
    for shape, axis in (((0, 3), 1), ((3, 0), 1), ((0, 3), 0), ((0,), 0)):
        x = cr.tensor(np.zeros(shape), requires_grad=True)
        t = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        for mine, theirs in ((x.softmax(axis), t.softmax(axis)),
                             (x.log_softmax(axis), t.log_softmax(axis)),
                             (x.logsumexp(axis), t.logsumexp(axis))):
            np.testing.assert_array_equal(mine.data, theirs.detach().numpy())
            mine.sum().backward()
            assert x.grad is not None and x.grad.shape == shape
