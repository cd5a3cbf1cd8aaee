"""Two studies from the closing paragraphs of CS231n's backprop notes and Nielsen's chapter 3.

- `input_scale_study`: the same network, the same initial weights, trained on raw pixels (0–255),
  pixels scaled to [0, 1] and standardized pixels. The multiply gate z = w·x hands w the
  gradient ∂C/∂z·x: proportional to its input. So the scale of the data sets the scale of the
  first layer's weight gradients (and, through z, how saturated the first layer starts).
- `lr_sweep`: log-spaced learning rates, each trained from the same start; final cost and
  accuracy, with divergence detected and marked.

A run *diverges* when its cost or parameters stop being finite, or when an epoch's mean training
cost exceeds `DIVERGENCE_FACTOR` × the cost before training; that run stops there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.graph import no_grad
from chainrule.i18n import _
from chainrule.lab._util import LabError, finite_or_none
from chainrule.lab.flow import _check_sizes, _dataset, _norm, cost, make_model
from chainrule.tensor import Tensor, tensor

__all__ = ["DIVERGENCE_FACTOR", "PREPROCESSINGS", "input_scale_study", "lr_grid", "lr_sweep"]

DIVERGENCE_FACTOR = 1.5
PREPROCESSINGS: tuple[str, ...] = ("raw", "scale", "standardize")

Progress = Callable[[int, int], None]


def _split(data: Any, preprocess: str, samples: int | None) -> tuple[Tensor, np.ndarray, Tensor,
                                                                        np.ndarray, str]:
    ds = _dataset(data, preprocess)
    n = len(ds.train_y) if samples is None else samples
    if not 1 <= n <= len(ds.train_y):
        raise LabError(_(
            "{value0} has {value1} training images; samples must be between 1 and {value2}, "
            "got {n}").format(
                value0=ds.name or _("the data"),
                value1=len(ds.train_y),
                value2=len(ds.train_y),
                n=n,))
    return (tensor(ds.train_x[:n]), np.asarray(ds.train_y[:n]), tensor(ds.test_x),
            np.asarray(ds.test_y), ds.name or "data")


def _evaluate(model: Any, x: Tensor, y: np.ndarray, loss: str) -> tuple[float, float]:
    # Not under no_grad: `cost` reads the output's graph to find the logits of a sigmoid.
    out = model(x)
    c = cost(out, y, loss).item()
    return c, float((out.data.argmax(axis=1) == y).mean())


def _first_layer_grad(model: Any, x: Tensor, y: np.ndarray, loss: str) -> float:
    model.zero_grad()
    cost(model(x), y, loss).backward()
    g = model.linears[0].weight.grad
    model.zero_grad()
    return _norm(g)


def _train(
    model: Any,
    x: Tensor,
    y: np.ndarray,
    test: tuple[Tensor, np.ndarray],
    epochs: int,
    lr: float,
    batch: int,
    loss: str,
    seed: int,
    probe: Tensor,
    probe_y: np.ndarray,
    tick: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Mini-batch SGD; per epoch the mean training cost, test cost and accuracy and the
    first layer's weight-gradient norm on ``probe``. Index 0 of each list is before training."""
    from chainrule.optim import SGD

    opt = SGD(model.parameters(), lr)
    rng = np.random.default_rng([seed, 1])
    n = len(y)
    start_cost, start_acc = _evaluate(model, x, y, loss)
    test_cost, test_acc = _evaluate(model, *test, loss)
    train_costs = [start_cost]
    test_costs = [test_cost]
    accuracy = [test_acc]
    grads = [_first_layer_grad(model, probe, probe_y, loss)]
    diverged_at: int | None = None
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            model.zero_grad()
            c = cost(model(x[idx]), y[idx], loss)
            value = c.item()
            if not math.isfinite(value):
                total = math.inf
                break
            c.backward()
            opt.step()
            total += value * len(idx)
        mean = total / n
        finite = math.isfinite(mean) and all(
            bool(np.isfinite(p.data).all()) for p in model.parameters()
        )
        if finite:
            test_cost, test_acc = _evaluate(model, *test, loss)
            grads.append(_first_layer_grad(model, probe, probe_y, loss))
        else:
            test_cost, test_acc = math.inf, 0.1
            grads.append(math.inf)
        train_costs.append(mean)
        test_costs.append(test_cost)
        accuracy.append(test_acc)
        if tick is not None:
            tick()
        if not finite or not math.isfinite(test_cost) or mean > DIVERGENCE_FACTOR * start_cost:
            diverged_at = epoch
            break
    return {
        "train_cost": [finite_or_none(v) for v in train_costs],
        "test_cost": [finite_or_none(v) for v in test_costs],
        "test_accuracy": accuracy,
        "first_layer_weight_grad": [finite_or_none(v) for v in grads],
        "diverged": diverged_at is not None,
        "diverged_at_epoch": diverged_at,
    }


