"""A labelled set of networks on the embedded MNIST sample: the diagnosis must match the label.

Each scenario is labelled from what training it shows — accuracy and cost after a short run,
how far each layer's weights move, non-finite numbers, the size of one step — by `label`
below, which never calls the diagnosis. Then the diagnosis is asserted: verdict, the finding
behind it (its rule, layer and numbers), and the advice (the flags it must and must not offer).
The table in docs/lab.md lists these scenarios with the numbers this file measures.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from chainrule.data import load_sample
from chainrule.graph import no_grad
from chainrule.lab.diagnosis import Diagnosis, diagnose
from chainrule.lab.flow import cost, load_inputs, make_model
from chainrule.nn.training import TrainConfig, Trainer
from chainrule.optim import SGD
from chainrule.tensor import tensor

KNEE = {"sigmoid": 4.0, "tanh": 2.0}


@dataclass
class Observed:
    """What a short training run shows (two epochs over 4,000 images; input side first)."""

    accuracy: float
    cost_start: float
    cost_end: float
    nonfinite: bool
    spike: float  # the largest mini-batch cost during the run over the starting cost
    first_step: float  # ‖ΔW‖/‖W‖ of the very first step, whole network
    moved: list[float]  # ‖W_end − W_start‖/‖W_start‖ per layer
    bias_moved: list[float]  # ‖b_end − b_start‖ per layer: Nielsen's speed, summed over steps
    dead: list[float]  # per hidden relu layer: share of units silent on every example
    saturated: list[float]  # per hidden sigmoid/tanh layer: share of |z| past the knee

    @property
    def speed(self) -> float:
        """How far the first layer's biases moved over the run, next to the output layer's."""
        return self.bias_moved[0] / self.bias_moved[-1] if self.bias_moved[-1] > 0 else 0.0


def _weights(model: Any) -> list[np.ndarray]:
    return [lin.weight.data.copy() for lin in model.linears]


def observe(model: Any, preprocess: str, loss: str, lr: float, samples: int = 4000,
            batch: int = 10, epochs: int = 2) -> Observed:
    """Train a copy with mini-batch SGD and measure (does not touch ``model``)."""
    model = copy.deepcopy(model)
    data = load_sample().preprocess(preprocess)
    x, y = data.train_x[:samples], data.train_y[:samples].astype(np.int64)
    test_x, test_y = tensor(data.test_x), data.test_y
    act = model.activation
    with np.errstate(all="ignore"), no_grad():
        zs = [z.data for z, _ in model.forward_trace(tensor(x[:1000]))][:-1]
        c0 = cost(model(tensor(x[:1000])), y[:1000], loss).item()
    dead = [float((z.max(axis=0) <= 0).mean()) for z in zs] if act in ("relu",) else []
    saturated = [float((np.abs(z) > KNEE[act]).mean()) for z in zs] if act in KNEE else []
    start = _weights(model)
    biases = [lin.bias.data.copy() for lin in model.linears]
    opt = SGD(model.parameters(), lr)
    rng = np.random.default_rng(0)
    first_step = math.nan
    nonfinite = False
    top = 0.0
    steps = [(rng.permutation(samples), s) for _ in range(epochs) for s in range(0, samples, batch)]
    with np.errstate(all="ignore"):
        for k, (order, s) in enumerate(steps):
            idx = order[s: s + batch]
            opt.zero_grad()
            c = cost(model(tensor(x[idx])), y[idx], loss)
            top = max(top, c.item())
            c.backward()
            opt.step()
            if k == 0:
                now = _weights(model)
                first_step = math.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(now, start,
                                                                              strict=True))
                                       / sum((b ** 2).sum() for b in start))
            if not all(np.isfinite(w).all() for w in _weights(model)):
                nonfinite = True
                break
        with no_grad():
            out = model(test_x).data
            c1 = cost(model(tensor(x[:1000])), y[:1000], loss).item()
    end = _weights(model)
    moved = [float(np.linalg.norm(a - b) / np.linalg.norm(b)) for a, b in zip(end, start,
                                                                               strict=True)]
    bias_moved = [float(np.linalg.norm(lin.bias.data - b)) for lin, b in zip(model.linears, biases,
                                                                               strict=True)]
    nonfinite = nonfinite or not np.isfinite(out).all() or not math.isfinite(c1)
    accuracy = float((out.argmax(axis=1) == test_y).mean()) if not nonfinite else 0.0
    return Observed(accuracy, c0, c1, nonfinite, top / c0, first_step, moved, bias_moved, dead,
                    saturated)


def label(o: Observed) -> str:
    """The condition a short training run shows; written without the diagnosis' rules."""
    if o.nonfinite or o.first_step > 1.0 or o.cost_end > 1.5 * o.cost_start:
        return "exploding"
    if o.accuracy >= 0.6:
        return "healthy"
    if any(d >= 0.5 for d in o.dead):
        return "dead units"
    for i, share in enumerate(o.saturated):
        # Past the knee, and the layer's biases hardly move next to the following layer's, or
        # its weights hardly move at all.
        if share >= 0.5 and (o.bias_moved[i] < o.bias_moved[i + 1] / 20 or o.moved[i] < 0.05):
            return "saturated"
    if o.spike > 5.0:
        return "exploding"  # mini-batch costs jump: the steps overshoot
    if max(o.moved) < 0.01 and (o.cost_start - o.cost_end) / o.cost_start < 0.02:
        return "lr too small"
    if o.speed < 1 / 50:
        return "vanishing"
    return "unclear"


