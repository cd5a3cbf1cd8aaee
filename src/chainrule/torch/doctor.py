"""`diagnose(model, x, y)` for any `torch.nn.Module`: measure with hooks, judge with the engine.

One forward and one backward pass on the batch, in training mode, with hooks that

- note every module's output as it completes (forward order) and its gradient as the backward
  pass reaches it, so the first NaN/Inf is named by module: forward order first, then backward;
- keep the output z of every module that owns parameters, and read which activation consumes it
  off the autograd graph (``SigmoidBackward0`` …), so ``nn.Sigmoid()``, ``torch.sigmoid`` and
  ``F.relu`` are all recognised.

Per such module (a "layer", input side first, by first call): ‖∂C/∂W‖ of its weight, its speed
‖∂C/∂b‖ (or, without a bias, the gradient of its output summed over everything but the feature
axis — the last axis for Linear and Embedding, axis 1 for convolutions and norms), the update
ratio lr·‖∂C/∂W‖/‖W‖, saturated (sigmoid |z| > 4, tanh |z| > 2) or dead (ReLU family: z ≤ 0 on
every example; GELU/SiLU: z ≤ −3, where their slope is under 1.2%) fractions.

Everything the pass touches is put back: parameters and buffers (BatchNorm's running statistics)
bit for bit, ``.grad``, each module's train/eval mode, the RNG state, and every hook is removed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from chainrule.errors import ChainruleError
from chainrule.i18n import _
from chainrule.lab.diagnosis import Diagnosis, Trial, trial_outcome
from chainrule.lab.verdict import (
    RAW_INPUT,
    SATURATION_Z,
    Context,
    LayerMeasures,
    Setup,
    Suggestion,
    judge,
)

__all__ = ["DoctorError", "diagnose", "measure_torch", "preserved"]

_ACTIVATION_NODES = {
    "SigmoidBackward0": "sigmoid", "TanhBackward0": "tanh", "ReluBackward0": "relu",
    "LeakyReluBackward0": "leaky_relu", "LeakyReluBackward1": "leaky_relu",
    "EluBackward0": "leaky_relu", "GeluBackward0": "gelu", "SiluBackward0": "gelu",
}
_GELU_DEAD_Z = -3.0


class DoctorError(ChainruleError, ValueError):
    """The model, batch or loss cannot be diagnosed (one sentence says why)."""


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise DoctorError(_('chainrule.torch needs PyTorch: pip install "chainrule[torch]"')) \
            from None
    return torch


@contextmanager
def preserved(model: Any) -> Iterator[None]:
    """Inside the block the model may be run and backpropagated; afterwards it is as before."""
    torch = _torch()
    state = {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}
    grads = {id(p): (None if p.grad is None else p.grad.detach().clone())
             for p in model.parameters()}
    modes = {id(m): m.training for m in model.modules()}
    rng = torch.get_rng_state()
    try:
        yield
    finally:
        with torch.no_grad():
            current = model.state_dict(keep_vars=True)
            for key, saved in state.items():
                if key in current:
                    current[key].copy_(saved)
        for p in model.parameters():
            p.grad = grads.get(id(p))
        for m in model.modules():
            m.training = modes.get(id(m), m.training)
        torch.set_rng_state(rng)


def _finite(t: Any) -> bool:
    torch = _torch()
    return bool(torch.isfinite(t).all()) if t.is_floating_point() else True


def _tensors(out: Any) -> list[Any]:
    torch = _torch()
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []


def _consumers(root: Any) -> dict[int, list[str]]:
    """For every autograd node reachable from ``root``, the names of the nodes using it."""
    seen: set[int] = set()
    found: dict[int, list[str]] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for child, _index in getattr(node, "next_functions", ()):
            if child is not None:
                found.setdefault(id(child), []).append(type(node).__name__)
                stack.append(child)
    return found


def _feature_axis(module: Any, z: Any) -> int:
    torch = _torch()
    if isinstance(module, (torch.nn.Linear, torch.nn.Embedding, torch.nn.Bilinear,
                           torch.nn.LayerNorm)) or z.dim() < 2:
        return z.dim() - 1
    return 1


def _reduce_to_features(t: Any, axis: int) -> Any:
    dims = [d for d in range(t.dim()) if d != axis]
    return t.sum(dim=dims) if dims else t


class _Probe:
    """The hooks of one diagnosis pass and what they saw."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.names = {id(m): name or type(model).__name__ for name, m in model.named_modules()}
        self.owners = [m for m in model.modules()
                       if any(True for _ in m.parameters(recurse=False))]
        self.order: list[Any] = []  # parameter-owning modules by first call
        self.z: dict[int, Any] = {}
        self.z_node: dict[int, Any] = {}
        self.z_grad: dict[int, Any] = {}
        self.forward_bad: str | None = None
        self.backward_bad: str | None = None
        self.handles: list[Any] = []

    def __enter__(self) -> _Probe:
        for m in self.model.modules():
            self.handles.append(m.register_forward_hook(self._forward))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()

    def _forward(self, module: Any, inputs: Any, out: Any) -> None:
        outs = _tensors(out)
        name = self.names.get(id(module), type(module).__name__)
        if self.forward_bad is None and not all(_finite(t) for t in outs):
            self.forward_bad = name
        for t in outs:
            if t.requires_grad:
                t.register_hook(self._backward(name, module))
        owns = any(True for _ in module.parameters(recurse=False))
        if owns and id(module) not in self.z and outs:
            self.order.append(module)
            self.z[id(module)] = outs[0].detach().clone()
            self.z_node[id(module)] = outs[0].grad_fn

    def _backward(self, name: str, module: Any) -> Callable[[Any], None]:
        def hook(g: Any) -> None:
            if self.backward_bad is None and not _finite(g):
                self.backward_bad = name
            if id(module) in self.z and id(module) not in self.z_grad:
                self.z_grad[id(module)] = g.detach().clone()
        return hook


