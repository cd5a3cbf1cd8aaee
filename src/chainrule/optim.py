"""Optimizers: gradient descent with momentum and L2 weight decay, and Adam.

Each optimizer holds a list of parameters (Tensors with ``requires_grad``) and updates their
``data`` in place from their ``grad``. The update rules follow PyTorch's exactly (same order of
operations), so a chainrule run and a torch run from the same weights agree to rounding.

SGD, with learning rate η, momentum μ and weight decay λ (g is ∂C/∂p)::

    g ← g + λ·p                  (L2: C + λ/2·‖p‖²)
    v ← μ·v + g                  (v starts at g on the first step, as in torch)
    p ← p − η·v

Nielsen's L2 regularisation (chapter 3) adds λ/(2n)·Σw² to the cost for n training examples:
pass ``weight_decay=λ/n`` to get his update w → (1 − ηλ/n)·w − η·∂C₀/∂w.

Adam (Kingma & Ba 2015), with step t, rates β₁, β₂ and ε::

    m ← β₁·m + (1 − β₁)·g        v ← β₂·v + (1 − β₂)·g²
    p ← p − η/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)

``state_dict()`` returns plain arrays (for ``.npz`` checkpoints) and ``load_state_dict`` checks
names and shapes, so a resumed run continues with exactly the same momentum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from chainrule.errors import ChainruleError, ShapeError

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")


class OptimizerError(ChainruleError, ValueError):
    """Bad hyperparameters, or an optimizer state that does not fit the parameters."""


class Optimizer:
    """Base class: keeps the parameters, clears their gradients, saves and restores state."""

    name = "optimizer"

    def __init__(self, params: Iterable[Any], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise OptimizerError("optimizer got an empty parameter list")
        for i, p in enumerate(self.params):
            if not getattr(p, "requires_grad", False):
                raise OptimizerError(f"parameter {i} does not require grad")
        if not (lr > 0 and math.isfinite(lr)):
            raise OptimizerError(f"learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.steps = 0
        # One state array per parameter and slot ("velocity", "m", "v"), allocated lazily.
        self.state: dict[str, list[np.ndarray | None]] = {}

    def zero_grad(self) -> None:
        """Forget accumulated gradients (backward adds into ``.grad``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr}

    def _slot(self, name: str, i: int, like: np.ndarray) -> np.ndarray:
        slots = self.state.setdefault(name, [None] * len(self.params))
        buf = slots[i]
        if buf is None:
            # State allocation, not arithmetic: the updates below use operators only.
            buf = slots[i] = np.zeros_like(like)
        return buf

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays only: ``steps`` and one ``<slot>.<index>`` per allocated state buffer."""
        out: dict[str, np.ndarray] = {"steps": np.asarray(self.steps, dtype=np.int64)}
        for slot, buffers in self.state.items():
            for i, buf in enumerate(buffers):
                if buf is not None:
                    out[f"{slot}.{i}"] = buf.copy()
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what `state_dict` returned; shapes must match the parameters."""
        if "steps" not in state:
            raise OptimizerError("optimizer state has no 'steps' entry")
        restored: dict[str, list[np.ndarray | None]] = {}
        for key, value in state.items():
            if key == "steps":
                continue
            slot, _, index = key.rpartition(".")
            if slot not in self._slots() or not index.isdigit():
                raise OptimizerError(
                    f"{self.name} state has unexpected entry {key!r} (slots: {self._slots()})"
                )
            i = int(index)
            if i >= len(self.params) or value.shape != self.params[i].data.shape:
                want = self.params[i].data.shape if i < len(self.params) else "no parameter"
                raise ShapeError(f"optimizer state {key!r} has shape {value.shape}, want {want}")
            slots = restored.setdefault(slot, [None] * len(self.params))
            slots[i] = np.array(value, dtype=self.params[i].data.dtype)
        self.steps = int(state["steps"])
        self.state = restored

    def _slots(self) -> tuple[str, ...]:
        return ()


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay (see module doc)."""

    name = "sgd"

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise OptimizerError(f"momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0.0:
            raise OptimizerError(f"weight_decay must be ≥ 0, got {weight_decay}")
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay}

    def _slots(self) -> tuple[str, ...]:
        return ("velocity",)

    def step(self) -> None:
        if not self.weight_decay and not self.momentum:
            lr = self.lr  # plain SGD: p ← p − η·g, nothing else to look up per parameter
            for p in self.params:
                if p.grad is not None:
                    p.data -= lr * p.grad
            self.steps += 1
            return
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                slots = self.state.setdefault("velocity", [None] * len(self.params))
                v = slots[i]
                if v is None:
                    v = slots[i] = g.copy()  # torch: the first step's buffer is g itself
                else:
                    v *= self.momentum
                    v += g
                g = v
            p.data -= self.lr * g
        self.steps += 1


class Adam(Optimizer):
    """Adam with bias correction (see module doc); ``weight_decay`` adds λ·p to g (L2)."""

    name = "adam"

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise OptimizerError(f"betas must be in [0, 1), got {betas}")
        if eps <= 0.0 or weight_decay < 0.0:
            raise OptimizerError("eps must be > 0 and weight_decay ≥ 0")
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)

    def hyperparameters(self) -> dict[str, float]:
        return {
            "lr": self.lr,
            "beta1": self.betas[0],
            "beta2": self.betas[1],
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def _slots(self) -> tuple[str, ...]:
        return ("m", "v")

    def step(self) -> None:
        self.steps += 1
        b1, b2 = self.betas
        correction1 = 1.0 - b1**self.steps
        root_correction2 = (1.0 - b2**self.steps) ** 0.5
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            m = self._slot("m", i, p.data)
            v = self._slot("v", i, p.data)
            m += (1.0 - b1) * (g - m)  # = β₁m + (1−β₁)g, written as torch's lerp rounds it
            v *= b2
            v += (1.0 - b2) * (g * g)
            denom = v**0.5 / root_correction2 + self.eps
            p.data -= (self.lr / correction1) * (m / denom)


def make_optimizer(name: str, params: Iterable[Any], **kwargs: Any) -> Optimizer:
    """Build an optimizer by name (``sgd`` or ``adam``); unknown names list the valid ones."""
    if name not in OPTIMIZERS:
        raise OptimizerError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    if name == "sgd":
        return SGD(params, **kwargs)
    return Adam(params, **kwargs)
