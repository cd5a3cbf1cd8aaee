"""The verdict engine: per-layer measurements in, findings, a verdict and structured advice out.

A pure function of numbers, so a `chainrule.nn` model, a PyTorch model or a recording made
during training are judged by the same rules; only the way the numbers are taken differs.

Measurements (one `LayerMeasures` per layer that owns parameters, input side first):

- ``speed``: ‖∂C/∂b‖ for the cost averaged over the batch — Nielsen's "speed of learning" of
  the layer (the size of the error δ that reaches it). ``ratio_to_last`` = speed / the output
  layer's speed. (Measured on the embedded MNIST sample, this ratio separates the networks that
  train from those that stall better than the per-unit RMS ``grad_rms`` or the update ratios do:
  every sigmoid net that reached 75% within two epochs had ≥ 1/26, every one that stayed at
  chance had ≤ 1/120, whatever the widths.)
- ``update_ratio``: ‖ΔW‖/‖W‖ of the next optimizer step (SGD: lr·‖∂C/∂W‖/‖W‖).
- ``saturated_fraction`` (sigmoid, tanh): the share of (example, unit) pairs past the knee of the
  activation, where its slope is under 7% of its maximum (|z| > 4 for σ, > 2 for tanh).
- ``dead_fraction`` (ReLU family): the share of units with z ≤ 0 for every example of the batch.

Rules (each gives a `Finding` with a severity ok < note < warning < problem; the verdict is the
worst problem, ties broken by `VERDICTS` order, and ``healthy`` when there is none):

1. **Non-finite** numbers anywhere: problem, ``exploding``.
1b. **Trial run**: a short run of mini-batch SGD on a copy (when the measuring side makes one)
   that reaches NaN/Inf, or whose largest mini-batch cost exceeds `TRIAL_SPIKE` (5×) the
   starting cost: problem, ``exploding``. One full-batch gradient underestimates a mini-batch
   step; the trial sees what training will do (relu nets with weights ×1.5 reach NaN in five
   steps at lr 0.1 while their full-batch step looks small).
2. **Step size**: a step that changes the network's weights by more than `STEP_TOO_LARGE` (1×)
   their size (‖Δθ‖/‖θ‖ over all weight matrices): problem, ``exploding``. A single layer's
   larger step is only a note: at the start the output layer of a wide network takes steps of
   2× its (small) weights at lr 0.5 and trains well.
3. **Gradient growth**: the first layer's speed above `EXPLODING_RATIO` (100×) the output
   layer's: problem, ``exploding`` (above `GROWTH_WARNING`, 10×: warning).
4. **Dead units** (hidden ReLU layers, only judged on at least `MIN_DEAD_SAMPLES` examples —
   a unit silent on ten examples may fire on the eleventh): `DEAD_PROBLEM` (50%) or more dead
   is a problem, ``dead units``; `DEAD_WARNING` (10%) a warning.
5. **Saturation is a disease only where it starves**. A hidden sigmoid/tanh layer with
   `SATURATED_FRACTION` (50%) or more of its inputs past the knee is a problem (``saturated``)
   when it starves: its speed is below `STARVED_STEP` (1/20) of the next layer's (a healthy
   sigmoid layer passes about 1/4–1/5 of it back, Nielsen's factor), or its activation lets
   through less than `MIN_SLOPE` (10%) of its largest slope on average — and the network does not
   fit its data. Otherwise it is a note. Output-layer saturation of a classifier that fits its data
   (accuracy ≥ `FITS_ACCURACY`) is confidence, not a disease: a note. It is a problem only with
   the quadratic cost while the network does not fit: σ'(z) then slows the output layer itself
   (Nielsen ch. 3), which the cross-entropy cost cancels.
6. **Vanishing**: the first layer's speed below `VANISHING_RATIO` (1/50) of the output
   layer's. Every sigmoid network has some of this (about 1/4 per layer), so it is a problem only
   when it hurts: without training history, below the threshold; with history, only if learning
   has stalled (`stalled`); a network that fits its data gets a note instead.
7. **Learning rate too small**: every layer's update ratio below `STEP_TOO_SMALL` (1e-4) — a
   problem (``lr too small``) on a fresh network or one whose loss is flat; a network whose
   history shows it fits its data is simply converging.
8. **Unscaled inputs** (|x| up to more than `RAW_INPUT` = 10): a warning that names
   preprocessing, whatever else is found.

Advice (`Suggestion`) is structured — which settings change, from → to, the CLI flags and API
arguments that do it, and why — built only from settings the project offers, never the current
one, and the learning rate moves in the direction the measured update ratio says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from chainrule.i18n import N_, _, ngettext, number

__all__ = [
    "ACTIVATIONS",
    "DEAD_PROBLEM",
    "DEAD_WARNING",
    "EXPLODING_RATIO",
    "FITS_ACCURACY",
    "INITS",
    "MIN_DEAD_SAMPLES",
    "MIN_SLOPE",
    "PREPROCESSINGS",
    "SATURATED_FRACTION",
    "SATURATION_Z",
    "SEVERITIES",
    "STARVED_STEP",
    "STEP_TOO_LARGE",
    "STEP_TOO_SMALL",
    "TRIAL_SPIKE",
    "VANISHING_RATIO",
    "VERDICTS",
    "Change",
    "Context",
    "Finding",
    "History",
    "Judgement",
    "LayerMeasures",
    "Setup",
    "Suggestion",
    "advise",
    "judge",
    "network_step",
    "thresholds",
]

VERDICTS: tuple[str, ...] = (
    "healthy", "exploding", "dead units", "saturated", "vanishing", "lr too small")
SEVERITIES: tuple[str, ...] = ("ok", "note", "warning", "problem")

# Settings the project offers (flags of `chainrule train`, `diagnose`, `vanishing`, the web page).
ACTIVATIONS: tuple[str, ...] = ("sigmoid", "tanh", "relu", "leaky_relu")
INITS: tuple[str, ...] = ("nielsen-large", "nielsen", "xavier", "he", "uniform")
PREPROCESSINGS: tuple[str, ...] = ("raw", "scale", "standardize")

SATURATION_Z: dict[str, float] = {"sigmoid": 4.0, "tanh": 2.0}
SATURATED_FRACTION = 0.5
STARVED_STEP = 1.0 / 20.0
DEAD_PROBLEM = 0.5
DEAD_WARNING = 0.1
MIN_DEAD_SAMPLES = 100
# Measured at lr 0.1 on the embedded sample: nets that learn have ≥ 1/26, Nielsen's
# 784-30-30-30-10 (which stays near chance for three epochs at lr 0.1) about 1/98.
VANISHING_RATIO = 1.0 / 50.0
EXPLODING_RATIO = 1e2
GROWTH_WARNING = 10.0
STEP_TOO_LARGE = 1.0
STEP_TOO_SMALL = 1e-4
# Where a corrected learning rate aims: the largest layer's update ratio of a fresh network that
# trains well at lr 0.1 here is 0.1–0.5 (the output layer): aim at the low end.
STEP_TARGET = 0.1
# Raising is done more carefully: relu + softmax nets train well with their largest ratio
# near 0.01, sigmoid + cross-entropy ones near 0.1; 0.03 lands inside both bands.
STEP_RAISE_TARGET = 0.03
FITS_ACCURACY = 0.8
STALLED_DROP = 0.05
RAW_INPUT = 10.0
# A trial's largest mini-batch cost over its starting cost: healthy nets stay under 2× (sigmoid
# nets at lr 0.5 included); relu nets with weights ×5 or lr 2 jump 10–40×.
TRIAL_SPIKE = 5.0
# A saturated layer whose activation passes on average under 10% of its maximum slope hardly
# learns even when large weights carry the gradient through (sigmoid weights ×100: 2–5%).
MIN_SLOPE = 0.1

_RELU_FAMILY = ("relu", "leaky_relu", "gelu")


def thresholds() -> dict[str, float]:
    """Every threshold the rules use, by name (reported with each result)."""
    return {
        "saturation_z_sigmoid": SATURATION_Z["sigmoid"],
        "saturation_z_tanh": SATURATION_Z["tanh"],
        "saturated_fraction": SATURATED_FRACTION,
        "starved_step": STARVED_STEP,
        "dead_problem": DEAD_PROBLEM,
        "dead_warning": DEAD_WARNING,
        "min_dead_samples": MIN_DEAD_SAMPLES,
        "vanishing_ratio": VANISHING_RATIO,
        "exploding_ratio": EXPLODING_RATIO,
        "step_too_large": STEP_TOO_LARGE,
        "step_too_small": STEP_TOO_SMALL,
        "fits_accuracy": FITS_ACCURACY,
        "stalled_drop": STALLED_DROP,
        "raw_input": RAW_INPUT,
        "trial_spike": TRIAL_SPIKE,
        "min_slope": MIN_SLOPE,
    }


# ------------------------------------------------------------------------------ inputs


@dataclass
class LayerMeasures:
    """One parameterised layer's numbers (see the module docstring); ``None`` = not measured."""

    name: str
    units: int
    inputs: int | None
    activation: str | None
    weight_norm: float
    weight_grad_norm: float
    bias_grad_norm: float | None
    speed: float
    grad_rms: float
    update_ratio: float | None
    saturated_fraction: float | None = None
    dead_fraction: float | None = None
    nonfinite: bool = False
    # sigmoid/tanh: mean of act'(z) over its maximum, the share of the gradient the layer's
    # activation lets through on average (1 for z = 0 everywhere).
    slope: float | None = None
    bias_mean: float | None = None
    index: int = 0
    ratio_to_last: float | None = None
    frozen: bool = False  # no parameter takes gradients: left out of the rules
    # Feeds a normalisation (BatchNorm, LayerNorm): its ∂C/∂b is 0 by construction, since the
    # norm removes any shift, so its speed is not comparable and it is left out of the ratios.
    normalized: bool = False


