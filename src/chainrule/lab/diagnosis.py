"""`diagnose(model, x, y)`: why is this network not learning, and what to do about it.

This module *measures* a `chainrule.nn` model — one forward and one backward pass over a batch,
then per `Linear` layer (input side first) the numbers of `chainrule.lab.verdict.LayerMeasures`
— and hands them to the verdict engine, `chainrule.lab.verdict.judge`, which holds every rule
and threshold. The PyTorch adapter measures a torch model the same way and shares the engine and
the result type, `Diagnosis`.

- ``update_ratio``: the next step's ‖ΔW‖/‖W‖: lr·‖∂C/∂W‖/‖W‖ for plain SGD, lr/(1 − μ)·… with
  momentum μ (the steady-state step), and lr·√(#weights)/‖W‖ for Adam, whose per-weight step
  is about lr whatever the gradient.
- ``saturated_fraction`` (sigmoid and tanh units): the share of (example, unit) pairs with
  |z| > 4 for sigmoid, where σ'(z) < 0.018 (under 7% of its maximum 1/4), and |z| > 2 for tanh,
  where tanh'(z) < 0.071 (the same 7% of its maximum 1; tanh(z) = 2σ(2z) − 1).
- ``dead_fraction`` (relu, leaky_relu units): the share of units with z ≤ 0 for every example.

``diagnose(..., verify=True)`` also replays each suggested fix (`chainrule.lab.replay`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from chainrule.autodiff import grad
from chainrule.graph import toposort
from chainrule.i18n import _
from chainrule.lab._util import LabError, finite_or_none, jsonable
from chainrule.lab.flow import LossArg, _norm, cost, linears, trace_linears
from chainrule.lab.verdict import (
    SATURATION_Z,
    SEVERITIES,
    VERDICTS,
    Context,
    Finding,
    History,
    LayerMeasures,
    Setup,
    Suggestion,
    judge,
    severity_text,
    thresholds,
    verdict_text,
)
from chainrule.tensor import Tensor, tensor

__all__ = [
    "SATURATION_Z",
    "VERDICTS",
    "Diagnosis",
    "History",
    "LayerReport",
    "Setup",
    "diagnose",
    "measure",
]

# Kept under its old name: a layer's row in the result.
LayerReport = LayerMeasures

_ACTIVATION_OPS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "maximum": "leaky_relu"}


@dataclass
class Diagnosis:
    """The result of a diagnosis, whatever the framework: layers, findings, verdict, advice."""

    layers: list[LayerMeasures]
    verdict: str
    findings: list[Finding]
    suggestions: list[Suggestion]
    lr: float | None
    samples: int
    loss: str
    first_nonfinite: str | None = None
    setup: Setup = field(default_factory=Setup)
    history: History | None = None
    accuracy: float | None = None
    input_max_abs: float | None = None
    replay: Any = None  # a `chainrule.lab.replay.Replay` after ``verify=True``
    thresholds: dict[str, float] = field(default_factory=thresholds)
    # Nielsen's factor per sigmoid/tanh layer: how much of the next layer's ‖∂C/∂b‖ it passes.
    factors: list[dict[str, Any]] | None = None
    # Per-step recordings made during training (`chainrule.torch.watch`), oldest first.
    steps: list[dict[str, Any]] | None = None

    @property
    def evidence(self) -> list[str]:
        """The findings' sentences, worst first."""
        ranked = sorted(self.findings, key=lambda f: -SEVERITIES.index(f.severity))
        return [f.message for f in ranked]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (non-finite numbers become ``None``)."""
        out = {
            "verdict": self.verdict,
            "first_nonfinite": self.first_nonfinite,
            "layers": [asdict(layer) for layer in self.layers],
            "findings": [f.to_dict() for f in self.findings],
            "evidence": self.evidence,
            "suggestions": [s.to_dict() for s in self.suggestions],
            "lr": self.lr,
            "samples": self.samples,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "input_max_abs": self.input_max_abs,
            "setup": {k: (list(v) if isinstance(v, tuple) else v)
                      for k, v in asdict(self.setup).items()},
            "history": None if self.history is None else {
                "cost": list(self.history.cost), "accuracy": list(self.history.accuracy)},
            "replay": None if self.replay is None else self.replay.to_dict(),
            "thresholds": dict(self.thresholds),
            "factors": self.factors,
            "steps": self.steps,
        }
        result: dict[str, Any] = jsonable(out)
        return result

    def __str__(self) -> str:
        lines = [_("verdict: {verdict}").format(verdict=verdict_text(self.verdict))]
        lines += [f"  [{severity_text(f.severity)}] {f.message}" for f in self.findings]
        if self.suggestions:
            lines += [_("try") + ":"] + [f"  - {s}" for s in self.suggestions]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from chainrule.viz.diagnosis_html import diagnosis_html

        return diagnosis_html(self.to_dict())

    def save_html(self, path: Any) -> Any:
        """Write one self-contained HTML report (pictures inline, no network); returns the
        path."""
        from chainrule.viz.diagnosis_html import save_report

        return save_report(self.to_dict(), path)


# ------------------------------------------------------------------------------ measuring


def _activations(out: Tensor, zs: list[Tensor]) -> list[str | None]:
    """Which activation each weighted input z feeds, read off the model's graph."""
    consumers: dict[int, list[str]] = {}
    for node in toposort(out):
        if node.op is None:
            continue
        for x in node.inputs:
            consumers.setdefault(id(x), []).append(node.op.name)
    found: list[str | None] = []
    for z in zs:
        names = consumers.get(id(z), [])
        found.append(next((_ACTIVATION_OPS[n] for n in names if n in _ACTIVATION_OPS), None))
    return found


