"""One training epoch of a [784,30,30,30,10] sigmoid MLP, written once per system.

The model, for a batch x (n, 784) with one-hot targets y (n, 10)::

    a₀ = x,  aₗ = σ(aₗ₋₁·Wₗ + bₗ)  for the three hidden layers,  z = a₃·W₄ + b₄
    C  = (1/n) Σᵢ Σ_c −[y_ic·ln σ(z_ic) + (1 − y_ic)·ln(1 − σ(z_ic))]

Nielsen's cross-entropy cost for sigmoid outputs (chapter 3), written as a user of a
PyTorch-like library writes it: ``F.binary_cross_entropy_with_logits(out, y, reduction="sum")
/ n``. Its gradient is ∂C/∂z = (σ(z) − y)/n.

Wₗ has shape (in, out), bₗ (out,); plain SGD, learning rate 0.1, every weight updated after
every batch. One epoch is 5,000 MNIST digits (the sample embedded in ``chainrule.data``, pixels
scaled to [0, 1]; seeded random digits of the same shape when the sample is missing) in a fixed
seeded order, batches of 10 or 256 (the last batch of 256 is partial: 5,000 = 19·256 + 136)
given as index arrays into the epoch's arrays, as the README's loop has them.

Every system starts from the same weights (Nielsen's N(0, 1/n_in) init, seed 1) and sees the
same batches; after the epoch the worker computes the mean cost over all 5,000 digits from the
final weights with one shared NumPy function, and the runner checks that the systems agree, so
that nobody is fast by skipping work. Weights and index arrays are prepared before the clock
starts; the timed region is, for every batch, taking its rows (``x[idx]``, the same NumPy call
in every system), forward, backward and update (and, for the chainrule loops, wrapping the rows
in tensors, as the loop in the README does: ``chainrule.tensor(x[idx])``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

SIZES = (784, 30, 30, 30, 10)
LR = 0.1
N_EXAMPLES = 5000
DATA_FILE = "mlp_inputs.npz"

# The MLP systems; each maps to a factory below. "chainrule" is the loop as users write it
# (nn.Sequential, F.binary_cross_entropy_with_logits(..., reduction="sum") / n, optim.SGD, a
# tensor made from each batch's arrays); "chainrule-fused" the Tensor engine op by op with the
# fused loss and the update written by hand (the path earlier suites measured);
# "chainrule-compile" the user loop with its loss function through chainrule.compile.
# "numpy-inplace" is the floor with preallocated arrays and in-place steps: the reference for
# what a replay of NumPy calls can reach.
SYSTEMS = ("numpy", "chainrule", "chainrule-fused", "chainrule-compile", "torch", "autograd",
           "numpy-inplace")
CHAINRULE_SYSTEMS = ("chainrule", "chainrule-fused", "chainrule-compile")

Params = list[np.ndarray]


class Batches(NamedTuple):
    """The epoch's examples and one index array per batch: a system takes ``x[idx]`` and
    ``onehot[idx]`` on the clock, as a training loop over shuffled indices does."""

    x: np.ndarray
    onehot: np.ndarray
    rows: list[np.ndarray]


# ---------------------------------------------------------------- inputs, prepared by the parent


def prepare_inputs(directory: Path) -> dict[str, Any]:
    """Write the digits, labels and initial weights every worker loads; describe the data."""
    source = "chainrule.data.load_sample()"
    try:
        from chainrule.data import load_sample

        ds = load_sample()
        x = np.concatenate([ds.train_x, ds.test_x]).astype(np.float64)[:N_EXAMPLES] / 255.0
        y = np.concatenate([ds.train_y, ds.test_y]).astype(np.int64)[:N_EXAMPLES]
        if x.shape != (N_EXAMPLES, SIZES[0]):
            raise ValueError(f"unexpected sample shape {x.shape}")
    except (ImportError, ValueError, OSError):
        source = "seeded random digits (chainrule.data not available)"
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(N_EXAMPLES, SIZES[0])).astype(np.float64) / 255.0
        y = rng.integers(0, 10, size=N_EXAMPLES).astype(np.int64)
    order = np.random.default_rng(2).permutation(N_EXAMPLES)
    arrays: dict[str, np.ndarray] = {"x": x[order], "y": y[order]}
    rng = np.random.default_rng(1)
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        arrays[f"w{i}"] = rng.standard_normal((n_in, n_out)) / math.sqrt(n_in)
        arrays[f"b{i}"] = rng.standard_normal(n_out)
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / DATA_FILE, **arrays)  # type: ignore[arg-type]
    return {"source": source, "examples": N_EXAMPLES, "sizes": list(SIZES), "lr": LR}


def load_inputs(path: Path, batch: int, dtype: str) -> tuple[Params, Batches, np.ndarray,
                                                              np.ndarray]:
    """Initial weights [W₁, b₁, …] and the epoch's batches, in ``dtype``; plus all of x, y."""
    dt = np.dtype(dtype)
    with np.load(path) as f:
        x = f["x"].astype(dt)
        y = f["y"]
        params = [f[f"{k}{i}"].astype(dt) for i in range(len(SIZES) - 1) for k in ("w", "b")]
    onehot = np.eye(SIZES[-1], dtype=dt)[y]
    order = np.random.default_rng(3).permutation(len(x))
    rows = [order[i:i + batch] for i in range(0, len(x), batch)]
    return params, Batches(x, onehot, rows), x, y