@dataclass(frozen=True)
class History:
    """What training has shown so far: one entry per epoch (or per recorded step)."""

    cost: tuple[float, ...] = ()
    accuracy: tuple[float, ...] = ()

    @property
    def fits(self) -> bool:
        return bool(self.accuracy) and _finite(self.accuracy[-1]) \
            and self.accuracy[-1] >= FITS_ACCURACY

    @property
    def diverged(self) -> bool:
        return any(not _finite(c) for c in self.cost) or (
            len(self.cost) > 1 and self.cost[-1] > 1.5 * self.cost[0])

    @property
    def stalled(self) -> bool:
        """Not fitting, and the cost fell by less than `STALLED_DROP` over the history."""
        if self.fits or len(self.cost) < 2 or not all(_finite(c) for c in self.cost):
            return False
        first, last = self.cost[0], self.cost[-1]
        return first <= 0.0 or (first - last) / first < STALLED_DROP


@dataclass(frozen=True)
class Setup:
    """How the network was set up, where known (``None`` = unknown: no advice depends on it)."""

    sizes: tuple[int, ...] | None = None
    activation: str | None = None
    init: str | None = None
    loss: str | None = None
    preprocess: str | None = None
    weight_scale: float = 1.0
    lr: float | None = None
    optimizer: str = "sgd"


