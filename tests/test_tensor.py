"""The array engine: broadcasting, dtypes, retained gradients, errors, and torch as an oracle."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_broadcasting_is_undone_for_every_input() -> None:
    a = cr.tensor(np.ones((2, 3)), requires_grad=True)
    b = cr.tensor(np.ones((3,)), requires_grad=True)
    c = cr.tensor(np.ones((2, 1)), requires_grad=True)
    ((a * b + c) * 2.0).sum().backward()
    assert a.grad.shape == (2, 3) and b.grad.tolist() == [4.0, 4.0, 4.0]
    assert c.grad.tolist() == [[6.0], [6.0]]


def test_float64_by_default_and_float32_end_to_end() -> None:
    assert cr.tensor([1.0, 2]).dtype == np.float64
    assert cr.tensor([1, 2]).dtype == np.int64  # Python integers: int64, as torch
    x = cr.tensor(np.ones((4, 3), dtype=np.float32), requires_grad=True)
    w = cr.tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    loss = ((x @ w).sigmoid() * 2.0 + 1).log_softmax(1).mean()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    assert cr.tensor([1.0], dtype=np.float32).dtype == np.float32


def test_leaves_keep_grad_intermediates_only_when_retained() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    kept = (x * 2.0).retain_grad()
    (h.sum() + kept.sum()).backward()
    assert h.grad is None
    assert kept.grad.tolist() == [1.0, 1.0]
    assert x.grad.tolist() == [5.0, 5.0]


def test_leaf_gradients_accumulate_and_are_independent_arrays() -> None:
    a = cr.tensor([1.0], requires_grad=True)
    b = cr.tensor([2.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad += 10
    assert b.grad.tolist() == [1.0]
    (a * b).sum().backward()
    assert a.grad.tolist() == [13.0] and b.grad.tolist() == [2.0]
    # add hands one array (here a fresh product, not the seed) to both leaves: each gets its own.
    c, d = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0, 4.0], requires_grad=True)
    ((c + d) * 2.0).sum().backward()
    assert not np.shares_memory(c.grad, d.grad)
    c.grad += 1
    assert d.grad.tolist() == [2.0, 2.0]


def test_item_numpy_detach() -> None:
    x = cr.tensor([[3.0]], requires_grad=True)
    assert x.item() == 3.0
    assert x.numpy() is x.data
    d = x.detach()
    assert not d.requires_grad and d.data is x.data
    with pytest.raises(cr.ShapeError, match="one-element"):
        cr.tensor([1.0, 2.0]).item()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: cr.tensor(np.ones((3, 4))) @ cr.tensor(np.ones((3, 4))),
         r"matmul: \(3, 4\) @ \(3, 4\): inner dimensions 4 and 3 differ"),
        (lambda: cr.tensor(np.ones((3, 4))) + cr.tensor(np.ones(5)),
         r"add: shapes \(3, 4\) and \(5,\) cannot be broadcast"),
        (lambda: cr.tensor(np.ones(6)).reshape(4, 2), r"reshape: cannot reshape \(6,\)"),
        (lambda: cr.tensor(np.ones(3)).sum(axis=2), "axis 2 is out of range"),
        (lambda: cr.tensor(np.ones(3))[5], "getitem: index 5 does not fit shape"),
        (lambda: cr.tensor(np.ones(3), requires_grad=True).backward(),
         r"shape \(3,\); pass grad="),
        (lambda: cr.tensor([1.0]).backward(), "does not require grad"),
        (lambda: cr.tensor(["a"]), "expected numbers"),
        (lambda: cr.tensor([1.0]) + "a", "add: unsupported operand str"),
    ],
)
def test_bad_input_gives_one_line_chainrule_errors(make, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(cr.ChainruleError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_backward_with_explicit_grad() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * x).backward(np.array([1.0, 10.0]))
    assert x.grad.tolist() == [2.0, 40.0]


def test_no_grad_tensor() -> None:
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        y = x * 2
    assert not y.requires_grad
    with pytest.raises(cr.GraphError, match="no_grad"):
        y.backward()


def test_against_torch_for_an_mlp_step() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 5))
    w1, b1 = rng.standard_normal((5, 4)), rng.standard_normal(4)
    w2 = rng.standard_normal((4, 3))
    labels = rng.integers(0, 3, 8)

    def ours() -> list[np.ndarray]:
        params = [cr.tensor(p, requires_grad=True) for p in (w1, b1, w2)]
        h = (cr.tensor(x) @ params[0] + params[1]).tanh()
        logp = (h @ params[2]).log_softmax(1)
        loss = -logp[np.arange(8), labels].mean() + (params[0] ** 2).sum() * 0.01
        loss.backward()
        return [p.grad for p in params]

    tparams = [torch.tensor(p, requires_grad=True) for p in (w1, b1, w2)]
    h = torch.tanh(torch.tensor(x) @ tparams[0] + tparams[1])
    logp = torch.log_softmax(h @ tparams[2], 1)
    loss = -logp[torch.arange(8), torch.tensor(labels)].mean() + (tparams[0] ** 2).sum() * 0.01
    loss.backward()
    for mine, theirs in zip(ours(), tparams, strict=True):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_elementwise_ops_against_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(0.5, 2.0, (4,))
    ca, cb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ours = ((ca**cb).log() * ca.sigmoid() / cb.sqrt() - ca.tanh().abs() + ca.maximum(cb)).exp()
    theirs = ((ta**tb).log() * ta.sigmoid() / tb.sqrt() - ta.tanh().abs()
              + torch.maximum(ta, tb)).exp()
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ca.grad, ta.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(cb.grad, tb.grad.numpy(), rtol=1e-10)


def test_tensor_only_ops_against_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4, 5))
    w = rng.standard_normal((5, 2))
    picks = np.array([0, 2, 2, 1])

    def run(lib: str) -> tuple[np.ndarray, np.ndarray]:
        if lib == "chainrule":
            x, m = cr.tensor(a, requires_grad=True), cr.tensor(w, requires_grad=True)
            out = (
                x.sum(axis=1).mean()
                + x.max(axis=2, keepdims=True).sum() * 0.5
                + x.logsumexp(axis=(0, 2)).sum()
                + (x.softmax(axis=1) * x).sum()
                + x.transpose(2, 0, 1).reshape(5, 12)[picks].sum() * 0.3
                + (x @ m).tanh().sum()
            )
            out.backward()
            return x.grad, m.grad  # type: ignore[return-value]
        x, m = torch.tensor(a, requires_grad=True), torch.tensor(w, requires_grad=True)
        out = (
            x.sum(dim=1).mean()
            + x.amax(dim=2, keepdim=True).sum() * 0.5
            + torch.logsumexp(x, dim=(0, 2)).sum()
            + (torch.softmax(x, dim=1) * x).sum()
            + x.permute(2, 0, 1).reshape(5, 12)[torch.tensor(picks)].sum() * 0.3
            + torch.tanh(x @ m).sum()
        )
        out.backward()
        return x.grad.numpy(), m.grad.numpy()

    for ours, theirs in zip(run("chainrule"), run("torch"), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-13)
