"""torch options that tutorials and fine-tuning code use: ``CrossEntropyLoss(weight=,
ignore_index=, label_smoothing=)``, optimizers with several parameter groups, and custom
``autograd.Function``s with more than two tensor inputs. Each against torch as the oracle."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.errors import ConfigError, ShapeError
from chainrule.optim import OptimizerError

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(16)
LOGITS = RNG.standard_normal((6, 4))
CLASSES = np.array([0, 3, 1, 3, 2, 1])
WEIGHT = np.array([0.5, 1.0, 2.0, 3.0])
PROBS = RNG.dirichlet(np.ones(4), size=6)


def _both(make_ours: Any, make_theirs: Any, x: np.ndarray) -> None:
    """The same loss on the same logits: value and gradient equal torch's (float64)."""
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ours, theirs = make_ours(a), make_theirs(b)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-12, atol=1e-14)


CE_CASES: list[dict[str, Any]] = [
    {"weight": WEIGHT},
    {"ignore_index": 3},
    {"label_smoothing": 0.2},
    {"weight": WEIGHT, "label_smoothing": 0.3},
    {"weight": WEIGHT, "ignore_index": 1, "label_smoothing": 0.1},
    {"ignore_index": 0, "label_smoothing": 1.0},
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", CE_CASES, ids=lambda o: "+".join(o))
def test_cross_entropy_options_match_torch(options: dict[str, Any], reduction: str) -> None:
    theirs_options = {k: torch.tensor(v) if k == "weight" else v for k, v in options.items()}
    ours_loss = nn.CrossEntropyLoss(reduction=reduction, **options)
    theirs_loss = torch.nn.CrossEntropyLoss(reduction=reduction, **theirs_options)
    _both(lambda z: ours_loss(z, CLASSES),
          lambda z: theirs_loss(z, torch.from_numpy(CLASSES)), LOGITS)
    _both(lambda z: nn.functional.cross_entropy(z, CLASSES, reduction=reduction, **options),
          lambda z: torch.nn.functional.cross_entropy(z, torch.from_numpy(CLASSES),
                                                      reduction=reduction, **theirs_options),
          LOGITS)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", [{"weight": WEIGHT}, {"label_smoothing": 0.25},
                                     {"weight": WEIGHT, "label_smoothing": 0.1}],
                         ids=lambda o: "+".join(o))
def test_cross_entropy_options_with_probability_targets(options: dict[str, Any],
                                                        reduction: str) -> None:
    theirs_options = {k: torch.tensor(v) if k == "weight" else v for k, v in options.items()}
    _both(lambda z: nn.CrossEntropyLoss(reduction=reduction, **options)(z, PROBS),
          lambda z: torch.nn.CrossEntropyLoss(reduction=reduction, **theirs_options)(
              z, torch.from_numpy(PROBS)), LOGITS)


def test_default_ignore_index_drops_rows() -> None:
    """torch's default ignore_index is −100: such rows are left out, also of the mean."""
    targets = np.array([0, -100, 1, 3, -100, 1])
    _both(lambda z: nn.CrossEntropyLoss()(z, targets),
          lambda z: torch.nn.CrossEntropyLoss()(z, torch.from_numpy(targets)), LOGITS)


def test_every_row_ignored_is_nan_as_torch() -> None:
    targets = np.full(6, -100)
    ours = nn.CrossEntropyLoss()(cr.tensor(LOGITS), targets).item()
    theirs = torch.nn.CrossEntropyLoss()(torch.tensor(LOGITS), torch.from_numpy(targets)).item()
    assert np.isnan(ours) and np.isnan(theirs)


def test_cross_entropy_options_gradcheck() -> None:
    z = cr.tensor(LOGITS, requires_grad=True)
    loss = nn.CrossEntropyLoss(weight=WEIGHT, ignore_index=2, label_smoothing=0.15)
    assert cr.gradcheck(lambda a: loss(a, CLASSES), [z])