@dataclass
class Context:
    """Whole-network measurements that go with the layers."""

    samples: int = 0
    accuracy: float | None = None
    input_max_abs: float | None = None
    # Where NaN/Inf first appears: forward order first (weights, weighted inputs), then backward.
    first_nonfinite: str | None = None
    # A short trial run on a copy (`chainrule.lab.diagnosis.trial`): mini-batch SGD at the
    # setup's learning rate. Step at which the cost stopped being finite, and the largest
    # mini-batch cost over the starting cost.
    trial_steps: int = 0
    trial_batch: int = 0
    trial_nonfinite_step: int | None = None
    trial_spike: float | None = None


# ------------------------------------------------------------------------------ outputs


@dataclass(frozen=True)
class Change:
    setting: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Suggestion:
    """One fix: the settings it changes, how to ask for it, and why."""

    changes: tuple[Change, ...]
    why: str
    addresses: str
    how: str = ""  # the same change in another framework's terms (the PyTorch adapter's)

    @property
    def flags(self) -> str:
        """The command-line flags (for `chainrule train`, `diagnose` and `vanishing`)."""
        return " ".join(f"--{c.setting.replace('_', '-')} {_value_text(c.new)}"
                        for c in self.changes)

    @property
    def arguments(self) -> str:
        """The same as keyword arguments (`chainrule.diagnose`, `TrainConfig`, the web API)."""
        return ", ".join(f"{c.setting}={c.new!r}" for c in self.changes)

    @property
    def summary(self) -> str:
        return "; ".join(f"{c.setting} {_value_text(c.old)} → {_value_text(c.new)}"
                         for c in self.changes)

    def __str__(self) -> str:
        return f"{self.summary} ({self.flags}): {self.why}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": [asdict(c) for c in self.changes],
            "flags": self.flags,
            "arguments": self.arguments,
            "summary": self.summary,
            "why": self.why,
            "addresses": self.addresses,
            "how": self.how,
            "text": str(self),
        }


@dataclass(frozen=True)
class Finding:
    """One observation: its rule, severity, the verdict it argues for, layers and numbers."""

    rule: str
    severity: str
    verdict: str | None
    message: str
    layers: tuple[str, ...] = ()
    numbers: Mapping[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "verdict": self.verdict,
                "message": self.message, "layers": list(self.layers),
                "numbers": dict(self.numbers)}


@dataclass
class Judgement:
    verdict: str
    findings: list[Finding]
    suggestions: list[Suggestion]
    first_nonfinite: str | None


# ------------------------------------------------------------------------------ the rules


def judge(layers: Sequence[LayerMeasures], setup: Setup | None = None,
          history: History | None = None, context: Context | None = None) -> Judgement:
    """Findings, verdict and advice for ``layers`` (input side first; the last is the output).

    Fills in each layer's ``index`` (from 1) and ``ratio_to_last``.
    """
    if not layers:
        raise ValueError(_("nothing to judge: no layer with parameters"))
    setup = setup or Setup()
    context = context or Context()
    for i, layer in enumerate(layers, start=1):
        layer.index = i
    everything = list(layers)
    layers = [layer for layer in layers if not (layer.frozen or layer.normalized)] or everything
    last = layers[-1].speed
    for layer in layers:
        layer.ratio_to_last = layer.speed / last if last > 0.0 and _finite(last) \
            and _finite(layer.speed) else None
    rules = (_nonfinite, _trial, _growth, _step_size, _dead, _saturation, _vanishing, _lr_small,
             _inputs)
    findings = [f for rule in rules for f in rule(layers, history, context, setup)]
    findings = _consequences(findings)
    problems = [f for f in findings if f.severity == "problem" and f.verdict]
    verdict = min((f.verdict for f in problems if f.verdict), key=VERDICTS.index,
                  default="healthy")
    if not findings:
        findings.append(Finding("flow", "ok", None, _("Gradients reach every layer at a useful "
                                                      "size; no step is too large or too "
                                                      "small.")))
    first_bad = context.first_nonfinite or next(
        (layer.name for layer in layers if layer.nonfinite), None)
    return Judgement(verdict, findings, advise(findings, layers, setup, history), first_bad)


