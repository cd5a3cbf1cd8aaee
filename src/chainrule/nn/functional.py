"""Activations and losses as functions of Tensors (``chainrule.nn.functional``, alias ``F``).

Every function here is a composition of engine ops, so its gradient comes from the op catalogue
(no derivative formula is written in this file) and `chainrule.gradcheck` can check it.

``linear(x, W, b)`` is a layer's x·Wᵀ + b (W kept as (out, in), as in PyTorch).

Losses, for outputs a (or logits z) and targets y; ``reduction`` is ``"mean"`` (PyTorch's
default: average over all elements, or over examples for ``cross_entropy``), ``"sum"`` or
``"none"`` (elementwise / per example):

- ``mse_loss(a, y)``: (a − y)²
- ``binary_cross_entropy(a, y)``: −[y·ln a + (1 − y)·ln(1 − a)], a ∈ [0, 1]; as in PyTorch each
  log is clamped at −100, so a saturated a = 0 or 1 gives a large finite cost, not ∞.
  This is Nielsen's cross-entropy cost (chapter 3) for sigmoid outputs.
- ``binary_cross_entropy_with_logits(z, y)``: the same cost with a = σ(z), computed as
  softplus(z) − y·z with softplus(z) = ln(1 + eᶻ) = logsumexp(0, z): finite and exact for
  z = ±1000, and its gradient is σ(z) − y.
- ``cross_entropy(z, y)``: −ln softmax(z)_y for integer class targets y (or −Σ y·ln softmax(z)
  for class-probability targets): the catalogue's fused ``cross_entropy`` op, which subtracts
  each row's max first and whose gradient is (softmax(z) − y)·scale.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.errors import ShapeError
from chainrule.nn.init import ConfigError
from chainrule.ops import Op
from chainrule.tensor import Tensor, _apply, matmul_t, tensor

REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")

# ln of the smallest probability a log may see: PyTorch clamps BCE's logs at −100 the same way.
_LOG_FLOOR = -100.0
_PROB_FLOOR = math.exp(_LOG_FLOOR)


def _as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    dtype = like.dtype if like is not None else None
    return tensor(np.asarray(x), dtype=dtype)


def _reduce(loss: Tensor, reduction: str, count: int | None = None) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ConfigError(f"unknown reduction {reduction!r}; choose one of: {', '.join(REDUCTIONS)}")


def _same_shape(name: str, a: Tensor, y: Tensor) -> None:
    if a.shape != y.shape:
        raise ShapeError(f"{name}: input has shape {a.shape}, target has shape {y.shape}")


# -- layers -------------------------------------------------------------------------------------


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x·Wᵀ + b for a weight W of shape (out, in), as torch's ``F.linear``.

    A batch (n, in) takes one ``matmul_t`` gate (no separate transpose node); a single example
    (in,) goes through ``x @ W.T``.
    """
    out = matmul_t(x, weight) if x.data.ndim == 2 else x @ weight.T
    return out if bias is None else out + bias


# -- activations --------------------------------------------------------------------------------


def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1/(1 + e^−x)."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """tanh x."""
    return x.tanh()


def relu(x: Tensor) -> Tensor:
    """max(0, x)."""
    return x.relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, slope·x below: max(slope·x, x) for 0 ≤ slope < 1."""
    if not 0.0 <= negative_slope < 1.0:
        raise ConfigError(f"leaky_relu: negative_slope must be in [0, 1), got {negative_slope}")
    # slope·x first: maximum sends a tie (x = 0) to its first input, so the gradient at 0 is
    # the slope, as in PyTorch (and as relu's 0 at 0).
    return (x * negative_slope).maximum(x)


def identity(x: Tensor) -> Tensor:
    """x (a linear output layer: logits)."""
    return x


# -- losses -------------------------------------------------------------------------------------


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """(a − y)², reduced; ``mean`` averages over every element (as ``torch.nn.MSELoss``)."""
    y = _as_tensor(target, input)
    _same_shape("mse_loss", input, y)
    diff = input - y
    return _reduce(diff * diff, reduction)


def binary_cross_entropy(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """−[y·ln a + (1 − y)·ln(1 − a)] for probabilities a, logs clamped at −100."""
    y = _as_tensor(target, input)
    _same_shape("binary_cross_entropy", input, y)
    data = input.data
    if data.size and (float(data.min()) < 0.0 or float(data.max()) > 1.0):
        raise ShapeError("binary_cross_entropy: input must be probabilities in [0, 1]")
    # Clamp before the log (not after) so log never sees 0: no −∞, no warning, and the clamped
    # elements get gradient 0, like PyTorch's.
    log_a = input.maximum(_PROB_FLOOR).log()
    log_1a = (1.0 - input).maximum(_PROB_FLOOR).log()
    return _reduce(-(y * log_a + (1.0 - y) * log_1a), reduction)


def softplus(x: Tensor) -> Tensor:
    """ln(1 + eˣ), computed as logsumexp(0, x): no overflow for any x; derivative σ(x)."""
    # Stack [0, x] along a new last axis (x·[0, 1] by broadcasting), then logsumexp over it:
    # logsumexp subtracts the larger of the two, so e^1000 is never formed.
    pair = x.reshape(*x.shape, 1) * tensor(np.array([0.0, 1.0], dtype=x.dtype))
    return pair.logsumexp(axis=-1)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """binary_cross_entropy(σ(z), y) = softplus(z) − y·z, stable for any logit z."""
    y = _as_tensor(target, input)
    _same_shape("binary_cross_entropy_with_logits", input, y)
    if y.requires_grad:  # a learned target needs its own gradient: the composed form
        return _reduce(softplus(input) - y * input, reduction)
    return _fused(ops.BCE_WITH_LOGITS, input, y.data.astype(input.data.dtype, copy=False),
                  reduction)


def _fused(op: Op, z: Tensor, y: np.ndarray, reduction: str) -> Tensor:
    """One node for a loss the catalogue fuses: ``scale`` 1/size (mean), 1 (sum), None."""
    if reduction not in REDUCTIONS:
        raise ConfigError(f"unknown reduction {reduction!r}; choose one of: "
                          f"{', '.join(REDUCTIONS)}")
    scale = None if reduction == "none" else 1.0 if reduction == "sum" else \
        (1.0 / z.data.size if z.data.size else math.nan)
    return _apply(op, z, None, (y, scale))


def cross_entropy(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of logits (n, C): −ln softmax(z)[y] for integer targets y (n,),
    or −Σ_c y_c·ln softmax(z)_c for probability targets (n, C); ``mean`` averages examples.

    One node of the graph (``Tensor.cross_entropy``), whose gradient is softmax(z) − y."""
    return input.cross_entropy(target, reduction)
