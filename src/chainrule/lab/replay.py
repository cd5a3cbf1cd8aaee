"""Fixes proven by replay: train the setup as it is and with each suggested change, side by side.

`replay` takes the model a diagnosis was made on and its suggestions. For each suggestion it
makes a copy of the model with the change applied — a copy of the same weights wherever the
change allows it (learning rate, inputs, cost, activation swap, weight scale), fresh weights
drawn with the same seed where the change is the initialisation or the layer sizes — and trains
it for the same short `Budget` (same images, same shuffles, same seeds) as an unchanged copy.
It reports, before and after: the cost and test accuracy after each epoch, the first layer's
speed of learning relative to the output layer's (‖∂C/∂b¹‖/‖∂C/∂b^L‖) at the start, and whether
the change helped: `HELPS` when the mean test accuracy over the seeds rises by at least
`CLEAR_ACCURACY` (2 points), or it holds within 1 point while the final cost falls by 10%;
`HURTS` when it falls by 2 points; otherwise "no clear effect".
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from chainrule.i18n import _
from chainrule.lab._util import LabError, jsonable

__all__ = ["CLEAR_ACCURACY", "Budget", "Outcome", "Replay", "Run", "replay"]

CLEAR_ACCURACY = 0.02
HELPS, NO_EFFECT, HURTS = "helps", "no clear effect", "hurts"


@dataclass(frozen=True)
class Budget:
    """How much each replay trains: mini-batch SGD on the first ``samples`` training images."""

    samples: int = 4000
    epochs: int = 2
    batch: int = 10
    seeds: int = 2
    test: int = 1000

    def __post_init__(self) -> None:
        for name in ("samples", "epochs", "batch", "seeds", "test"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise LabError(_("replay budget: {name} must be a whole number ≥ 1, got {value!r}")
                               .format(name=name, value=value))


@dataclass
class Run:
    """One setup trained for the budget: means over the seeds, per epoch (index 0 = start)."""

    label: str
    cost: list[float]
    accuracy: list[float]
    speed_ratio: float | None
    diverged: bool
    seconds: float

    @property
    def final_accuracy(self) -> float:
        return self.accuracy[-1]

    @property
    def final_cost(self) -> float:
        return self.cost[-1]


@dataclass
class Outcome:
    """A suggestion, its run, and its measured effect against the unchanged setup."""

    suggestion: Any
    run: Run
    effect: str
    accuracy_change: float
    cost_change: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"suggestion": self.suggestion.to_dict(), "run": asdict(self.run),
                "effect": self.effect, "accuracy_change": self.accuracy_change,
                "cost_change": self.cost_change}


@dataclass
class Replay:
    before: Run
    outcomes: list[Outcome] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "budget": asdict(self.budget), "before": asdict(self.before),
            "outcomes": [o.to_dict() for o in self.outcomes], "seconds": self.seconds})
        return out


# ------------------------------------------------------------------------------ applying a fix


def _hidden_activation_slots(model: Any) -> list[int]:
    from chainrule.nn.layers import ACTIVATIONS, Linear

    layers = getattr(model, "layers", None)
    if not isinstance(layers, list):
        return []
    kinds = tuple(ACTIVATIONS.values())
    slots = [i for i, m in enumerate(layers) if isinstance(m, kinds)]
    last_linear = max((i for i, m in enumerate(layers) if isinstance(m, Linear)), default=-1)
    return [i for i in slots if i < last_linear]


def _fresh(model: Any, setup: Any, seed: int, **changes: Any) -> Any:
    from chainrule.lab.flow import linears
    from chainrule.nn import MLP

    sizes = changes.get("sizes") or setup.sizes or tuple(
        [linears(model)[0].in_features] + [lin.out_features for lin in linears(model)])
    output = getattr(model, "output_activation", None) or (
        "linear" if setup.loss == "softmax" else "sigmoid")
    fresh = MLP(sizes, activation=changes.get("activation") or setup.activation or "sigmoid",
                init=changes.get("init") or setup.init or "nielsen", output_activation=output,
                seed=seed)
    scale = changes.get("weight_scale", setup.weight_scale)
    if scale != 1.0:
        for layer in fresh.linears:
            layer.weight.data = layer.weight.data * float(scale)
    return fresh


def _apply(model: Any, setup: Any, changes: dict[str, Any], seed: int) -> Any:
    """A copy of ``model`` with the model-side ``changes`` applied (see the module docstring)."""
    from chainrule.lab.flow import linears
    from chainrule.nn.layers import ACTIVATIONS

    if "init" in changes or "sizes" in changes:
        return _fresh(model, setup, seed, **changes)
    twin = copy.deepcopy(model)
    if "activation" in changes:
        slots = _hidden_activation_slots(twin)
        if not slots:
            return _fresh(model, setup, seed, **changes)
        for i in slots:
            twin.layers[i] = ACTIVATIONS[changes["activation"]]()
        twin.activation = changes["activation"]
    if "weight_scale" in changes:
        old = setup.weight_scale or 1.0
        for layer in linears(twin):
            layer.weight.data = layer.weight.data * (float(changes["weight_scale"]) / old)
    return twin


# ------------------------------------------------------------------------------ training


def _train(model: Any, data: Any, loss: str, lr: float, budget: Budget,
           seed: int) -> tuple[list[float], list[float], bool]:
    """Cost (on the first `test` training images) and test accuracy before and after each
    epoch of mini-batch SGD; stops early, marked diverged, once the numbers stop being finite."""
    from chainrule.graph import no_grad
    from chainrule.lab.flow import cost as cost_of
    from chainrule.optim import SGD
    from chainrule.tensor import tensor

    n = min(budget.samples, len(data.train_y))
    train_x, train_y = data.train_x[:n], data.train_y[:n].astype(np.int64)
    probe_x, probe_y = tensor(train_x[: budget.test]), train_y[: budget.test]
    test_x, test_y = tensor(data.test_x[: budget.test]), data.test_y[: budget.test]
    opt = SGD(model.parameters(), lr)
    rng = np.random.default_rng([seed, 1])
    costs: list[float] = []
    accuracy: list[float] = []

    def evaluate() -> bool:
        with np.errstate(all="ignore"), no_grad():
            c = cost_of(model(probe_x), probe_y, loss).item()
            out = model(test_x).data
        finite = math.isfinite(c) and bool(np.isfinite(out).all())
        costs.append(c if finite else math.nan)
        accuracy.append(float((out.argmax(axis=1) == test_y).mean()) if finite else 0.0)
        return finite

    if not evaluate():
        return costs, accuracy, True
    for _epoch in range(budget.epochs):
        order = rng.permutation(n)
        with np.errstate(all="ignore"):
            for start in range(0, n, budget.batch):
                idx = order[start: start + budget.batch]
                opt.zero_grad()
                cost_of(model(tensor(train_x[idx])), train_y[idx], loss).backward()
                opt.step()
        if not evaluate():
            pad = budget.epochs + 1 - len(costs)
            return costs + [math.nan] * pad, accuracy + [0.0] * pad, True
    return costs, accuracy, False


def _speed_ratio(model: Any, data: Any, loss: str) -> float | None:
    """‖∂C/∂b‖ of the first layer over the output layer's, on 1,000 training images."""
    from chainrule.lab.diagnosis import measure

    rows, _ = measure(model, data.train_x[:1000], data.train_y[:1000].astype(np.int64),
                      loss=loss)
    first, last = rows[0].speed, rows[-1].speed
    ratio = first / last if last > 0.0 else math.nan
    return ratio if math.isfinite(ratio) else None