def mean_cost(params: Params, x: np.ndarray, y: np.ndarray) -> float:
    """The cost C over all examples, in float64: the end-of-epoch check."""
    a = x.astype(np.float64)
    ps = [np.asarray(p, dtype=np.float64) for p in params]
    for i in range(0, len(ps) - 2, 2):
        a = 1.0 / (1.0 + np.exp(-(a @ ps[i] + ps[i + 1])))
    z = a @ ps[-2] + ps[-1]
    onehot = np.eye(SIZES[-1])[y]
    # softplus(z) − y·z = −[y·ln σ(z) + (1 − y)·ln(1 − σ(z))], without overflow.
    per_element = np.logaddexp(0.0, z) - onehot * z
    return float(per_element.sum() / len(y))


# ---------------------------------------------------------------- the systems
# Each factory takes the initial weights and the batches, converts the weights to its own types
# (outside the clock) and returns (epoch, final_weights): epoch(limit) trains on the first
# ``limit`` batches (all by default) in place, taking each batch's rows on the clock;
# final_weights() gives NumPy arrays.

Epoch = Callable[[int | None], None]
Factory = Callable[[Params, Batches], tuple[Epoch, Callable[[], Params]]]


def numpy_floor(init: Params, batches: Batches) -> tuple[Epoch, Callable[[], Params]]:
    """The floor: forward and backward written out by hand, updates in place."""
    w0, b0, w1, b1, w2, b2, w3, b3 = params = [p.copy() for p in init]
    lr = LR

    examples, targets = batches.x, batches.onehot

    def epoch(limit: int | None = None) -> None:
        for idx in batches.rows[:limit]:
            x, onehot = examples[idx], targets[idx]
            a1 = 1.0 / (1.0 + np.exp(-(x @ w0 + b0)))
            a2 = 1.0 / (1.0 + np.exp(-(a1 @ w1 + b1)))
            a3 = 1.0 / (1.0 + np.exp(-(a2 @ w2 + b2)))
            z = a3 @ w3 + b3
            # ∂C/∂z = (σ(z) − onehot)/n for the cross-entropy of sigmoid outputs.
            d = (1.0 / (1.0 + np.exp(-z)) - onehot) / len(x)
            g3, gb3 = a3.T @ d, d.sum(axis=0)
            d = (d @ w3.T) * a3 * (1.0 - a3)
            g2, gb2 = a2.T @ d, d.sum(axis=0)
            d = (d @ w2.T) * a2 * (1.0 - a2)
            g1, gb1 = a1.T @ d, d.sum(axis=0)
            d = (d @ w1.T) * a1 * (1.0 - a1)
            g0, gb0 = x.T @ d, d.sum(axis=0)
            for p, g in zip(params, (g0, gb0, g1, gb1, g2, gb2, g3, gb3), strict=True):
                p -= lr * g

    return epoch, lambda: params