def _finite(*arrays: np.ndarray | None) -> bool:
    return all(a is None or bool(np.isfinite(a).all()) for a in arrays)


def step_factor(lr: float, optimizer: str = "sgd", momentum: float = 0.0) -> float:
    """What multiplies ‖∂C/∂W‖ in the next step's size (see the module docstring)."""
    if optimizer == "sgd" and 0.0 <= momentum < 1.0:
        return lr / (1.0 - momentum)
    return lr


def measure(
    model: Any, x: Any, y: Any, lr: float = 0.1, loss: LossArg = "cross-entropy",
    optimizer: str = "sgd", momentum: float = 0.0,
) -> tuple[list[LayerMeasures], Context]:
    """Per-layer measures of a `chainrule.nn` model on one batch (the model is not changed)."""
    layers = linears(model)
    xt = x if isinstance(x, Tensor) else tensor(np.asarray(x), dtype=layers[0].weight.dtype)
    if xt.ndim != 2 or xt.shape[1] != layers[0].in_features:
        raise LabError(_(
            "the batch has shape {value0} but the first layer takes {in_features} inputs per "
            "example").format(
                value0=tuple(xt.shape), in_features=layers[0].in_features))
    # A broken network may overflow on the way; NaN/Inf are detected and reported below.
    with np.errstate(all="ignore"):
        with trace_linears(model) as zs:
            out = model(xt)
        c = cost(out, y, loss)
        acts = _activations(out, zs)
        targets = [layer.weight for layer in layers] + [
            layer.bias for layer in layers if layer.bias is not None
        ]
        grads = grad(c, targets + list(zs[: len(layers)]))
    n_layers = len(layers)
    w_grads = grads[:n_layers]
    n_bias = sum(layer.bias is not None for layer in layers)
    b_iter = iter(grads[n_layers: n_layers + n_bias])
    z_grads = grads[n_layers + n_bias:]
    factor = step_factor(lr, optimizer, momentum)

    rows: list[LayerMeasures] = []
    forward_bad: str | None = None
    backward_bad: str | None = None
    with np.errstate(all="ignore"):
        for i, layer in enumerate(layers):
            gw = w_grads[i]
            gb = next(b_iter) if layer.bias is not None else None
            # ∂C/∂b = Σₓ ∂C/∂z: also defined for a layer without bias.
            delta = gb if gb is not None else z_grads[i].sum(axis=0)
            units = layer.out_features
            speed = _norm(delta)
            w_norm = _norm(layer.weight)
            gw_norm = _norm(gw)
            z = zs[i]
            act = acts[i]
            saturated = dead = slope = None
            if act in SATURATION_Z:
                saturated = float((z.abs() > SATURATION_Z[act]).mean())
                slope = _mean_slope(z, act)
            elif act in ("relu", "leaky_relu"):
                dead = float((z.max(axis=0).data <= 0.0).mean())
            if optimizer == "adam":
                update = lr * math.sqrt(layer.weight.data.size) / w_norm if w_norm > 0.0 else None
            else:
                update = factor * gw_norm / w_norm if w_norm > 0.0 else None
            bias = None if layer.bias is None else layer.bias.data
            name = str(i + 1)
            forward_ok = _finite(layer.weight.data, bias, z.data)
            backward_ok = _finite(gw.data, delta.data)
            if not forward_ok and forward_bad is None:
                forward_bad = name
            if not backward_ok:
                backward_bad = name  # the last one seen is the first the backward pass meets
            rows.append(LayerMeasures(
                name=name,
                units=units,
                inputs=layer.in_features,
                activation=act,
                weight_norm=w_norm,
                weight_grad_norm=gw_norm,
                bias_grad_norm=None if gb is None else _norm(gb),
                speed=speed,
                grad_rms=speed / math.sqrt(units),
                update_ratio=None if update is None else finite_or_none(update),
                saturated_fraction=saturated,
                dead_fraction=dead,
                slope=slope,
                nonfinite=not (forward_ok and backward_ok),
                bias_mean=None if bias is None else finite_or_none(float(bias.mean())),
            ))
    context = Context(
        samples=int(xt.shape[0]),
        accuracy=_accuracy(out, y),
        input_max_abs=finite_or_none(float(np.abs(xt.data).max())) if xt.data.size else None,
        first_nonfinite=forward_bad or backward_bad,
    )
    return rows, context