@dataclass
class Scenario:
    name: str
    sizes: tuple[int, ...]
    activation: str = "sigmoid"
    init: str = "nielsen"
    weight_scale: float = 1.0
    preprocess: str = "scale"
    loss: str = "cross-entropy"
    lr: float = 0.1
    tamper: str | None = None
    flags: tuple[str, ...] = ()  # advice that must be offered (a substring of some flags)
    rule: str | None = None  # the rule of the finding behind the verdict
    not_flags: tuple[str, ...] = field(default=())

    def model(self) -> Any:
        model = make_model(self.sizes, self.activation, self.init, 0, self.weight_scale,
                           self.loss)
        if self.tamper == "dead-biases":
            model.linears[1].bias.data[:] = -100.0
        elif self.tamper == "nan":
            model.linears[1].weight.data[0, 0] = np.nan
        return model


FRESH = [
    Scenario("sigmoid 784-30-10, Nielsen's init", (784, 30, 10)),
    Scenario("sigmoid 784-30-30-10, Nielsen's init", (784, 30, 30, 10)),
    Scenario("wide sigmoid 784-300-100-10", (784, 300, 100, 10)),
    Scenario("tanh + xavier 784-100-100-10", (784, 100, 100, 10), "tanh", "xavier"),
    Scenario("deep tanh + xavier 784-100×5-10", (784, *[100] * 5, 10), "tanh", "xavier"),
    Scenario("relu + he 784-100-100-10", (784, 100, 100, 10), "relu", "he", loss="softmax"),
    Scenario("deep relu + he 784-64×6-10", (784, *[64] * 6, 10), "relu", "he", loss="softmax"),
    Scenario("Nielsen's deep sigmoid 784-30×4-10", (784, 30, 30, 30, 30, 10),
             rule="vanishing", flags=("--activation relu --init he", "--sizes 784,30,30,10")),
    Scenario("deeper sigmoid 784-30×6-10", (784, *[30] * 6, 10), rule="vanishing",
             flags=("--activation tanh --init xavier",)),
    Scenario("large weights: relu + he ×3, 784-50×7-10", (784, *[50] * 7, 10), "relu", "he",
             weight_scale=3.0, loss="softmax", rule="growth", flags=("--weight-scale 1",)),
    Scenario("learning rate 500: one step larger than the weights", (784, 30, 10), lr=500.0,
             rule="step-size", flags=("--lr 0.05",)),
    Scenario("a NaN planted in layer 2", (784, 30, 30, 10), tamper="nan", rule="nonfinite"),
    Scenario("saturated: nielsen-large on raw pixels", (784, 30, 30, 10), init="nielsen-large",
             preprocess="raw", rule="saturation",
             flags=("--preprocess scale", "--init nielsen")),
    Scenario("unscaled 0..255 inputs, sigmoid", (784, 30, 10), preprocess="raw",
             rule="saturation", flags=("--preprocess scale",)),
    Scenario("unscaled 0..255 inputs, tanh + xavier", (784, 30, 30, 10), "tanh", "xavier",
             preprocess="raw", rule="saturation", flags=("--preprocess scale",)),
    Scenario("unscaled 0..255 inputs, relu + he", (784, 100, 100, 10), "relu", "he",
             preprocess="raw", loss="softmax", rule="step-size",
             flags=("--preprocess scale",)),
    Scenario("saturated: sigmoid weights ×100", (784, 30, 30, 10), weight_scale=100.0,
             rule="saturation", flags=("--weight-scale 1",)),
    Scenario("large weights: relu + he ×5, 784-100-100-10", (784, 100, 100, 10), "relu", "he",
             weight_scale=5.0, loss="softmax", rule="trial", flags=("--weight-scale 1",)),
    Scenario("large weights: relu + he ×1.5, 784-50×7-10", (784, *[50] * 7, 10), "relu",
             "he", weight_scale=1.5, loss="softmax", rule="trial"),
    Scenario("learning rate 2, relu + he", (784, 100, 10), "relu", "he", loss="softmax",
             lr=2.0, rule="trial", flags=("--lr 0.2",)),
    Scenario("dead relu units: layer-2 biases at −100", (784, 64, 64, 10), "relu", "he",
             loss="softmax", tamper="dead-biases", rule="dead",
             flags=("--activation leaky_relu",), not_flags=("--lr",)),
    Scenario("learning rate 1e-5", (784, 30, 10), lr=1e-5, rule="step-size",
             flags=("--lr 0.02",)),
    Scenario("learning rate 1e-6, relu + he", (784, 100, 10), "relu", "he", loss="softmax",
             lr=1e-6, rule="step-size"),
]


