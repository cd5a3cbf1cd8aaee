"""The chain network: two gradient computations, the regimes, Monte-Carlo, the picture."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from chainrule.lab._util import LabError
from chainrule.lab.chain import mnemonic_svg, mnemonic_terms, monte_carlo, random_chain, run_chain


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
@pytest.mark.parametrize("seed", range(12))
def test_two_computations_agree_on_random_chains(seed: int, cost: str) -> None:
    layers = 2 + seed % 7
    w, b = random_chain(layers, seed)
    y = 0.0 if cost == "quadratic" else 1.0
    r = run_chain(w, b, x=0.7, y=y, cost=cost)
    assert r["agree"]
    for p, q in zip(r["grad_b_autodiff"], r["grad_b_formula"], strict=True):
        assert abs(p - q) <= 1e-10 * max(abs(p), abs(q), 1e-300)
        assert abs(p - q) <= 1e-10


def test_exploding_example_gives_exactly_625() -> None:
    r = run_chain([100, 100, 100, 100], [-100, -50, -50, -50], x=1, y=0)
    assert [row["z"] for row in r["layers"]] == [0.0, 0.0, 0.0, 0.0]
    assert [row["factor"] for row in r["layers"]] == [25.0, 25.0, 25.0, 25.0]
    assert r["ratio_b1_b3"] == 625.0
    assert r["grad_b_formula"][0] / r["grad_b_formula"][2] == 625.0
    assert r["regime"] == "exploding"
    assert "625" in r["sentence"] and "xploding" in r["sentence"]


def test_vanishing_and_mixed_regimes() -> None:
    r = run_chain([0.8, -0.6, 1.3, 0.4], [0.1, -0.3, 0.5, -0.2], x=1, y=0)
    assert r["regime"] == "vanishing"
    assert abs(r["ratio_b1_b3"]) < 1 / 16
    assert "slower" in r["sentence"]
    # The ratio is the product of the extra factors: σ'(z1)·w2·σ'(z2)·w3 over σ'(z3)·1/σ'(z3).
    lay = r["layers"]
    expected = lay[0]["sigma_prime"] * lay[1]["factor"] * lay[2]["w"]
    assert r["ratio_b1_b3"] == pytest.approx(expected, rel=1e-12)
    mixed = run_chain([100, 100, 1, 1], [-100, -50, 0, 0])
    assert mixed["regime"] == "mixed"


def test_cross_entropy_is_finite_where_sigma_saturates() -> None:
    r = run_chain([50, 50], [0, 0], x=1, y=0, cost="cross-entropy")
    assert r["layers"][1]["a"] == 1.0
    assert math.isfinite(r["grad_b_autodiff"][1])
    assert r["grad_b_autodiff"][1] == pytest.approx(1.0)  # δ_L = a − y


def test_monte_carlo_matches_a_direct_numpy_computation() -> None:
    n, layers, seed = 5000, 4, 11
    mc = monte_carlo(n, layers=layers, seed=seed)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, layers))
    b = rng.standard_normal((n, layers))
    a = np.ones(n)
    sp = np.empty((n, layers))
    for j in range(layers):
        a = 1.0 / (1.0 + np.exp(-(w[:, j] * a + b[:, j])))
        sp[:, j] = a * (1.0 - a)
    delta = (a - 0.0) * sp[:, -1]
    grads = [delta]
    for j in range(layers - 2, -1, -1):
        delta = delta * w[:, j + 1] * sp[:, j]
        grads.insert(0, delta)
    factors = np.abs(w * sp)
    ratio = np.abs(grads[0] / grads[2])
    assert mc["fraction_factor_below_quarter"] == pytest.approx(np.mean(factors < 0.25), abs=1e-12)
    assert mc["fraction_ratio_below_1_16"] == pytest.approx(np.mean(ratio < 1 / 16), abs=1e-12)
    assert mc["median_abs_ratio_b1_b3"] == pytest.approx(np.median(ratio), rel=1e-9)
    assert mc["max_abs_factor"] == pytest.approx(factors.max(), rel=1e-12)
    assert sum(mc["factor_histogram"]["counts"]) == n * layers
    # The book's claim: N(0, 1) weights make most factors smaller than 1/4.
    assert mc["fraction_factor_below_quarter"] > 0.75


def test_bad_chains_are_refused() -> None:
    with pytest.raises(LabError, match="2 weights but 1 biases"):
        run_chain([1, 2], [1])
    with pytest.raises(LabError, match="at least 2 layers"):
        run_chain([1], [1])
    with pytest.raises(LabError, match="finite"):
        run_chain([1, float("nan")], [1, 1])
    with pytest.raises(LabError, match="unknown cost"):
        run_chain([1, 1], [1, 1], cost="hinge")
    with pytest.raises(LabError, match="≥ 3 layers"):
        monte_carlo(10, layers=2)
    with pytest.raises(LabError):
        random_chain(1, 0)


def test_mnemonic_picture() -> None:
    r = run_chain([100, 100, 100, 100], [-100, -50, -50, -50])
    terms = mnemonic_terms(r)
    assert [t for t, _ in terms] == ["σ'(z1)", "w2", "σ'(z2)", "w3", "σ'(z3)", "w4", "σ'(z4)",
                                     "∂C/∂a4"]
    assert math.prod(v for _, v in terms if v is not None) == r["grad_b_autodiff"][0]
    svg = mnemonic_svg(r)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "∂C/∂b1" in svg and "625" in svg
