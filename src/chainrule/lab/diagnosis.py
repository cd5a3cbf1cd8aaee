"""`diagnose(model, x, y)`: why is this network not learning, and what to do about it.

One forward and one backward pass over a batch, then per `Linear` layer (input side first):

- ``weight_grad_norm``, ``bias_grad_norm``: ‖∂C/∂W‖ and ‖∂C/∂b‖ for the cost averaged over the
  batch.
- ``grad_rms``: the root-mean-square of ∂C/∂b per unit (‖∂C/∂b‖/√units), i.e. of the averaged
  error δ a unit receives — comparable between layers of different widths, and free of the
  input scale that enters ∂C/∂W = δ·aᵀ. ``ratio_to_last`` is this layer's grad_rms over the
  output layer's: Nielsen's "speed of learning" relative to the last layer.
- ``update_ratio``: lr·‖∂C/∂W‖/‖W‖, how much one SGD step would change the weights, relative to
  their size. The usual rule of thumb wants about 1e-3.
- ``saturated_fraction`` (sigmoid and tanh units): the fraction of (example, unit) pairs whose
  weighted input is past the knee: |z| > 4 for sigmoid, where σ'(z) < 0.018 (under 7% of its
  maximum 1/4), and |z| > 2 for tanh, where tanh'(z) < 0.071 (the same 7% of its maximum 1;
  tanh(z) = 2σ(2z) − 1, so it saturates twice as early in z).
- ``dead_fraction`` (relu units): the fraction of units with z ≤ 0 for every example of the
  batch — their gradient is exactly 0, so they never recover by gradient descent.
- ``nonfinite``: NaN or ±∞ in the weights, the weighted inputs or the gradients.

The verdict is the first that applies, in this order (thresholds are module constants):

1. ``exploding`` — NaN/Inf anywhere; or the first layer's grad_rms is more than
   `EXPLODING_RATIO` (100) times the output layer's; or a step would change some layer's weights
   by more than `UPDATE_RATIO_EXPLODING` (1×) their size.
2. ``dead units`` — some hidden relu layer has `DEAD_FRACTION` (50%) or more dead units.
3. ``saturated`` — some hidden sigmoid/tanh layer has `SATURATED_FRACTION` (50%) or more of its
   weighted inputs past the knee.
4. ``vanishing`` — the first layer's grad_rms is below `VANISHING_RATIO` (1/100) of the
   output layer's: it learns 100× slower.
5. ``healthy`` — none of the above.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from chainrule.autodiff import grad
from chainrule.graph import toposort
from chainrule.lab._util import finite_or_none, jsonable
from chainrule.lab.flow import LossArg, _norm, cost, linears, trace_linears
from chainrule.tensor import Tensor, tensor

__all__ = [
    "DEAD_FRACTION",
    "EXPLODING_RATIO",
    "SATURATED_FRACTION",
    "SATURATION_Z",
    "UPDATE_RATIO_EXPLODING",
    "VANISHING_RATIO",
    "VERDICTS",
    "Diagnosis",
    "LayerReport",
    "Setup",
    "diagnose",
]

VERDICTS: tuple[str, ...] = ("healthy", "vanishing", "exploding", "saturated", "dead units")

SATURATION_Z: dict[str, float] = {"sigmoid": 4.0, "tanh": 2.0}
SATURATED_FRACTION = 0.5
DEAD_FRACTION = 0.5
VANISHING_RATIO = 1e-2
EXPLODING_RATIO = 1e2
UPDATE_RATIO_EXPLODING = 1.0
UPDATE_RATIO_GOOD = 1e-3
UPDATE_RATIO_SMALL = 1e-5

_ACTIVATION_OPS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "maximum": "leaky_relu"}


@dataclass
class LayerReport:
    """One `Linear` layer's numbers (see the module docstring for each field)."""

    index: int
    units: int
    inputs: int
    activation: str | None
    weight_grad_norm: float
    bias_grad_norm: float | None
    grad_rms: float
    ratio_to_last: float | None
    weight_norm: float
    update_ratio: float | None
    saturated_fraction: float | None
    dead_fraction: float | None
    nonfinite: bool


