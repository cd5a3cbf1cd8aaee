"""Random graphs against PyTorch, 0-d and empty tensors included: same values, same gradients,
no crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr

torch = pytest.importorskip("torch")

# name -> (chainrule, torch); inputs stay in a range where every op is defined and smooth.
UNARY: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid()),
    "tanh": (lambda x: x.tanh(), lambda x: x.tanh()),
    "exp": (lambda x: x.exp(), lambda x: x.exp()),
    "abs": (lambda x: x.abs(), lambda x: x.abs()),
    "relu": (lambda x: x.relu(), lambda x: x.relu()),
    "sin": (lambda x: x.sin(), lambda x: x.sin()),
    "cos": (lambda x: x.cos(), lambda x: x.cos()),
    "neg": (lambda x: -x, lambda x: -x),
    "square": (lambda x: x.square(), lambda x: x.square()),
    "softplus": (lambda x: x.softplus(), lambda x: torch.nn.functional.softplus(x)),
    "log1p_abs": (lambda x: x.abs().log1p(), lambda x: x.abs().log1p()),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7)),
    "sum": (lambda x: x.sum(), lambda x: x.sum()),
    "mean0": (lambda x: x.mean(dim=0) if x.ndim else x.mean(),
              lambda x: x.mean(dim=0) if x.ndim else x.mean()),
    "softmax": (lambda x: x.softmax(dim=-1), lambda x: x.softmax(dim=-1)),
    "logsumexp": (lambda x: x.logsumexp(dim=-1), lambda x: x.logsumexp(dim=-1)),
    "flatten": (lambda x: x.flatten(), lambda x: x.flatten()),
    "unsqueeze": (lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0)),
    "T": (lambda x: x.transpose(0, -1) if x.ndim else x,
          lambda x: x.transpose(0, -1) if x.ndim else x),
    "scale": (lambda x: x * 0.5 + 0.25, lambda x: x * 0.5 + 0.25),
    "prod": (lambda x: x.prod(-1) if x.ndim else x.prod(),
             lambda x: x.prod(-1) if x.ndim else x.prod()),
    "log_softmax": (lambda x: x.log_softmax(dim=0), lambda x: x.log_softmax(dim=0)),
    "expand": (lambda x: x.unsqueeze(0).expand(2, *x.shape),
               lambda x: x.unsqueeze(0).expand(2, *x.shape)),
    "cat": (lambda x: cr.cat([x, x * 2], dim=-1) if x.ndim else x,
            lambda x: torch.cat([x, x * 2], dim=-1) if x.ndim else x),
    "stack": (lambda x: cr.stack([x, -x]), lambda x: torch.stack([x, -x])),
    "slice": (lambda x: x[..., 1:] if x.ndim else x, lambda x: x[..., 1:] if x.ndim else x),
    "clone": (lambda x: x.clone(), lambda x: x.clone()),
    "view": (lambda x: x.reshape(-1).view(x.shape), lambda x: x.reshape(-1).view(x.shape)),
    # torch's tensor functions (chainrule.tensor_functions)
    "cumsum": (lambda x: x.cumsum(-1), lambda x: x.cumsum(-1)),
    "cumprod": (lambda x: x.cumprod(0), lambda x: x.cumprod(0)),
    "flip": (lambda x: x.flip(0) if x.ndim else x, lambda x: x.flip(0) if x.ndim else x),
    "roll": (lambda x: x.roll(1, -1) if x.ndim else x.roll(1),
             lambda x: x.roll(1, -1) if x.ndim else x.roll(1)),
    # ties keep their order in chainrule's sort, as in torch's stable one
    "sort": (lambda x: x.sort(descending=True).values,
             lambda x: x.sort(descending=True, stable=True).values),
    "pad": (lambda x: cr.pad(x, (1, 2)) if x.ndim else x,
            lambda x: torch.nn.functional.pad(x, (1, 2)) if x.ndim else x),
    "tril": (lambda x: x.tril() if x.ndim >= 2 else x, lambda x: x.tril() if x.ndim >= 2 else x),
    "diagonal": (lambda x: x.diagonal(1) if x.ndim >= 2 else x,
                 lambda x: x.diagonal(1) if x.ndim >= 2 else x),
    "einsum": (lambda x: cr.einsum("...i,...i->...", x, x) if x.ndim else x,
               lambda x: torch.einsum("...i,...i->...", x, x) if x.ndim else x),
    "outer": (lambda x: cr.outer(x.reshape(-1), x.reshape(-1)[:2]),
              lambda x: torch.outer(x.reshape(-1), x.reshape(-1)[:2])),
    "kron": (lambda x: cr.kron(x, cr.tensor([[1.0, -2.0]])),
             lambda x: torch.kron(x, torch.tensor([[1.0, -2.0]], dtype=torch.float64))),
}
BINARY: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1.0), lambda a, b: a / (b * b + 1.0)),
    "maximum": (lambda a, b: a.maximum(b + 0.013), lambda a, b: torch.maximum(a, b + 0.013)),
    "where": (lambda a, b: cr.where(a > b, a, b * 2.0),
              lambda a, b: torch.where(a > b, a, b * 2.0)),
    "pow": (lambda a, b: (a.abs() + 0.5) ** b.tanh(), lambda a, b: (a.abs() + 0.5) ** b.tanh()),
    "in_place": (lambda a, b: _in_place(a, b), lambda a, b: _in_place(a, b)),
}


def _in_place(a: Any, b: Any) -> Any:
    """A recorded in-place update of a fresh tensor, as torch code writes one."""
    if np.broadcast_shapes(tuple(a.shape), tuple(b.shape)) != tuple(a.shape):
        return a + b  # an in-place result cannot change shape (both libraries refuse)
    c = a * 1.0
    c += b
    c.mul_(0.5)
    return c

SHAPES = st.sampled_from([(), (0,), (3,), (2, 3), (2, 0), (1, 3), (4, 1)])


@st.composite
def programs(draw: st.DrawFn) -> tuple[tuple[int, ...], list[tuple[str, str, int]]]:
    shape = draw(SHAPES)
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))), 0))
        else:
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))), draw(st.integers(0, 9))))
    return shape, steps


def _run(lib: str, x: Any, steps: list[tuple[str, str, int]]) -> Any:
    values = [x]
    for kind, name, k in steps:
        top = values[-1]
        if kind == "u":
            fn = UNARY[name][0 if lib == "cr" else 1]
            values.append(fn(top))
        else:
            other = values[k % len(values)]
            try:  # operands whose shapes do not broadcast: skip the step in both libraries
                np.broadcast_shapes(tuple(top.shape), tuple(other.shape))
            except ValueError:
                continue
            values.append(BINARY[name][0 if lib == "cr" else 1](top, other))
    return values[-1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs(), seed=st.integers(0, 2**16))
def test_random_graph_matches_torch(program: tuple[Any, Any], seed: int) -> None:
    shape, steps = program
    start = np.random.default_rng(seed).uniform(-2, 2, shape)
    x = cr.tensor(start, requires_grad=True)
    t = torch.tensor(start, requires_grad=True)
    with np.errstate(all="ignore"):
        out = _run("cr", x, steps)
    ref = _run("torch", t, steps)
    assert type(out.numpy()) is np.ndarray
    assert out.shape == tuple(ref.shape)
    expected_out = ref.detach().numpy()
    finite_out = np.isfinite(expected_out)
    np.testing.assert_allclose(out.numpy()[finite_out], expected_out[finite_out], rtol=1e-10,
                               atol=1e-12)
    # Non-finite where torch is, though ∞·0 may come out as NaN in one and ±∞ in the other
    # (chainrule's σ(−∞) is 1e−308, not 0, see _array_sigmoid's clip).
    assert not np.isfinite(out.numpy()[~finite_out]).any()
    with np.errstate(all="ignore"):
        loss, ref_loss = out.sum(), ref.sum()
    if not ref_loss.requires_grad:
        return
    with np.errstate(all="ignore"):  # −∞ from an empty logsumexp, NaN after it: as torch
        loss.backward()
    ref_loss.backward()
    expected = t.grad.numpy() if t.grad is not None else np.zeros(shape)
    got = x.grad.numpy() if x.grad is not None else np.zeros(shape)
    assert type(got) is np.ndarray and got.shape == shape
    # Where torch's gradient is infinite, an ∞ upstream meets a zero local gradient somewhere
    # (relu, max, where): torch masks it to 0, chainrule's product gives NaN. Compared elsewhere.
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(), (0,), (2, 0)])
def test_gradcheck_on_0d_and_empty(shape: tuple[int, ...]) -> None:
    x = cr.tensor(np.full(shape, 0.3), requires_grad=True)
    assert cr.gradcheck(lambda t: (t.sigmoid() * t.abs() + t.softplus()).sum(), [x])
