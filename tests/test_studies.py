"""The input-scale study and the learning-rate sweep."""

from __future__ import annotations

import math

import pytest

from chainrule.lab._util import LabError
from chainrule.lab.studies import input_scale_study, lr_grid, lr_sweep


def test_input_scale_study() -> None:
    r = input_scale_study((784, 8, 10), epochs=1, batch=20, samples=100, probe=50)
    assert set(r["modes"]) == {"raw", "scale", "standardize"}
    raw, scale = r["modes"]["raw"], r["modes"]["scale"]
    assert raw["input_mean_abs"] == pytest.approx(255 * scale["input_mean_abs"])
    assert scale["gradient_ratio_to_scale"] == 1.0
    # Same initial weights; the raw inputs saturate the first layer.
    assert raw["first_layer_saturated"] > 0.5 and scale["first_layer_saturated"] < 0.1
    assert len(scale["first_layer_weight_grad"]) == 2 and len(scale["test_accuracy"]) == 2


def test_lr_sweep_marks_divergence() -> None:
    r = lr_sweep([0.05, 1e4], (784, 16, 10), epochs=2, batch=20, samples=200,
                 activation="relu", init="he", loss="softmax")
    calm, wild = r["runs"]
    assert not calm["diverged"] and calm["final_train_cost"] < calm["train_cost"][0]
    assert wild["diverged"] and wild["diverged_at_epoch"] == 1
    assert r["best_lr"] == 0.05


def test_lr_grid_and_bad_settings() -> None:
    grid = lr_grid(1e-3, 1e1, 5)
    assert grid[0] == pytest.approx(1e-3) and grid[-1] == pytest.approx(10.0)
    assert all(math.isclose(b / a, 10.0) for a, b in zip(grid[:-1], grid[1:], strict=True))
    with pytest.raises(LabError):
        lr_grid(1.0, 0.1)
    with pytest.raises(LabError, match="positive"):
        lr_sweep([-1.0])
    with pytest.raises(LabError, match="unknown preprocessing"):
        input_scale_study(modes=("raw", "loud"))
