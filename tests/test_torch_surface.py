"""torch's names on chainrule, typed as torch users type them, with torch as the oracle."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ConfigError, GraphError, ShapeError

torch = pytest.importorskip("torch")

DATA = np.random.default_rng(3).uniform(-2, 2, (2, 3, 4))


def _pair() -> tuple[cr.Tensor, Any]:
    return cr.tensor(DATA, requires_grad=True), torch.tensor(DATA, requires_grad=True)


UNARY: dict[str, Callable[[Any], Any]] = {
    "view": lambda t: t.view(6, 4),
    "view_-1": lambda t: t.view(-1),
    "flatten": lambda t: t.flatten(),
    "flatten_1": lambda t: t.flatten(1),
    "unsqueeze": lambda t: t.unsqueeze(1),
    "unsqueeze_-1": lambda t: t.unsqueeze(-1),
    "squeeze": lambda t: t.unsqueeze(0).squeeze(),
    "squeeze_dim": lambda t: t.unsqueeze(2).squeeze(2),
    "permute": lambda t: t.permute(2, 0, 1),
    "transpose": lambda t: t.transpose(0, 2),
    "mT": lambda t: t.mT,
    "expand": lambda t: t[:, :1].expand(2, 5, 4),
    "expand_-1": lambda t: t[:, :1].expand(-1, 3, -1),
    "repeat": lambda t: t.repeat(1, 2, 1),
    "sum_dim": lambda t: t.sum(dim=1, keepdim=True),
    "sum_dims": lambda t: t.sum(dim=(0, 2)),
    "mean_dim": lambda t: t.mean(dim=-1),
    "prod": lambda t: t.prod(),
    "prod_dim": lambda t: t.prod(dim=1),
    "var": lambda t: t.var(),
    "var_dim": lambda t: t.var(dim=1, keepdim=True),
    "var_biased": lambda t: t.var(dim=0, unbiased=False),
    "std": lambda t: t.std(),
    "std_dim": lambda t: t.std(dim=2),
    "norm": lambda t: t.norm(),
    "norm_dim": lambda t: t.norm(dim=1),
    "norm_1": lambda t: t.norm(p=1),
    "pow": lambda t: t.pow(3),
    "square": lambda t: t.square(),
    "sin": lambda t: t.sin(),
    "cos": lambda t: t.cos(),
    "log1p": lambda t: t.abs().log1p(),
    "clamp": lambda t: t.clamp(-1.0, 0.5),
    "clamp_min": lambda t: t.clamp(min=0),
    "clip_max": lambda t: t.clip(max=0.3),
    "clone": lambda t: t.clone() * 2,
    "softmax": lambda t: t.softmax(dim=1),
    "log_softmax": lambda t: t.log_softmax(dim=-1),
    "logsumexp": lambda t: t.logsumexp(dim=2),
    "max_dim": lambda t: t.max(dim=2).values,
    "min_keep": lambda t: t.min(1, keepdim=True)[0],
    "amax": lambda t: t.max(),
    "getitem_mask": lambda t: t[t > 0],
    "getitem_ellipsis": lambda t: t[..., -1],
    "getitem_col": lambda t: t[:, 0],
    "float_double": lambda t: t.float().double() * 1.0,
    "where_method": lambda t: t.where(t > 0, t * 3),
}
MODULE: dict[str, Callable[[Any, Any], Any]] = {
    "sin": lambda m, t: m.sin(t),
    "pow": lambda m, t: m.pow(t, 2),
    "square": lambda m, t: m.square(t),
    "clamp": lambda m, t: m.clamp(t, min=-0.5),
    "where": lambda m, t: m.where(t > 0, t, m.zeros_like(t)),
    "cat": lambda m, t: m.cat([t, t * 2], dim=1),
    "cat_-1": lambda m, t: m.cat((t, t.exp()), -1),
    "stack": lambda m, t: m.stack([t, t * 2, t], dim=1),
    "stack_0": lambda m, t: m.stack([t, -t]),
    "sum": lambda m, t: m.sum(t, 1),
    "mean": lambda m, t: m.mean(t),
    "max": lambda m, t: m.max(t, 2)[0],
    "flatten": lambda m, t: m.flatten(t, 1),
    "transpose": lambda m, t: m.transpose(t, 0, 1),
    "softmax": lambda m, t: m.softmax(t, dim=0),
    "mm": lambda m, t: m.mm(t[0], t[1].T),
    "F.softmax": lambda m, t: m.nn.functional.softmax(t, dim=1),
    "F.log_softmax": lambda m, t: m.nn.functional.log_softmax(t, dim=1),
    "F.mse_loss": lambda m, t: m.nn.functional.mse_loss(t, m.zeros_like(t)),
}


def _compare(ours: cr.Tensor, theirs: Any, x: cr.Tensor, t: Any) -> None:
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-12)
    weights = np.random.default_rng(0).standard_normal(ours.shape)
    (ours * weights).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_tensor_method_matches_torch(name: str) -> None:
    x, t = _pair()
    _compare(UNARY[name](x), UNARY[name](t), x, t)


@pytest.mark.parametrize("name", sorted(MODULE))
def test_module_function_matches_torch(name: str) -> None:
    x, t = _pair()
    _compare(MODULE[name](cr, x), MODULE[name](torch, t), x, t)


def test_facts_and_conversions() -> None:
    x = cr.tensor(DATA)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.numel() == 24 and cr.numel(x) == 24
    assert x.tolist() == DATA.tolist()
    assert x.float().dtype == cr.float32 == cr.float and x.double().dtype == cr.float64
    assert cr.tensor([1.5, 2.5]).long().tolist() == [1, 2]
    rounded = cr.tensor([1.5, 2.5], requires_grad=True).long()
    assert rounded.dtype == cr.int64 and not rounded.requires_grad
    assert x.to(cr.float32).dtype == np.float32 and x.to("cpu") is x
    assert cr.is_tensor(x) and not cr.is_tensor(DATA)
    y = x.clone()
    y.data[0, 0, 0] = 99.0
    assert x.data[0, 0, 0] != 99.0


def test_leaves_and_grad_fn() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    z = w * 3
    assert w.is_leaf and w.grad_fn is None
    assert not z.is_leaf and z.grad_fn.name == "mul"
    assert cr.tensor([1.0]).is_leaf


def test_backward_with_gradient_argument_like_torch() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(gradient=cr.tensor([1.0, 0.1, 0.01]))
    np.testing.assert_allclose(x.grad, [2.0, 0.4, 0.06])  # type: ignore[arg-type]
    y.backward(cr.ones_like(y), retain_graph=True)
    np.testing.assert_allclose(x.grad, [4.0, 4.4, 6.06])  # type: ignore[arg-type]


def test_factories() -> None:
    assert cr.zeros(2, 3).shape == (2, 3) and cr.zeros((2, 3)).data.sum() == 0
    assert cr.ones([4]).data.tolist() == [1.0] * 4
    assert cr.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert cr.eye(3).tolist() == np.eye(3).tolist()
    assert cr.arange(5).tolist() == [0, 1, 2, 3, 4] and cr.arange(5).dtype == cr.int64
    np.testing.assert_allclose(cr.arange(0, 1, 0.25).numpy(), torch.arange(0, 1, 0.25))
    np.testing.assert_allclose(cr.linspace(-math.pi, math.pi, 7).numpy(),
                               torch.linspace(-math.pi, math.pi, 7, dtype=torch.float64),
                               rtol=1e-15, atol=1e-15)
    assert cr.linspace(0, 1, 1).tolist() == [0.0] and cr.linspace(0, 1, 0).shape == (0,)
    cr.manual_seed(5)
    a = cr.randn(3, 2)
    cr.manual_seed(5)
    assert (cr.randn(3, 2) == a).all().item()
    r = cr.rand(1000)
    assert 0.0 <= r.min().item() and r.max().item() < 1.0
    assert cr.randn((), dtype=cr.float, requires_grad=True).requires_grad
    assert cr.randint(0, 3, (50,)).max().item() <= 2
    assert cr.zeros_like(a).shape == (3, 2) and cr.rand_like(a).shape == (3, 2)
    n = np.ones(3)
    t = cr.from_numpy(n)
    np.add(n, 1, out=n)
    assert t.tolist() == [2.0, 2.0, 2.0]  # shares memory, as torch.from_numpy
    t.add_(1)
    assert n.tolist() == [3.0, 3.0, 3.0]


def test_devices_are_the_cpu_and_a_gpu_is_a_clear_error() -> None:
    assert not cr.cuda.is_available() and not cr.accelerator.is_available()
    assert not cr.backends.mps.is_available()
    device = "cuda" if cr.cuda.is_available() else "cpu"
    x = cr.ones(2, device=device).to(device)
    assert x.device == cr.device("cpu") and str(x.device) == "cpu"
    assert cr.nn.Linear(2, 1).to(cr.device("cpu")) is not None
    with pytest.raises(ConfigError, match="CPU only"):
        cr.device("cuda")
    with pytest.raises(ConfigError, match="CPU only"):
        x.to("cuda:0")
    with pytest.raises(ConfigError, match="CPU only"):
        cr.zeros(2, device="mps")


def test_in_place_methods_and_item_assignment_match_torch() -> None:
    w0 = np.array([0.5, -1.0, 2.0])
    w, tw = cr.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    out = []
    for m, p in ((cr, w), (torch, tw)):
        h = p * 1.0
        h.add_(1.0, alpha=2.0).mul_(p)
        h[1] = p[0] * 5
        h.sub_(p).div_(2.0)
        h[h > 100] = 0  # no element: a no-op
        h.sum().backward()
        out.append((h.detach().numpy() if m is torch else h.numpy(), p.grad))
    np.testing.assert_allclose(out[0][0], out[1][0])
    np.testing.assert_allclose(out[0][1], out[1][1].numpy())


def test_zero_fill_copy_under_no_grad() -> None:
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        p.zero_()
        assert p.tolist() == [0.0, 0.0]
        p.fill_(3.0)
        p.copy_(cr.tensor([4.0, 5.0]))
    assert p.tolist() == [4.0, 5.0] and p.is_leaf and p.requires_grad
    with pytest.raises(GraphError, match="leaf tensor that requires grad"):
        p.zero_()


def test_bad_input_is_one_line() -> None:
    x = cr.tensor(DATA)
    with pytest.raises(ShapeError, match="cannot reshape"):
        x.view(5, 5)
    with pytest.raises(ShapeError, match="cannot change a shape"):
        cr.ones(3).add_(cr.ones(2, 3))
    with pytest.raises(ShapeError, match="cannot be written"):
        cr.arange(3).add_(0.5)
    with pytest.raises(ShapeError, match="permutation"):
        x.permute(0, 0, 1)
    with pytest.raises(ShapeError, match="out of range"):
        x.unsqueeze(5)
    with pytest.raises(ShapeError, match="differ outside"):
        cr.cat([cr.ones(2, 3), cr.ones(3, 2)], dim=0)
    with pytest.raises(ShapeError, match="ambiguous"):
        bool(cr.ones(2))
    with pytest.raises(ShapeError, match="clone"):
        cr.ones(1).expand(3).add_(1)


def test_grad_mode_switches() -> None:
    x = cr.tensor([1.0], requires_grad=True)
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad and not cr.is_grad_enabled()
        with cr.enable_grad():
            assert (x * 2).requires_grad
    assert cr.is_grad_enabled()


# ---------------------------------------------------------------- nn and optim against torch


def _linear_pair(seed: int = 0) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    w, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    ours = cr.nn.Linear(4, 3)
    theirs = torch.nn.Linear(4, 3, dtype=torch.float64)
    ours.load_state_dict({"weight": w, "bias": b})
    theirs.load_state_dict({"weight": torch.tensor(w), "bias": torch.tensor(b)})
    return ours, theirs


OPTIMIZERS: dict[str, Callable[[Any, Any], Any]] = {
    "sgd_nesterov": lambda m, p: m.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "sgd_decay": lambda m, p: m.optim.SGD(p, lr=0.05, momentum=0.5, weight_decay=0.1),
    "adamw": lambda m, p: m.optim.AdamW(p, lr=0.05),
    "adamw_decay": lambda m, p: m.optim.AdamW(p, lr=0.05, weight_decay=0.3),
    "rmsprop": lambda m, p: m.optim.RMSprop(p, lr=0.01),
    "rmsprop_decay": lambda m, p: m.optim.RMSprop(p, lr=0.01, alpha=0.9, weight_decay=0.1),
}
SCHEDULERS: dict[str, Callable[[Any, Any], Any]] = {
    "step": lambda m, o: m.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    "exponential": lambda m, o: m.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
    "cosine": lambda m, o: m.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("sched", sorted(SCHEDULERS))
def test_optimizers_and_schedulers_match_torch(opt: str, sched: str) -> None:
    x = np.random.default_rng(1).standard_normal((8, 4))
    y = np.random.default_rng(2).integers(0, 3, 8)
    results = []
    for m, model in zip((cr, torch), _linear_pair(), strict=True):
        optimizer = OPTIMIZERS[opt](m, model.parameters())
        scheduler = SCHEDULERS[sched](m, optimizer)
        loss_fn = m.nn.CrossEntropyLoss()
        losses = []
        for _ in range(12):
            optimizer.zero_grad()
            loss = loss_fn(model(m.tensor(x)), m.tensor(y))
            loss.backward()
            m.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        results.append((losses, optimizer.param_groups[0]["lr"],
                        np.asarray(model.weight.detach().numpy() if m is torch
                                   else model.weight.numpy())))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-12)
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-9, atol=1e-12)


def test_zero_grad_set_to_none_false_keeps_zero_arrays() -> None:
    p = cr.tensor([1.0], requires_grad=True)
    (p * 2).sum().backward()
    opt = cr.optim.SGD([p], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and p.grad.tolist() == [0.0]
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("loss", ["MSELoss", "L1Loss", "BCEWithLogitsLoss", "BCELoss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_match_torch(loss: str, reduction: str) -> None:
    rng = np.random.default_rng(4)
    z = rng.uniform(0.05, 0.95, (5, 2)) if loss == "BCELoss" else rng.standard_normal((5, 2))
    y = rng.uniform(0, 1, (5, 2))
    results = []
    for m in (cr, torch):
        x = m.tensor(z, requires_grad=True)
        out = getattr(m.nn, loss)(reduction=reduction)(x, m.tensor(y))
        out.sum().backward()
        results.append((np.asarray(out.detach().numpy() if m is torch else out.numpy()),
                        np.asarray(x.grad)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_dropout_flatten_modulelist_parameter() -> None:
    cr.manual_seed(0)
    drop = cr.nn.Dropout(0.25)
    x = cr.ones(4000, requires_grad=True)
    y = drop(x)
    kept = y.numpy() != 0
    assert 0.7 < kept.mean() < 0.8 and np.allclose(y.numpy()[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.75)  # type: ignore[arg-type]
    assert drop.eval()(x) is x
    assert cr.nn.Flatten()(cr.zeros(2, 3, 4)).shape == (2, 12)

    class Net(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = cr.nn.ModuleList([cr.nn.Linear(2, 2) for _ in range(3)])
            self.scale = cr.nn.Parameter(cr.tensor(2.0))

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            for layer in self.layers:
                x = layer(x)
            return x * self.scale

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "layers.0.weight", "layers.0.bias", "layers.1.weight",
                     "layers.1.bias", "layers.2.weight", "layers.2.bias"] or \
        sorted(names) == sorted(["scale", "layers.0.weight", "layers.0.bias",
                                 "layers.1.weight", "layers.1.bias", "layers.2.weight",
                                 "layers.2.bias"])
    assert isinstance(net.scale, cr.nn.Parameter) and net.scale.requires_grad
    assert net(cr.ones(1, 2)).shape == (1, 2) and len(net.layers) == 3


def test_load_state_dict_strict() -> None:
    model = cr.nn.Linear(2, 1)
    result = model.load_state_dict({"weight": np.ones((1, 2))}, strict=False)
    assert result.missing_keys == ["bias"] and model.weight.tolist() == [[1.0, 1.0]]
    with pytest.raises(cr.nn.StateError, match="missing bias"):
        model.load_state_dict({"weight": np.ones((1, 2))})
    model.load_state_dict({"weight": cr.zeros(1, 2), "bias": cr.ones(1)})
    assert model.bias is not None and model.bias.tolist() == [1.0]


def test_accuracy_idiom_and_inference_mode() -> None:
    logits = cr.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5], [0.0, 0.1, 0.2]])
    y = cr.tensor(np.array([1, 0, 0]))
    with cr.inference_mode():
        correct = (logits.argmax(1) == y).type(cr.float).sum().item()
    assert correct == 2.0


def test_tensor_constructor_refuses_a_shape() -> None:
    with pytest.raises(cr.OperandError, match="chainrule.zeros"):
        cr.Tensor(2, 3)


def test_view_with_a_dtype_is_refused() -> None:
    with pytest.raises(cr.OperandError, match=r"\.to\(dtype\)"):
        cr.ones(4).view(cr.float32)
    assert cr.arange(6.0).view(np.int64(2), 3).shape == (2, 3)