def numpy_inplace(init: Params, batches: Batches) -> tuple[Epoch, Callable[[], Params]]:
    """The floor's arithmetic with every array preallocated and every step in place: the same
    NumPy calls, none allocating. What any program replaying NumPy calls can reach (chainrule's
    compiled plans are such programs); not a chainrule system."""
    params = [p.copy() for p in init]
    ws, bs = params[0::2], params[1::2]
    lr = LR
    buffers: dict[tuple[str, int, int], np.ndarray] = {}

    def buf(name: str, rows: int, cols: int) -> np.ndarray:
        key = (name, rows, cols)
        if key not in buffers:
            buffers[key] = np.empty((rows, cols), dtype=init[0].dtype)
        return buffers[key]

    grads = [np.empty_like(p) for p in params]
    examples, targets = batches.x, batches.onehot

    def epoch(limit: int | None = None) -> None:
        for idx in batches.rows[:limit]:
            n = len(idx)
            # The rows as every system takes them (np.take into a buffer is 2x slower).
            x, onehot = examples[idx], targets[idx]
            acts = [x]
            for i in range(3):
                a = np.matmul(acts[-1], ws[i], out=buf(f"a{i}", n, ws[i].shape[1]))
                a += bs[i]
                np.negative(a, out=a)
                np.exp(a, out=a)
                a += 1.0
                np.reciprocal(a, out=a)
                acts.append(a)
            d = np.matmul(acts[3], ws[3], out=buf("d3", n, ws[3].shape[1]))
            d += bs[3]
            np.negative(d, out=d)
            np.exp(d, out=d)
            d += 1.0
            np.reciprocal(d, out=d)
            d -= onehot
            d /= n
            for i in (3, 2, 1, 0):
                np.matmul(acts[i].T, d, out=grads[2 * i])
                np.add.reduce(d, axis=0, out=grads[2 * i + 1])
                if i:
                    back = np.matmul(d, ws[i].T, out=buf(f"d{i - 1}", n, ws[i].shape[0]))
                    slope = np.subtract(1.0, acts[i], out=buf(f"s{i}", n, ws[i].shape[0]))
                    slope *= acts[i]
                    back *= slope
                    d = back
            for p, g in zip(params, grads, strict=True):
                g *= lr
                p -= g

    return epoch, lambda: params


def chainrule_user(init: Params, batches: Batches) -> tuple[Epoch, Callable[[], Params]]:
    """The loop as a user writes it: nn.Sequential, the loss of nn.functional, optim.SGD."""
    import chainrule
    from chainrule.nn import functional as F  # noqa: N812 - torch's alias

    model, opt = _user_model(init)
    examples, targets = batches.x, batches.onehot

    def epoch(limit: int | None = None) -> None:
        for idx in batches.rows[:limit]:
            out = model(chainrule.tensor(examples[idx]))
            loss = F.binary_cross_entropy_with_logits(out, chainrule.tensor(targets[idx]),
                                                      reduction="sum") / len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return epoch, lambda: _user_weights(model)