def test_cross_entropy_reduction_positionally_still_works() -> None:
    z = cr.tensor(LOGITS)
    a = nn.functional.cross_entropy(z, CLASSES, "sum").item()
    b = nn.functional.cross_entropy(z, CLASSES, reduction="sum").item()
    assert a == b
    assert nn.CrossEntropyLoss("sum")(z, CLASSES).item() == b


def test_cross_entropy_option_errors() -> None:
    z = cr.tensor(LOGITS)
    with pytest.raises(ShapeError, match="one entry per class"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])(z, CLASSES)
    with pytest.raises(ConfigError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ConfigError, match="class-index targets"):
        nn.functional.cross_entropy(z, PROBS, ignore_index=1, label_smoothing=0.1)
    with pytest.raises(ShapeError, match="targets must be in 0..3"):
        nn.CrossEntropyLoss(ignore_index=3)(z, np.array([0, 1, 2, 3, 4, -100]))


# ---------------------------------------------------------------- parameter groups

def _two_layer(lib: Any, seed: int = 3) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    body = lib.nn.Linear(4, 5, dtype=lib.float64)
    head = lib.nn.Linear(5, 3, dtype=lib.float64)
    with lib.no_grad():
        for layer in (body, head):
            layer.weight.copy_(lib.tensor(rng.standard_normal(tuple(layer.weight.shape))))
            layer.bias.copy_(lib.tensor(rng.standard_normal(tuple(layer.bias.shape))))
    return body, head


def _train(lib: Any, make_opt: Any, steps: int = 12, scheduler: Any = None) -> list[float]:
    body, head = _two_layer(lib)
    opt = make_opt(lib, body, head)
    sched = scheduler(lib, opt) if scheduler else None
    rng = np.random.default_rng(7)
    x = lib.tensor(rng.standard_normal((8, 4)))
    y = lib.tensor(rng.integers(0, 3, 8))
    losses = []
    for _ in range(steps):
        loss = lib.nn.functional.cross_entropy(head(body(x).tanh()), y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    params = [*body.parameters(), *head.parameters()]
    return losses + [float(v) for p in params for v in p.detach().numpy().ravel()]


GROUPED: dict[str, Any] = {
    "sgd_momentum": lambda lib, body, head: lib.optim.SGD(
        [{"params": body.parameters()},
         {"params": head.parameters(), "lr": 0.3, "momentum": 0.5}], lr=0.1, momentum=0.9),
    "sgd_nesterov_decay": lambda lib, body, head: lib.optim.SGD(
        [{"params": body.parameters(), "weight_decay": 0.01},
         {"params": head.parameters(), "nesterov": True}], lr=0.05, momentum=0.8),
    "adam": lambda lib, body, head: lib.optim.Adam(
        [{"params": body.parameters(), "lr": 1e-3},
         {"params": head.parameters(), "betas": (0.8, 0.99), "weight_decay": 0.1}], lr=1e-2),
    "adamw": lambda lib, body, head: lib.optim.AdamW(
        [{"params": body.parameters(), "weight_decay": 0.0},
         {"params": head.parameters()}], lr=1e-2, weight_decay=0.05),
    "rmsprop": lambda lib, body, head: lib.optim.RMSprop(
        [{"params": body.parameters(), "alpha": 0.9},
         {"params": head.parameters(), "lr": 1e-3}], lr=1e-2),
}


@pytest.mark.parametrize("name", list(GROUPED))
def test_parameter_groups_match_torch(name: str) -> None:
    ours = _train(cr, GROUPED[name])
    theirs = _train(torch, GROUPED[name])
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


SETTINGS: dict[str, Any] = {
    "sgd_dampening": lambda lib, body, head: lib.optim.SGD(
        [*body.parameters(), *head.parameters()], lr=0.1, momentum=0.9, dampening=0.3),
    "adam_amsgrad": lambda lib, body, head: lib.optim.Adam(
        [*body.parameters(), *head.parameters()], lr=5e-2, amsgrad=True),
    "adamw_amsgrad": lambda lib, body, head: lib.optim.AdamW(
        [*body.parameters(), *head.parameters()], lr=5e-2, weight_decay=0.1, amsgrad=True),
    "rmsprop_momentum": lambda lib, body, head: lib.optim.RMSprop(
        [*body.parameters(), *head.parameters()], lr=1e-2, momentum=0.9),
    "rmsprop_centered": lambda lib, body, head: lib.optim.RMSprop(
        [*body.parameters(), *head.parameters()], lr=1e-2, centered=True),
    "rmsprop_centered_momentum_groups": lambda lib, body, head: lib.optim.RMSprop(
        [{"params": body.parameters(), "centered": True},
         {"params": head.parameters(), "momentum": 0.5, "weight_decay": 0.01}], lr=1e-2),
}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_optimizer_settings_match_torch(name: str) -> None:
    """SGD's dampening, Adam's and AdamW's amsgrad, RMSprop's momentum and centered."""
    np.testing.assert_allclose(_train(cr, SETTINGS[name], steps=20),
                               _train(torch, SETTINGS[name], steps=20), rtol=1e-10, atol=1e-12)


def test_optimizer_setting_errors() -> None:
    body, _ = _two_layer(cr)
    with pytest.raises(OptimizerError, match="nesterov needs a momentum > 0 and no dampening"):
        optim.SGD(body.parameters(), lr=0.1, momentum=0.9, nesterov=True, dampening=0.1)
    with pytest.raises(OptimizerError, match="momentum must be in"):
        optim.RMSprop(body.parameters(), momentum=1.0)


def test_scheduler_steps_every_group() -> None:
    def make(lib: Any, body: Any, head: Any) -> Any:
        return lib.optim.SGD([{"params": body.parameters()},
                              {"params": head.parameters(), "lr": 0.5}], lr=0.1)

    def sched(lib: Any, opt: Any) -> Any:
        return lib.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)

    np.testing.assert_allclose(_train(cr, make, scheduler=sched),
                               _train(torch, make, scheduler=sched), rtol=1e-10, atol=1e-12)
    body, head = _two_layer(cr)
    opt = make(cr, body, head)
    s = sched(cr, opt)
    for _ in range(3):
        s.step()
    assert s.get_last_lr() == [0.05, 0.25]


