"""``.grad`` of a Tensor is a Tensor sharing memory with the stored gradient, as in torch.

The loops are those of PyTorch's tutorials ("What is torch.nn really?", the older two-layer
nets), run with chainrule in torch's place and checked against torch when it is installed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import chainrule
from chainrule import Tensor, nn, optim
from chainrule.errors import OperandError, ShapeError

RNG = np.random.default_rng(16)
X = RNG.standard_normal((24, 12))
Y = np.arange(24) % 4
W0 = RNG.standard_normal((12, 4)) / math.sqrt(12)


def _nn_really(lib: Any, epochs: int = 3, bs: int = 8, lr: float = 0.5) -> tuple[Any, Any, list]:
    """The manual loop of "What is torch.nn really?" (its log_softmax, nll and update)."""
    x_train, y_train = lib.tensor(X), lib.tensor(Y)
    weights = lib.tensor(W0.copy())
    weights.requires_grad_()
    bias = lib.zeros(4, dtype=lib.float64, requires_grad=True)

    def log_softmax(x: Any) -> Any:
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb: Any) -> Any:
        return log_softmax(xb @ weights + bias)

    def nll(input: Any, target: Any) -> Any:  # noqa: A002 - the tutorial's name
        return -input[range(target.shape[0]), target].mean()

    losses = []
    n = x_train.shape[0]
    for _epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            xb = x_train[i * bs:i * bs + bs]
            yb = y_train[i * bs:i * bs + bs]
            loss = nll(model(xb), yb)
            loss.backward()
            losses.append(loss.item())
            with lib.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()
    return weights, bias, losses


def test_the_nn_really_loop_zeroes_the_stored_gradient() -> None:
    weights, bias, losses = _nn_really(chainrule)
    assert isinstance(weights.grad, Tensor) and not weights.grad.requires_grad
    assert np.all(weights.grad.numpy() == 0.0) and np.all(bias.grad.numpy() == 0.0)
    assert losses[-1] < losses[0]
    # Had zero_() not reached the stored gradient, the next step would add to the old one.
    x, y = chainrule.tensor(X[:8]), chainrule.tensor(Y[:8])
    out = (x @ weights + bias).log_softmax(-1)
    (-out[range(8), y].mean()).backward()
    fresh_w = chainrule.tensor(weights.data.copy(), requires_grad=True)
    fresh_b = chainrule.tensor(bias.data.copy(), requires_grad=True)
    (-(x @ fresh_w + fresh_b).log_softmax(-1)[range(8), y].mean()).backward()
    np.testing.assert_allclose(weights.grad, fresh_w.grad, rtol=1e-12)


def test_the_nn_really_loop_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    w, b, losses = _nn_really(chainrule)
    tw, tb, tlosses = _nn_really(torch)
    np.testing.assert_allclose(losses, tlosses, rtol=1e-10)
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-10, atol=1e-12)


def _two_layer_data_idiom(lib: Any, steps: int = 5, lr: float = 1e-3) -> list[Any]:
    """The older tutorials' update: through ``.data`` of the weight and of its gradient."""
    rng = np.random.default_rng(3)
    x, y = lib.tensor(rng.standard_normal((16, 6))), lib.tensor(rng.standard_normal((16, 2)))
    w1 = lib.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    w2 = lib.tensor(rng.standard_normal((5, 2)), requires_grad=True)
    for _ in range(steps):
        loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
        loss.backward()
        w1.data -= lr * w1.grad.data
        w2.data -= lr * w2.grad.data
        w1.grad.data.zero_()
        w2.grad.data.zero_()
    return [w1, w2]


def test_the_data_idiom_of_older_tutorials_matches_torch() -> None:
    got = _two_layer_data_idiom(chainrule)
    assert all(np.all(w.grad.numpy() == 0.0) for w in got)
    torch = pytest.importorskip("torch")
    want = _two_layer_data_idiom(torch)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.data, w.detach().numpy(), rtol=1e-12)


def _backward_square(w: Tensor) -> None:
    (w * w).sum().backward()


def test_grad_shares_memory_with_the_stored_gradient() -> None:
    w = chainrule.tensor([1.0, -2.0, 3.0], requires_grad=True)
    _backward_square(w)
    g = w.grad
    assert g is not None and g.tolist() == [2.0, -4.0, 6.0]
    g.mul_(0.5)
    assert w.grad.tolist() == [1.0, -2.0, 3.0]
    w.grad.data.zero_()
    assert w.grad.tolist() == [0.0, 0.0, 0.0]
    w.grad.copy_(chainrule.tensor([1.0, 1.0, 1.0]))
    with chainrule.no_grad():
        w.grad += 2.0
    assert w.grad.tolist() == [3.0, 3.0, 3.0]
    _backward_square(w)  # accumulates onto what the in-place calls left
    assert w.grad.tolist() == [5.0, -1.0, 9.0]
    w.grad.fill_(7.0)
    w.grad.data.add_(1.0)
    assert w.grad.tolist() == [8.0, 8.0, 8.0]
    w.grad.data.mul_(2).sub_(1.0).div_(5.0)
    assert w.grad.tolist() == [3.0, 3.0, 3.0]
    assert np.shares_memory(np.asarray(w.grad), w.grad.data)