def chainrule_compiled(init: Params, batches: Batches) -> tuple[Epoch, Callable[[], Params]]:
    """The user loop with its loss function through ``chainrule.compile`` (traced before the
    clock)."""
    import chainrule
    from chainrule.nn import functional as F  # noqa: N812 - torch's alias

    model, opt = _user_model(init)
    examples, targets = batches.x, batches.onehot

    @chainrule.compile
    def step(x: Any, y: Any) -> Any:
        return F.binary_cross_entropy_with_logits(model(x), y, reduction="sum") / len(x)

    # Trace (and check) the plan of every batch shape before the clock, as a training run of
    # many epochs pays it once: about 5 ms per shape here. No backward, so no update happens.
    for idx in {len(idx): idx for idx in batches.rows}.values():
        for _ in range(2):
            step(chainrule.tensor(examples[idx]), chainrule.tensor(targets[idx]))

    def epoch(limit: int | None = None) -> None:
        for idx in batches.rows[:limit]:
            loss = step(chainrule.tensor(examples[idx]), chainrule.tensor(targets[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()

    return epoch, lambda: _user_weights(model)


def _user_model(init: Params) -> tuple[Any, Any]:
    import chainrule
    from chainrule import nn, optim

    dtype = init[0].dtype
    layers: list[Any] = []
    for i in range(len(SIZES) - 1):
        layer = nn.Linear(SIZES[i], SIZES[i + 1], dtype=dtype)
        # nn.Linear keeps W as (out, in), as torch does.
        layer.weight = chainrule.tensor(init[2 * i].T.copy(), requires_grad=True)
        layer.bias = chainrule.tensor(init[2 * i + 1].copy(), requires_grad=True)
        layers += [layer, nn.Sigmoid()] if i < len(SIZES) - 2 else [layer]
    model = nn.Sequential(*layers)
    return model, optim.SGD(model.parameters(), lr=LR)


def _user_weights(model: Any) -> Params:
    params = model.parameters()
    return [p.data.T if i % 2 == 0 else p.data for i, p in enumerate(params)]


def chainrule_fused(init: Params, batches: Batches) -> tuple[Epoch, Callable[[], Params]]:
    """chainrule's Tensor engine op by op, the fused loss, the update written by hand."""
    import chainrule as cr
    from chainrule.nn import functional as F  # noqa: N812 - torch's alias

    params = [cr.tensor(p.copy(), requires_grad=True) for p in init]
    w0, b0, w1, b1, w2, b2, w3, b3 = params
    lr = LR
    examples, targets = batches.x, batches.onehot

    def epoch(limit: int | None = None) -> None:
        for idx in batches.rows[:limit]:
            x, y, scale = cr.tensor(examples[idx]), cr.tensor(targets[idx]), 1.0 / len(idx)
            a = (x @ w0 + b0).sigmoid()
            a = (a @ w1 + b1).sigmoid()
            a = (a @ w2 + b2).sigmoid()
            loss = F.binary_cross_entropy_with_logits(a @ w3 + b3, y, reduction="sum") * scale
            loss.backward()
            for p in params:
                p.data -= lr * p.grad.data  # type: ignore[union-attr]
                p.grad = None

    return epoch, lambda: [p.data for p in params]


def torch_eager(init: Params, batches: Batches) -> tuple[Epoch, Callable[[], Params]]:
    """PyTorch CPU eager: F.binary_cross_entropy_with_logits and a manual SGD step."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - torch's alias

    params = [torch.tensor(p.copy(), requires_grad=True) for p in init]
    w0, b0, w1, b1, w2, b2, w3, b3 = params
    lr = LR
    examples, targets = batches.x, batches.onehot

    def epoch(limit: int | None = None) -> None:
        for idx in batches.rows[:limit]:
            # from_numpy shares the rows NumPy took: torch pays no copy of its own.
            x, y = torch.from_numpy(examples[idx]), torch.from_numpy(targets[idx])
            a = torch.sigmoid(x @ w0 + b0)
            a = torch.sigmoid(a @ w1 + b1)
            a = torch.sigmoid(a @ w2 + b2)
            loss = F.binary_cross_entropy_with_logits(a @ w3 + b3, y, reduction="sum") / len(y)
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad  # type: ignore[operator]
                    p.grad = None

    return epoch, lambda: [p.detach().numpy() for p in params]


def hips_autograd(init: Params, batches: Batches) -> tuple[Epoch, Callable[[], Params]]:
    """HIPS autograd: ``grad`` of the loss as a function of the weight list."""
    import autograd.numpy as anp
    from autograd import grad

    def loss(ps: Params, x: np.ndarray, onehot: np.ndarray) -> Any:
        a = x
        for i in range(0, 6, 2):
            a = 1.0 / (1.0 + anp.exp(-(anp.dot(a, ps[i]) + ps[i + 1])))
        z = anp.dot(a, ps[6]) + ps[7]
        return anp.sum(anp.logaddexp(0.0, z) - onehot * z) / len(x)

    dloss = grad(loss)
    params = [p.copy() for p in init]

    examples, targets = batches.x, batches.onehot

    def epoch(limit: int | None = None) -> None:
        for idx in batches.rows[:limit]:
            grads = dloss(params, examples[idx], targets[idx])
            for p, g in zip(params, grads, strict=True):
                p -= LR * g

    return epoch, lambda: params


FACTORIES: dict[str, Factory] = {
    "numpy": numpy_floor,
    "numpy-inplace": numpy_inplace,
    "chainrule": chainrule_user,
    "chainrule-fused": chainrule_fused,
    "chainrule-compile": chainrule_compiled,
    "torch": torch_eager,
    "autograd": hips_autograd,
}


def run(system: str, cases: list[dict[str, Any]], data_path: str, inner: int) -> dict[str, Any]:
    """Time ``inner`` epochs per case (each from the initial weights) after a warm-up."""
    factory = FACTORIES[system]
    results: dict[str, Any] = {}
    for case in cases:
        init, batches, x, y = load_inputs(Path(data_path), case["batch"], case["dtype"])
        try:
            warm_epoch, _ = factory(init, batches)
        except ImportError as exc:
            return {"skipped": f"{system} is not installed ({exc.name})"}
        warm_epoch(20)  # first calls (lazy imports, allocator, BLAS threads) off the clock
        times, costs, dtypes = [], [], []
        for _ in range(inner):
            epoch, final = factory(init, batches)  # from the initial weights every time
            start = time.perf_counter()
            epoch(None)
            times.append(time.perf_counter() - start)
            weights = final()
            dtypes.append(str(np.asarray(weights[0]).dtype))
            costs.append(mean_cost(weights, x, y))
        results[case["name"]] = {"times": times, "cost": costs[-1], "dtype": dtypes[-1]}
    return {"cases": results}