def _consequences(findings: list[Finding]) -> list[Finding]:
    """A vanishing first layer behind a dead or starving layer is that layer's consequence,
    not a second disease: keep it as a note, so the advice treats the cause. So are the cost
    jumps of a trial run (without NaN) through saturated layers, whose units flip between 0
    and 1 in one step: a warning."""
    causes = [f for f in findings if f.severity == "problem" and f.rule in ("dead", "saturation")]
    if not causes:
        return findings
    cause = causes[0]
    tail = " " + _("This follows from layer {layer} ({verdict}).").format(
        layer=cause.layers[0], verdict=verdict_text(cause.verdict))
    out = []
    for f in findings:
        if f.rule == "vanishing" and f.severity in ("problem", "warning"):
            f = replace(f, severity="note", verdict=None, message=f.message + tail)
        elif f.rule == "trial" and "spike" in f.numbers and cause.rule == "saturation":
            f = replace(f, severity="warning", message=f.message + tail)
        out.append(f)
    return out


def _fit(history: History | None, context: Context) -> float | None:
    """The accuracy that shows the network fits its data (history first, then the batch)."""
    if history is not None and history.fits:
        return history.accuracy[-1]
    if context.accuracy is not None and context.accuracy >= FITS_ACCURACY:
        return context.accuracy
    return None


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _ratio_text(r: float) -> str:
    if r <= 0.0:
        return "0×"
    return number(r, ".3g") + "×" if r >= 1.0 else "1/" + number(1.0 / r, ".3g")


# Verdict words are identifiers (Diagnosis.verdict, --json); people read them translated.
_VERDICT_WORDS = {"healthy": N_("healthy"), "exploding": N_("exploding"),
                  "dead units": N_("dead units"), "saturated": N_("saturated"),
                  "vanishing": N_("vanishing"), "lr too small": N_("lr too small")}
_SEVERITY_WORDS = {"ok": N_("ok"), "note": N_("note"), "warning": N_("warning"),
                   "problem": N_("problem")}


def verdict_text(verdict: str | None) -> str:
    """A verdict word for people, in the active language (the identifier itself never changes)."""
    if verdict is None:
        return ""
    word = _VERDICT_WORDS.get(verdict)
    return verdict if word is None else _(word)


def severity_text(severity: str) -> str:
    """A severity word for people, in the active language."""
    word = _SEVERITY_WORDS.get(severity)
    return severity if word is None else _(word)


def _value_text(v: Any) -> str:
    if v is None:
        return "?"  # a setting the diagnosis was not told (e.g. a PyTorch model's init)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (tuple, list)):
        return ",".join(map(str, v))
    return str(v)


def _names(layers: Sequence[LayerMeasures]) -> tuple[str, ...]:
    return tuple(layer.name for layer in layers)



def _nonfinite(layers: Sequence[LayerMeasures], history: History | None, context: Context,
               setup: Setup) -> list[Finding]:
    broken = [layer for layer in layers if layer.nonfinite]
    if not broken:
        return []
    first = context.first_nonfinite or broken[0].name
    return [Finding(
        "nonfinite", "problem", "exploding",
        ngettext("NaN or Inf first appears in layer {first} (weights, weighted inputs or "
                 "gradients; {count} layer affected): the numbers have already blown up.",
                 "NaN or Inf first appears in layer {first} (weights, weighted inputs or "
                 "gradients; {count} layers affected): the numbers have already blown up.",
                 len(broken)).format(first=first, count=len(broken)),
        _names(broken))]


def network_step(layers: Sequence[LayerMeasures]) -> float | None:
    """‖Δθ‖/‖θ‖ over every weight matrix: how much one step changes the whole network."""
    pairs = [(layer.update_ratio * layer.weight_norm, layer.weight_norm) for layer in layers
             if _finite(layer.update_ratio) and _finite(layer.weight_norm)
             and layer.update_ratio is not None]
    total = math.sqrt(sum(w * w for _, w in pairs))
    if not pairs or total <= 0.0:
        return None
    return math.sqrt(sum(d * d for d, _ in pairs)) / total


