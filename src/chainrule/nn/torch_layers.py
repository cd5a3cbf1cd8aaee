"""The rest of torch.nn that its beginner tutorials use: ``Parameter``, ``ModuleList``,
``Dropout``, ``Flatten``, loss modules and ``utils.clip_grad_norm_``. Each is a composition of
engine ops (no derivative written here)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from chainrule.errors import ConfigError
from chainrule.i18n import _
from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Flatten", "L1Loss",
           "MSELoss", "ModuleList", "Parameter", "Softmax", "clip_grad_norm_"]


class Parameter(Tensor):
    """A tensor a ``Module`` learns: a leaf with ``requires_grad=True`` sharing ``data``'s
    array (as ``torch.nn.Parameter`` shares the tensor's storage)."""

    __slots__ = ()
    # A parameter stays one when frozen (requires_grad = False): Module lists it, as torch does.
    _parameter = True

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        super().__init__(np.zeros(0) if data is None else data, requires_grad=requires_grad)


class ModuleList(Module):
    """A list of modules whose parameters the parent module sees."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        self._items: list[Module] = list(modules)

    def _children(self) -> Iterator[tuple[str, Any]]:
        yield from ((str(i), m) for i, m in enumerate(self._items))

    def append(self, module: Module) -> ModuleList:
        self._items.append(module)
        return self

    def __getitem__(self, i: int) -> Module:
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)


class Dropout(Module):
    """Zeroes each element with probability ``p`` while training and scales the others by
    1/(1 − p); the identity in ``eval()`` mode. The mask comes from ``chainrule.manual_seed``'s
    generator."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(_("Dropout: p must be in [0, 1], got {p}").format(p=p))
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Softmax(Module):
    def __init__(self, dim: int = -1) -> None:
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x.softmax(self.dim)


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in F.REDUCTIONS:
            raise ConfigError(_("unknown reduction {name}; choose one of: {choices}").format(
                name=repr(reduction), choices=", ".join(F.REDUCTIONS)))
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        diff = input - target
        return F._reduce(diff.abs(), self.reduction)


class CrossEntropyLoss(_Loss):
    """``F.cross_entropy`` with torch's options: ``weight`` (C,), ``ignore_index``,
    ``reduction`` and ``label_smoothing``."""

    def __init__(self, weight: Any = None, *, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        if isinstance(weight, str):  # chainrule's losses take the reduction first
            reduction, weight = weight, None
        super().__init__(reduction)
        self.weight = None if weight is None else np.asarray(
            weight.data if isinstance(weight, Tensor) else weight)
        self.ignore_index = ignore_index
        if not 0.0 <= label_smoothing <= 1.0:
            raise ConfigError(_("CrossEntropyLoss: label_smoothing must be in [0, 1], got {value}")
                              .format(value=label_smoothing))
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class BCELoss(_Loss):
    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0) -> Tensor:
    """Scale every gradient so their joint norm is at most ``max_norm``; returns the norm
    before clipping (torch's rule, with its 1e−6 in the denominator)."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p._grad for p in params if p._grad is not None]
    if not grads:
        return Tensor(np.asarray(0.0))
    if norm_type == math.inf:
        total = max(float(np.abs(g).max()) for g in grads)
    else:
        total = float(sum(float((np.abs(g) ** norm_type).sum()) for g in grads)
                      ** (1.0 / norm_type))
    factor = float(max_norm) / (total + 1e-6)
    if factor < 1.0:
        for p in params:
            if p._grad is not None:
                p._grad *= factor  # in place, as torch: a .grad held elsewhere sees it
    return Tensor(np.asarray(total))
