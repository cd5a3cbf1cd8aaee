"""``check_grads`` for the ported peer suites: HIPS autograd's ``check_grads(f, order=2)`` written
with chainrule's own tools, and PyTorch as a second oracle.

A function under test is written once as ``fn(T, *xs)``, where ``T`` is the library (chainrule
or torch) and ``xs`` its tensors, so the same expression runs on both engines. For each call:

1. ``chainrule.gradcheck`` compares the analytic gradient with central differences;
2. with ``order=2`` (autograd's default) the vector-Jacobian product ``(x, v) -> vᵀ·∂f/∂x`` is
   itself gradchecked with respect to ``x`` *and* ``v`` (autograd's recursive check of the VJP),
   which exercises ``create_graph=True``;
3. when torch is installed, the values, the VJP and the VJP's own gradients are compared with
   torch's in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import chainrule as cr

try:  # the second oracle is optional, as everywhere in the suite
    import torch
except ImportError:  # pragma: no cover - torch is in the development environment
    torch = None

Fn = Callable[..., Any]
TOL = 1e-9  # chainrule and torch compute the same float64 formulas; only rounding may differ


def _rng(args: Sequence[Any]) -> np.random.Generator:
    # Projection vectors depend on the input shapes only, so a failure is reproducible.
    seed = sum(np.asarray(a).size * (i + 7) for i, a in enumerate(args)) + 11
    return np.random.default_rng(seed)


def _as_cr(args: Sequence[Any]) -> list[cr.Tensor]:
    return [cr.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in args]


def _vjp(fn: Fn, n: int) -> Fn:
    """(x₁..xₙ, v) ↦ Σᵢ ⟨vᵀ·∂f/∂xᵢ, wᵢ⟩ with fixed wᵢ: one scalar that depends on every
    entry of the VJP, differentiable again because the VJP is built with ``create_graph``."""

    def vjp(*xs_and_v: Any) -> Any:
        *xs, v = xs_and_v
        # gradcheck evaluates under no_grad; the VJP needs a graph, as in torch.
        with cr.enable_grad():
            out = fn(cr, *xs)
            grads = cr.grad(out, list(xs), grad_output=v, create_graph=True)
        ws = _weights(xs)
        total: Any = None
        with cr.enable_grad():
            for g, w in zip(grads, ws, strict=True):
                term = (g * cr.tensor(w)).sum()
                total = term if total is None else total + term
        return total

    vjp.__name__ = f"vjp_{getattr(fn, '__name__', 'f')}_{n}"
    return vjp


def _np(t: Any) -> np.ndarray:
    # torch returns a ZeroTensor for some structural zeros (abs'' = 0), which refuses .numpy().
    return np.asarray(t.detach().numpy(force=True) if torch is not None and
                      isinstance(t, torch.Tensor) else t.detach().numpy())


def _weights(xs: Sequence[Any]) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.standard_normal(np.shape(x.data if hasattr(x, "data") else x)) for x in xs]


def check_grads(fn: Fn, *args: Any, order: int = 2, argnums: Sequence[int] | None = None,
                oracle: bool = True, oracle_order: int | None = None, atol: float = 1e-5,
                rtol: float = 1e-3) -> None:
    """Check ``fn(T, *args)`` at ``args`` (floats or arrays) to ``order`` 1 or 2.

    ``argnums`` names the differentiated arguments (autograd's ``combo_check(fun, argnums)``);
    the others are passed as constant tensors. ``oracle_order`` (default ``order``) limits
    the comparison with torch, for points where torch's own higher derivative is NaN."""
    argnums = tuple(range(len(args))) if argnums is None else tuple(argnums)
    xs = _as_cr(args)
    for i, x in enumerate(xs):
        x.requires_grad = i in argnums
    cr.gradcheck(lambda *t: fn(cr, *t), xs, atol=atol, rtol=rtol)
    if order >= 2:
        out = fn(cr, *xs)
        v = _rng(args).standard_normal(out.shape)
        vxs = [*_as_cr(args), cr.tensor(v, requires_grad=True)]
        for i, x in enumerate(vxs[:-1]):
            x.requires_grad = i in argnums
        free = [x for i, x in enumerate(vxs[:-1]) if i in argnums]
        fixed = {i: x for i, x in enumerate(vxs[:-1]) if i not in argnums}

        def inner(lib: Any, *t: Any) -> Any:
            it = iter(t)
            return fn(lib, *(fixed[i] if i in fixed else next(it) for i in range(len(args))))

        cr.gradcheck(_vjp(inner, len(free)), [*free, vxs[-1]], atol=atol, rtol=rtol)
    if oracle and torch is not None:
        compare_with_torch(fn, *args, order=oracle_order or order, argnums=argnums)


def compare_with_torch(fn: Fn, *args: Any, order: int = 2,
                       argnums: Sequence[int] | None = None) -> None:
    """Values, first and (order 2) second derivatives of ``fn`` equal torch's in float64."""
    assert torch is not None
    argnums = tuple(range(len(args))) if argnums is None else tuple(argnums)
    cxs = _as_cr(args)
    txs = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in args]
    for i, (c, t) in enumerate(zip(cxs, txs, strict=True)):
        c.requires_grad = i in argnums
        t.requires_grad_(i in argnums)
    c_out = fn(cr, *cxs)
    t_out = fn(torch, *txs)
    assert tuple(c_out.shape) == tuple(t_out.shape), (c_out.shape, t_out.shape)
    np.testing.assert_allclose(_np(c_out), _np(t_out),
                               rtol=TOL, atol=TOL, err_msg="values differ from torch")
    v = _rng(args).standard_normal(tuple(c_out.shape))
    c_v = cr.tensor(v, requires_grad=True)
    t_v = torch.tensor(v, requires_grad=True)
    c_free = [cxs[i] for i in argnums]
    t_free = [txs[i] for i in argnums]
    c_g = cr.grad(c_out, c_free, grad_output=c_v, create_graph=order >= 2)
    t_g = torch.autograd.grad(t_out, t_free, grad_outputs=t_v, create_graph=order >= 2,
                              allow_unused=True)
    t_g = tuple(torch.zeros_like(x) if g is None else g for g, x in zip(t_g, t_free, strict=True))
    for i, (a, b) in enumerate(zip(c_g, t_g, strict=True)):
        np.testing.assert_allclose(_np(a), _np(b), rtol=TOL, atol=TOL,
                                   err_msg=f"gradient of argument {argnums[i]} differs from torch")
    if order < 2:
        return
    ws = _weights(c_free)
    c_s = sum(((g * cr.tensor(w)).sum() for g, w in zip(c_g, ws, strict=True)), cr.tensor(0.0))
    t_s = sum(((g * torch.tensor(w)).sum() for g, w in zip(t_g, ws, strict=True)),
              torch.tensor(0.0, dtype=torch.float64))
    c_targets = [*c_free, c_v]
    t_targets = [*t_free, t_v]
    c_h = cr.grad(c_s, c_targets)
    t_h = (torch.autograd.grad(t_s, t_targets, allow_unused=True) if t_s.requires_grad
           else (None,) * len(t_targets))
    for i, (a, b, x) in enumerate(zip(c_h, t_h, t_targets, strict=True)):
        expected = np.zeros(tuple(x.shape)) if b is None else _np(b)
        name = "v" if i == len(c_free) else f"argument {argnums[i]}"
        np.testing.assert_allclose(_np(a), expected, rtol=TOL, atol=TOL,
                                   err_msg=f"second derivative w.r.t. {name} differs from torch")