def _step_size(layers: Sequence[LayerMeasures], history: History | None, context: Context,
               setup: Setup) -> list[Finding]:
    steps = [layer for layer in layers if _finite(layer.update_ratio)]
    big = [layer for layer in steps if (layer.update_ratio or 0.0) > STEP_TOO_LARGE]
    if not big:
        return []
    worst = max(big, key=lambda layer: layer.update_ratio or 0.0)
    whole = network_step(layers)
    numbers = {"max_update_ratio": worst.update_ratio, "network_step": whole}
    if whole is not None and whole > STEP_TOO_LARGE:
        return [Finding(
            "step-size", "problem", "exploding",
            _("One step would change the network's weights by {whole}× their size (layer "
              "{layer}'s by {ratio}×; more than {limit}×): training diverges.").format(
                whole=number(whole, ".3g"), layer=worst.name,
                ratio=number(worst.update_ratio or 0.0, ".3g"),
                limit=number(STEP_TOO_LARGE, "g")), _names(big), numbers)]
    return [Finding(
        "step-size", "note", None,
        _("One step would change layer {layer}'s weights by {ratio}× their size, the whole "
          "network's by {whole}×: large for that layer, not for the network.").format(
            layer=worst.name, ratio=number(worst.update_ratio or 0.0, ".3g"),
            whole=number(whole or 0.0, ".2g")), _names(big), numbers)]


def _trial(layers: Sequence[LayerMeasures], history: History | None, context: Context,
           setup: Setup) -> list[Finding]:
    if not context.trial_steps:
        return []
    where = _("A trial of {steps} SGD steps on a copy (batch {batch}, lr {lr})").format(
        steps=context.trial_steps, batch=context.trial_batch, lr=number(setup.lr or 0.0, "g"))
    if context.trial_nonfinite_step is not None:
        return [Finding("trial", "problem", "exploding", where + _(
            " reached NaN/Inf at step {step}: training diverges.").format(
                step=context.trial_nonfinite_step), (),
            {"nonfinite_step": float(context.trial_nonfinite_step)})]
    spike = context.trial_spike
    if spike is None or spike <= TRIAL_SPIKE:
        return []
    text = where + _(" saw a mini-batch cost {spike}× the starting cost").format(
        spike=number(spike, ".3g"))
    if _fit(history, context) is not None:
        # A network that fits its data has a small mean cost and a few hard examples that
        # cost far more: a batch holding them is no sign of divergence.
        return [Finding("trial", "note", None, text + _(
            ": expected for a network that fits its data, where a few hard examples cost far "
            "more than the mean."), (), {"spike": spike})]
    return [Finding("trial", "problem", "exploding", text + _(
        ": the steps overshoot (unstable above {limit}×).").format(
            limit=number(TRIAL_SPIKE, "g")), (), {"spike": spike})]


def _growth(layers: Sequence[LayerMeasures], history: History | None, context: Context,
            setup: Setup) -> list[Finding]:
    ratio = layers[0].ratio_to_last
    if len(layers) < 2 or ratio is None or ratio <= GROWTH_WARNING:
        return []
    severity = "problem" if ratio > EXPLODING_RATIO else "warning"
    return [Finding(
        "growth", severity, "exploding",
        _("Layer {layer}'s ‖∂C/∂b‖ is {ratio} the output layer's: the gradient grows on its "
          "way back (about {per} per layer; exploding above {limit}×).").format(
            layer=layers[0].name, ratio=_ratio_text(ratio),
            per=_ratio_text(_per_layer(ratio, layers)), limit=number(EXPLODING_RATIO, "g")),
        (layers[0].name,), {"first_over_last": ratio})]


def _per_layer(ratio: float, layers: Sequence[LayerMeasures]) -> float:
    return ratio ** (1.0 / (len(layers) - 1)) if ratio > 0.0 else 0.0


def _dead(layers: Sequence[LayerMeasures], history: History | None, context: Context,
          setup: Setup) -> list[Finding]:
    out: list[Finding] = []
    for layer in layers[:-1]:
        dead = layer.dead_fraction
        if dead is None or dead <= 0.0:
            continue
        numbers = {"dead_fraction": dead, "bias_mean": layer.bias_mean}
        text = _("Layer {layer}: {dead} of its {activation} units are silent (z ≤ 0) for all "
                 "{samples} examples, so their gradient is 0").format(
            layer=layer.name, dead=number(dead, ".0%"), activation=layer.activation,
            samples=number(context.samples, ","))
        if context.samples < MIN_DEAD_SAMPLES:
            out.append(Finding("dead", "note", None, text + _(
                "; {samples} examples are too few to call a unit dead (need {need}).").format(
                    samples=context.samples, need=MIN_DEAD_SAMPLES),
                (layer.name,), numbers))
            continue
        if _finite(layer.bias_mean) and (layer.bias_mean or 0.0) < -1.0:
            text += _("; their biases average {mean}").format(
                mean=number(layer.bias_mean or 0.0, ".3g"))
        severity = ("problem" if dead >= DEAD_PROBLEM else
                    "warning" if dead >= DEAD_WARNING else "note")
        if severity == "problem" and _fit(history, context) is not None:
            severity, text = "warning", text + " " + _("(the network still fits its data)")
        out.append(Finding("dead", severity, "dead units", text + ".", (layer.name,), numbers))
    return out