def _loss_fn(out: Any, y: Any, loss_fn: Callable[..., Any] | None) -> tuple[Any, str]:
    torch = _torch()
    if loss_fn is not None:
        return loss_fn(out, y), getattr(loss_fn, "__name__", type(loss_fn).__name__)
    if not isinstance(out, torch.Tensor):
        raise DoctorError(_("the model returns a {kind}, not a tensor: pass loss_fn=… that turns "
                            "it into a scalar loss").format(kind=type(out).__name__))
    if isinstance(y, torch.Tensor) and not y.is_floating_point() and out.dim() >= 2:
        return torch.nn.functional.cross_entropy(out, y), "cross-entropy"
    return torch.nn.functional.mse_loss(out, y), "mse"


Measured = tuple[list[LayerMeasures], Context, str, list[dict[str, Any]]]


def measure_torch(model: Any, x: Any, y: Any, loss_fn: Callable[..., Any] | None = None,
                  lr: float = 0.1) -> Measured:
    """Per-layer measures of a torch model (call inside `preserved`)."""
    torch = _torch()
    owners = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
    if not owners:
        raise DoctorError(_("{model} has no parameters: nothing learns, so there is no gradient "
                            "to diagnose").format(model=type(model).__name__))
    if isinstance(x, torch.Tensor) and x.is_floating_point() and not _finite(x):
        raise DoctorError(_("the batch x contains NaN or Inf"))
    model.train()
    for p in model.parameters():
        p.grad = None
    with _Probe(model) as probe, torch.enable_grad():
        try:
            out = model(x)
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DoctorError(_("the batch does not fit the model: {reason}").format(
                reason=first)) from None
        try:
            loss, loss_name = _loss_fn(out, y, loss_fn)
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DoctorError(_("the loss cannot be computed from the model's output and y: "
                                "{reason}").format(reason=first)) from None
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise DoctorError(_("the loss must be a scalar, got {shape}: reduce it (mean or sum)")
                              .format(shape=shape))
        if not _finite(loss.detach()) and probe.forward_bad is None:
            raise DoctorError(_("the loss is already {value} although every module's output is "
                                "finite: check the targets y and the loss function").format(
                value=float(loss.detach())))
        if not loss.requires_grad:
            raise DoctorError(_("the loss does not depend on any parameter that takes gradients"))
        consumers = _consumers(loss.grad_fn)
        loss.backward()
    rows: list[LayerMeasures] = []
    factors: list[dict[str, Any]] = []
    backward_bad: str | None = None
    for module in reversed(probe.order):  # the backward pass meets the output side first
        grads = [p.grad for p in module.parameters(recurse=False) if p.grad is not None]
        if backward_bad is None and not all(_finite(g) for g in grads):
            backward_bad = probe.names[id(module)]
    for module in probe.order:
        rows.append(_layer(module, probe, consumers, lr))
    with torch.no_grad():
        accuracy = None
        if isinstance(out, torch.Tensor) and isinstance(y, torch.Tensor) and out.dim() == 2 \
                and not y.is_floating_point() and y.shape == out.shape[:1] and _finite(out):
            accuracy = float((out.argmax(dim=1) == y).float().mean())
        big = float(x.abs().max()) if isinstance(x, torch.Tensor) and x.is_floating_point() \
            and x.numel() else None
    for a, b in zip(rows[:-1], rows[1:], strict=False):
        if a.activation in SATURATION_Z:
            factors.append({"layer": a.name, "activation": a.activation,
                            "factor": b.speed and a.speed / b.speed})
    context = Context(samples=int(x.shape[0]) if hasattr(x, "shape") and x.dim() else 1,
                      accuracy=accuracy, input_max_abs=big,
                      first_nonfinite=probe.forward_bad or probe.backward_bad or backward_bad)
    return rows, context, loss_name, factors