def input_scale_study(
    sizes: Sequence[int] = (784, 30, 10),
    epochs: int = 3,
    lr: float = 0.1,
    batch: int = 10,
    activation: str = "sigmoid",
    init: str = "nielsen",
    loss: str = "cross-entropy",
    samples: int | None = 1000,
    probe: int = 100,
    seed: int = 0,
    modes: Sequence[str] = PREPROCESSINGS,
    data: Any = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train the same network from the same initial weights on each input preprocessing.

    Per mode: the input scale (mean |x| over the training images), the first layer's
    weight-gradient norm on the first ``probe`` images (before training and after every epoch),
    the fraction of first-layer sigmoid/tanh inputs past the knee at the start, and the
    training and test curves. ``gradient_ratio_to_scale`` relates each mode's starting
    first-layer gradient to that of ``scale``.
    """
    parsed = _check_sizes(sizes)
    unknown = [m for m in modes if m not in PREPROCESSINGS]
    if unknown:
        raise LabError(_(
            "unknown preprocessing {value0!r}; choose from {value1}").format(
                value0=unknown[0], value1=', '.join(PREPROCESSINGS)))
    if epochs < 0 or batch < 1:
        raise LabError(_("epochs must be ≥ 0 and batch ≥ 1"))
    started = time.perf_counter()
    done = 0
    total = len(modes) * max(epochs, 1)
    results: dict[str, Any] = {}
    for mode in modes:
        x, y, tx, ty, name = _split(data, mode, samples)
        model = make_model(parsed, activation, init, seed, loss=loss)
        probe_x, probe_y = x[: min(probe, len(y))], y[: min(probe, len(y))]
        with no_grad(), np.errstate(over="ignore"):
            z1 = model.linears[0](probe_x)
        knee = 4.0 if activation == "sigmoid" else 2.0 if activation == "tanh" else None
        saturated = None if knee is None else float((z1.abs() > knee).mean())

        def tick() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        # Divergence is expected in some runs and detected explicitly.
        with np.errstate(over="ignore", invalid="ignore"):
            run = _train(model, x, y, (tx, ty), epochs, lr, batch, loss, seed, probe_x, probe_y,
                         tick)
        run["input_mean_abs"] = float(x.abs().mean().item())
        run["input_max_abs"] = float(x.abs().max().item())
        run["first_layer_saturated"] = saturated
        results[mode] = run
    base = results.get("scale", {}).get("first_layer_weight_grad", [None])[0]
    for run in results.values():
        g0 = run["first_layer_weight_grad"][0]
        run["gradient_ratio_to_scale"] = g0 / base if base and g0 is not None else None
    return {
        "sizes": list(parsed),
        "activation": activation,
        "init": init,
        "loss": loss,
        "lr": float(lr),
        "batch": int(batch),
        "epochs": int(epochs),
        "samples": samples,
        "seed": int(seed),
        "data": name if modes else "",
        "modes": results,
        "seconds": time.perf_counter() - started,
    }


def lr_grid(low: float = 1e-3, high: float = 1e2, num: int = 6) -> list[float]:
    """``num`` learning rates log-spaced from ``low`` to ``high`` (both included)."""
    if not (0.0 < low <= high) or num < 1:
        raise LabError(_(
            "need 0 < low ≤ high and num ≥ 1, got {low}, {high}, {num}").format(
                low=low, high=high, num=num))
    if num == 1:
        return [float(low)]
    step = (math.log10(high) - math.log10(low)) / (num - 1)
    return [float(10 ** (math.log10(low) + i * step)) for i in range(num)]


def lr_sweep(
    lrs: Sequence[float] | None = None,
    sizes: Sequence[int] = (784, 30, 10),
    epochs: int = 3,
    batch: int = 10,
    activation: str = "sigmoid",
    init: str = "nielsen",
    loss: str = "cross-entropy",
    preprocess: str = "scale",
    samples: int | None = 1000,
    seed: int = 0,
    data: Any = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train the same network (same initial weights) at each learning rate.

    One row per rate: final training cost, test cost and accuracy, the per-epoch curves, and
    ``diverged`` (see the module docstring). ``best_lr`` is the rate with the best final test
    accuracy among the runs that did not diverge.
    """
    rates = lr_grid() if lrs is None else [float(v) for v in lrs]
    if not rates or any(not (r > 0.0 and math.isfinite(r)) for r in rates):
        raise LabError(_(
            "learning rates must be positive numbers, got {value0}").format(
                value0=list(rates)))
    parsed = _check_sizes(sizes)
    if epochs < 1 or batch < 1:
        raise LabError(_("epochs and batch must be at least 1"))
    started = time.perf_counter()
    x, y, tx, ty, name = _split(data, preprocess, samples)
    rows: list[dict[str, Any]] = []
    done = 0
    for rate in rates:
        model = make_model(parsed, activation, init, seed, loss=loss)
        with np.errstate(over="ignore", invalid="ignore"):
            run = _train(model, x, y, (tx, ty), epochs, rate, batch, loss, seed, x[:100], y[:100])
        rows.append({
            "lr": rate,
            "final_train_cost": run["train_cost"][-1],
            "final_test_cost": run["test_cost"][-1],
            "final_test_accuracy": run["test_accuracy"][-1],
            **run,
        })
        done += 1
        if progress is not None:
            progress(done, len(rates))
    ok = [r for r in rows if not r["diverged"]]
    best = max(ok, key=lambda r: r["final_test_accuracy"])["lr"] if ok else None
    return {
        "sizes": list(parsed),
        "activation": activation,
        "init": init,
        "loss": loss,
        "preprocess": preprocess,
        "epochs": int(epochs),
        "batch": int(batch),
        "samples": samples,
        "seed": int(seed),
        "data": name,
        "divergence_factor": DIVERGENCE_FACTOR,
        "runs": rows,
        "best_lr": best,
        "seconds": time.perf_counter() - started,
    }
