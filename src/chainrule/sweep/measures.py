"""What one cell of a sweep measures: `run_cell(params) -> dict`.

``params`` are a cell's full parameters (see `chainrule.sweep.spec`); ``params["measure"]``
picks the measurement:

- ``norms`` — the gradient norms ‖∂C/∂b‖ of each hidden layer's biases at initialisation,
  averaged over ``samples`` training examples (`chainrule.lab.flow.layer_norms_for`), and
  ``ratio`` = first hidden layer / last hidden layer: far below 1 means the gradient vanishes on
  its way back, far above 1 that it explodes.
- ``speed`` — the same norms after every epoch of training (`chainrule.lab.flow.speed_of_learning`),
  the speed of learning of each layer.
- ``accuracy`` — test accuracy after ``epochs`` epochs of mini-batch training on the first
  ``limit`` examples (`chainrule.nn.training`).
- ``diagnosis`` — the verdict of `chainrule.lab.diagnosis.diagnose` on a fresh network.
- ``toy`` — a fast synthetic measure that depends only on the parameters: numbers that mean
  nothing, for trying the machinery (a cluster, a results file) without waiting. ``fail = true``
  makes the cell raise and ``sleep`` makes it slow.

Every measure is a function of its parameters alone (all randomness comes from ``seed``), so a
cell gives the same numbers in any process, on any worker, in any order. Measures import the
library inside the function: workers load only what their cells need.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chainrule.i18n import _

Params = Mapping[str, Any]

_COMMON = ("sizes", "activation", "init", "weight_scale", "seed")


@dataclass(frozen=True)
class Measure:
    """A measurement: the parameters it depends on, the result fields the summary shows."""

    name: str
    fn: Callable[[Params], dict[str, Any]]
    params: tuple[str, ...]
    columns: tuple[str, ...]
    doc: str
    defaults: Mapping[str, Any] = field(default_factory=dict)  # over the sweep's defaults


def _scale_weights(model: Any, scale: float) -> None:
    """Multiply every weight by ``scale``, as `chainrule.lab.flow.make_model` does."""
    if not scale > 0.0:
        raise ValueError(_("weight_scale must be positive, got {value}").format(value=scale))
    if scale != 1.0:
        for layer in model.linears:
            layer.weight.data = (layer.weight * float(scale)).data


def _ratio(norms: list[float]) -> float | None:
    first, last = float(norms[0]), float(norms[-1])
    if last == 0.0 or not (math.isfinite(first) and math.isfinite(last)):
        return None
    return first / last


def _norm_fields(norms: list[float]) -> dict[str, Any]:
    return {"norms": norms, "first": norms[0], "last": norms[-1], "ratio": _ratio(norms)}


def measure_norms(params: Params) -> dict[str, Any]:
    from chainrule.lab import flow

    out = flow.layer_norms_for(
        list(params["sizes"]),
        params["activation"],
        params["init"],
        weight_scale=params["weight_scale"],
        preprocess=params["preprocess"],
        samples=params["samples"],
        seed=params["seed"],
    )
    return {**_norm_fields([float(n) for n in out["norms"]]), "data": out.get("data")}


def measure_speed(params: Params) -> dict[str, Any]:
    from chainrule.lab import flow

    out = flow.speed_of_learning(
        list(params["sizes"]),
        params["epochs"],
        lr=params["lr"],
        lmbda=params["lmbda"],
        samples=params["samples"],
        batch=params["batch"] or None,
        init=params["init"],
        activation=params["activation"],
        preprocess=params["preprocess"],
        weight_scale=params["weight_scale"],
        seed=params["seed"],
    )
    history = [[float(v) for v in row] for row in out["history"]]
    return {
        **_norm_fields(history[-1]),  # after the last epoch
        "accuracy": out["accuracy"][-1],
        "cost": out["cost"][-1],
        "history": history,
        "accuracy_curve": out["accuracy"],
        "cost_curve": out["cost"],
    }


def measure_accuracy(params: Params) -> dict[str, Any]:
    from chainrule.data import load
    from chainrule.nn.training import TrainConfig, Trainer

    config = TrainConfig(
        sizes=tuple(params["sizes"]),
        activation=params["activation"],
        init=params["init"],
        loss=params["loss"],
        lr=params["lr"],
        batch=params["batch"],
        epochs=params["epochs"],
        seed=params["seed"],
        data=params["data"],
        preprocess=params["preprocess"],
        limit=params["limit"],
    )
    trainer = Trainer(config, load(config.data))
    _scale_weights(trainer.model, params["weight_scale"])
    result = trainer.run(handle_sigint=False)
    history = [h.to_json() for h in result.history]
    if history:
        accuracy, cost = history[-1]["test_accuracy"], history[-1]["cost"]
    else:  # epochs = 0: the untrained network
        test_cost, correct = trainer.evaluate(trainer.test_x, trainer.test_y)
        accuracy, cost = correct / max(len(trainer.test_y), 1), test_cost
    return {
        "accuracy": accuracy,
        "cost": cost,
        "curve": [h["test_accuracy"] for h in history],
    }


def measure_diagnosis(params: Params) -> dict[str, Any]:
    from chainrule.lab import flow
    from chainrule.lab.diagnosis import diagnose

    sizes = list(params["sizes"])
    x, labels, _ = flow.load_inputs(sizes, params["samples"], params["preprocess"])
    model = flow.make_model(
        sizes, params["activation"], params["init"], params["seed"], params["weight_scale"]
    )
    report = diagnose(model, x, labels, lr=params["lr"])
    return {
        "verdict": str(report.verdict),
        # The first layer's speed of learning relative to the output layer's.
        "ratio_to_last": report.layers[0].ratio_to_last,
        "report": report.to_dict(),
    }


def measure_toy(params: Params) -> dict[str, Any]:
    """A deterministic stand-in: per-layer "norms" drawn from a generator seeded by the
    parameters, shrinking with depth more for sigmoid than for relu."""
    import numpy as np

    if params["sleep"]:
        time.sleep(params["sleep"])
    if params["fail"]:
        # untranslated: the toy measure fails on request only in the tests of the runner
        raise RuntimeError(f"toy cell asked to fail (seed {params['seed']})")
    text = json.dumps(dict(params), sort_keys=True)
    rng = np.random.default_rng(int(hashlib.sha256(text.encode()).hexdigest()[:12], 16))
    factor = {"sigmoid": 0.25, "tanh": 0.7, "relu": 0.95}.get(params["activation"], 0.5)
    hidden = len(params["sizes"]) - 2
    steps = rng.uniform(0.8, 1.2, hidden) * factor * params["weight_scale"]
    norms = [float(x) for x in np.cumprod(steps[::-1])[::-1]]
    return _norm_fields(norms)


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure(
            "norms",
            measure_norms,
            (*_COMMON, "preprocess", "samples"),
            ("first", "last", "ratio"),
            "hidden-layer gradient norms at initialisation; ratio = first / last",
        ),
        Measure(
            "speed",
            measure_speed,
            (*_COMMON, "preprocess", "samples", "lr", "lmbda", "epochs", "batch"),
            ("first", "last", "ratio", "accuracy"),
            "hidden-layer gradient norms after EPOCHS epochs of training (speed of learning)",
            # The book's generate_gradient.py: full-batch SGD on 1000 images, η = 0.1, λ = 5.
            {"samples": 1000, "lr": 0.1, "batch": 0, "epochs": 30},
        ),
        Measure(
            "accuracy",
            measure_accuracy,
            (*_COMMON, "preprocess", "lr", "epochs", "batch", "limit", "loss", "data"),
            ("accuracy", "cost"),
            "test accuracy after EPOCHS epochs of training",
        ),
        Measure(
            "diagnosis",
            measure_diagnosis,
            (*_COMMON, "preprocess", "samples", "lr"),
            ("verdict", "ratio_to_last"),
            "diagnose() verdict on a fresh network",
            {"lr": 0.1},
        ),
        Measure(
            "toy",
            measure_toy,
            (*_COMMON, "fail", "sleep"),
            ("first", "last", "ratio"),
            "synthetic numbers for testing the machinery (fail, sleep)",
        ),
    )
}


def run_cell(params: Params) -> dict[str, Any]:
    """Measure one cell: ``params["measure"]`` names the measure, the rest are its settings."""
    name = params.get("measure")
    measure = MEASURES.get(str(name))
    if measure is None:
        raise KeyError(_("unknown measure {name!r}; choose one of: {choices}").format(
            name=name, choices=", ".join(MEASURES)))
    return measure.fn(params)
