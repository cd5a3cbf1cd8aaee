"""The fused softmax cross-entropy op against central differences, the composed log_softmax
form it replaces, huge logits, second derivatives and PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.graph import listen
from chainrule.nn import functional as F  # noqa: N812 - torch's alias

RNG = np.random.default_rng(7)
LOGITS = RNG.standard_normal((5, 4)) * 2.0
CLASSES = np.array([0, 3, 1, 3, 2])
_p = RNG.random((5, 4))
PROBS = _p / _p.sum(axis=1, keepdims=True)
UNNORMALISED = RNG.random((5, 4))  # rows not summing to 1: ∂/∂z is softmax·Σy − y
TARGETS = {"classes": CLASSES, "probs": PROBS, "unnormalised": UNNORMALISED}


def _composed(z: cr.Tensor, y: np.ndarray, reduction: str) -> cr.Tensor:
    """The formulation before the fused op: log_softmax, pick or weight, reduce."""
    logp = z.log_softmax(axis=1)
    loss = -logp[np.arange(len(y)), y] if y.ndim == 1 else -(cr.tensor(y) * logp).sum(axis=1)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _leaf(array: np.ndarray = LOGITS) -> cr.Tensor:
    return cr.tensor(array.copy(), requires_grad=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_gradcheck(kind: str, reduction: str) -> None:
    y = TARGETS[kind]
    assert cr.gradcheck(lambda z: z.cross_entropy(y, reduction), [_leaf()])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_agrees_with_the_log_softmax_formulation(kind: str, reduction: str) -> None:
    y = TARGETS[kind]
    fused, composed = _leaf(), _leaf()
    ours, theirs = fused.cross_entropy(y, reduction), _composed(composed, y, reduction)
    np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12, atol=1e-12)
    weights = RNG.standard_normal(ours.shape)  # a non-trivial upstream gradient for "none"
    ours.backward(weights if ours.ndim else None)
    theirs.backward(weights if theirs.ndim else None)
    assert fused.grad is not None and composed.grad is not None
    np.testing.assert_allclose(fused.grad, composed.grad, rtol=1e-12, atol=1e-12)


def test_functional_cross_entropy_is_one_node() -> None:
    loss = F.cross_entropy(_leaf(), CLASSES)
    assert loss.op is not None and loss.op.name == "cross_entropy"
    assert loss.ctx[1] == pytest.approx(1 / 5)


def test_huge_logits_stay_finite_and_exact() -> None:
    z = cr.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 3.0]], requires_grad=True)
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        loss = z.cross_entropy(np.array([0, 0]), reduction="none")
        np.testing.assert_allclose(loss.data, [0.0, 2000.0], atol=1e-12)
        loss.sum().backward()
    assert z.grad is not None
    np.testing.assert_allclose(z.grad, [[0.0, 0.0, 0.0], [-1.0, 1.0, 0.0]], atol=1e-15)
    big = cr.tensor(LOGITS * 500.0, requires_grad=True)
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        mean = big.cross_entropy(PROBS)
        mean.backward()
    assert np.isfinite(mean.item()) and big.grad is not None and np.all(np.isfinite(big.grad))


@pytest.mark.parametrize("kind", ["classes", "probs"])
def test_second_derivatives_with_create_graph(kind: str) -> None:
    y = TARGETS[kind]
    v = RNG.standard_normal(LOGITS.shape)

    def hvp(loss_of: Any) -> np.ndarray:
        z = _leaf()
        (g,) = cr.grad(loss_of(z), z, create_graph=True)
        (h,) = cr.grad((g * v).sum(), z)
        return h.data

    np.testing.assert_allclose(hvp(lambda z: z.cross_entropy(y)),
                               hvp(lambda z: _composed(z, y, "mean")), rtol=1e-10, atol=1e-14)


def test_float32_stays_float32_and_events_are_emitted() -> None:
    z = cr.tensor(LOGITS.astype(np.float32), requires_grad=True)
    events: list[Any] = []
    with listen(events.append):
        loss = z.cross_entropy(PROBS)  # float64 targets do not promote the loss
        loss.backward()
    assert loss.dtype == np.float32 and z.grad is not None and z.grad.dtype == np.float32
    assert [(e.node.op.name, e.local) for e in events] == [("cross_entropy", None)]


def test_errors_name_the_problem() -> None:
    z = _leaf()
    with pytest.raises(cr.errors.ConfigError, match="mean, sum, none"):
        z.cross_entropy(CLASSES, reduction="avg")
    with pytest.raises(cr.errors.ShapeError, match="0..3"):
        z.cross_entropy(np.array([0, 1, 2, 3, -1]))
    with pytest.raises(cr.errors.ShapeError, match="integers"):
        z.cross_entropy(CLASSES.astype(float))
    with pytest.raises(cr.errors.ShapeError, match="5 examples but 2 targets"):
        z.cross_entropy(np.array([0, 1]))
    with pytest.raises(cr.errors.ShapeError, match="logits must be"):
        z.sum(axis=1).cross_entropy(CLASSES)


def test_probability_targets_that_require_grad_get_their_gradient() -> None:
    y = cr.tensor(PROBS, requires_grad=True)
    z = _leaf()
    z.cross_entropy(y).backward()
    logp = LOGITS - np.log(np.exp(LOGITS).sum(axis=1, keepdims=True))
    assert y.grad is not None
    np.testing.assert_allclose(y.grad, -logp / len(LOGITS), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kind", ["classes", "probs"])
def test_matches_torch(kind: str, reduction: str) -> None:
    torch = pytest.importorskip("torch")
    y = TARGETS[kind]
    z = _leaf()
    ours = z.cross_entropy(y, reduction)
    ours.sum().backward() if reduction == "none" else ours.backward()
    tz = torch.tensor(LOGITS, requires_grad=True)
    theirs = torch.nn.functional.cross_entropy(tz, torch.from_numpy(y), reduction=reduction)
    (theirs.sum() if reduction == "none" else theirs).backward()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert z.grad is not None and tz.grad is not None
    np.testing.assert_allclose(z.grad, tz.grad.numpy(), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- a loss divided by a number


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def test_a_fused_loss_divided_by_a_number_is_one_gate_with_the_same_gradient() -> None:
    rng = np.random.default_rng(3)
    zs, ys = rng.normal(size=(4, 3)), (rng.random((4, 3)) < 0.5).astype(float)
    z = cr.tensor(zs, requires_grad=True)
    total = F.binary_cross_entropy_with_logits(z, ys, reduction="sum")
    loss = total / 4
    assert loss.op is total.op and loss.inputs == (z,)  # no "div" node, no constant leaf
    assert float(loss.data) == float(total.data) / 4
    loss.backward()
    np.testing.assert_allclose(z.grad, (_sigmoid(zs) - ys) / 4, rtol=1e-14, atol=0)
    # the two-gate form (a Tensor divisor is not folded) gives the same numbers
    z2 = cr.tensor(zs, requires_grad=True)
    two = F.binary_cross_entropy_with_logits(z2, ys, reduction="sum") / cr.tensor(4.0)
    assert two.op is not None and two.op.name == "div"
    two.backward()
    assert float(two.data) == float(loss.data)
    np.testing.assert_array_equal(z2.grad, z.grad)


def test_folding_multiplies_the_scale_and_leaves_the_loss_itself_alone() -> None:
    zs = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    labels = np.array([0, 1])
    onehot = np.eye(3)[labels]
    softmax = np.exp(zs) / np.exp(zs).sum(axis=1, keepdims=True)
    z = cr.tensor(zs, requires_grad=True)
    mean = F.cross_entropy(z, labels)  # scale 1/2
    for scaled, factor in ((mean * 3, 3.0), (3 * mean, 3.0), (mean / 0.5, 2.0)):
        assert scaled.op is mean.op
        z.grad = None
        scaled.backward()
        np.testing.assert_allclose(z.grad, (softmax - onehot) / 2 * factor, rtol=1e-14)
        np.testing.assert_allclose(float(scaled.data), float(mean.data) * factor, rtol=1e-15)
    z.grad = None
    mean.backward()  # the unscaled loss is still the mean
    np.testing.assert_allclose(z.grad, (softmax - onehot) / 2, rtol=1e-14)


def test_what_is_not_folded() -> None:
    z = cr.tensor(np.array([0.5, -0.5]), requires_grad=True)
    y = np.array([1.0, 0.0])
    per_element = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    assert (per_element / 2).op.name == "div"  # not reduced: no scale to fold into
    total = F.binary_cross_entropy_with_logits(z, y, reduction="sum")
    assert (total / np.float64(2.0)).op.name == "div"  # only Python numbers fold
    from chainrule.errors import OperandError

    with pytest.raises(OperandError, match="unsupported operand bool"):
        total * True  # a bool is refused as before, not taken for 1
    with cr.no_grad():
        assert (total / 2).op is not total.op  # no history under no_grad