def _saturation(layers: Sequence[LayerMeasures], history: History | None, context: Context,
                setup: Setup) -> list[Finding]:
    out: list[Finding] = []
    for i, layer in enumerate(layers):
        sat = layer.saturated_fraction
        if sat is None or sat <= 0.05:
            continue
        knee = SATURATION_Z.get(layer.activation or "", 4.0)
        text = _("Layer {layer}: {saturated} of its {activation} weighted inputs have |z| > "
                 "{knee}, where the slope is under 7% of its maximum").format(
            layer=layer.name, saturated=number(sat, ".0%"), activation=layer.activation,
            knee=number(knee, "g"))
        if i == len(layers) - 1:
            out.append(_output_saturation(layer, text, history, context, setup))
            continue
        nxt = layers[i + 1].speed
        step = layer.speed / nxt if nxt > 0.0 and _finite(nxt) else None
        numbers = {"saturated_fraction": sat, "step_to_next": step, "slope": layer.slope}
        starving = step is not None and step < STARVED_STEP
        flat = layer.slope is not None and layer.slope < MIN_SLOPE
        fit = _fit(history, context)
        if sat >= SATURATED_FRACTION and (starving or flat) and fit is None:
            why = (_("; the gradient it passes back is {ratio} of the next layer's (an "
                     "unsaturated sigmoid layer passes about 1/4), so it and the layers "
                     "before it are starved.").format(ratio=_ratio_text(step or 0.0))
                   if starving else
                   _("; its activation lets through {share} of its largest slope on average, "
                     "so its weights hardly learn.").format(
                       share=number(layer.slope or 0.0, ".0%")))
            out.append(Finding("saturation", "problem", "saturated", text + why,
                               (layer.name,), numbers))
        else:
            passes = "" if step is None else (
                _("; it still passes {ratio} of the next layer's gradient back, so it does not "
                  "starve the layers before it").format(ratio=_ratio_text(step)))
            out.append(Finding("saturation", "note", None, text + passes + ".",
                               (layer.name,), numbers))
    return out


def _output_saturation(layer: LayerMeasures, text: str, history: History | None,
                       context: Context, setup: Setup) -> Finding:
    numbers = {"saturated_fraction": layer.saturated_fraction, "accuracy": context.accuracy}
    if _fit(history, context) is not None:
        return Finding("output-saturation", "note", None, text + _(
            ": a confident classifier that fits its data, not a problem."), (layer.name,),
            numbers)
    if setup.loss == "quadratic" and (layer.saturated_fraction or 0.0) >= SATURATED_FRACTION:
        return Finding("output-saturation", "problem", "saturated", text + _(
            ", and with the quadratic cost ∂C/∂z carries σ'(z): the output layer learns slowly "
            "while it is wrong."), (layer.name,), numbers)
    return Finding("output-saturation", "note", None, text + _(
        "; the cost's gradient is a − y there, so the output layer still learns."),
        (layer.name,), numbers)


def _vanishing(layers: Sequence[LayerMeasures], history: History | None, context: Context,
               setup: Setup) -> list[Finding]:
    ratio = layers[0].ratio_to_last
    if len(layers) < 2 or ratio is None or ratio >= 1.0 / GROWTH_WARNING:
        return []
    per = _per_layer(ratio, layers)
    text = _("Layer {layer} learns {ratio} as fast as the output layer (‖∂C/∂b‖, Nielsen's "
             "speed of learning; about {per} per layer on the way back)").format(
        layer=layers[0].name, ratio=_ratio_text(ratio), per=_ratio_text(per))
    numbers = {"first_over_last": ratio, "per_layer": per}
    limit = number(1 / VANISHING_RATIO, ".0f")
    if ratio >= VANISHING_RATIO:
        return [Finding("vanishing", "note", None, text + _(
            ": normal for this depth (a problem below 1/{limit}).").format(limit=limit),
            (layers[0].name,), numbers)]
    fit = _fit(history, context)
    if fit is not None:
        return [Finding("vanishing", "note", None, text + _(
            ", yet the network fits its data (accuracy {accuracy}): it is not hurting.").format(
                accuracy=number(fit, ".1%")), (layers[0].name,), numbers)]
    if history is not None and history.cost and not history.stalled:
        return [Finding("vanishing", "warning", "vanishing", text + _(
            "; the cost still falls, but the early layers barely take part."),
            (layers[0].name,), numbers)]
    flat = (_("; the cost has stopped falling")
            if history is not None and history.stalled else "")
    return [Finding("vanishing", "problem", "vanishing", text + flat + _(
        " (below 1/{limit}): the early layers hardly learn.").format(limit=limit),
        (layers[0].name,), numbers)]


