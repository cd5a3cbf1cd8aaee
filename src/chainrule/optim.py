"""Optimizers: gradient descent with momentum and L2 weight decay, and Adam.

Each optimizer holds a list of parameters (Tensors with ``requires_grad``), in one or more
parameter groups with their own settings (torch's ``[{"params": ..., "lr": ...}, ...]``), and
updates their ``data`` in place from their ``grad``. The update rules follow PyTorch's exactly
(same order of operations), so a chainrule run and a torch run from the same weights agree to
rounding.

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
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from chainrule.errors import ChainruleError, ShapeError
from chainrule.i18n import _

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")


class OptimizerError(ChainruleError, ValueError):
    """Bad hyperparameters, or an optimizer state that does not fit the parameters."""


class Optimizer:
    """Base class: keeps the parameters, clears their gradients, saves and restores state."""

    name = "optimizer"

    def __init__(self, params: Iterable[Any], lr: float, **defaults: Any) -> None:
        # torch's settings: a list of groups, each with its parameters and its own values of
        # the hyperparameters (``lr`` and the optimizer's others); a plain iterable of
        # parameters is one group. A scheduler or user code that sets param_groups[i]["lr"]
        # changes that group's rate; ``self.lr`` is the first group's.
        self.defaults: dict[str, Any] = {"lr": lr, **defaults}
        self.param_groups: list[dict[str, Any]] = []
        self.params: list[Any] = []
        self.steps = 0
        # One state array per parameter and slot ("velocity", "m", "v"), allocated lazily;
        # parameters are numbered across the groups in order.
        self.state: dict[str, list[np.ndarray | None]] = {}
        items = list(params)
        groups = items if items and all(isinstance(g, dict) for g in items) else [
            {"params": items}]
        for group in groups:
            self._add_group(group)
        if not self.params:
            raise OptimizerError(_("optimizer got an empty parameter list"))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Another group of parameters with its own hyperparameters (torch's fine-tuning
        idiom: a smaller ``lr`` for a pretrained body)."""
        self._add_group(param_group)
        for slots in self.state.values():
            slots.extend([None] * (len(self.params) - len(slots)))

    def _add_group(self, group: dict[str, Any]) -> None:
        if not isinstance(group, dict) or "params" not in group:
            raise OptimizerError(_("a parameter group is a dict with a 'params' entry"))
        params = group["params"]
        params = [params] if getattr(params, "requires_grad", None) is not None else list(params)
        unknown = sorted(set(group) - set(self.defaults) - {"params"})
        if unknown:
            raise OptimizerError(_("parameter group has unknown setting(s) {unknown} "
                                   "for {optimizer} (settings: {settings})").format(
                                       unknown=", ".join(unknown), optimizer=self.name,
                                       settings=", ".join(self.defaults)))
        seen = {id(p) for p in self.params}
        for i, p in enumerate(params):
            # A frozen parameter (a leaf that does not require grad) is accepted and skipped
            # while it has no gradient, as in torch.
            if not (getattr(p, "requires_grad", False) or getattr(p, "_parameter", False)):
                raise OptimizerError(_("parameter {index} does not require grad").format(
                    index=len(self.params) + i))
            if id(p) in seen:
                raise OptimizerError(_("a parameter appears in more than one parameter group"))
            seen.add(id(p))
        full = {**self.defaults, **group, "params": params}
        full["lr"] = float(full["lr"])
        if not (full["lr"] > 0 and math.isfinite(full["lr"])):
            raise OptimizerError(_("learning rate must be positive, got {value}").format(
                value=full["lr"]))
        self._check(full)
        self.param_groups.append(full)
        self.params.extend(params)

    def _check(self, group: dict[str, Any]) -> None:
        """Refuse a group's bad hyperparameters with a clear message (per optimizer)."""

    def _each(self) -> Iterator[tuple[dict[str, Any], int, Any]]:
        """(group, index across groups, parameter) for every parameter that has a gradient."""
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None:
                    yield group, i, p
                i += 1

    @property
    def lr(self) -> float:
        return float(self.param_groups[0]["lr"])

    @lr.setter
    def lr(self, value: float) -> None:
        self.param_groups[0]["lr"] = float(value)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget accumulated gradients (backward adds into ``.grad``): ``None`` by default (as
        torch), zeros in place with ``set_to_none=False`` (``Tensor.zero_grad``)."""
        for p in self.params:
            p.zero_grad(set_to_none)

    def step(self) -> None:
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, float]:
        """The first group's settings."""
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
            raise OptimizerError(_("optimizer state has no 'steps' entry"))
        restored: dict[str, list[np.ndarray | None]] = {}
        for key, value in state.items():
            if key == "steps":
                continue
            slot, _dot, index = key.rpartition(".")
            if slot not in self._slots() or not index.isdigit():
                raise OptimizerError(_(
                    "{optimizer} state has unexpected entry {key} (slots: {slots})"
                ).format(optimizer=self.name, key=repr(key), slots=self._slots()))
            i = int(index)
            if i >= len(self.params) or value.shape != self.params[i].data.shape:
                want = self.params[i].data.shape if i < len(self.params) else _("no parameter")
                raise ShapeError(_("optimizer state {key} has shape {shape}, want {want}").format(
                    key=repr(key), shape=value.shape, want=want))
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
        nesterov: bool = False,
        *,
        dampening: float = 0.0,
    ) -> None:
        super().__init__(params, lr, momentum=momentum, weight_decay=weight_decay,
                         nesterov=nesterov, dampening=dampening)

    def _check(self, group: dict[str, Any]) -> None:
        if group["nesterov"] and (not group["momentum"] or group["dampening"]):
            raise OptimizerError(_("nesterov needs a momentum > 0 and no dampening"))
        if not 0.0 <= group["dampening"] <= 1.0:
            raise OptimizerError(_("dampening must be in [0, 1], got {value}").format(
                value=group["dampening"]))
        if not 0.0 <= group["momentum"] < 1.0:
            raise OptimizerError(_("momentum must be in [0, 1), got {value}").format(
                value=group["momentum"]))
        if group["weight_decay"] < 0.0:
            raise OptimizerError(_("weight_decay must be ≥ 0, got {value}").format(
                value=group["weight_decay"]))

    @property
    def momentum(self) -> float:
        return float(self.param_groups[0]["momentum"])

    @property
    def weight_decay(self) -> float:
        return float(self.param_groups[0]["weight_decay"])

    @property
    def nesterov(self) -> bool:
        return bool(self.param_groups[0]["nesterov"])

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay}

    def _slots(self) -> tuple[str, ...]:
        return ("velocity",)

    def step(self) -> None:
        groups = self.param_groups
        if len(groups) == 1 and not groups[0]["momentum"] and not groups[0]["weight_decay"]:
            lr = groups[0]["lr"]  # plain SGD: p ← p − η·g, nothing else to look up per parameter
            for p in groups[0]["params"]:
                if p._grad is not None:
                    p.data -= lr * p._grad
            self.steps += 1
            return
        for group, i, p in self._each():
            momentum, weight_decay = group["momentum"], group["weight_decay"]
            g = p._grad
            if weight_decay:
                g = g + weight_decay * p.data
            if momentum:
                slots = self.state.setdefault("velocity", [None] * len(self.params))
                v = slots[i]
                if v is None:
                    v = slots[i] = g.copy()  # torch: the first step's buffer is g itself
                else:
                    v *= momentum
                    v += (1.0 - group["dampening"]) * g if group["dampening"] else g
                # Nesterov looks ahead along the velocity: g + μ·v (torch's formulation).
                g = g + momentum * v if group["nesterov"] else v
            p.data -= group["lr"] * g
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
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

    def _check(self, group: dict[str, Any]) -> None:
        b1, b2 = group["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise OptimizerError(_("betas must be in [0, 1), got {value}").format(
                value=group["betas"]))
        if group["eps"] <= 0.0 or group["weight_decay"] < 0.0:
            raise OptimizerError(_("eps must be > 0 and weight_decay ≥ 0"))

    @property
    def betas(self) -> tuple[float, float]:
        b1, b2 = self.param_groups[0]["betas"]
        return float(b1), float(b2)

    @property
    def eps(self) -> float:
        return float(self.param_groups[0]["eps"])

    @property
    def weight_decay(self) -> float:
        return float(self.param_groups[0]["weight_decay"])

    def hyperparameters(self) -> dict[str, float]:
        return {
            "lr": self.lr,
            "beta1": self.betas[0],
            "beta2": self.betas[1],
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def _slots(self) -> tuple[str, ...]:
        return ("m", "v", "v_max")

    def _l2(self, group: dict[str, Any]) -> float:
        return float(group["weight_decay"])

    def step(self) -> None:
        self.steps += 1
        for group, i, p in self._each():
            b1, b2 = group["betas"]
            correction1 = 1.0 - b1**self.steps
            root_correction2 = (1.0 - b2**self.steps) ** 0.5
            g = p._grad
            l2 = self._l2(group)
            if l2:
                g = g + l2 * p.data
            m = self._slot("m", i, p.data)
            v = self._slot("v", i, p.data)
            # The same products as m += (1−β₁)(g − m) (torch's lerp), v ← β₂v + (1−β₂)g² and
            # p −= (lr/c₁)·m/(√v/√c₂ + ε), each worked in one scratch array (a step of a
            # large layer otherwise allocates and fills eight temporaries).
            t = g - m
            t *= 1.0 - b1
            m += t
            v *= b2
            np.multiply(g, g, out=t)
            t *= 1.0 - b2
            v += t
            if group["amsgrad"]:  # the largest v so far: the step size never grows back
                v_max = self._slot("v_max", i, p.data)
                np.maximum(v_max, v, out=v_max)
                v = v_max
            np.sqrt(v, out=t)
            t /= root_correction2
            t += group["eps"]
            np.divide(m, t, out=t)
            t *= group["lr"] / correction1
            p.data -= t


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p ← p·(1 − lr·λ) before the Adam
    step, instead of λ·p added to the gradient; torch's default λ = 0.01."""

    name = "adamw"

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

    def _l2(self, group: dict[str, Any]) -> float:
        return 0.0  # the decay is decoupled: applied to the weights in step(), not to g

    def step(self) -> None:
        for group, _index, p in self._each():
            if group["weight_decay"]:
                p.data *= 1.0 - group["lr"] * group["weight_decay"]
        super().step()


class RMSprop(Optimizer):
    """RMSprop as torch's: s ← α·s + (1 − α)·g², p ← p − lr·g/(√s + ε). ``centered`` divides
    by the estimated standard deviation √(s − ḡ²) instead (ḡ the running mean of g);
    ``momentum`` μ keeps a buffer b ← μ·b + g/(√s + ε) and steps p ← p − lr·b."""

    name = "rmsprop"

    def __init__(self, params: Iterable[Any], lr: float = 0.01, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        super().__init__(params, lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered)

    def _check(self, group: dict[str, Any]) -> None:
        if not 0.0 <= group["alpha"] < 1.0:
            raise OptimizerError(_("alpha must be in [0, 1), got {value}").format(
                value=group["alpha"]))
        if not 0.0 <= group["momentum"] < 1.0:
            raise OptimizerError(_("momentum must be in [0, 1), got {value}").format(
                value=group["momentum"]))

    def hyperparameters(self) -> dict[str, float]:
        g = self.param_groups[0]
        return {"lr": self.lr, "alpha": float(g["alpha"]), "eps": float(g["eps"]),
                "weight_decay": float(g["weight_decay"])}

    def _slots(self) -> tuple[str, ...]:
        return ("square_avg", "grad_avg", "momentum_buffer")

    def step(self) -> None:
        for group, i, p in self._each():
            alpha, weight_decay = group["alpha"], group["weight_decay"]
            g = p._grad + weight_decay * p.data if weight_decay else p._grad
            s = self._slot("square_avg", i, p.data)
            s *= alpha
            s += (1.0 - alpha) * g * g
            if group["centered"]:
                mean = self._slot("grad_avg", i, p.data)
                mean += (1.0 - alpha) * (g - mean)  # torch's lerp
                avg = (s - mean * mean) ** 0.5 + group["eps"]
            else:
                avg = s**0.5 + group["eps"]
            if group["momentum"]:
                buf = self._slot("momentum_buffer", i, p.data)
                buf *= group["momentum"]
                buf += g / avg
                p.data -= group["lr"] * buf
            else:
                p.data -= group["lr"] * (g / avg)  # grouped as torch rounds it
        self.steps += 1


def make_optimizer(name: str, params: Iterable[Any], **kwargs: Any) -> Optimizer:
    """Build an optimizer by name (``sgd`` or ``adam``); unknown names list the valid ones."""
    if name not in OPTIMIZERS:
        raise OptimizerError(_("unknown optimizer {name}; choose one of: {choices}").format(
            name=repr(name), choices=", ".join(OPTIMIZERS)))
    if name == "sgd":
        return SGD(params, **kwargs)
    return Adam(params, **kwargs)


class _Schedulers:
    """``optim.lr_scheduler``: learning-rate schedules stepped once per epoch, as torch's."""

    class _Scheduler:
        def __init__(self, optimizer: Optimizer) -> None:
            self.optimizer = optimizer
            self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
            self.last_epoch = 0

        @property
        def base_lr(self) -> float:
            return self.base_lrs[0]

        def step(self) -> None:
            self.last_epoch += 1
            for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
                group["lr"] = self._lr(self.last_epoch, base)

        def get_last_lr(self) -> list[float]:
            return [float(g["lr"]) for g in self.optimizer.param_groups]

        def _lr(self, epoch: int, base: float) -> float:
            raise NotImplementedError

    class StepLR(_Scheduler):
        """lr·γ^⌊epoch/step_size⌋."""

        def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
            super().__init__(optimizer)
            if step_size < 1:
                raise OptimizerError(_("step_size must be ≥ 1, got {value}").format(
                    value=step_size))
            self.step_size, self.gamma = int(step_size), float(gamma)

        def _lr(self, epoch: int, base: float) -> float:
            return base * self.gamma ** (epoch // self.step_size)

    class ExponentialLR(_Scheduler):
        """lr·γ^epoch."""

        def __init__(self, optimizer: Optimizer, gamma: float) -> None:
            super().__init__(optimizer)
            self.gamma = float(gamma)

        def _lr(self, epoch: int, base: float) -> float:
            return base * self.gamma**epoch

    class CosineAnnealingLR(_Scheduler):
        """η_min + (lr − η_min)·(1 + cos(π·epoch/T_max))/2."""

        def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
            super().__init__(optimizer)
            if T_max < 1:
                raise OptimizerError(_("T_max must be ≥ 1, got {value}").format(value=T_max))
            self.T_max, self.eta_min = int(T_max), float(eta_min)

        def _lr(self, epoch: int, base: float) -> float:
            cosine = (1.0 + math.cos(math.pi * epoch / self.T_max)) / 2.0
            return self.eta_min + (base - self.eta_min) * cosine


lr_scheduler = _Schedulers