def _layer(module: Any, probe: _Probe, consumers: dict[int, list[str]],
           lr: float) -> LayerMeasures:
    torch = _torch()
    params = list(module.parameters(recurse=False))
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.nn.Parameter):
        weight = max(params, key=lambda p: p.numel())
    bias = getattr(module, "bias", None)
    bias = bias if isinstance(bias, torch.nn.Parameter) else None
    z = probe.z[id(module)]
    axis = _feature_axis(module, z)
    node = probe.z_node.get(id(module))
    names = consumers.get(id(node), []) if node is not None else []
    act = next((_ACTIVATION_NODES[n] for n in names if n in _ACTIVATION_NODES), None)
    normalized = any("Norm" in n for n in names)
    frozen = not any(p.requires_grad for p in params)
    with torch.no_grad():
        w_norm = float(weight.detach().double().norm())
        gw = weight.grad
        gw_norm = float(gw.double().norm()) if gw is not None else 0.0
        if bias is not None and bias.grad is not None:
            speed = float(bias.grad.double().norm())
        elif id(module) in probe.z_grad:
            speed = float(_reduce_to_features(probe.z_grad[id(module)].double(), axis).norm())
        else:
            speed = gw_norm
        units = z.shape[axis] if z.dim() else 1
        saturated = dead = slope = None
        zf = z.double()
        if act in SATURATION_Z:
            saturated = float((zf.abs() > SATURATION_Z[act]).double().mean())
            if act == "sigmoid":
                sig = torch.sigmoid(zf)
                slope = float((sig * (1 - sig)).mean()) / 0.25
            else:
                slope = float((1 - torch.tanh(zf) ** 2).mean())
        elif act is not None and z.dim() >= 1:
            cut = 0.0 if act in ("relu", "leaky_relu") else _GELU_DEAD_Z
            peak = zf.amax(dim=[d for d in range(z.dim()) if d != axis]) if z.dim() > 1 else zf
            dead = float((peak <= cut).double().mean())
        finite = all(_finite(p.detach()) for p in params) and _finite(z) and all(
            _finite(p.grad) for p in params if p.grad is not None)
        update = lr * gw_norm / w_norm if w_norm > 0.0 and gw is not None else None
        bias_mean = float(bias.detach().double().mean()) if bias is not None else None
    return LayerMeasures(
        name=probe.names[id(module)], units=int(units),
        inputs=getattr(module, "in_features", getattr(module, "in_channels", None)),
        activation=act, weight_norm=w_norm, weight_grad_norm=gw_norm,
        bias_grad_norm=None if bias is None or bias.grad is None else speed,
        speed=speed, grad_rms=speed / math.sqrt(max(units, 1)),
        update_ratio=update if update is None or math.isfinite(update) else None,
        saturated_fraction=saturated, dead_fraction=dead, slope=slope, nonfinite=not finite,
        bias_mean=bias_mean if bias_mean is None or math.isfinite(bias_mean) else None,
        frozen=frozen, normalized=normalized)


_INIT_HOW = {
    "he": "nn.init.kaiming_normal_(layer.weight, nonlinearity='relu'); "
          "nn.init.zeros_(layer.bias)",
    "xavier": "nn.init.xavier_uniform_(layer.weight); nn.init.zeros_(layer.bias)",
    "nielsen": "nn.init.normal_(layer.weight, std=1 / math.sqrt(layer.in_features))",
}
_ACT_HOW = {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "leaky_relu": "nn.LeakyReLU(0.01)",
            "sigmoid": "nn.Sigmoid()"}


