"""Per-layer gradient flow: the vectorised measure against a per-example loop, the book."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import nn
from chainrule.lab._util import LabError
from chainrule.lab.flow import (
    BOOK,
    hidden_bias_gradient_norms,
    layer_norms_for,
    load_inputs,
    make_model,
    speed_of_learning,
    vanishing_table,
)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _per_example_loop(model: nn.MLP, x: np.ndarray, labels: np.ndarray, loss: str) -> list[float]:
    """Nielsen's get_average_gradient: backprop one example at a time, sum nabla_b, divide."""
    ws = [m.weight.data for m in model.linears]
    bs = [m.bias.data for m in model.linears]
    total = [np.zeros_like(b) for b in bs]
    for xi, label in zip(x, labels, strict=True):
        y = np.zeros(ws[-1].shape[0])
        y[label] = 1.0
        a, acts, zs = xi, [xi], []
        for w, b in zip(ws, bs, strict=True):
            z = w @ a + b
            a = _sigmoid(z)
            zs.append(z)
            acts.append(a)
        sp = [s * (1 - s) for s in (_sigmoid(z) for z in zs)]
        delta = (a - y) if loss == "cross-entropy" else (a - y) * sp[-1]
        nabla = [delta]
        for layer in range(len(ws) - 2, -1, -1):
            delta = (ws[layer + 1].T @ delta) * sp[layer]
            nabla.insert(0, delta)
        total = [t + d for t, d in zip(total, nabla, strict=True)]
    return [float(np.linalg.norm(t / len(x))) for t in total[:-1]]


@pytest.mark.parametrize("loss", ["cross-entropy", "quadratic"])
def test_vectorised_norms_equal_a_per_example_loop(loss: str) -> None:
    x, labels, _ = load_inputs((784, 16, 12, 10), 40)
    model = make_model((784, 16, 12, 10), seed=3)
    fast = hidden_bias_gradient_norms(model, x, labels, loss=loss)
    slow = _per_example_loop(model, x.data, labels, loss)
    assert fast == pytest.approx(slow, rel=1e-10)
    # The model is left as it was: no .grad written, weights still trainable.
    assert all(p.grad is None for p in model.parameters())
    assert all(m.weight.requires_grad for m in model.linears)


def test_layers_without_bias_use_the_weighted_input() -> None:
    x, labels, _ = load_inputs((784, 16, 12, 10), 30)
    model = make_model((784, 16, 12, 10), seed=1)
    expected = hidden_bias_gradient_norms(model, x, labels)
    # A bias-free network gets ∂C/∂b from ∂C/∂z: compare it with the same MLP whose biases
    # are zero.
    for m in model.linears:
        m.bias.data[:] = 0.0
    zero_bias = hidden_bias_gradient_norms(model, x, labels)
    seq = nn.Sequential(*[layer for pair in zip(
        [nn.Linear(a, b, bias=False) for a, b in ((784, 16), (16, 12), (12, 10))],
        [nn.Sigmoid(), nn.Sigmoid(), nn.Sigmoid()], strict=True) for layer in pair])
    for new, old in zip([m for m in seq.layers if isinstance(m, nn.Linear)], model.linears,
                        strict=True):
        new.weight.data[...] = old.weight.data
    assert hidden_bias_gradient_norms(seq, x, labels) == pytest.approx(zero_bias, rel=1e-12)
    assert expected != pytest.approx(zero_bias)


def test_book_table_on_the_embedded_sample() -> None:
    sizes = (784, 30, 30, 30, 30, 10)
    r = vanishing_table(sizes)  # 20 seeds, 1000 images: the book's measure (timed in benchmarks/)
    means = r["hidden_layer_norms"]["mean"]
    assert len(r["per_seed"]) == 20 and len(r["per_seed"][0]) == 4
    assert r["book"] == BOOK[sizes]
    for ours, book in zip(means, BOOK[sizes], strict=True):
        assert abs(ours / book - 1) < 0.4
    for ratio in r["ratios"]:
        assert 3.5 < ratio < 6.5
    assert all(s > 0 for s in r["hidden_layer_norms"]["std"])
    np.testing.assert_allclose(means, np.mean(r["per_seed"], axis=0), rtol=1e-12)


def test_table_options_and_book_only_for_the_book_setup() -> None:
    r = vanishing_table((784, 30, 30, 10), activation="relu", init="he", seeds=2, samples=50)
    assert r["book"] is None and r["book_relative"] is None
    assert len(r["ratios"]) == 1


def test_layer_norms_for_deep_wide_networks() -> None:
    sizes = (784, *([100] * 30), 10)
    r = layer_norms_for(sizes, "sigmoid", "nielsen")
    assert len(r["norms"]) == 30 and r["data"] == "sample"
    assert r["norms"][0] < r["norms"][-1] * 1e-6
    relu = layer_norms_for(sizes, "relu", "he", weight_scale=1.0)
    assert relu["first_over_last"] > 1e-3
    synthetic = layer_norms_for((20, 8, 8, 3), "tanh", "xavier", samples=10)
    assert synthetic["data"] == "synthetic" and len(synthetic["norms"]) == 2


def test_speed_of_learning_records_the_norms_every_epoch() -> None:
    sizes = (784, 12, 12, 10)
    r = speed_of_learning(sizes, epochs=3, samples=200)
    assert len(r["history"]) == 4 and len(r["cost"]) == 4
    x, labels, _ = load_inputs(sizes, 200)
    assert r["history"][0] == pytest.approx(hidden_bias_gradient_norms(make_model(sizes), x,
                                                                        labels), rel=1e-12)
    assert r["cost"][-1] < r["cost"][0]
    mini = speed_of_learning(sizes, epochs=1, samples=100, batch=25, lr=0.5, lmbda=0.0)
    assert len(mini["history"]) == 2 and mini["batch"] == 25


def test_bad_settings_are_refused() -> None:
    with pytest.raises(LabError, match="first size is 100"):
        vanishing_table((100, 30, 10), seeds=1)
    with pytest.raises(LabError, match="end the sizes with 10"):
        vanishing_table((784, 30, 7), seeds=1)
    with pytest.raises(LabError, match="no hidden layer"):
        vanishing_table((784, 10), seeds=1)
    with pytest.raises(LabError, match="between 1 and 4000"):
        vanishing_table((784, 30, 10), samples=10_000, seeds=1)
    with pytest.raises(LabError, match="weight scale"):
        make_model((784, 30, 10), weight_scale=-1.0)
