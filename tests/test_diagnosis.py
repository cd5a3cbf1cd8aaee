"""Diagnosis verdicts on networks built to show each condition."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.lab.diagnosis import (
    SATURATION_Z,
    VERDICTS,
    Diagnosis,
    Setup,
    _suggestions,
    diagnose,
)
from chainrule.lab.flow import load_inputs, make_model


@pytest.fixture(scope="module")
def batch() -> tuple[chainrule.Tensor, np.ndarray]:
    x, y, _ = load_inputs((784, 30, 10), 200)
    return x, y


def test_healthy_networks(batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    x, y = batch
    assert diagnose(make_model((784, 30, 10)), x, y).verdict == "healthy"
    relu = nn.MLP((784, 64, 32, 10), activation="relu", init="he", output_activation="linear")
    d = diagnose(relu, x, y, loss="softmax")
    assert d.verdict == "healthy"
    assert [r.activation for r in d.layers] == ["relu", "relu", None]
    assert d.layers[0].dead_fraction is not None and d.layers[0].saturated_fraction is None


def test_vanishing(batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    x, y = batch
    d = diagnose(make_model((784, *([30] * 6), 10)), x, y)
    assert d.verdict == "vanishing"
    assert d.layers[0].ratio_to_last is not None and d.layers[0].ratio_to_last < 1e-2
    assert all(r.saturated_fraction == 0.0 for r in d.layers[:-1])
    assert any("per layer" in e for e in d.evidence)
    assert any("relu" in s for s in d.suggestions)


def test_exploding(batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    x, y = batch
    model = make_model((784, *([50] * 7), 10), activation="relu", init="he", weight_scale=3.0,
                       loss="softmax")
    d = diagnose(model, x, y, loss="softmax")
    assert d.verdict == "exploding"
    assert d.layers[0].ratio_to_last is not None and d.layers[0].ratio_to_last > 100
    nan_model = make_model((784, 30, 10))
    nan_model.linears[0].weight.data[0, 0] = np.nan
    d = diagnose(nan_model, x, y)
    assert d.verdict == "exploding" and d.layers[0].nonfinite
    json.dumps(d.to_dict(), allow_nan=False)


def test_saturated(batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    _, y = batch
    raw, _, _ = load_inputs((784, 30, 10), 200, preprocess="raw")
    d = diagnose(make_model((784, 30, 30, 10), init="nielsen-large"), raw, y)
    assert d.verdict == "saturated"
    assert d.layers[0].saturated_fraction is not None and d.layers[0].saturated_fraction > 0.9
    assert any("Scale the inputs" in s for s in d.suggestions)
    tanh = make_model((784, 30, 10), activation="tanh", init="nielsen-large")
    d = diagnose(tanh, raw, y)
    assert d.verdict == "saturated" and d.layers[0].activation == "tanh"
    assert SATURATION_Z == {"sigmoid": 4.0, "tanh": 2.0}


def test_dead_units(batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    x, y = batch
    model = nn.MLP((784, 64, 64, 10), activation="relu", init="he", output_activation="linear")
    model.linears[1].bias.data[:] = -100.0
    d = diagnose(model, x, y, loss="softmax")
    assert d.verdict == "dead units"
    assert d.layers[1].dead_fraction == 1.0 and d.layers[0].dead_fraction == 0.0


def test_result_shape_and_untouched_model(batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    x, y = batch
    model = make_model((784, 30, 10))
    d = chainrule.diagnose(model, x.data, y, lr=0.5)
    assert isinstance(d, Diagnosis) and d.verdict in VERDICTS
    assert all(p.grad is None for p in model.parameters())
    data = d.to_dict()
    assert set(data) >= {"layers", "verdict", "evidence", "suggestions", "thresholds"}
    row = data["layers"][0]
    assert set(row) >= {"weight_grad_norm", "bias_grad_norm", "ratio_to_last", "update_ratio",
                        "saturated_fraction", "dead_fraction", "nonfinite"}
    assert row["update_ratio"] == pytest.approx(0.5 * row["weight_grad_norm"] /
                                                row["weight_norm"])
    assert "verdict: " in str(d)


def test_suggestions_leave_out_advice_already_followed() -> None:
    setup = Setup(activation="sigmoid", init="nielsen", loss="cross-entropy", preprocess="scale")
    assert _suggestions("saturated", [], setup) == [
        "Or switch to relu units, which do not saturate for z > 0."]
    assert _suggestions("exploding", [], setup) == [
        "Lower the learning rate (try 10× smaller; chainrule study lr finds the edge)."]
    # Scaled-up weights are not small, whatever the scheme; an unknown setup keeps everything.
    scaled_up = Setup(init="nielsen", preprocess="scale", weight_scale=3.0)
    assert len(_suggestions("exploding", [], scaled_up)) == 2
    assert len(_suggestions("saturated", [])) == 4
    relu_he = Setup(activation="relu", init="he", loss="softmax", preprocess="standardize")
    assert not any("--init he" in s for s in _suggestions("vanishing", [], relu_he))
    everything = Setup(activation="leaky_relu", init="he", loss="softmax", preprocess="scale")
    assert _suggestions("saturated", [], everything)[0].startswith(
        "The usual fixes for this are already in place")


def test_diagnose_passes_the_setup_to_the_suggestions(
        batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    x, y = batch
    model = make_model((784, *([30] * 6), 10))
    told = diagnose(model, x, y, init="nielsen", preprocess="scale").suggestions
    assert not any("cross-entropy" in s for s in told)
    assert any("--init he" in s for s in told)
    quadratic = diagnose(model, x, y, loss="quadratic", init="nielsen").suggestions
    assert "Keep the cross-entropy cost (not quadratic) for sigmoid outputs." in quadratic