def test_grad_is_the_same_object_while_the_gradient_is_unchanged() -> None:
    w = chainrule.tensor([[1.0, 2.0]], requires_grad=True)
    assert w.grad is None
    _backward_square(w)
    first = w.grad
    assert first is w.grad
    first.zero_()  # in place: still the same gradient
    assert w.grad is first
    assert first.requires_grad is False and first.is_leaf and first.grad_fn is None
    w.grad = None
    assert w.grad is None


def test_grad_wrapper_behaves_like_a_torch_grad() -> None:
    torch = pytest.importorskip("torch")
    values = [[0.5, -1.5], [2.0, 0.25]]
    w = chainrule.tensor(values, requires_grad=True)
    tw = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    (w.sigmoid() * w).sum().backward()
    (tw.sigmoid() * tw).sum().backward()
    assert torch.allclose(torch.from_numpy(w.grad.numpy()), tw.grad)
    assert chainrule.allclose(w.grad, tw.grad.numpy())
    assert w.grad.norm().item() == pytest.approx(tw.grad.norm().item(), rel=1e-12)
    np.testing.assert_allclose(w.grad.tolist(), tw.grad.tolist(), rtol=1e-12)
    assert w.grad.clone().tolist() == w.grad.tolist()
    assert w.grad.detach().tolist() == w.grad.tolist()
    assert repr(w.grad).startswith("tensor([[")
    assert type(w.grad.numpy()) is np.ndarray
    s = chainrule.tensor(1.5, requires_grad=True)
    (s * s * s).backward()
    ts = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    (ts * ts * ts).backward()
    assert isinstance(s.grad.item(), float) and s.grad.item() == ts.grad.item() == 6.75
    clone = s.grad.clone()
    clone.zero_()  # a copy: the stored gradient stays
    assert s.grad.item() == 6.75


def test_assigning_grad_checks_shape_and_dtype_and_keeps_the_tensor() -> None:
    w = chainrule.tensor([1.0, 2.0, 3.0], requires_grad=True)
    given = chainrule.tensor([0.5, 0.5, 0.5])
    w.grad = given
    given.data[0] = 9.0  # the assigned tensor is kept, not copied (torch keeps it too)
    assert w.grad.tolist() == [9.0, 0.5, 0.5]
    w.grad = np.array([1.0, 1.0, 1.0])
    _backward_square(w)
    assert w.grad.tolist() == [3.0, 5.0, 7.0]
    with pytest.raises(ShapeError, match=r"shape \(2,\).*shape \(3,\)"):
        w.grad = np.zeros(2)
    with pytest.raises(OperandError, match="float32.*float64"):
        w.grad = np.zeros(3, dtype=np.float32)
    with pytest.raises(OperandError, match="list"):
        w.grad = [1.0, 2.0, 3.0]
    assert w.grad.tolist() == [3.0, 5.0, 7.0]  # refused assignments leave it alone
    w.grad = None
    assert w.grad is None


def test_torch_refuses_the_same_assignments() -> None:
    torch = pytest.importorskip("torch")
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="size"):
        w.grad = torch.zeros(2)
    with pytest.raises(RuntimeError, match="type"):
        w.grad = torch.zeros(3, dtype=torch.float64)


def test_retained_intermediate_grad_is_a_tensor_as_torch() -> None:
    torch = pytest.importorskip("torch")
    x0 = np.array([[0.3, -0.7], [1.1, 0.4]])
    x, tx = chainrule.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    y, ty = (x * 2).tanh(), (tx * 2).tanh()
    y.retain_grad()
    ty.retain_grad()
    (y * y * x).sum().backward()
    (ty * ty * tx).sum().backward()
    assert isinstance(y.grad, Tensor)
    np.testing.assert_allclose(y.grad, ty.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)


def test_chainrule_grad_returns_tensors_as_torch_autograd_grad() -> None:
    torch = pytest.importorskip("torch")
    x0 = np.array([0.2, -1.3, 0.8])
    x, tx = chainrule.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    (g,) = chainrule.grad((x.sin() * x).sum(), x)
    (tg,) = torch.autograd.grad((tx.sin() * tx).sum(), tx)
    assert isinstance(g, Tensor) and x.grad is None
    np.testing.assert_allclose(g, tg.numpy(), rtol=1e-12)


