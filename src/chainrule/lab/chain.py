"""Nielsen's chain network: one sigmoid neuron per layer, and why its gradient vanishes.

Layer j (1 … L) computes z_j = w_j·a_{j−1} + b_j and a_j = σ(z_j), from the input a_0 = x;
the cost is C = ½(a_L − y)² (``"quadratic"``) or −[y ln a_L + (1 − y) ln(1 − a_L)]
(``"cross-entropy"``). The chain rule written out along the chain is Nielsen's product
(chapter 5, "What's causing the vanishing gradient problem?")::

    ∂C/∂b_j = σ'(z_j) · Π_{k=j+1..L} w_k σ'(z_k) · ∂C/∂a_L

Each factor w_k·σ'(z_k) is what one layer does to the gradient passing back through it. As
σ'(z) ≤ σ'(0) = 1/4, every factor is below 1/4 in size while |w_k| < 1: with weights drawn from
N(0, 1) the gradient shrinks by 4× or more per layer (vanishing). Weights large enough
(|w| > 4) *and* biases that keep z near 0 make the factors exceed 1 (exploding): with
w = 100 and z = 0 each factor is 25 and ∂C/∂b1 = 625·∂C/∂b3. Either way the gradient of an early
layer is a product of terms from all later layers — the unstable gradient problem.

`run_chain` computes ∂C/∂b_j twice — by backpropagation on the scalar engine's graph, and as the
product above — and reports both; `monte_carlo` draws many random chains at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.i18n import N_, _, number
from chainrule.lab._util import LabError, finite_or_none
from chainrule.tensor import Tensor, tensor
from chainrule.value import Value

__all__ = [
    "COSTS",
    "REGIMES",
    "mnemonic_svg",
    "mnemonic_terms",
    "monte_carlo",
    "random_chain",
    "run_chain",
]

COSTS: tuple[str, ...] = ("quadratic", "cross-entropy")
REGIMES: tuple[str, ...] = ("vanishing", "exploding", "mixed")
INITS: tuple[str, ...] = ("normal",)

# Agreement asked of the two computations: they multiply the same numbers in another order.
AGREEMENT_RTOL = 1e-10


def _sigma_prime(a: float, z: float) -> float:
    """σ'(z), from the sigmoid op's one local-gradient rule (σ(z)(1 − σ(z)), given a = σ(z))."""
    (local,) = ops.SIGMOID.local(a, z)  # type: ignore[misc]
    return float(local)


def _check_cost(cost: str) -> str:
    if cost not in COSTS:
        raise LabError(_("unknown cost {cost!r}; choose one of: {names}").format(
            cost=cost, names=", ".join(COSTS)))
    return cost


def _as_floats(name: str, values: Sequence[float]) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise LabError(_("{name} must be numbers, got {values}").format(
            name=name, values=f"{values!r:.60}")) from None
    bad = [v for v in out if not math.isfinite(v)]
    if bad:
        raise LabError(_("{name} must be finite numbers, got {value}").format(
            name=name, value=bad[0]))
    return out


def _cost_graph(a_last: Value, z_last: Value, y: float, cost: str) -> Value:
    if cost == "quadratic":
        return 0.5 * (a_last - y) ** 2
    # Cross-entropy written on z, never through ln a: ln(1 + e^−|z|) is finite for every z
    # (a saturated σ gives a = 1.0 exactly, and ln(1 − a) would be −∞). Each branch is exact:
    # z ≥ 0: C = (1 − y)·z + ln(1 + e^−z);  z < 0: C = −y·z + ln(1 + e^z). ∂C/∂z = σ(z) − y.
    if z_last.data >= 0.0:
        return (1.0 - y) * z_last + (1.0 + (-z_last).exp()).log()
    return -y * z_last + (1.0 + z_last.exp()).log()


def _dcost_da(a: float, y: float, cost: str) -> float:
    """∂C/∂a_L in closed form: a − y (quadratic), (a − y)/(a(1 − a)) (cross-entropy)."""
    if cost == "quadratic":
        return a - y
    denom = a * (1.0 - a)
    return (a - y) / denom if denom > 0.0 else math.copysign(math.inf, a - y)


def run_chain(
    weights: Sequence[float],
    biases: Sequence[float],
    x: float = 1.0,
    y: float = 0.0,
    cost: str = "quadratic",
) -> dict[str, Any]:
    """Forward the chain, then ∂C/∂b_j by autodiff and by Nielsen's product; see module doc.

    Returns ``layers`` (one dict per layer: ``w b z a sigma_prime factor``, where factor is
    w·σ'(z)), ``grad_b_autodiff``, ``grad_b_formula``, ``max_abs_difference``, ``agree``,
    ``dC_da`` (∂C/∂a_L), ``ratio_b1_b3`` (None with fewer than 3 layers or ∂C/∂b3 = 0),
    ``regime`` (one of `REGIMES`, from the factors of layers 2 … L, which the gradient of b1
    passes through) and a ``sentence`` that says what the numbers mean.
    """
    _check_cost(cost)
    ws = _as_floats("weights", weights)
    bs = _as_floats("biases", biases)
    x, y = float(x), float(y)
    if len(ws) != len(bs):
        raise LabError(_("{weights} weights but {biases} biases: give one of each per "
                         "layer").format(weights=len(ws), biases=len(bs)))
    if len(ws) < 2:
        raise LabError(_("a chain needs at least 2 layers (one weight and one bias per layer)"))
    if not (math.isfinite(x) and math.isfinite(y)):
        raise LabError(_("input and target must be finite numbers"))
    if cost == "cross-entropy" and not 0.0 <= y <= 1.0:
        raise LabError(_("the cross-entropy cost needs a target in [0, 1], got {y}").format(
            y=number(y, "g")))

    # 1. Backpropagation on the scalar engine's graph.
    b_nodes = [Value(b, label=f"b{j + 1}") for j, b in enumerate(bs)]
    a_node: Value = Value(x, label="x")
    z_node = a_node
    for j, (w, b_node) in enumerate(zip(ws, b_nodes, strict=True)):
        z_node = w * a_node + b_node
        z_node.label = f"z{j + 1}"
        a_node = z_node.sigmoid()
        a_node.label = f"a{j + 1}"
    c_node = _cost_graph(a_node, z_node, y, cost)
    c_node.backward()
    grad_auto = [b.grad for b in b_nodes]

    # 2. The same numbers as Nielsen's product of factors (no graph involved).
    zs: list[float] = []
    acts: list[float] = []
    a = x
    for w, b in zip(ws, bs, strict=True):
        z = w * a + b
        a = float(ops.SIGMOID.scalar(z))  # type: ignore[misc]
        zs.append(z)
        acts.append(a)
    sp = [_sigma_prime(a_j, z_j) for a_j, z_j in zip(acts, zs, strict=True)]
    factors = [w * s for w, s in zip(ws, sp, strict=True)]
    last = len(ws) - 1
    dc_da = _dcost_da(acts[last], y, cost)
    # δ_L = ∂C/∂z_L = σ'(z_L)·∂C/∂a_L; for cross-entropy σ' cancels and δ_L = a_L − y exactly,
    # which stays finite where a_L saturates (chapter 3's reason for the cost).
    delta_last = sp[last] * dc_da if cost == "quadratic" else acts[last] - y
    grad_formula: list[float] = []
    for j in range(len(ws)):
        if j == last:
            grad_formula.append(delta_last)
        else:
            # σ'(z_j)·Π_{j<k<L} w_kσ'(z_k) · w_L·δ_L  (= σ'(z_j)·Π_{k>j} w_kσ'(z_k)·∂C/∂a_L)
            between = math.prod(factors[j + 1 : last])
            grad_formula.append(sp[j] * between * ws[last] * delta_last)

    diff = max(abs(p - q) for p, q in zip(grad_auto, grad_formula, strict=True))
    agree = all(
        abs(p - q) <= AGREEMENT_RTOL * max(abs(p), abs(q)) or p == q
        for p, q in zip(grad_auto, grad_formula, strict=True)
    )
    ratio = None
    if len(ws) >= 3 and grad_auto[2] != 0.0:
        ratio = grad_auto[0] / grad_auto[2]
    regime = _regime(factors[1:])
    layers = [
        {"w": w, "b": b, "z": z, "a": a_j, "sigma_prime": s, "factor": f}
        for w, b, z, a_j, s, f in zip(ws, bs, zs, acts, sp, factors, strict=True)
    ]
    return {
        "cost": cost,
        "x": x,
        "y": y,
        "layers": layers,
        "C": float(c_node.data),
        "dC_da": finite_or_none(dc_da),
        "grad_b_autodiff": grad_auto,
        "grad_b_formula": grad_formula,
        "max_abs_difference": diff,
        "agree": agree,
        "ratio_b1_b3": ratio,
        "regime": regime,
        "sentence": _sentence(regime, factors, ratio),
    }


def _regime(factors: Sequence[float]) -> str:
    sizes = [abs(f) for f in factors]
    if all(s < 1.0 for s in sizes):
        return "vanishing"
    if all(s > 1.0 for s in sizes):
        return "exploding"
    return "mixed"


def _times(ratio: float) -> str:
    r = abs(ratio)
    if r >= 1.0:
        return number(r, ".4g") + "×"
    return "1/" + number(1.0 / r, ".3g") if r > 0.0 else "0×"


def _sentence(regime: str, factors: Sequence[float], ratio: float | None) -> str:
    # "; " between factors in pt-BR, where the comma is the decimal mark.
    shown = _(", ").join(number(f, ".3g") for f in factors[1:])
    if ratio is None:
        comparison = ""
    elif abs(ratio) >= 1.0:
        comparison = " " + _("∂C/∂b1 is {times} ∂C/∂b3.").format(times=_times(ratio))
    else:
        comparison = " " + _("|∂C/∂b1| is {times} of |∂C/∂b3|.").format(times=_times(ratio))
    if regime == "vanishing":
        slower = (
            " " + _("The first layer learns {times}× slower than the third.").format(
                times=number(1.0 / abs(ratio), ".3g"))
            if ratio not in (None, 0.0)
            else ""
        )
        return _(
            "Vanishing gradient: every factor w·σ'(z) on the way back ({factors}) is smaller "
            "than 1 in size — σ'(z) ≤ 1/4, so |w·σ'(z)| < 1 whenever |w| < 4 — and the "
            "gradient shrinks at each layer it passes."
        ).format(factors=shown) + comparison + slower
    if regime == "exploding":
        return _(
            "Exploding gradient: every factor w·σ'(z) on the way back ({factors}) is larger "
            "than 1 in size, so the gradient grows at each layer it passes."
        ).format(factors=shown) + comparison + " " + _(
            "It takes large weights (|w| > 4, since σ'(z) ≤ 1/4) and biases that hold every z "
            "near 0, where σ' is largest.")
    return _(
        "Unstable gradient: the factors w·σ'(z) on the way back ({factors}) lie on both sides "
        "of 1, so the gradient shrinks at some layers and grows at others."
    ).format(factors=shown) + comparison + " " + _(
        "The gradient of an early layer is a product of terms from all later layers; unless "
        "they balance, layers learn at very different speeds.")


def random_chain(layers: int, seed: int, init: str = "normal") -> tuple[list[float], list[float]]:
    """Weights and biases for a chain of ``layers`` neurons, all drawn from N(0, 1).

    The draws are ``rng.standard_normal(layers)`` for the weights, then the same for the biases,
    with ``rng = numpy.random.default_rng(seed)``.
    """
    if init not in INITS:
        raise LabError(_("unknown chain init {init!r}; choose one of: {names}").format(
            init=init, names=", ".join(INITS)))
    if layers < 2:
        raise LabError(_("a chain needs at least 2 layers, got {layers}").format(layers=layers))
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(layers)
    b = rng.standard_normal(layers)
    return [float(v) for v in w], [float(v) for v in b]


QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)


def monte_carlo(
    n: int, layers: int = 4, seed: int = 0, x: float = 1.0, y: float = 0.0, bins: int = 40
) -> dict[str, Any]:
    """``n`` random chains (weights and biases N(0, 1), quadratic cost) evaluated at once.

    Draws: ``W = rng.standard_normal((n, layers))`` then ``B = rng.standard_normal((n,
    layers))`` with ``rng = numpy.random.default_rng(seed)``; chain i has weights ``W[i]`` and
    biases ``B[i]``. The gradients come from one backward pass of the summed cost (the chains
    are independent, so chain i's ∂C/∂b_j is exactly its own). Reports the distribution of
    |w·σ'(z)| over all n·layers factors (its bound: |w|/4) and of |∂C/∂b1 / ∂C/∂b3|, with
    log-spaced histograms for plotting.
    """
    if n < 1:
        raise LabError(_("--monte-carlo needs at least one chain, got {n}").format(n=n))
    if layers < 3:
        raise LabError(_("the Monte-Carlo study compares b1 with b3: it needs ≥ 3 layers, got "
                         "{layers}").format(layers=layers))
    rng = np.random.default_rng(seed)
    w_all = rng.standard_normal((n, layers))
    b_all = rng.standard_normal((n, layers))
    weights = tensor(w_all)
    biases = [tensor(b_all[:, j], requires_grad=True) for j in range(layers)]
    a: Tensor = tensor(np.full(n, float(x)))
    factors: list[Tensor] = []
    for j in range(layers):
        w_j = weights[:, j]
        z = w_j * a + biases[j]
        a = z.sigmoid()
        sp = tensor(ops.SIGMOID.local(a.data, z.data)[0])  # type: ignore[misc]
        factors.append(w_j * sp)
    cost = (0.5 * (a - y) ** 2).sum()
    cost.backward()
    g1, g3 = biases[0]._grad, biases[2]._grad
    assert g1 is not None and g3 is not None
    factor_abs = np.abs(np.concatenate([f.data for f in factors]))
    ok = g3 != 0.0
    ratio_abs = np.abs(g1[ok] / g3[ok])
    fq = np.quantile(factor_abs, QUANTILES)
    rq = np.quantile(ratio_abs, QUANTILES) if ratio_abs.size else np.full(len(QUANTILES), np.nan)
    return {
        "n": int(n),
        "layers": int(layers),
        "seed": int(seed),
        "factor_bound": N_("|w·σ'(z)| ≤ |w|/4, since σ'(z) ≤ σ'(0) = 1/4"),
        "fraction_factor_below_quarter": float(np.mean(factor_abs < 0.25)),
        "fraction_factor_below_one": float(np.mean(factor_abs < 1.0)),
        "fraction_weight_below_one": float(np.mean(np.abs(w_all) < 1.0)),
        "max_abs_factor": float(factor_abs.max()),
        "median_abs_factor": float(np.median(factor_abs)),
        "factor_quantiles": {f"q{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, fq,
                                                                              strict=True)},
        "median_abs_ratio_b1_b3": finite_or_none(float(np.median(ratio_abs)))
        if ratio_abs.size else None,
        "ratio_quantiles": {f"q{round(q * 100):02d}": finite_or_none(float(v))
                            for q, v in zip(QUANTILES, rq, strict=True)},
        "fraction_ratio_below_1_16": float(np.mean(ratio_abs < 1.0 / 16.0)) if ratio_abs.size
        else 0.0,
        "fraction_ratio_above_1": float(np.mean(ratio_abs > 1.0)) if ratio_abs.size else 0.0,
        "factor_histogram": _log_histogram(factor_abs, bins),
        "ratio_histogram": _log_histogram(ratio_abs, bins),
    }


def _log_histogram(values: np.ndarray, bins: int) -> dict[str, list[float]]:
    """Counts over log-spaced bins spanning the positive values (for a log-x histogram)."""
    positive = values[values > 0.0]
    if positive.size == 0:
        return {"edges": [], "counts": []}
    logs = np.log10(positive)
    lo, hi = float(logs.min()), float(logs.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    # Binned in log10 so that the largest value falls inside the last bin.
    counts, log_edges = np.histogram(logs, bins=bins, range=(lo, hi))
    return {"edges": [float(10.0**e) for e in log_edges], "counts": [int(c) for c in counts]}


# -------------------------------------------------------------------- the mnemonic picture


def mnemonic_terms(result: dict[str, Any], j: int = 1) -> list[tuple[str, float | None]]:
    """The factors of ∂C/∂b_j in Nielsen's order, as (symbol, value) pairs:
    σ'(z_j), w_{j+1}, σ'(z_{j+1}), …, w_L, σ'(z_L), ∂C/∂a_L."""
    layers = result["layers"]
    big_l = len(layers)
    if not 1 <= j <= big_l:
        raise LabError(_("layer {j} is not in a chain of {count} layers").format(
            j=j, count=big_l))
    terms: list[tuple[str, float | None]] = [(f"σ'(z{j})", layers[j - 1]["sigma_prime"])]
    for k in range(j + 1, big_l + 1):
        terms.append((f"w{k}", layers[k - 1]["w"]))
        terms.append((f"σ'(z{k})", layers[k - 1]["sigma_prime"]))
    terms.append((f"∂C/∂a{big_l}", result["dC_da"]))
    return terms


def _fmt(v: float | None) -> str:
    if v is None:
        return "∞"
    return f"{v:.4g}"


def mnemonic_svg(result: dict[str, Any], j: int = 1) -> str:
    """Nielsen's "network as a mnemonic" picture as SVG text.

    The chain is drawn in a row — one circle per neuron (its bias b_k inside), the weights on the
    edges between them, then the cost C. Under each neuron stands its factor σ'(z_k) and under
    each edge its w_k, with the numbers beneath: reading the bottom row left to right *is* the
    product ∂C/∂b_j = σ'(z_j)·w_{j+1}·σ'(z_{j+1})·…·∂C/∂a_L, and the last line gives its value
    from both computations.
    """
    layers = result["layers"]
    big_l = len(layers)
    terms = mnemonic_terms(result, j)
    step = 150
    left = 110
    width = left + step * big_l + 140
    cy = 70
    r = 26
    out: list[str] = []
    add = out.append
    add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="330" '
        f'viewBox="0 0 {width} 330" font-family="Helvetica, Arial, sans-serif" font-size="15">')
    add('<rect width="100%" height="100%" fill="white"/>')
    add('<style>.sym{fill:#1f4e79;font-style:italic}.num{fill:#333}.on{fill:#c0392b}'
        '.off{fill:#999}</style>')
    xs = [left + step * k + step // 2 for k in range(big_l)]
    x_cost = xs[-1] + step
    # Edges: the input into neuron 1, then w_k between neurons k−1 and k, then into the cost.
    add(f'<line x1="{xs[0] - step // 2 - 10}" y1="{cy}" x2="{xs[0] - r}" y2="{cy}" '
        'stroke="#555" stroke-width="2"/>')
    add(f'<text x="{xs[0] - step // 2 - 20}" y="{cy + 5}" text-anchor="end" class="num">'
        f'x = {_fmt(result["x"])}</text>')
    add(f'<text x="{xs[0] - step // 2 + 30}" y="{cy - 10}" text-anchor="middle" class="sym">'
        'w1</text>')
    for k in range(1, big_l):
        x0, x1 = xs[k - 1] + r, xs[k] - r
        on = k + 1 > j
        add(f'<line x1="{x0}" y1="{cy}" x2="{x1}" y2="{cy}" stroke="{"#c0392b" if on else "#555"}"'
            ' stroke-width="2"/>')
        add(f'<text x="{(x0 + x1) // 2}" y="{cy - 10}" text-anchor="middle" '
            f'class="{"on" if on else "sym"}">w{k + 1}</text>')
    add(f'<line x1="{xs[-1] + r}" y1="{cy}" x2="{x_cost - 18}" y2="{cy}" stroke="#c0392b" '
        'stroke-width="2"/>')
    add(f'<text x="{x_cost}" y="{cy + 6}" text-anchor="middle" font-size="20" class="on">C'
        '</text>')
    for k, x_k in enumerate(xs, start=1):
        stroke = "#c0392b" if k >= j else "#555"
        add(f'<circle cx="{x_k}" cy="{cy}" r="{r}" fill="#eef4fb" stroke="{stroke}" '
            'stroke-width="2"/>')
        add(f'<text x="{x_k}" y="{cy + 5}" text-anchor="middle" class="sym">b{k}</text>')
    # The product, each factor under the part of the network it comes from.
    positions: list[int] = [xs[j - 1]]
    for k in range(j + 1, big_l + 1):
        positions.append((xs[k - 2] + xs[k - 1]) // 2)
        positions.append(xs[k - 1])
    positions.append(x_cost)
    y_sym, y_num = 160, 190
    add(f'<text x="12" y="{y_sym + 5}" class="sym">∂C/∂b{j} =</text>')
    for i, ((sym, val), px) in enumerate(zip(terms, positions, strict=True)):
        add(f'<text x="{px}" y="{y_sym + 5}" text-anchor="middle" class="sym">{escape(sym)}'
            '</text>')
        add(f'<text x="{px}" y="{y_num}" text-anchor="middle" class="num">{_fmt(val)}</text>')
        if i + 1 < len(terms):
            mid = (px + positions[i + 1]) // 2
            add(f'<text x="{mid}" y="{y_sym + 5}" text-anchor="middle" class="off">×</text>')
    # A bracket under each pair w_k·σ'(z_k): the factor one layer applies to the gradient.
    y_br = y_num + 14
    for k in range(j + 1, big_l + 1):
        i = 2 * (k - j) - 1
        x0, x1 = positions[i] - 22, positions[i + 1] + 22
        add(f'<path d="M{x0},{y_br} v8 H{x1} v-8" fill="none" stroke="#c0392b"/>')
        add(f'<text x="{(x0 + x1) // 2}" y="{y_br + 28}" text-anchor="middle" class="on">'
            f'{_fmt(layers[k - 1]["factor"])}</text>')
    auto = result["grad_b_autodiff"][j - 1]
    formula = result["grad_b_formula"][j - 1]
    said = _("= {auto} (backprop on the graph)   = {formula} (the product)").format(
        auto=number(auto, ".6g"), formula=number(formula, ".6g"))
    add(f'<text x="12" y="278" class="num">{escape(said)}</text>')
    add(f'<text x="12" y="310" class="num">{escape(_headline(result))}</text>')
    add("</svg>")
    return "\n".join(out) + "\n"


def _headline(result: dict[str, Any]) -> str:
    ratio = result["ratio_b1_b3"]
    text = _("regime: {regime}").format(regime=result["regime"])
    if ratio is not None:
        text += f";  ∂C/∂b1 / ∂C/∂b3 = {number(ratio, '.4g')}"
    return text