def _largest_step(layers: Sequence[LayerMeasures]) -> float:
    """The largest finite update ratio of any layer (0 when none is measured)."""
    return max((layer.update_ratio or 0.0 for layer in layers if _finite(layer.update_ratio)),
               default=0.0)


def _lr_small(layers: Sequence[LayerMeasures], history: History | None, context: Context,
              setup: Setup) -> list[Finding]:
    top = _largest_step(layers)
    if top >= STEP_TOO_SMALL or top <= 0.0:
        return []
    text = _("The largest step changes a layer's weights by {top} of their size (below "
             "{limit})").format(top=number(top, ".2g"), limit=number(STEP_TOO_SMALL, "g"))
    numbers = {"max_update_ratio": top}
    if _fit(history, context) is not None:
        return [Finding("step-size", "note", None, text + _(
            ": the network fits its data and is converging."), (), numbers)]
    return [Finding("step-size", "problem", "lr too small", text + _(
        ": at this learning rate training barely moves."), (), numbers)]


def _inputs(layers: Sequence[LayerMeasures], history: History | None, context: Context,
            setup: Setup) -> list[Finding]:
    big = context.input_max_abs
    if big is None or big <= RAW_INPUT:
        return []
    return [Finding("inputs", "warning", None, _(
        "Inputs reach {value}: unscaled features push first-layer weighted inputs far out and "
        "make ∂C/∂W (= δ·xᵀ) that many times larger.").format(value=number(big, ".4g")),
        (layers[0].name,), {"input_max_abs": big})]


# ------------------------------------------------------------------------------ advice


def _nice(x: float) -> float:
    """The 1-2-5 number at or below ``x`` (learning rates people type)."""
    if x <= 0.0 or not math.isfinite(x):
        return x
    exp = math.floor(math.log10(x))
    for m in (5.0, 2.0, 1.0):
        if m * 10.0**exp <= x * (1 + 1e-9):
            return float(f"{m * 10.0**exp:.12g}")
    return float(f"{10.0**exp:.12g}")


def _lr_to(setup: Setup, layers: Sequence[LayerMeasures]) -> float | None:
    """The learning rate that brings the largest measured update ratio to `STEP_TARGET`
    (lowering) or `STEP_RAISE_TARGET` (raising)."""
    top = _largest_step(layers)
    if setup.lr is None or top <= 0.0:
        return None
    target = STEP_TARGET if top > STEP_TARGET else STEP_RAISE_TARGET
    return _nice(setup.lr * target / top)


def advise(findings: Sequence[Finding], layers: Sequence[LayerMeasures], setup: Setup,
           history: History | None = None) -> list[Suggestion]:
    """Fixes for the problems and warnings in ``findings``, worst first, without duplicates
    and without anything ``setup`` already does."""
    out: list[Suggestion] = []
    seen: set[tuple[tuple[str, Any], ...]] = set()
    urgent = sorted((f for f in findings if f.severity in ("problem", "warning")),
                    key=lambda f: (-SEVERITIES.index(f.severity),
                                   VERDICTS.index(f.verdict) if f.verdict else len(VERDICTS)))
    for finding in urgent:
        for s in _fixes(finding, layers, setup, history):
            key = tuple((c.setting, c.new) for c in s.changes)
            if any(c.old == c.new for c in s.changes) or key in seen:
                continue
            if s.changes[0].setting == "lr" and any(
                    o.changes[0].setting == "lr" for o in out):
                continue  # one learning-rate direction, from the worst finding
            seen.add(key)
            out.append(s)
    return out


def _fix(addresses: str, why: str, *changes: tuple[str, Any, Any]) -> Suggestion:
    # ``why`` is an English catalog key (marked N_ where it is written); people read it here.
    return Suggestion(tuple(Change(*c) for c in changes), _(why), addresses)