def test_add_param_group_matches_torch() -> None:
    def make(lib: Any, body: Any, head: Any) -> Any:
        opt = lib.optim.Adam(body.parameters(), lr=1e-2)
        opt.add_param_group({"params": head.parameters(), "lr": 5e-2})
        return opt

    np.testing.assert_allclose(_train(cr, make), _train(torch, make), rtol=1e-10, atol=1e-12)


def test_parameter_group_errors() -> None:
    body, head = _two_layer(cr)
    with pytest.raises(OptimizerError, match="more than one parameter group"):
        optim.SGD([{"params": body.parameters()}, {"params": body.parameters()}], lr=0.1)
    with pytest.raises(OptimizerError, match="unknown setting.*betas"):
        optim.SGD([{"params": body.parameters(), "betas": (0.9, 0.9)}], lr=0.1)
    with pytest.raises(OptimizerError, match="momentum must be in"):
        optim.SGD([{"params": body.parameters(), "momentum": 1.5}], lr=0.1)
    with pytest.raises(OptimizerError, match="learning rate must be positive"):
        optim.Adam([{"params": head.parameters(), "lr": -1.0}])
    with pytest.raises(OptimizerError, match="'params' entry"):
        optim.SGD(body.parameters(), lr=0.1).add_param_group({"lr": 0.1})


def test_state_dict_round_trip_with_groups() -> None:
    body, head = _two_layer(cr)
    opt = optim.SGD([{"params": body.parameters()},
                     {"params": head.parameters(), "momentum": 0.5}], lr=0.1, momentum=0.9)
    x = cr.tensor(np.ones((2, 4)))
    head(body(x)).sum().backward()
    opt.step()
    state = opt.state_dict()
    assert sorted(state) == ["steps", "velocity.0", "velocity.1", "velocity.2", "velocity.3"]
    again = optim.SGD([{"params": body.parameters()},
                       {"params": head.parameters(), "momentum": 0.5}], lr=0.1, momentum=0.9)
    again.load_state_dict(state)
    assert again.state_dict().keys() == state.keys()


