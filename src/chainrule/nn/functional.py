"""Activations and losses as functions of Tensors (``chainrule.nn.functional``, alias ``F``).

Every function here is a composition of engine ops, so its gradient comes from the op catalogue
(no derivative formula is written in this file) and `chainrule.gradcheck` can check it.

``linear(x, W, b)`` is a layer's x·Wᵀ + b (W kept as (out, in), as in PyTorch).

Losses, for outputs a (or logits z) and targets y; ``reduction`` is ``"mean"`` (PyTorch's
default: average over all elements, or over examples for ``cross_entropy``), ``"sum"`` or
``"none"`` (elementwise / per example):

- ``mse_loss(a, y)``: (a − y)²
- ``binary_cross_entropy(a, y)``: −[y·ln a + (1 − y)·ln(1 − a)], a ∈ [0, 1]; as in PyTorch each
  log is clamped at −100, so a saturated a = 0 or 1 gives a large finite cost, not ∞, and the
  gradient is PyTorch's (a − y)/max(a(1 − a), 10⁻¹²).
  This is Nielsen's cross-entropy cost (chapter 3) for sigmoid outputs.
- ``binary_cross_entropy_with_logits(z, y)``: the same cost with a = σ(z), computed as
  softplus(z) − y·z with softplus(z) = ln(1 + eᶻ) = max(z, 0) + ln(1 + e^−|z|): finite and
  exact for z = ±1000, and its gradient is σ(z) − y.
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
from chainrule.i18n import _
from chainrule.nn.init import ConfigError
from chainrule.ops import Op
from chainrule.tensor import Tensor, _apply, _binary, matmul_t, tensor
from chainrule.tensor_functions import pad as pad  # torch.nn.functional.pad (constant mode)

REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")



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
    raise ConfigError(_("unknown reduction {name}; choose one of: {choices}").format(
        name=repr(reduction), choices=", ".join(REDUCTIONS)))


def _same_shape(name: str, a: Tensor, y: Tensor) -> None:
    if a.shape != y.shape:
        raise ShapeError(_("{name}: input has shape {shape}, target has shape {target}").format(
            name=name, shape=a.shape, target=y.shape))


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
        raise ConfigError(_("leaky_relu: negative_slope must be in [0, 1), got {value}").format(
            value=negative_slope))
    # slope·x first: maximum sends a tie (x = 0) to its first input, so the gradient at 0 is
    # the slope, as in PyTorch (and as relu's 0 at 0).
    return (x * negative_slope).maximum(x)


def identity(x: Tensor) -> Tensor:
    """x (a linear output layer: logits)."""
    return x


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:  # noqa: A002
    """Zeroes each element with probability ``p`` and scales the others by 1/(1 − p) while
    ``training``; the identity otherwise. The mask comes from ``chainrule.manual_seed``'s
    generator."""
    if not 0.0 <= p <= 1.0:
        raise ConfigError(_("dropout: p must be in [0, 1], got {p}").format(p=p))
    if not training or p == 0.0:
        return input
    from chainrule.factories import generator

    keep = generator().random(input.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return input * (keep * scale).astype(input.dtype)


# -- losses -------------------------------------------------------------------------------------


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """(a − y)², reduced; ``mean`` averages over every element (as ``torch.nn.MSELoss``).
    One gate of the catalogue (``mse``, gradient 2·(a − y)), unless the target itself needs a
    gradient or has another dtype (then the dtypes promote, as in torch)."""
    y = _as_tensor(target, input)
    _same_shape("mse_loss", input, y)
    if y.requires_grad or input.data.dtype.kind != "f" or y.data.dtype != input.data.dtype:
        diff = input - y
        return _reduce(diff * diff, reduction)
    return _fused(ops.MSE, input, y.data, reduction)


def binary_cross_entropy(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """−[y·ln a + (1 − y)·ln(1 − a)] for probabilities a, each log clamped at −100; gradient
    (a − y)/max(a(1 − a), 10⁻¹²), PyTorch's (finite at a = 0 and 1)."""
    y = _as_tensor(target, input)
    _same_shape("binary_cross_entropy", input, y)
    data = input.data
    if data.size and (float(data.min()) < 0.0 or float(data.max()) > 1.0):
        raise ShapeError(_("binary_cross_entropy: input must be probabilities in [0, 1]"))
    return _reduce(_binary(ops.BCE, input, y), reduction)


