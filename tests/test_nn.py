"""chainrule.nn: modules, init schemes, losses; gradcheck on every layer and loss; torch oracle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule
from chainrule import gradcheck, tensor
from chainrule.errors import ShapeError
from chainrule.nn import (
    INITS,
    MLP,
    ConfigError,
    LeakyReLU,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    StateError,
    Tanh,
)
from chainrule.nn import functional as F
from chainrule.nn.checkpoint import CheckpointError, load_model, save_model
from chainrule.nn.init import linear_weights

RNG = np.random.default_rng(7)


def t64(shape: tuple[int, ...], scale: float = 1.0, grad: bool = True) -> chainrule.Tensor:
    return tensor(RNG.standard_normal(shape) * scale, requires_grad=grad)


# -- modules ----------------------------------------------------------------------------------


def test_linear_shapes_and_math() -> None:
    layer = Linear(4, 3, rng=0)
    assert layer.weight.shape == (3, 4) and layer.bias is not None and layer.bias.shape == (3,)
    x = RNG.standard_normal((5, 4))
    out = layer(tensor(x))
    np.testing.assert_allclose(out.data, x @ layer.weight.data.T + layer.bias.data)
    assert Linear(4, 3, dtype=np.float32, rng=0)(tensor(x, dtype=np.float32)).dtype == np.float32
    # A batch takes one x·Wᵀ gate and the bias add: no transpose node in between.
    assert out.op.name == "add" and out.inputs[0].op.name == "matmul_t"
    single = layer(tensor(x[0]))
    np.testing.assert_allclose(single.data, x[0] @ layer.weight.data.T + layer.bias.data)
    with pytest.raises(ShapeError, match=r"matmul_t: \(5, 3\) @ \(3, 4\)ᵀ"):
        layer(tensor(x[:, :3]))


def test_module_parameters_state_and_modes() -> None:
    model = MLP([4, 5, 3], seed=1)
    names = [n for n, _ in model.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert model.num_parameters() == 4 * 5 + 5 + 5 * 3 + 3
    seq = Sequential(Linear(2, 2, rng=0), Tanh())
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(seq) == 2 and isinstance(seq[1], Tanh)
    model.eval()
    assert not model.training and not model.layers[0].training
    model.train()
    assert model.layers[1].training

    state = model.state_dict()
    other = MLP([4, 5, 3], seed=2)
    weight = other.layers[0].weight
    other.load_state_dict(state)
    assert other.layers[0].weight is weight  # loaded in place: optimizers keep their tensors
    for (_, a), (_, b) in zip(model.named_parameters(), other.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ShapeError, match="layers.0.weight"):
        MLP([4, 6, 3]).load_state_dict(state)
    with pytest.raises(StateError, match="missing"):
        model.load_state_dict({"layers.0.weight": state["layers.0.weight"]})
    assert "Linear(in_features=4, out_features=5, bias=True)" in repr(model)


def test_zero_grad_and_backward_reach_every_parameter() -> None:
    model = MLP([3, 4, 2], activation="tanh", seed=0)
    model(t64((6, 3), grad=False)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_mlp_matches_nielsen_feedforward() -> None:
    # Nielsen's network.py: a ← σ(w·a + b) layer by layer, with column vectors.
    model = MLP([6, 4, 3], seed=3)
    x = RNG.random((1, 6))
    a = x.T
    for layer in model.linears:
        assert layer.bias is not None
        a = 1 / (1 + np.exp(-(layer.weight.data @ a + layer.bias.data[:, None])))
    np.testing.assert_allclose(model(tensor(x)).data, a.T, rtol=1e-14)
    trace = model.forward_trace(tensor(x))
    assert [z.shape for z, _ in trace] == [(1, 4), (1, 3)]


def test_config_errors_list_valid_names() -> None:
    with pytest.raises(ConfigError, match="sigmoid, tanh, relu"):
        MLP([2, 2], activation="softsign")
    with pytest.raises(ConfigError, match="nielsen-large, nielsen, xavier, he, uniform"):
        MLP([2, 2], init="glorot")
    with pytest.raises(ConfigError, match="at least two"):
        MLP([5])
    with pytest.raises(ConfigError, match="integers"):
        MLP("784,thirty,10")
    with pytest.raises(ConfigError, match="positive"):
        MLP([3, 0, 2])
    with pytest.raises(ConfigError, match="float64 or float32"):
        MLP([2, 2], dtype=np.int32)
    with pytest.raises(ConfigError, match="negative_slope"):
        LeakyReLU(1.5)


# -- init schemes -----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", INITS)
def test_init_schemes_have_their_statistics(scheme: str) -> None:
    n_in, n_out = 400, 300
    w, b = linear_weights(n_in, n_out, scheme, np.random.default_rng(0))
    expected_std = {
        "nielsen-large": 1.0,
        "nielsen": 1 / np.sqrt(n_in),
        "xavier": np.sqrt(2 / (n_in + n_out)),  # U(−a, a) has std a/√3
        "he": np.sqrt(2 / n_in),
        "uniform": 1 / np.sqrt(12),
    }[scheme]
    assert w.shape == (n_out, n_in) and b.shape == (n_out,)
    assert abs(w.std() / expected_std - 1) < 0.02 and abs(w.mean()) < 0.01 * max(expected_std, 1)
    if scheme in ("nielsen-large", "nielsen"):
        assert abs(b.std() - 1) < 0.15
    elif scheme == "uniform":
        assert np.all(b == 0.1) and w.min() >= -0.5 and w.max() <= 0.5
    else:
        assert np.all(b == 0)


def test_init_is_seeded() -> None:
    a, b = MLP([5, 4, 3], seed=11), MLP([5, 4, 3], seed=11)
    c = MLP([5, 4, 3], seed=12)
    for (_, p), (_, q), (_, r) in zip(
        a.named_parameters(), b.named_parameters(), c.named_parameters(), strict=True
    ):
        np.testing.assert_array_equal(p.data, q.data)
        assert not np.array_equal(p.data, r.data)


# -- gradients: every layer and loss against central differences --------------------------------


@pytest.mark.parametrize("act", [Sigmoid(), Tanh(), ReLU(), LeakyReLU(0.1)])
def test_activation_modules_gradcheck(act: Any) -> None:
    x = t64((4, 5))
    x.data[np.abs(x.data) < 1e-3] = 0.5  # keep away from relu's kink
    assert gradcheck(lambda v: act(v), [x])


def test_leaky_relu_values_and_slope_at_zero() -> None:
    x = tensor([-2.0, 0.0, 3.0], requires_grad=True)
    out = F.leaky_relu(x, 0.1)
    np.testing.assert_allclose(out.data, [-0.2, 0.0, 3.0])
    out.sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad, [0.1, 0.1, 1.0])  # torch's convention at 0


def test_linear_gradcheck_all_parameters_and_input() -> None:
    layer = Linear(5, 3, rng=1)
    x = t64((4, 5))
    assert layer.bias is not None
    assert gradcheck(lambda v, w, b: layer(v), [x, layer.weight, layer.bias])


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_mlp_gradcheck(act: str) -> None:
    model = MLP([5, 4, 3], activation=act, init="xavier", seed=2)
    x = t64((3, 5), grad=False)
    y = np.eye(3)[[0, 2, 1]]
    assert gradcheck(lambda *ps: F.mse_loss(model(x), y), model.parameters())


LOSS_CASES = [
    ("mse_loss", lambda a, y, r: F.mse_loss(a, y, r), "real"),
    ("binary_cross_entropy", lambda a, y, r: F.binary_cross_entropy(a.sigmoid(), y, r), "prob"),
    ("bce_with_logits", lambda a, y, r: F.binary_cross_entropy_with_logits(a, y, r), "prob"),
    ("cross_entropy", lambda a, y, r: F.cross_entropy(a, y, r), "index"),
    ("cross_entropy_probs", lambda a, y, r: F.cross_entropy(a, y, r), "dist"),
]


def _target(kind: str) -> np.ndarray:
    if kind == "real":
        return RNG.standard_normal((4, 3))
    if kind == "prob":
        return RNG.random((4, 3))
    if kind == "index":
        return np.array([0, 2, 1, 2])
    p = RNG.random((4, 3))
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("name", "loss", "kind"), LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_losses_gradcheck(name: str, loss: Any, kind: str, reduction: str) -> None:
    z = t64((4, 3), scale=2.0)
    y = _target(kind)
    assert gradcheck(lambda v: loss(v, y, reduction), [z])


def test_losses_are_stable_for_huge_logits() -> None:
    z = tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 3.0]], requires_grad=True)
    y = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    # No overflow, no log(0), no 0/0 anywhere (e^−2000 underflowing to 0 is harmless).
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        bce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
        np.testing.assert_allclose(
            bce.data, [[0, 0, np.log(2)], [1000, 1000, np.log1p(np.exp(3))]], rtol=1e-12
        )
        bce.sum().backward()
        assert z.grad is not None
        sig = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 1 / (1 + np.exp(-3))]])
        np.testing.assert_allclose(z.grad, sig - y, atol=1e-15)
        z.grad = None
        ce = F.cross_entropy(z, np.array([0, 0]), reduction="none")
        np.testing.assert_allclose(ce.data, [0.0, 2000.0], atol=1e-12)
        ce.sum().backward()
        assert np.all(np.isfinite(z.grad))
        a = z.sigmoid()
        p = F.binary_cross_entropy(a, y, reduction="none")
        assert np.all(np.isfinite(p.data)) and float(p.data.max()) == pytest.approx(100.0)


def test_loss_reductions_and_errors() -> None:
    a = tensor([[0.2, 0.8], [0.6, 0.4]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert F.mse_loss(a, y).item() == pytest.approx(np.mean((a.data - y) ** 2))
    assert F.mse_loss(a, y, "sum").item() == pytest.approx(np.sum((a.data - y) ** 2))
    assert F.mse_loss(a, y, "none").shape == (2, 2)
    with pytest.raises(ConfigError, match="mean, sum, none"):
        F.mse_loss(a, y, "avg")
    with pytest.raises(ShapeError, match="target has shape"):
        F.mse_loss(a, np.zeros(3))
    with pytest.raises(ShapeError, match="0..1"):
        F.cross_entropy(a, np.array([0, 2]))
    with pytest.raises(ShapeError, match="probabilities"):
        F.binary_cross_entropy(a * 2.0, y)


def test_nielsen_bce_from_logits_equals_bce_on_sigmoid() -> None:
    z = t64((5, 4))
    y = RNG.random((5, 4))
    a = F.binary_cross_entropy(z.sigmoid(), y, "sum").item()
    b = F.binary_cross_entropy_with_logits(z, y, "sum").item()
    assert a == pytest.approx(b, rel=1e-12)


# -- save and load ----------------------------------------------------------------------------


def test_model_save_load_round_trip(tmp_path: Path) -> None:
    model = MLP([6, 5, 4], activation="relu", output_activation="linear", seed=4)
    path = save_model(model, tmp_path / "m.npz")
    back = load_model(path)
    assert back.config() == model.config()
    x = tensor(RNG.standard_normal((3, 6)))
    np.testing.assert_array_equal(back(x).data, model(x).data)
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_model(tmp_path / "bad.npz")
    with pytest.raises(CheckpointError, match="no such"):
        load_model(tmp_path / "none.npz")


# -- PyTorch as a second oracle ---------------------------------------------------------------


def _torch_mlp(model: MLP, torch: Any, act: str) -> Any:
    layers: list[Any] = []
    acts = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    for lin in model.linears:
        t = torch.nn.Linear(lin.in_features, lin.out_features, dtype=torch.float64)
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(lin.weight.data))
            assert lin.bias is not None
            t.bias.copy_(torch.from_numpy(lin.bias.data))
        layers += [t, acts[act]()]
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_one_epoch_matches_torch(act: str) -> None:
    torch = pytest.importorskip("torch")
    from chainrule.optim import SGD

    rng = np.random.default_rng(0)
    x = rng.random((200, 20))
    labels = rng.integers(0, 10, 200)
    y = np.eye(10)[labels]
    model = MLP([20, 16, 10], activation=act, seed=5)
    net = _torch_mlp(model, torch, act)
    opt = SGD(model.parameters(), lr=0.5, momentum=0.9)
    topt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    order = rng.permutation(200)
    for start in range(0, 200, 10):
        idx = order[start : start + 10]
        # Nielsen's quadratic cost, ½‖y − a‖² averaged over the batch, in both libraries.
        cost = F.mse_loss(model(tensor(x[idx])), y[idx], "sum") * (0.5 / len(idx))
        opt.zero_grad()
        cost.backward()
        opt.step()
        tcost = 0.5 * ((net(torch.from_numpy(x[idx])) - torch.from_numpy(y[idx])) ** 2).sum()
        tcost = tcost / len(idx)
        topt.zero_grad()
        tcost.backward()
        topt.step()
    final = F.mse_loss(model(tensor(x)), y, "sum").item() * 0.5 / 200
    with torch.no_grad():
        tfinal = float(0.5 * ((net(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).sum() / 200)
    assert abs(final - tfinal) < 1e-10
    for lin, t in zip(model.linears, [m for m in net if hasattr(m, "weight")], strict=True):
        np.testing.assert_allclose(lin.weight.data, t.weight.detach().numpy(), atol=1e-10)


def test_losses_match_torch() -> None:
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    z = RNG.standard_normal((6, 4)) * 3
    z[0, 0], z[1, 1] = 1000.0, -1000.0
    p = RNG.random((6, 4))
    labels = np.array([0, 1, 2, 3, 0, 1])
    for reduction in ("mean", "sum"):
        cases = [
            (F.mse_loss(tensor(z), p, reduction), tf.mse_loss, (z, p)),
            (
                F.binary_cross_entropy_with_logits(tensor(z), p, reduction),
                tf.binary_cross_entropy_with_logits,
                (z, p),
            ),
            (F.cross_entropy(tensor(z), labels, reduction), tf.cross_entropy, (z, labels)),
            (
                F.binary_cross_entropy(tensor(z).sigmoid(), p, reduction),
                tf.binary_cross_entropy,
                (torch.sigmoid(torch.from_numpy(z)).numpy(), p),
            ),
        ]
        for ours, theirs, (a, b) in cases:
            expected = float(theirs(torch.from_numpy(a), torch.from_numpy(b), reduction=reduction))
            assert ours.item() == pytest.approx(expected, rel=1e-12), theirs.__name__


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_is_one_gate_with_torchs_values_and_gradients(dtype: Any, reduction: str) -> None:
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((5, 3)).astype(dtype)
    y = RNG.standard_normal((5, 3)).astype(dtype)
    ours = tensor(a, requires_grad=True)
    theirs = torch.tensor(a, requires_grad=True)
    loss = F.mse_loss(ours, y, reduction=reduction)
    expected = torch.nn.functional.mse_loss(theirs, torch.tensor(y), reduction=reduction)
    assert loss.op is not None and loss.op.name == "mse" and loss.dtype == dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(loss.data, expected.detach().numpy(), rtol=rtol)
    # ``/ 4`` folds into the gate's scale; "none" is summed first.
    (loss.sum() if reduction == "none" else loss / 4).backward()
    (expected.sum() if reduction == "none" else expected / 4).backward()
    assert ours.grad is not None
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=rtol)


def test_mse_loss_composes_when_the_target_needs_a_gradient_or_another_dtype() -> None:
    a = tensor(RNG.standard_normal(4), requires_grad=True)
    learned = tensor(RNG.standard_normal(4), requires_grad=True)
    F.mse_loss(a, learned, reduction="sum").backward()
    assert learned.grad is not None and a.grad is not None
    np.testing.assert_allclose(learned.grad.numpy(), -a.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(a.grad.numpy(), 2 * (a.data - learned.data), rtol=1e-15)
    single = tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    promoted = F.mse_loss(single, tensor(np.zeros(3)))  # float32 against float64: float64
    assert promoted.dtype == np.float64
    assert promoted.item() == pytest.approx(1.0)


def test_mse_loss_second_derivative_is_two() -> None:
    from chainrule import grad

    a = tensor(RNG.standard_normal(4), requires_grad=True)
    (g,) = grad(F.mse_loss(a, np.zeros(4), reduction="sum"), [a], create_graph=True)
    (h,) = grad(g.sum(), [a])
    np.testing.assert_allclose(np.asarray(h), 2.0)