# ---------------------------------------------------------------- Function with many inputs

def _lerp_scaled(lib: Any) -> Any:
    class LerpScaled(lib.autograd.Function):
        """(a + w·(b − a))·s·c: three tensors and a constant."""

        @staticmethod
        def forward(ctx: Any, a: Any, b: Any, w: Any, scale: float, c: Any) -> Any:
            ctx.save_for_backward(a, b, w, c)
            ctx.scale = scale
            return (a + w * (b - a)) * scale * c

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            a, b, w, c = ctx.saved_tensors
            gs = g * ctx.scale
            mix = a + w * (b - a)
            return (gs * c * (1 - w), gs * c * w, (gs * c * (b - a)).sum(0), None,
                    (gs * mix).sum())

    return LerpScaled


ARGS = (RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)), RNG.standard_normal(4),
        RNG.standard_normal(()))


def _inputs(lib: Any) -> list[Any]:
    return [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in ARGS]


def test_function_with_four_tensor_inputs_matches_torch() -> None:
    results = []
    for lib in (cr, torch):
        a, b, w, c = _inputs(lib)
        out = _lerp_scaled(lib).apply(a, b, w, 2.0, c)
        (out * out).sum().backward()
        results.append((out.detach().numpy(), [x.grad if lib is cr else x.grad.numpy()
                                               for x in (a, b, w, c)]))
    (ours, ours_grads), (theirs, theirs_grads) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-13)
    for g1, g2 in zip(ours_grads, theirs_grads, strict=True):
        np.testing.assert_allclose(g1, g2, rtol=1e-13, atol=1e-15)


def test_function_with_many_inputs_gradcheck_and_second_order() -> None:
    fn = _lerp_scaled(cr)
    assert cr.gradcheck(lambda a, b, w, c: fn.apply(a, b, w, 2.0, c), _inputs(cr))
    second = []
    for lib in (cr, torch):
        xs = _inputs(lib)
        out = (_lerp_scaled(lib).apply(xs[0], xs[1], xs[2], 2.0, xs[3]) ** 2).sum()
        grads = lib.autograd.grad(out, xs, create_graph=True)
        total = sum((g * g).sum() for g in grads)
        hvp = lib.autograd.grad(total, xs)
        second.append([h.detach().numpy() for h in hvp])
    for h1, h2 in zip(*second, strict=True):
        np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-12)


def test_function_with_many_inputs_some_without_grad() -> None:
    a, b, w, c = _inputs(cr)
    b.requires_grad = False
    out = _lerp_scaled(cr).apply(a, b, w, 2.0, c)
    out.sum().backward()
    assert b.grad is None and a.grad is not None and c.grad is not None
    assert out.op is not None and out.op.name == "LerpScaled"


# ---------------------------------------------------------------- std and norm at zero spread

@pytest.mark.parametrize("case", ["std_one", "std_equal", "std_dim", "norm_zero", "norm_dim"])
def test_std_and_norm_at_zero_spread_match_torch(case: str) -> None:
    """At zero spread torch's std and 2-norm have gradient 0 (not √'s 1/0 times 0 = NaN)."""
    data = {"std_one": np.array([3.5]), "std_equal": np.full(4, 2.0),
            "std_dim": np.array([[1.0, 2.0], [1.0, 5.0]]), "norm_zero": np.zeros(3),
            "norm_dim": np.array([[0.0, 0.0], [3.0, 4.0]])}[case]
    fns = {"std_one": lambda x: x.std(correction=0), "std_equal": lambda x: x.std(),
           "std_dim": lambda x: x.std(dim=0), "norm_zero": lambda x: x.norm(),
           "norm_dim": lambda x: x.norm(dim=1)}
    _both(fns[case], fns[case], data)