def softplus(x: Tensor) -> Tensor:
    """ln(1 + eˣ) in the stable form max(x, 0) + ln(1 + e^−|x|): no overflow for any x and
    full precision far below 0 (softplus(−40) = 4.2e−18); derivative σ(x)."""
    return x.softplus()


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
        raise ConfigError(_("unknown reduction {name}; choose one of: {choices}").format(
            name=repr(reduction), choices=", ".join(REDUCTIONS)))
    scale = None if reduction == "none" else 1.0 if reduction == "sum" else \
        (1.0 / z.data.size if z.data.size else math.nan)
    return _apply(op, z, None, (y, scale))


def cross_entropy(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                  *, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (n, C): −ln softmax(z)[y] for integer targets y (n,),
    or −Σ_c y_c·ln softmax(z)_c for probability targets (n, C); ``mean`` averages examples.

    Without options, one node of the graph (``Tensor.cross_entropy``), whose gradient is
    softmax(z) − y. PyTorch's options compose it from ``log_softmax`` instead:

    - ``weight`` (C,): class c's terms are scaled by w_c, and ``mean`` divides by Σᵢ w[yᵢ]
      (a weighted average; for probability targets it still divides by n). The weights are
      constants.
    - ``ignore_index``: rows whose class target equals it contribute nothing, to the loss or
      to the count ``mean`` divides by.
    - ``label_smoothing`` ε: the target becomes (1 − ε)·onehot(y) + ε/C.

    As chainrule's other losses take the reduction third, a string in ``weight``'s place is
    read as the reduction.
    """
    if isinstance(weight, str):
        reduction, weight = weight, None
    if reduction not in REDUCTIONS:
        raise ConfigError(_("unknown reduction {name}; choose one of: {choices}").format(
            name=repr(reduction), choices=", ".join(REDUCTIONS)))
    if not 0.0 <= label_smoothing <= 1.0:
        raise ConfigError(_("cross_entropy: label_smoothing must be in [0, 1], got {value}").format(
            value=label_smoothing))
    y = target.data if isinstance(target, Tensor) else np.asarray(target)
    class_targets = y.ndim == 1 and y.dtype.kind in "iu"
    ignored = class_targets and bool(np.any(y == ignore_index))
    if weight is None and label_smoothing == 0.0 and not ignored:
        return input.cross_entropy(target, reduction)
    if input.ndim != 2:
        raise ShapeError(_("cross_entropy: logits must be (n, classes), got {shape}").format(
            shape=input.shape))
    n, classes = input.shape
    w = np.ones(classes, dtype=input.dtype) if weight is None else np.asarray(
        weight.data if isinstance(weight, Tensor) else weight, dtype=input.dtype)
    if w.shape != (classes,):
        raise ShapeError(_("cross_entropy: weight must have one entry per class ({classes}), "
                           "got shape {shape}").format(classes=classes, shape=w.shape))
    logp = input.log_softmax(1)
    eps = float(label_smoothing)
    if not class_targets:
        if ignore_index != -100:
            raise ConfigError(_("cross_entropy: ignore_index applies to class-index targets, "
                                "not to class probabilities"))
        probs = _as_tensor(target, input)
        if probs.shape != input.shape:
            raise ShapeError(_("cross_entropy: input has shape {shape}, target has shape "
                               "{target}").format(shape=input.shape, target=probs.shape))
        if eps:
            probs = probs * (1.0 - eps) + eps / classes
        per_row = -(logp * (probs * w)).sum(1)
        return _reduce(per_row, reduction)
    if y.shape != (n,):
        raise ShapeError(_("cross_entropy: {n} examples but {targets} targets").format(
            n=n, targets=y.shape[0]))
    keep = y != ignore_index
    if np.any((y[keep] < 0) | (y[keep] >= classes)):
        raise ShapeError(_("cross_entropy: targets must be in 0..{last} (or "
                           "ignore_index={ignore_index})").format(last=classes - 1,
                                                                  ignore_index=ignore_index))
    safe = np.where(keep, y, 0)
    row_weight = w[safe] * keep  # 0 for ignored rows
    per_row = -logp[np.arange(n), safe] * row_weight
    if eps:
        smooth = -(logp * w).sum(1) * keep.astype(input.dtype)
        per_row = per_row * (1.0 - eps) + smooth * (eps / classes)
    if reduction == "none":
        return per_row
    if reduction == "sum":
        return per_row.sum()
    total = float(row_weight.sum())
    # Every row ignored: 0/0, NaN as in PyTorch.
    return per_row.sum() * (1.0 / total if total else math.nan)


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """softmax along ``dim`` (one catalogue op)."""
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """ln softmax along ``dim`` (one catalogue op, stable for large logits)."""
    return input.log_softmax(dim)
