"""Classroom features without a browser: the training view's defaults, practice exercises,
the terminal quiz and the offline lesson files."""

from __future__ import annotations

import time

import pytest


@pytest.mark.timeout(120)
def test_training_view_defaults_reach_90_percent_within_a_minute() -> None:
    from chainrule.web.server import Limits
    from chainrule.web.training import DEFAULTS, TrainingJobs

    jobs = TrainingJobs(Limits())
    started = time.perf_counter()
    jobs.start({})  # what the page sends when nothing was changed: the defaults
    while jobs.status(10**9)["state"] in ("starting", "running", "stopping"):
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    status = jobs.status(10**9)
    assert status["state"] == "done", status
    assert status["settings"]["lr"] == DEFAULTS["lr"]
    assert len(status["epochs"]) == DEFAULTS["epochs"]
    accuracy = status["epochs"][-1]["test_accuracy"]
    assert accuracy >= 0.90, accuracy
    assert seconds < 60, seconds


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_chain_factors_use_the_chosen_activation(activation: str) -> None:
    import math

    from chainrule.lab import chain
    from chainrule.web.lab import chain_for

    result = chain_for(chain, 5, activation, "nielsen", 1.0, 0)
    assert result["activation"] == activation
    ws, bs = chain.random_chain(5, 0)
    a = 1.0
    for layer, w, b in zip(result["layers"], ws, bs, strict=True):
        z = w * a + b
        # Closed forms of φ and φ', written here only as the test's oracle.
        a, slope = {
            "sigmoid": (1 / (1 + math.exp(-z)), math.exp(-z) / (1 + math.exp(-z)) ** 2),
            "tanh": (math.tanh(z), 1 - math.tanh(z) ** 2),
            "relu": (max(z, 0.0), float(z > 0)),
            "leaky_relu": (z if z > 0 else 0.01 * z, 1.0 if z > 0 else 0.01),
        }[activation]
        assert layer["z"] == pytest.approx(z)
        assert layer["factor"] == pytest.approx(w * slope)
    assert result["max_slope"] == (0.25 if activation == "sigmoid" else 1.0)
    assert result["product"] == pytest.approx(
        math.prod(layer["factor"] for layer in result["layers"][1:]))