@pytest.fixture(scope="module")
def sample() -> Any:
    return load_sample()


def _diagnose(s: Scenario, model: Any, **kw: Any) -> Diagnosis:
    x, y, _ = load_inputs(s.sizes, 1000, s.preprocess)
    return diagnose(model, x, y, lr=s.lr, loss=s.loss, init=s.init, preprocess=s.preprocess,
                    weight_scale=s.weight_scale, **kw)


def _check_advice(d: Diagnosis, s: Scenario) -> None:
    flags = [sug.flags for sug in d.suggestions]
    for wanted in s.flags:
        assert any(wanted in f for f in flags), (wanted, flags)
    for unwanted in s.not_flags:
        assert not any(unwanted in f for f in flags), (unwanted, flags)
    current = {"activation": s.activation, "init": s.init, "preprocess": s.preprocess,
               "lr": s.lr, "weight_scale": s.weight_scale, "sizes": s.sizes}
    for sug in d.suggestions:
        assert sug.why and sug.flags.startswith("--")
        for change in sug.changes:
            assert change.new != current.get(change.setting), f"suggests the current {change}"
    lr_moves = {np.sign(c.new - c.old) for sug in d.suggestions for c in sug.changes
                if c.setting == "lr"}
    assert len(lr_moves) <= 1, "advises both raising and lowering the learning rate"


@pytest.mark.parametrize("s", FRESH, ids=[s.name for s in FRESH])
def test_fresh_scenario(s: Scenario) -> None:
    model = s.model()
    observed = observe(model, s.preprocess, s.loss, s.lr)
    truth = label(observed)
    d = _diagnose(s, model)
    assert d.verdict == truth, (truth, observed, [f.message for f in d.findings])
    if truth == "healthy":
        assert not [f for f in d.findings if f.severity == "problem"]
        return
    behind = [f for f in d.findings if f.severity == "problem" and f.verdict == truth]
    assert behind and (s.rule is None or any(f.rule == s.rule for f in behind)), d.findings
    assert all(f.numbers or f.rule == "nonfinite" for f in behind)
    _check_advice(d, s)