@dataclass
class Diagnosis:
    """The result of `diagnose`: per-layer rows, a verdict, its evidence and what to try."""

    layers: list[LayerReport]
    verdict: str
    evidence: list[str]
    suggestions: list[str]
    lr: float
    samples: int
    loss: str
    thresholds: dict[str, float] = field(
        default_factory=lambda: {
            "saturation_z_sigmoid": SATURATION_Z["sigmoid"],
            "saturation_z_tanh": SATURATION_Z["tanh"],
            "saturated_fraction": SATURATED_FRACTION,
            "dead_fraction": DEAD_FRACTION,
            "vanishing_ratio": VANISHING_RATIO,
            "exploding_ratio": EXPLODING_RATIO,
            "update_ratio_exploding": UPDATE_RATIO_EXPLODING,
            "update_ratio_good": UPDATE_RATIO_GOOD,
        }
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (non-finite numbers become ``None``)."""
        out: dict[str, Any] = jsonable(asdict(self))
        return out

    def __str__(self) -> str:
        lines = [f"verdict: {self.verdict}"]
        lines += [f"  - {e}" for e in self.evidence]
        lines += ["try:"] + [f"  - {s}" for s in self.suggestions]
        return "\n".join(lines)


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
) -> Diagnosis:
    """Diagnose ``model`` on the batch ``x`` (n, features) with labels or targets ``y``.

    Works on any `chainrule.nn.Module` built from `Linear` layers; ``loss`` is a name from
    `chainrule.lab.flow.LOSSES` or a callable ``loss(out, y)``. The model's ``.grad`` fields are
    not touched. See the module docstring for the measures and the thresholds. ``init``,
    ``preprocess`` and ``weight_scale`` say how the network was set up, when known: advice it
    already follows is left out of the suggestions (see `Setup`).
    """
    layers = linears(model)
    xt = x if isinstance(x, Tensor) else tensor(np.asarray(x), dtype=layers[0].weight.dtype)
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
    b_iter = iter(grads[n_layers : n_layers + n_bias])
    z_grads = grads[n_layers + n_bias :]

    reports: list[LayerReport] = []
    rms: list[float] = []
    with np.errstate(all="ignore"):
        for i, layer in enumerate(layers):
            gw = w_grads[i]
            gb = next(b_iter) if layer.bias is not None else None
            # ∂C/∂b = Σₓ ∂C/∂z: also defined for a layer without bias.
            delta = gb if gb is not None else z_grads[i].sum(axis=0)
            units = layer.out_features
            g_rms = _norm(delta) / math.sqrt(units)
            rms.append(g_rms)
            w_norm = _norm(layer.weight)
            gw_norm = _norm(gw)
            z = zs[i]
            act = acts[i]
            saturated = dead = None
            if act in SATURATION_Z:
                saturated = float((z.abs() > SATURATION_Z[act]).mean())
            elif act == "relu":
                dead = float((z.max(axis=0).data <= 0.0).mean())
            reports.append(
                LayerReport(
                    index=i + 1,
                    units=units,
                    inputs=layer.in_features,
                    activation=act,
                    weight_grad_norm=gw_norm,
                    bias_grad_norm=None if gb is None else _norm(gb),
                    grad_rms=g_rms,
                    ratio_to_last=None,
                    weight_norm=w_norm,
                    update_ratio=finite_or_none(lr * gw_norm / w_norm) if w_norm > 0.0 else None,
                    saturated_fraction=saturated,
                    dead_fraction=dead,
                    nonfinite=not _finite(
                        layer.weight.data,
                        None if layer.bias is None else layer.bias.data,
                        z.data,
                        gw.data,
                        delta.data,
                    ),
                )
            )
    last = rms[-1]
    for report in reports:
        report.ratio_to_last = report.grad_rms / last if last > 0.0 and math.isfinite(last) \
            else None
    name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
    verdict, evidence = _verdict(reports)
    return Diagnosis(
        layers=reports,
        verdict=verdict,
        evidence=evidence,
        suggestions=_suggestions(verdict, reports, Setup(
            activation=next((r.activation for r in reports[:-1] if r.activation), None),
            init=init, loss=name, preprocess=preprocess, weight_scale=weight_scale)),
        lr=float(lr),
        samples=int(xt.shape[0]),
        loss=name,
    )


def _ratio_text(r: float) -> str:
    if r <= 0.0:
        return "0×"
    return f"{r:.3g}×" if r >= 1.0 else f"1/{1.0 / r:.3g}"


def _verdict(reports: list[LayerReport]) -> tuple[str, list[str]]:
    hidden = reports[:-1]
    first = reports[0]
    evidence: list[str] = []
    verdict = "healthy"

    broken = [r.index for r in reports if r.nonfinite]
    if broken:
        evidence.append(
            f"NaN or Inf in layer(s) {', '.join(map(str, broken))} (weights, weighted inputs or "
            "gradients): the numbers have already blown up."
        )
        verdict = "exploding"
    ratio = first.ratio_to_last
    if ratio is not None and len(reports) > 1:
        per_layer = ratio ** (1.0 / (len(reports) - 1)) if ratio > 0.0 else 0.0
        evidence.append(
            f"Layer 1's gradient per unit (RMS of ∂C/∂b) is {_ratio_text(ratio)} of the output "
            f"layer's: about {_ratio_text(per_layer)} per layer on the way back "
            f"(vanishing below 1/{1 / VANISHING_RATIO:.0f}, exploding above "
            f"{EXPLODING_RATIO:.0f}×)."
        )
        if verdict == "healthy" and ratio > EXPLODING_RATIO:
            verdict = "exploding"
    big_steps = [r for r in reports if r.update_ratio is not None
                 and r.update_ratio > UPDATE_RATIO_EXPLODING]
    if big_steps:
        worst = max(big_steps, key=lambda r: r.update_ratio or 0.0)
        evidence.append(
            f"One SGD step would change layer {worst.index}'s weights by "
            f"{worst.update_ratio:.3g}× their size (rule of thumb: about "
            f"{UPDATE_RATIO_GOOD:g}); training would diverge."
        )
        if verdict == "healthy":
            verdict = "exploding"
    ratios = [r.update_ratio for r in reports if r.update_ratio is not None]
    if ratios and not big_steps:
        evidence.append(
            f"Update/weight ratios lr·‖∂C/∂W‖/‖W‖ run from {min(ratios):.2g} to "
            f"{max(ratios):.2g} (rule of thumb: about {UPDATE_RATIO_GOOD:g})."
        )
    dead = [r for r in hidden if r.dead_fraction is not None and r.dead_fraction > 0.0]
    for r in dead:
        evidence.append(
            f"Layer {r.index}: {r.dead_fraction:.0%} of its relu units are dead (z ≤ 0 for every "
            "example, so their gradient is 0)."
        )
    if verdict == "healthy" and any((r.dead_fraction or 0.0) >= DEAD_FRACTION for r in dead):
        verdict = "dead units"
    saturated = [r for r in hidden if (r.saturated_fraction or 0.0) > 0.05]
    for r in saturated:
        knee = SATURATION_Z.get(r.activation or "", 4.0)
        evidence.append(
            f"Layer {r.index}: {r.saturated_fraction:.0%} of its {r.activation} weighted inputs "
            f"have |z| > {knee:g}, where the derivative is under 7% of its maximum."
        )
    if verdict == "healthy" and any(
        (r.saturated_fraction or 0.0) >= SATURATED_FRACTION for r in saturated
    ):
        verdict = "saturated"
    if verdict == "healthy" and ratio is not None and ratio < VANISHING_RATIO:
        verdict = "vanishing"
    return verdict, evidence


@dataclass(frozen=True)
class Setup:
    """What is known about how the network is set up; ``None`` where unknown.

    The suggestions leave out advice this setup already follows (no “scale the inputs” for
    scaled inputs, no “use nielsen instead of nielsen-large” for a nielsen network).
    """

    activation: str | None = None
    init: str | None = None
    loss: str | None = None
    preprocess: str | None = None
    weight_scale: float = 1.0


def _scaled(s: Setup) -> bool:
    return s.preprocess in ("scale", "standardize")


def _small_init(s: Setup) -> bool:
    return s.init is not None and s.init != "nielsen-large" and s.weight_scale <= 1.0


def _cross_entropy(s: Setup) -> bool:
    return s.loss in ("cross-entropy", "softmax")


# Per verdict: (advice, "already followed by this setup?").
_SUGGESTIONS: dict[str, list[tuple[str, Callable[[Setup], bool]]]] = {
    "vanishing": [
        ("Use relu hidden units with he initialisation (--activation relu --init he): relu' is 1 "
         "where a unit is active, where σ' is at most 1/4.",
         lambda s: s.activation == "relu" and s.init == "he"),
        ("Or tanh with xavier initialisation, which keeps the gradient's size from layer to "
         "layer.", lambda s: s.activation == "tanh" and s.init == "xavier"),
        ("Use fewer hidden layers: each sigmoid layer multiplies the gradient by w·σ'(z).",
         lambda s: s.activation is not None and s.activation != "sigmoid"),
        ("Keep the cross-entropy cost (not quadratic) for sigmoid outputs.", _cross_entropy),
    ],
    "exploding": [
        ("Lower the learning rate (try 10× smaller; chainrule study lr finds the edge).",
         lambda s: False),
        ("Start from smaller weights: xavier or he (or nielsen) instead of nielsen-large.",
         _small_init),
        ("Scale or standardize the inputs (--preprocess scale|standardize): ∂C/∂W grows with "
         "the input.", _scaled),
    ],
    "saturated": [
        ("Scale the inputs to [0, 1] or standardize them: raw 0–255 pixels push every "
         "first-layer z far past the knee.", _scaled),
        ("Initialise with nielsen or xavier (weights ∝ 1/√n_in) instead of nielsen-large.",
         _small_init),
        ("Use the cross-entropy cost so saturated sigmoid outputs still learn.", _cross_entropy),
        ("Or switch to relu units, which do not saturate for z > 0.",
         lambda s: s.activation in ("relu", "leaky_relu")),
    ],
    "dead units": [
        ("Lower the learning rate: one large step can push a relu unit's z below 0 for every "
         "input, and it never comes back.", lambda s: False),
        ("Initialise the biases at 0 or slightly positive (he or xavier), not negative.",
         lambda s: s.init in ("he", "xavier")),
        ("Use leaky_relu, whose gradient below 0 is small but not 0.",
         lambda s: s.activation == "leaky_relu"),
    ],
    "healthy": [
        ("Nothing to fix in the gradient flow; tune the learning rate towards an update/weight "
         "ratio of about 1e-3.", lambda s: False),
    ],
}


def _suggestions(verdict: str, reports: list[LayerReport], setup: Setup | None = None) -> list[str]:
    """The advice for ``verdict``, without what ``setup`` already does."""
    setup = setup or Setup()
    out = [text for text, followed in _SUGGESTIONS[verdict] if not followed(setup)]
    ratios = [r.update_ratio for r in reports if r.update_ratio is not None]
    if verdict != "exploding" and ratios and max(ratios) < UPDATE_RATIO_SMALL:
        out.append(
            f"Every update/weight ratio is below {UPDATE_RATIO_SMALL:g}: the learning rate may be "
            "too small."
        )
    if not out:
        out.append(
            "The usual fixes for this are already in place; look at the evidence layer by layer "
            "(and try a smaller learning rate or fewer layers)."
        )
    return out


def report_rows(diagnosis: Diagnosis) -> list[dict[str, Any]]:
    """The per-layer rows as plain dicts (for tables)."""
    return [
        {k: (finite_or_none(v) if isinstance(v, float) else v) for k, v in asdict(r).items()}
        for r in diagnosis.layers
    ]