def torch_how(s: Suggestion) -> str:
    """The suggestion in PyTorch terms."""
    parts = []
    for c in s.changes:
        if c.setting == "lr":
            parts.append(_("set lr={lr} in the optimizer").format(lr=f"{c.new:g}"))
        elif c.setting == "activation":
            parts.append(_("use {module} for the hidden activations").format(
                module=_ACT_HOW.get(c.new, c.new)))
        elif c.setting == "init":
            parts.append(_INIT_HOW.get(c.new) or _("initialise with {scheme}").format(
                scheme=c.new))
        elif c.setting == "weight_scale":
            parts.append(_("re-initialise the weights at their scheme's scale (do not scale "
                           "them up)"))
        elif c.setting == "preprocess":
            parts.append(_("scale the inputs to [0, 1] (x / 255, transforms.ToTensor()) or "
                           "standardize them (transforms.Normalize)"))
        elif c.setting == "loss":
            parts.append(_("use nn.BCEWithLogitsLoss or nn.CrossEntropyLoss on logits instead "
                           "of MSE on sigmoid outputs"))
        elif c.setting == "sizes":
            parts.append(_("use fewer hidden layers ({old} → {new})").format(
                old=len(c.old) - 2, new=len(c.new) - 2))
    return "; ".join(parts)


def trial_torch(model: Any, x: Any, y: Any, loss_fn: Callable[..., Any] | None, lr: float,
                steps: int = 100, batch: int = 10) -> Trial:
    """A short SGD run on a deep copy (see `chainrule.lab.diagnosis.trial_outcome`)."""
    import copy

    torch = _torch()
    twin = copy.deepcopy(model)
    twin.train()
    opt = torch.optim.SGD([p for p in twin.parameters() if p.requires_grad], lr=lr)
    g = torch.Generator().manual_seed(0)
    n = int(x.shape[0])

    def step(k: int) -> float:
        idx = torch.randint(0, n, (min(batch, n),), generator=g)
        opt.zero_grad()
        loss = _loss_fn(twin(x[idx]), y[idx], loss_fn)[0]
        value = float(loss.detach())
        if math.isfinite(value):
            loss.backward()
            opt.step()
        return value

    with torch.no_grad():
        start = float(_loss_fn(twin(x), y, loss_fn)[0])
    return trial_outcome(start, steps, step)


def diagnose(model: Any, x: Any, y: Any, loss_fn: Callable[..., Any] | None = None,
             lr: float = 0.1, trial_steps: int = 100, trial_batch: int = 10) -> Diagnosis:
    """Diagnose a PyTorch model on one batch; the model is left exactly as it was found.

    ``loss_fn(out, y)`` defaults to cross-entropy for integer class targets and MSE otherwise;
    ``lr`` is the learning rate the update ratios are computed for, and the one a short trial
    run of ``trial_steps`` SGD steps of ``trial_batch`` examples on a deep copy uses to check
    that training stays finite and stable (``trial_steps=0`` skips it).
    """
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise DoctorError(_("expected a torch.nn.Module, got {kind}").format(
            kind=type(model).__name__))
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise DoctorError(_("the learning rate must be a positive number, got {value}").format(
            value=repr(lr)))
    with preserved(model):
        rows, context, loss_name, factors = measure_torch(model, x, y, loss_fn, lr)
        if trial_steps and context.first_nonfinite is None and context.samples >= trial_batch \
                and isinstance(y, torch.Tensor) and y.shape[:1] == x.shape[:1]:
            context.trial_nonfinite_step, context.trial_spike = trial_torch(
                model, x, y, loss_fn, lr, trial_steps, trial_batch)
            context.trial_steps, context.trial_batch = trial_steps, trial_batch
    hidden = [r.activation for r in rows[:-1] if r.activation]
    activation = Counter(hidden).most_common(1)[0][0] if hidden else None
    raw = context.input_max_abs is not None and context.input_max_abs > RAW_INPUT
    setup = Setup(activation=activation, loss=loss_name, lr=float(lr),
                  preprocess="raw" if raw else None)
    j = judge(rows, setup, None, context)
    suggestions = [replace(s, how=torch_how(s)) for s in j.suggestions]
    return Diagnosis(layers=rows, verdict=j.verdict, findings=j.findings,
                     suggestions=suggestions, lr=float(lr), samples=context.samples,
                     loss=loss_name, first_nonfinite=j.first_nonfinite, setup=setup,
                     accuracy=context.accuracy, input_max_abs=context.input_max_abs,
                     factors=factors)