def _mean_slope(z: Tensor, act: str) -> float | None:
    """Mean of act'(z) over its maximum: σ' = σ(1 − σ) peaks at 1/4, tanh' = 1 − tanh² at 1."""
    if act == "sigmoid":
        s = z.sigmoid()
        value = (s * (1.0 - s)).mean().item() / 0.25
    else:
        t = z.tanh()
        value = (1.0 - t * t).mean().item()
    return finite_or_none(value)


TRIAL_STEPS = 100
TRIAL_BATCH = 10


Trial = tuple[int | None, float | None]


def trial_outcome(start: float, steps: int, step: Callable[[int], float]) -> Trial:
    """The trial rule's two numbers, whatever the framework: ``step(k)`` takes mini-batch step
    ``k`` and returns its cost (updating only when that cost is finite); ``start`` is the cost
    of the whole batch before. Returns the step where the cost stopped being finite (or None)
    and the largest mini-batch cost over ``start``."""
    if not math.isfinite(start) or start <= 0.0:
        return None, None
    top = 0.0
    for k in range(1, steps + 1):
        value = step(k)
        if not math.isfinite(value):
            return k, None
        top = max(top, value)
    return None, top / start


def trial(model: Any, x: Tensor, y: Any, loss: LossArg, lr: float, optimizer: str = "sgd",
          momentum: float = 0.0, steps: int = TRIAL_STEPS, batch: int = TRIAL_BATCH) -> Trial:
    """A short training run on a copy of ``model``: ``steps`` mini-batch steps drawn (seeded)
    from the batch (see `trial_outcome`)."""
    import copy

    from chainrule.graph import no_grad
    from chainrule.optim import SGD, Adam

    twin = copy.deepcopy(model)
    params = twin.parameters()
    opt = Adam(params, lr) if optimizer == "adam" else SGD(params, lr, momentum=momentum)
    raw = y.data if isinstance(y, Tensor) else np.asarray(y)
    rng = np.random.default_rng(0)
    n = int(x.shape[0])

    def step(k: int) -> float:
        idx = rng.integers(0, n, min(batch, n))
        opt.zero_grad()
        c = cost(twin(x[idx]), raw[idx], loss)
        value = c.item()
        if math.isfinite(value):
            c.backward()
            opt.step()
        return value

    with np.errstate(all="ignore"):
        with no_grad():
            start = cost(twin(x), raw, loss).item()
        return trial_outcome(start, steps, step)


def _accuracy(out: Tensor, y: Any) -> float | None:
    """Share of the batch classified right, when ``y`` holds class labels or one-hot rows."""
    raw = y.data if isinstance(y, Tensor) else np.asarray(y)
    if out.ndim != 2 or out.shape[1] < 2 or not np.isfinite(out.data).all():
        return None
    labels = raw.argmax(axis=1) if raw.ndim == 2 else raw
    if labels.shape != (out.shape[0],):
        return None
    return float((out.data.argmax(axis=1) == labels).mean())