def _fixes(f: Finding, layers: Sequence[LayerMeasures], s: Setup,
           history: History | None) -> list[Suggestion]:
    code = f.rule
    fixes: list[Suggestion] = []
    lr_to = _lr_to(s, layers)
    top_step = _largest_step(layers)

    def lower_lr(why: str) -> None:
        if s.lr is not None and lr_to is not None and lr_to < s.lr:
            fixes.append(_fix(code, why, ("lr", s.lr, lr_to)))
        elif s.lr is not None and not all(_finite(layer.update_ratio) for layer in layers):
            fixes.append(_fix(code, why, ("lr", s.lr, _nice(s.lr / 10.0))))

    def smaller_weights(why: str) -> None:
        if s.weight_scale > 1.0:
            fixes.append(_fix(code, why, ("weight_scale", s.weight_scale, 1.0)))
        if s.init is not None:
            good = _good_init(s.activation)
            if s.init == "nielsen-large" or (s.init != good and s.weight_scale <= 1.0
                                             and code == "growth"):
                fixes.append(_fix(code, why, ("init", s.init, good)))

    def scale_inputs(why: str) -> None:
        if s.preprocess is not None and s.preprocess not in ("scale", "standardize"):
            fixes.append(_fix(code, why, ("preprocess", s.preprocess, "scale")))

    if code == "step-size" and f.verdict == "exploding":
        scale_inputs(N_("∂C/∂W = δ·xᵀ grows with the input, and so does the step."))
        lower_lr(N_("one step of this size overshoots; the learning rate sets the step."))
    elif code == "nonfinite":
        smaller_weights(N_("large weights make weighted inputs and gradients overflow."))
        scale_inputs(N_("∂C/∂W = δ·xᵀ grows with the input, and so does the step."))
        if history is not None:
            lower_lr(N_("training blew the numbers up; smaller steps keep them finite."))
    elif code == "trial":
        if s.weight_scale > 1.0 or s.init == "nielsen-large":
            smaller_weights(N_("large weights make activations and gradients grow layer by "
                               "layer."))
        scale_inputs(N_("∂C/∂W = δ·xᵀ grows with the input, and so does the step."))
        if s.lr is not None:
            # At least 10× smaller; more if the measured step says so.
            to = min(_nice(s.lr / 10), lr_to if lr_to is not None else math.inf)
            fixes.append(_fix(code, N_("smaller steps keep training stable; the trial's cost "
                                       "overshot at this learning rate."), ("lr", s.lr, to)))
    elif code == "growth":
        smaller_weights(N_("each layer multiplies the gradient by its weights on the way back; "
                        "weights of the size the scheme intends keep that factor near 1."))
        scale_inputs(N_("∂C/∂W = δ·xᵀ grows with the input."))
        if top_step > STEP_TOO_LARGE:
            lower_lr(N_("steps larger than the weights themselves overshoot."))
    elif code == "dead":
        if (f.numbers.get("bias_mean") or 0.0) < -1.0 and s.init not in ("he", "xavier"):
            fixes.append(_fix(code, N_("he initialisation starts every bias at 0, so every unit "
                              "fires for some inputs."), ("init", s.init, "he")))
        if s.activation in ("relu", None):
            fixes.append(_fix(code, N_("leaky_relu passes a small gradient below 0, so a silent "
                              "unit can come back."), ("activation", s.activation or "relu",
                                                      "leaky_relu")))
        if top_step > 0.1 and history is not None:
            lower_lr(N_("large steps push a unit's z below 0 for every input, and it never "
                     "comes back."))
    elif code == "saturation" and f.verdict == "saturated":
        scale_inputs(N_("raw 0–255 pixels push every first-layer z far past the knee."))
        if s.init == "nielsen-large" or s.weight_scale > 1.0:
            smaller_weights(N_("weights ∝ 1/√n_in keep z of order 1, where σ' is large."))
        if s.activation in ("sigmoid", "tanh"):
            fixes.append(_fix(code, N_("relu does not saturate for z > 0 (he keeps its scale)."),
                              ("activation", s.activation, "relu"), ("init", s.init, "he")))
    elif code == "output-saturation":
        fixes.append(_fix(code, N_("the cross-entropy cost's ∂C/∂z = a − y has no σ'(z): a "
                          "saturated wrong output still learns fast."), ("loss", s.loss, "bce")))
    elif code == "vanishing":
        if s.activation in ("sigmoid", "tanh", None):
            fixes.append(_fix(code, N_("relu' is 1 wherever a unit is active, where σ' is at most "
                              "1/4; he initialisation keeps the gradient's size layer to layer."),
                              ("activation", s.activation or "sigmoid", "relu"),
                              ("init", s.init, "he")))
        if s.activation == "sigmoid":
            fixes.append(_fix(code, N_("tanh' is up to 1 (σ' at most 1/4); xavier keeps the "
                              "gradient's size layer to layer."), ("activation", "sigmoid",
                                                                  "tanh"),
                              ("init", s.init, "xavier")))
        if s.sizes is not None and len(s.sizes) > 4:
            shallower = (*s.sizes[:2], *s.sizes[-2:])
            fixes.append(_fix(code, N_("each layer multiplies the gradient by w·σ'(z); fewer "
                              "layers, fewer factors."), ("sizes", tuple(s.sizes), shallower)))
    elif code == "step-size" and f.verdict == "lr too small":
        if s.lr is not None and lr_to is not None and lr_to > s.lr:
            fixes.append(_fix(code, N_("the steps are far too small to move the weights in a "
                              "few epochs."), ("lr", s.lr, lr_to)))
    elif code == "inputs":
        scale_inputs(N_("scaled inputs keep weighted inputs of order 1 and gradients in "
                     "proportion (CS231n: preprocessing matters)."))
    return fixes


def _good_init(activation: str | None) -> str:
    return "he" if activation in _RELU_FAMILY else (
        "xavier" if activation == "tanh" else "nielsen")


def with_setup(setup: Setup, **changes: Any) -> Setup:
    """``setup`` with some settings changed (used to replay a suggestion)."""
    return replace(setup, **changes)