def _run(label: str, make: Callable[[int], Any], data_for: Callable[[], Any], loss: str,
         lr: float, budget: Budget, tick: Callable[[], None]) -> Run:
    started = time.perf_counter()
    costs, accs, diverged, speed = [], [], False, None
    data = data_for()
    for seed in range(budget.seeds):
        model = make(seed)
        if seed == 0:
            speed = _speed_ratio(model, data, loss)
        c, a, d = _train(model, data, loss, lr, budget, seed)
        costs.append(c)
        accs.append(a)
        diverged = diverged or d
        tick()
    with np.errstate(all="ignore"):
        mean_cost = [float(v) for v in np.mean(np.asarray(costs), axis=0)]
        mean_acc = [float(v) for v in np.mean(np.asarray(accs), axis=0)]
    return Run(label, mean_cost, mean_acc, speed, diverged, time.perf_counter() - started)


def _effect(before: Run, after: Run) -> tuple[str, float, float | None]:
    d_acc = after.final_accuracy - before.final_accuracy
    b, a = before.final_cost, after.final_cost
    d_cost = (a - b) / b if math.isfinite(a) and math.isfinite(b) and b > 0 else None
    if after.diverged and not before.diverged:
        return HURTS, d_acc, d_cost
    if d_acc >= CLEAR_ACCURACY or (before.diverged and not after.diverged):
        return HELPS, d_acc, d_cost
    if d_acc <= -CLEAR_ACCURACY:
        return HURTS, d_acc, d_cost
    if d_acc > -CLEAR_ACCURACY / 2 and d_cost is not None and d_cost <= -0.1:
        return HELPS, d_acc, d_cost
    return NO_EFFECT, d_acc, d_cost


def replay(model: Any, diagnosis: Any, budget: Budget | None = None, data: Any = None,
           progress: Callable[[int, int], None] | None = None) -> Replay:
    """Train the unchanged setup and every suggestion of ``diagnosis`` for ``budget``; the
    outcomes come ranked by measured effect (accuracy gain, then cost drop)."""
    from chainrule.lab.flow import _dataset
    from chainrule.nn import Module

    if not isinstance(model, Module):
        raise LabError(_("replay needs a chainrule.nn model"))
    budget = budget or Budget()
    setup = diagnosis.setup
    loss = setup.loss if setup.loss in ("cross-entropy", "quadratic", "softmax") else None
    if loss is None:
        raise LabError(_("replay needs a named cost (cross-entropy, quadratic, softmax), "
                         "not {loss!r}").format(loss=setup.loss))
    lr = setup.lr if setup.lr is not None else 0.1
    preprocess = setup.preprocess or "scale"
    total = budget.seeds * (1 + len(diagnosis.suggestions))
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    started = time.perf_counter()
    before = _run("as it is", lambda seed: copy.deepcopy(model),
                  lambda: _dataset(data, preprocess), loss, lr, budget, tick)
    outcomes: list[Outcome] = []
    for s in diagnosis.suggestions:
        changes = {c.setting: c.new for c in s.changes}
        new_loss = {"bce": "cross-entropy"}.get(changes.get("loss", loss),
                                                 changes.get("loss", loss))
        run = _run(s.summary, functools.partial(_apply, model, setup, changes),
                   functools.partial(_dataset, data, changes.get("preprocess", preprocess)),
                   new_loss, float(changes.get("lr", lr)), budget, tick)
        effect, d_acc, d_cost = _effect(before, run)
        outcomes.append(Outcome(s, run, effect, d_acc, d_cost))
    outcomes.sort(key=lambda o: (-o.accuracy_change, o.cost_change if o.cost_change is not None
                                 else math.inf))
    return Replay(before, outcomes, budget, time.perf_counter() - started)
