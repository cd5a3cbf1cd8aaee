"""chainrule.optim: SGD (momentum, weight decay) and Adam against their formulas and PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chainrule import tensor
from chainrule.errors import ShapeError
from chainrule.nn import MLP
from chainrule.nn import functional as F
from chainrule.optim import SGD, Adam, OptimizerError, make_optimizer


def quadratic_problem(seed: int = 0) -> tuple[Any, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = MLP([4, 6, 3], activation="tanh", seed=seed)
    return model, rng.standard_normal((16, 4)), rng.random((16, 3))


def run(model: Any, opt: Any, x: np.ndarray, y: np.ndarray, steps: int) -> list[float]:
    costs = []
    for _ in range(steps):
        cost = F.mse_loss(model(tensor(x)), y)
        opt.zero_grad()
        cost.backward()
        opt.step()
        costs.append(cost.item())
    return costs


def test_plain_sgd_is_p_minus_lr_grad() -> None:
    p = tensor([1.0, -2.0], requires_grad=True)
    opt = SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * 2.0, -2.0 + 0.1 * 4.0])
    opt.zero_grad()
    assert p.grad is None


def test_momentum_and_weight_decay_by_hand() -> None:
    p = tensor([1.0], requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.5, weight_decay=0.2)
    v = 0.0
    w = 1.0
    for step in range(3):
        opt.zero_grad()
        (p * 3.0).sum().backward()  # ∂/∂p = 3
        opt.step()
        g = 3.0 + 0.2 * w
        v = g if step == 0 else 0.5 * v + g
        w = w - 0.1 * v
        assert p.data[0] == pytest.approx(w, rel=1e-15)


def test_sgd_decreases_cost() -> None:
    model, x, y = quadratic_problem()
    costs = run(model, SGD(model.parameters(), lr=0.5, momentum=0.9), x, y, 50)
    assert costs[-1] < 0.5 * costs[0]


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("sgd", {"lr": 0.3}),
        ("sgd", {"lr": 0.3, "momentum": 0.9, "weight_decay": 0.01}),
        ("adam", {"lr": 0.01}),
        ("adam", {"lr": 0.01, "weight_decay": 0.01}),
    ],
)
def test_matches_torch(name: str, kwargs: dict[str, float]) -> None:
    torch = pytest.importorskip("torch")
    model, x, y = quadratic_problem(1)
    params = [torch.tensor(p.data.copy(), requires_grad=True) for p in model.parameters()]
    ours = make_optimizer(name, model.parameters(), **kwargs)
    theirs = (torch.optim.SGD if name == "sgd" else torch.optim.Adam)(params, **kwargs)
    w1, b1, w2, b2 = params
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(25):
        run(model, ours, x, y, 1)
        out = torch.tanh(torch.tanh(tx @ w1.T + b1) @ w2.T + b2)
        cost = ((out - ty) ** 2).mean()
        theirs.zero_grad()
        cost.backward()
        theirs.step()
    for p, q in zip(model.parameters(), params, strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_state_dict_round_trip_continues_identically(name: str) -> None:
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "sgd" else {"lr": 0.01}
    model, x, y = quadratic_problem(2)
    opt = make_optimizer(name, model.parameters(), **kwargs)
    run(model, opt, x, y, 5)
    saved_params = model.state_dict()
    saved_opt = opt.state_dict()
    reference = run(model, opt, x, y, 5)

    clone, _, _ = quadratic_problem(3)
    clone.load_state_dict(saved_params)
    opt2 = make_optimizer(name, clone.parameters(), **kwargs)
    opt2.load_state_dict(saved_opt)
    assert run(clone, opt2, x, y, 5) == reference  # bit for bit


def test_state_dict_mismatch_is_refused() -> None:
    model, x, y = quadratic_problem()
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    run(model, opt, x, y, 1)
    state = opt.state_dict()
    other = MLP([4, 7, 3], seed=0)
    with pytest.raises(ShapeError, match="velocity.0"):
        SGD(other.parameters(), lr=0.1, momentum=0.9).load_state_dict(state)
    with pytest.raises(OptimizerError, match="unexpected entry"):
        Adam(model.parameters()).load_state_dict(state)


def test_bad_hyperparameters() -> None:
    p = tensor([1.0], requires_grad=True)
    with pytest.raises(OptimizerError, match="learning rate"):
        SGD([p], lr=0.0)
    with pytest.raises(OptimizerError, match="momentum"):
        SGD([p], lr=0.1, momentum=1.0)
    with pytest.raises(OptimizerError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(OptimizerError, match="require grad"):
        SGD([tensor([1.0])], lr=0.1)
    with pytest.raises(OptimizerError, match="sgd, adam"):
        make_optimizer("rmsprop", [p], lr=0.1)