def diagnose(
    model: Any,
    x: Any,
    y: Any,
    lr: float = 0.1,
    loss: LossArg = "cross-entropy",
    *,
    init: str | None = None,
    preprocess: str | None = None,
    weight_scale: float = 1.0,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    history: History | Sequence[Any] | None = None,
    trial_steps: int = TRIAL_STEPS,
    trial_batch: int = TRIAL_BATCH,
    verify: bool = False,
    budget: Any = None,
    data: Any = None,
    progress: Any = None,
) -> Diagnosis:
    """Diagnose ``model`` on the batch ``x`` (n, features) with labels or targets ``y``.

    Works on any `chainrule.nn.Module` built from `Linear` layers; ``loss`` is a name from
    `chainrule.lab.flow.LOSSES` or a callable ``loss(out, y)``. The model is not changed.
    ``init``, ``preprocess``, ``weight_scale``, ``optimizer`` and ``momentum`` say how the
    network is set up, when known: advice names only changes to these settings. ``history`` is
    what training has shown so far — a `History`, or per-epoch rows with ``cost`` and
    ``test_accuracy`` (a checkpoint's) — and lets the rules tell a hurting symptom from a
    harmless one. Unless ``trial_steps=0``, a short run of ``trial_steps`` mini-batch steps of
    ``trial_batch`` examples on a copy checks that training stays finite and stable (a full-batch
    gradient underestimates what a mini-batch step does). ``verify=True`` replays every
    suggestion on a copy (see
    `chainrule.lab.replay.replay`; ``budget``, ``data`` and ``progress`` go there).
    """
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise LabError(_("the learning rate must be a positive number, got {lr!r}").format(lr=lr))
    # One conversion of the batch serves the measurement and the trial run.
    xt = x if isinstance(x, Tensor) else tensor(np.asarray(x),
                                                dtype=linears(model)[0].weight.dtype)
    rows, context = measure(model, xt, y, lr, loss, optimizer, momentum)
    if trial_steps and context.first_nonfinite is None and context.samples >= TRIAL_BATCH:
        bad_step, spike = trial(model, xt, y, loss, lr, optimizer, momentum, trial_steps,
                                trial_batch)
        context.trial_steps, context.trial_batch = trial_steps, trial_batch
        context.trial_nonfinite_step, context.trial_spike = bad_step, spike
    name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
    activation = next((r.activation for r in rows[:-1] if r.activation), None)
    sizes = getattr(model, "sizes", None)
    setup = Setup(
        sizes=tuple(sizes) if sizes is not None else None, activation=activation, init=init,
        loss=name, preprocess=preprocess, weight_scale=float(weight_scale), lr=float(lr),
        optimizer=optimizer,
    )
    seen = as_history(history)
    judgement = judge(rows, setup, seen, context)
    result = Diagnosis(
        layers=rows,
        verdict=judgement.verdict,
        findings=judgement.findings,
        suggestions=judgement.suggestions,
        lr=float(lr),
        samples=context.samples,
        loss=name,
        first_nonfinite=judgement.first_nonfinite,
        setup=setup,
        history=seen,
        accuracy=context.accuracy,
        input_max_abs=context.input_max_abs,
    )
    if verify:
        from chainrule.lab.replay import replay

        result.replay = replay(model, result, budget=budget, data=data, progress=progress)
    return result


def as_history(history: History | Sequence[Any] | None) -> History | None:
    """A `History` from per-epoch rows (dicts or objects with ``cost``, ``test_accuracy``)."""
    if history is None or isinstance(history, History):
        return history
    costs: list[float] = []
    accuracy: list[float] = []
    for row in history:
        get = row.get if isinstance(row, dict) else (lambda k, r=row: getattr(r, k, None))
        c, a = get("cost"), get("test_accuracy")
        if not isinstance(c, (int, float)) or isinstance(c, bool):
            raise LabError(_("a training history row has no numeric cost: {row!r}").format(row=row))
        costs.append(float(c))
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            accuracy.append(float(a))
    if not costs:
        return None
    return History(tuple(costs), tuple(accuracy) if len(accuracy) == len(costs) else ())


def report_rows(diagnosis: Diagnosis) -> list[dict[str, Any]]:
    """The per-layer rows as plain dicts (for tables)."""
    return [
        {k: (finite_or_none(v) if isinstance(v, float) else v) for k, v in asdict(r).items()}
        for r in diagnosis.layers
    ]