def test_lr_advice_follows_the_measured_step() -> None:
    tiny = next(s for s in FRESH if s.lr == 1e-5)
    huge = next(s for s in FRESH if s.lr == 500.0)
    up = _diagnose(tiny, tiny.model()).suggestions[0].changes[0]
    down = _diagnose(huge, huge.model()).suggestions[0].changes[0]
    assert (up.setting, down.setting) == ("lr", "lr")
    assert up.new > tiny.lr and down.new < huge.lr


def test_nan_names_the_first_layer(sample: Any) -> None:
    s = next(s for s in FRESH if s.tamper == "nan")
    d = _diagnose(s, s.model())
    assert d.first_nonfinite == "2" and d.verdict == "exploding"
    assert "layer 2" in d.findings[0].message


# ------------------------------------------------------------------------------ trained nets

TRAINED = [
    # (name, TrainConfig overrides, expected label)
    ("chainrule train defaults, 784-30-10", dict(sizes=(784, 30, 10), epochs=4)),
    ("sigmoid 784-30-30-10, bce lr 0.5", dict(sizes=(784, 30, 30, 10), loss="bce", lr=0.5,
                                               epochs=4)),
    ("relu + he 784-100-10, softmax", dict(sizes=(784, 100, 10), activation="relu", init="he",
                                           loss="softmax", lr=0.1, epochs=3)),
    ("relu + he 784-256-10, adam", dict(sizes=(784, 256, 10), activation="relu", init="he",
                                        loss="softmax", optimizer="adam", lr=0.001, epochs=3)),
    ("Nielsen's deep sigmoid after 3 epochs", dict(sizes=(784, 30, 30, 30, 30, 10), loss="bce",
                                                   lr=0.1, epochs=3)),
]
_LAB_LOSS = {"quadratic": "quadratic", "bce": "cross-entropy", "softmax": "softmax"}


def _train(sample: Any, overrides: dict[str, Any]) -> tuple[Trainer, Any, list[float]]:
    config = TrainConfig(**overrides)
    trainer = Trainer(config, sample)
    start = [lin.bias.data.copy() for lin in trainer.model.linears]
    result = trainer.run(handle_sigint=False)
    moved = [float(np.linalg.norm(lin.bias.data - b))
             for lin, b in zip(trainer.model.linears, start, strict=True)]
    return trainer, result, moved


@pytest.mark.parametrize("name,overrides", TRAINED, ids=[t[0] for t in TRAINED])
def test_trained_scenario(sample: Any, name: str, overrides: dict[str, Any]) -> None:
    trainer, result, moved = _train(sample, overrides)
    accuracy = [h.test_accuracy for h in result.history]
    # The label, from the run itself: fits (≥ 75% test accuracy) or stalls with the first
    # layer's biases hardly moving next to the output layer's (Nielsen's speed, integrated).
    if accuracy[-1] >= 0.75:
        truth = "healthy"
    else:
        assert moved[0] / moved[-1] < 1 / 50, moved
        truth = "vanishing"
    c = trainer.config
    x, y, _ = load_inputs(c.sizes, 1000, c.preprocess)
    d = diagnose(trainer.model, x, y, lr=c.lr, loss=_LAB_LOSS[c.loss], init=c.init,
                 preprocess=c.preprocess, history=result.history, optimizer=c.optimizer)
    assert d.verdict == truth, [f.message for f in d.findings]
    if truth == "healthy":
        # A confident classifier's saturated outputs are a note, never a problem.
        assert all(f.severity in ("ok", "note") for f in d.findings), d.findings
    else:
        assert any("stopped falling" in f.message for f in d.findings)
    # Diagnosed without its history (and then without its learning rate and optimizer either),
    # a fitting net is still healthy.
    if truth == "healthy":
        for kw in ({"lr": c.lr, "optimizer": c.optimizer}, {}):
            bare = diagnose(trainer.model, x, y, loss=_LAB_LOSS[c.loss], **kw)
            assert bare.verdict == "healthy", [f.message for f in bare.findings]