def _train_with(lib: Any, make_opt: Any, steps: int = 4, set_to_none: bool = True) -> list[Any]:
    rng = np.random.default_rng(5)
    x, y = lib.tensor(rng.standard_normal((10, 3))), lib.tensor(rng.standard_normal((10, 1)))
    w = lib.tensor(rng.standard_normal((3, 1)), requires_grad=True)
    b = lib.tensor(rng.standard_normal(1), requires_grad=True)
    opt = make_opt(lib.optim, [w, b])
    for _ in range(steps):
        opt.zero_grad(set_to_none=set_to_none)
        ((x @ w + b - y) ** 2).mean().backward()
        opt.step()
    return [w, b]


OPTIMIZERS = {
    "sgd": lambda o, p: o.SGD(p, lr=0.1),
    "sgd_momentum_decay": lambda o, p: o.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    "adam": lambda o, p: o.Adam(p, lr=0.05),
    "adamw": lambda o, p: o.AdamW(p, lr=0.05, weight_decay=0.1),
    "rmsprop": lambda o, p: o.RMSprop(p, lr=0.01, momentum=0.5),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("set_to_none", [True, False])
def test_optimizers_still_match_torch(name: str, set_to_none: bool) -> None:
    torch = pytest.importorskip("torch")
    got = _train_with(chainrule, OPTIMIZERS[name], set_to_none=set_to_none)
    want = _train_with(torch, OPTIMIZERS[name], set_to_none=set_to_none)
    for g, t in zip(got, want, strict=True):
        np.testing.assert_allclose(g.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_zero_grad_without_none_leaves_zero_tensors() -> None:
    w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    _backward_square(w)
    opt.zero_grad(set_to_none=False)
    assert isinstance(w.grad, Tensor) and w.grad.tolist() == [0.0, 0.0]


def test_clip_grad_norm_scales_the_gradient_in_place_as_torch() -> None:
    torch = pytest.importorskip("torch")
    values = [3.0, -4.0]
    w = chainrule.tensor(values, requires_grad=True)
    tw = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    _backward_square(w)
    (tw * tw).sum().backward()
    held, theld = w.grad, tw.grad
    total = nn.utils.clip_grad_norm_([w], 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_([tw], 1.0)
    assert total.item() == pytest.approx(ttotal.item(), rel=1e-12)
    np.testing.assert_allclose(held, theld.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-12)


def test_compiled_backward_fills_the_same_grad_tensors() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    eager = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    eager.load_state_dict(model.state_dict())
    x = chainrule.tensor(RNG.standard_normal((5, 3)))
    y = chainrule.tensor(RNG.standard_normal((5, 2)))

    @chainrule.compile
    def loss_of(x: Any, y: Any) -> Any:
        return ((model(x) - y) ** 2).mean()

    for _ in range(2):  # the trace, then a replay
        model.zero_grad()
        loss_of(x, y).backward()
    eager.zero_grad()
    ((eager(x) - y) ** 2).mean().backward()
    for p, q in zip(model.parameters(), eager.parameters(), strict=True):
        assert isinstance(p.grad, Tensor)
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12)
        p.grad.zero_()
    assert all(not p.grad.numpy().any() for p in model.parameters())


def test_numpy_takes_grad_tensors_where_users_put_them() -> None:
    p = chainrule.tensor([1.0, 2.0, 4.0], requires_grad=True)
    _backward_square(p)
    arr = np.array([2.0, 4.0, 8.0])
    assert np.allclose(p.grad, arr) and np.array_equal(np.asarray(p.grad), arr)
    assert type(np.asarray(p.grad)) is np.ndarray
    data = p.data
    p.data -= 0.25 * p.grad  # an ndarray updated in place by a Tensor operand
    assert p.data is data and p.data.tolist() == [0.5, 1.0, 2.0]
    p.data -= 0.25 * p.grad.data
    assert p.data is data and p.data.tolist() == [0.0, 0.0, 0.0]
    assert type(p.grad.data * 2) is np.ndarray  # arithmetic on .data gives plain arrays
    assert type(chainrule.tensor(p.grad.data).data) is np.ndarray
    assert type(np.abs(p.grad)) is np.ndarray


def test_array_operator_tensor_stays_a_tensor_in_the_graph() -> None:
    torch = pytest.importorskip("torch")
    a = np.array([1.0, -2.0])
    t = chainrule.tensor([0.5, 3.0], requires_grad=True)
    tt = torch.tensor([0.5, 3.0], dtype=torch.float64, requires_grad=True)
    out = (a + t) * (a - t) / (a ** 2 + t) + a @ t
    tout = (torch.from_numpy(a) + tt) * (torch.from_numpy(a) - tt) / \
        (torch.from_numpy(a) ** 2 + tt) + torch.from_numpy(a) @ tt
    assert isinstance(out, Tensor) and out.requires_grad
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=1e-12)
    assert (a > t).tolist() == [True, False] and (a <= t).tolist() == [False, True]
    assert isinstance(np.float64(2.0) * t, Tensor)


def test_numpy_functions_refuse_a_tensor_that_requires_grad() -> None:
    t = chainrule.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(OperandError, match=r"np\.exp.*detach"):
        np.exp(t)
    assert np.exp(t.detach()).tolist() == pytest.approx([math.e, math.e**2])
    out = np.zeros(2)
    np.add(np.ones(2), t, out=out)  # values into an array: no gradient is lost
    assert out.tolist() == [2.0, 3.0]
    with pytest.raises(OperandError, match="out="):
        np.add(np.ones(2), np.ones(2), out=(t,))


def test_tensor_compares_with_pytest_approx_as_torch() -> None:
    w = chainrule.tensor([0.1, 0.2], requires_grad=True)
    _backward_square(w)
    assert w.grad[1] == pytest.approx(0.4)
    assert w.grad[0] != pytest.approx(0.3)


def test_a_copied_tensor_grad_views_its_own_gradient() -> None:
    import copy
    import pickle

    w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    _backward_square(w)
    assert w.grad is not None  # the cached Tensor exists before the copies
    for twin in (copy.deepcopy(w), pickle.loads(pickle.dumps(w))):
        assert twin.grad.tolist() == [2.0, 4.0] and twin.requires_grad
        twin.grad.zero_()
        assert twin.grad.tolist() == [0.0, 0.0] and twin.grad is twin.grad
    assert w.grad.tolist() == [2.0, 4.0]
    model = nn.Linear(2, 3)
    model(chainrule.tensor([[1.0, 2.0]])).sum().backward()
    assert model.weight.grad is not None
    twin_model = copy.deepcopy(model)
    twin_model.weight.grad.zero_()
    assert not twin_model.weight.grad.numpy().any() and model.weight.grad.numpy().all()


def test_the_data_of_a_gradient_takes_the_old_monitoring_and_clipping_idioms() -> None:
    torch = pytest.importorskip("torch")
    values = [[3.0, -0.25], [0.5, -4.0]]
    w = chainrule.tensor(values, requires_grad=True)
    tw = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    _backward_square(w)
    (tw * tw).sum().backward()
    for p in (1, 2, math.inf):
        assert w.grad.data.norm(p).item() == pytest.approx(tw.grad.data.norm(p).item(), 1e-12)
    w.grad.data.clamp_(-1, 1)  # the old DQN tutorial's gradient clipping
    tw.grad.data.clamp_(-1, 1)
    np.testing.assert_array_equal(w.grad, tw.grad.numpy())


@pytest.mark.parametrize("owner", ["module", "optimizer", "tensor"])
def test_zero_grad_without_set_to_none_zeroes_in_place_as_torch(owner: str) -> None:
    w = chainrule.tensor(np.arange(1.0, 4.0), requires_grad=True)
    (w * w).sum().backward()
    held = w.grad
    model = nn.Module()
    model.w = w
    clear = {"module": model.zero_grad, "optimizer": optim.SGD([w], lr=0.1).zero_grad,
             "tensor": w.zero_grad}[owner]
    clear(set_to_none=False)
    assert w.grad is held and held.tolist() == [0.0, 0.0, 0.0]
    (w * w).sum().backward()  # accumulates onto the zeros
    assert w.grad.tolist() == [2.0, 4.0, 6.0]
    clear()
    assert w.grad is None
    torch = pytest.importorskip("torch")
    tw = torch.arange(1.0, 4.0, requires_grad=True)
    (tw * tw).sum().backward()
    t_held = tw.grad
    torch.optim.SGD([tw], lr=0.1).zero_grad(set_to_none=False)
    assert tw.grad is t_held and t_held.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("fn", [np.sum, np.mean, np.max, np.min, np.prod])
def test_numpy_reductions_take_a_tensor_and_a_grad(fn: Any) -> None:
    data = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]])
    t = chainrule.tensor(data, requires_grad=True)
    for axis in (None, 0, 1):
        assert np.allclose(fn(t, axis=axis).numpy(), fn(data, axis=axis))
    fn(t).backward()  # still a graph node: the gradient is the reduction's
    ref = chainrule.tensor(data, requires_grad=True)
    getattr(ref, fn.__name__.replace("amax", "max").replace("amin", "min"))().backward()
    assert np.array_equal(t.grad.numpy(), ref.grad.numpy())
    assert np.allclose(fn(t.grad), fn(ref.grad.numpy()))  # .grad works as the array did
    if fn not in (np.max, np.min):  # (NumPy's max and min take no dtype)
        assert fn(t, dtype=np.float32).dtype == np.float32
    with pytest.raises(OperandError, match="out="):
        fn(t, out=np.zeros(()))
