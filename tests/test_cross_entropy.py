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
