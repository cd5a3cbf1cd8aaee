"""Gradient flow in real networks: Nielsen's "speed of learning" of each hidden layer.

The measure (chapter 5, and the book's ``fig/generate_gradient.py``): for a network2-style MLP —
sigmoid units, weights N(0, 1/n_in), biases N(0, 1), cross-entropy cost on sigmoid outputs — take
the gradient ∂C/∂b of the cost averaged over the first N training images (N = 1000, pixels scaled
to [0, 1]) and report, for every hidden layer l, the length ‖∂C/∂b^l‖ of that averaged vector.
Since ∂C/∂b^l_j = δ^l_j, it is the size of the error signal that reaches layer l: how fast its
biases learn. Nielsen reports [0.07, 0.31] for 784-30-30-10, [0.012, 0.060, 0.283] for
784-30-30-30-10 and [0.003, 0.017, 0.070, 0.285] for 784-30-30-30-30-10: each layer back learns
4–5× slower than the one after it.

Everything is vectorised over examples: one forward and one backward pass of the cost averaged
over the N examples gives the averaged gradient directly (∂ of a mean is the mean of the ∂s).
`speed_of_learning` repeats the measure while training as the book does (full-batch SGD with
η = 0.1 and L2 λ = 5.0 on the same 1000 images).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autodiff import grad
from chainrule.i18n import _
from chainrule.lab._util import LabError
from chainrule.tensor import Tensor, tensor

__all__ = [
    "BOOK",
    "BOOK_SIZES",
    "COMPARE",
    "LOSSES",
    "cost",
    "hidden_bias_gradient_norms",
    "layer_norms_for",
    "load_inputs",
    "make_model",
    "speed_of_learning",
    "vanishing_table",
]

# Nielsen's numbers, chapter 5 ("The vanishing gradient problem"), one network each.
BOOK: dict[tuple[int, ...], list[float]] = {
    (784, 30, 30, 10): [0.07, 0.31],
    (784, 30, 30, 30, 10): [0.012, 0.060, 0.283],
    (784, 30, 30, 30, 30, 10): [0.003, 0.017, 0.070, 0.285],
}
BOOK_SIZES: tuple[tuple[int, ...], ...] = tuple(BOOK)

LOSSES: tuple[str, ...] = ("cross-entropy", "quadratic", "softmax")

# Settings compared side by side by ``chainrule vanishing --compare``.
COMPARE: dict[str, tuple[str, ...]] = {
    "activation": ("sigmoid", "tanh", "relu"),
    "init": ("nielsen-large", "nielsen", "xavier", "he"),
}

LossArg = str | Callable[[Tensor, Any], Tensor]
Progress = Callable[[int, int], None]


# ------------------------------------------------------------------------------ costs


def _targets(y: Any, out: Tensor, loss: str) -> Any:
    """Integer labels become one-hot rows (Nielsen's ``vectorized_result``) for the costs
    that compare every output with a target; softmax takes the labels as they are."""
    raw = y.data if isinstance(y, Tensor) else np.asarray(y)
    if loss == "softmax" or raw.ndim == 2:
        return raw
    classes = out.shape[1]
    if raw.size and (int(raw.min()) < 0 or int(raw.max()) >= classes):
        raise LabError(_(
            "labels must be in 0..{value0} for a network with {classes} outputs").format(
                value0=classes - 1, classes=classes))
    return np.eye(classes, dtype=out.dtype)[raw.astype(np.intp)]


def cost(out: Tensor, y: Any, loss: LossArg = "cross-entropy") -> Tensor:
    """The cost averaged over the batch, C = 1/n Σₓ Cₓ, for network outputs ``out`` (n, classes).

    - ``"cross-entropy"`` (Nielsen's network2): −Σⱼ [yⱼ ln aⱼ + (1−yⱼ) ln(1−aⱼ)] with a = σ(z).
      If ``out`` is a sigmoid it is computed from that sigmoid's input z (stable, and ∂C/∂z is
      exactly a − y, the book's output error); otherwise ``out`` is taken to be the logits z.
    - ``"quadratic"`` (network.py): ½‖a − y‖² with a = ``out``.
    - ``"softmax"``: −ln softmax(out)_y (log-likelihood on logits).
    - a callable ``loss(out, y)`` returning a one-element Tensor.

    ``y`` holds integer labels (n,) or targets (n, classes). Spotting the sigmoid needs the
    output's graph, so compute ``out`` outside `chainrule.no_grad` for ``"cross-entropy"``.
    """
    if callable(loss):
        return loss(out, y)
    from chainrule.nn import functional as F

    n = out.shape[0]
    if loss == "cross-entropy":
        z = out.inputs[0] if out.op is ops.SIGMOID else out
        return F.binary_cross_entropy_with_logits(z, _targets(y, out, loss), "sum") * (1.0 / n)
    if loss == "quadratic":
        return F.mse_loss(out, _targets(y, out, loss), "sum") * (0.5 / n)
    if loss == "softmax":
        return F.cross_entropy(out, _targets(y, out, loss))
    raise LabError(_(
        "unknown loss {loss!r}; choose one of: {value0}").format(
            loss=loss, value0=', '.join(LOSSES)))


# ------------------------------------------------------------------------------ models


def linears(model: Any) -> list[Any]:
    """The model's `Linear` layers in the order ``named_modules`` visits them (for an MLP or a
    Sequential: input to output). All but the last are the hidden layers."""
    from chainrule.nn import Linear

    found = [m for _, m in model.named_modules() if isinstance(m, Linear)]
    if len(found) < 2:
        raise LabError(
            _(
            "{__name__} has {value0} Linear layer(s); gradient flow needs at least one "
            "hidden layer (two Linear layers)").format(
                __name__=type(model).__name__, value0=len(found))
        )
    return found


@contextmanager
def trace_linears(model: Any) -> Iterator[list[Tensor]]:
    """Inside the block, every call of one of the model's `Linear` layers appends its output z
    to the yielded list (in call order). Works for any `Module` that calls its layers."""
    recorded: list[Tensor] = []
    layers = linears(model)
    for layer in layers:
        inner = layer.forward

        def forward(x: Tensor, _inner: Callable[[Tensor], Tensor] = inner) -> Tensor:
            z = _inner(x)
            recorded.append(z)
            return z

        # An instance attribute shadows the class's forward for this object only.
        layer.forward = forward
    try:
        yield recorded
    finally:
        for layer in layers:
            vars(layer).pop("forward", None)


@contextmanager
def _weights_frozen(layers: Sequence[Any]) -> Iterator[None]:
    """Only biases need gradients here: freezing the weights makes backward skip their
    products (the largest: the 784-wide first layer), leaving the biases' gradients exact."""
    saved = [(layer.weight, layer.weight.requires_grad) for layer in layers]
    for w, _grad in saved:
        w.requires_grad = False
    try:
        yield
    finally:
        for w, flag in saved:
            w.requires_grad = flag


def _norm(g: Tensor | np.ndarray | None) -> float:
    """Euclidean length of a gradient (a ``.grad`` array or a Tensor)."""
    if g is None:
        return 0.0
    t = g if isinstance(g, Tensor) else tensor(g)
    return float((t * t).sum().sqrt().item())


def hidden_bias_gradient_norms(
    model: Any, x: Any, y: Any, loss: LossArg = "cross-entropy"
) -> list[float]:
    """‖∂C/∂b^l‖ for every hidden layer l, with C the cost averaged over the examples in ``x``.

    One forward and one backward pass over the whole batch (no loop over examples); the model's
    ``.grad`` fields are left untouched. A hidden layer without bias gets the same quantity from
    its weighted input: ∂C/∂b = Σₓ ∂C/∂z.
    """
    layers = linears(model)
    hidden = layers[:-1]
    xt = x if isinstance(x, Tensor) else tensor(np.asarray(x), dtype=layers[0].weight.dtype)
    if all(layer.bias is not None for layer in hidden):
        with _weights_frozen(layers):
            c = cost(model(xt), y, loss)
            grads = grad(c, [layer.bias for layer in hidden])
        return [_norm(g) for g in grads]
    with trace_linears(model) as zs:
        c = cost(model(xt), y, loss)
    by_layer = {id(layer): z for layer, z in zip(layers, zs, strict=False)}
    z_hidden = [by_layer[id(layer)] for layer in hidden]
    grads = grad(c, z_hidden)
    return [_norm(g.sum(axis=0)) for g in grads]


def make_model(
    sizes: Sequence[int],
    activation: str = "sigmoid",
    init: str = "nielsen",
    seed: int = 0,
    weight_scale: float = 1.0,
    loss: str = "cross-entropy",
) -> Any:
    """Nielsen's network2: an `MLP` with sigmoid outputs (linear outputs for ``softmax``);
    every weight multiplied by ``weight_scale`` after initialisation."""
    from chainrule.nn import MLP

    output = "linear" if loss == "softmax" else "sigmoid"
    model = MLP(sizes, activation=activation, init=init, output_activation=output, seed=seed)
    if weight_scale != 1.0:
        if not weight_scale > 0.0:
            raise LabError(_(
                "weight scale must be positive, got {weight_scale}").format(
                    weight_scale=weight_scale))
        for layer in model.linears:
            layer.weight.data = (layer.weight * float(weight_scale)).data
    return model


# ------------------------------------------------------------------------------ data


@functools.lru_cache(maxsize=4)
def _sample(preprocess: str) -> Any:
    from chainrule.data import load_sample

    return load_sample().preprocess(preprocess)


def _dataset(data: Any, preprocess: str) -> Any:
    from chainrule.data import Dataset, load

    if data is None or (isinstance(data, str) and data == "sample"):
        return _sample(preprocess)
    ds = data if isinstance(data, Dataset) else load(data)
    return ds.preprocess(preprocess) if ds.preprocessing == "stored" else ds


def load_inputs(
    sizes: Sequence[int], samples: int, preprocess: str = "scale", data: Any = None
) -> tuple[Tensor, np.ndarray, str]:
    """The first ``samples`` training images as a Tensor (samples, features), their labels and
    the data set's name; checks that ``sizes`` fits the data."""
    ds = _dataset(data, preprocess)
    if sizes[0] != ds.n_features:
        raise LabError(
            _(
            "the first size is {value0} but {value1} has {n_features} inputs per example: "
            "use sizes like {n_features},30,30,{n_classes}").format(
                value0=sizes[0],
                value1=ds.name or _("the data"),
                n_features=ds.n_features,
                n_classes=ds.n_classes,)
        )
    if sizes[-1] != ds.n_classes:
        raise LabError(
            _(
            "the last size is {value0} but {value1} has {n_classes} classes: end the sizes "
            "with {n_classes}").format(
                value0=sizes[-1], value1=ds.name or _("the data"), n_classes=ds.n_classes)
        )
    available = len(ds.train_y)
    if not 1 <= samples <= available:
        raise LabError(
            _(
            "{value0} has {available} training images; samples must be between 1 and "
            "{available}, got {samples}").format(
                value0=ds.name or _("the data"), available=available, samples=samples)
        )
    return tensor(ds.train_x[:samples]), np.asarray(ds.train_y[:samples]), ds.name or "data"


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    from chainrule.nn import parse_sizes

    parsed = parse_sizes(sizes)
    if len(parsed) < 3:
        raise LabError(_(
            "sizes {sizes} have no hidden layer; give at least three sizes, e.g. "
            "784,30,10").format(sizes=",".join(map(str, parsed))))
    return parsed


# ------------------------------------------------------------------------------ the table


def _ratios(norms: Sequence[float]) -> list[float | None]:
    """How many times faster each hidden layer learns than the one before it."""
    return [b / a if a > 0.0 else None for a, b in zip(norms[:-1], norms[1:], strict=True)]


def vanishing_table(
    sizes: Sequence[int],
    init: str = "nielsen",
    activation: str = "sigmoid",
    samples: int = 1000,
    seeds: int = 20,
    preprocess: str = "scale",
    weight_scale: float = 1.0,
    data: Any = None,
    loss: str = "cross-entropy",
    first_seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The book's measure for ``seeds`` freshly initialised networks (seeds ``first_seed`` …).

    Returns ``hidden_layer_norms`` ({mean, std} over seeds, one entry per hidden layer, input
    side first), ``per_seed`` (one row of norms per seed), ``ratios`` (mean of layer l+1 over
    mean of layer l: how many times faster each layer learns than the one before it), ``book``
    (Nielsen's figures when ``sizes`` is one of his networks, else None) and the settings.
    """
    parsed = _check_sizes(sizes)
    if seeds < 1:
        raise LabError(_("seeds must be at least 1, got {seeds}").format(seeds=seeds))
    started = time.perf_counter()
    x, labels, name = load_inputs(parsed, samples, preprocess, data)
    per_seed: list[list[float]] = []
    for i in range(seeds):
        model = make_model(parsed, activation, init, first_seed + i, weight_scale, loss)
        per_seed.append(hidden_bias_gradient_norms(model, x, labels, loss))
        if progress is not None:
            progress(i + 1, seeds)
    table = tensor(np.asarray(per_seed))
    mean = table.mean(axis=0)
    std = ((table - mean) ** 2).mean(axis=0).sqrt()
    means = [float(v) for v in mean.data]
    # The book's figures apply to the book's setup only.
    book_setup = (activation, init, loss, preprocess, float(weight_scale)) == (
        "sigmoid", "nielsen", "cross-entropy", "scale", 1.0)
    book = BOOK.get(parsed) if book_setup else None
    return {
        **_settings(parsed, activation, init, loss, preprocess, weight_scale, samples),
        "seeds": int(seeds),
        "data": name,
        "hidden_layer_norms": {"mean": means, "std": [float(v) for v in std.data]},
        "per_seed": per_seed,
        "ratios": _ratios(means),
        "book": book,
        "book_relative": None if book is None else [m / b - 1.0 for m, b in zip(means, book,
                                                                                strict=True)],
        "seconds": time.perf_counter() - started,
    }


def _settings(parsed: tuple[int, ...], activation: str, init: str, loss: str, preprocess: str,
              weight_scale: float, samples: int) -> dict[str, Any]:
    """The settings every result of this module reports, in one shape."""
    return {
        "sizes": list(parsed),
        "activation": activation,
        "init": init,
        "loss": loss,
        "preprocess": preprocess,
        "weight_scale": float(weight_scale),
        "samples": int(samples),
    }


def layer_norms_for(
    sizes: Sequence[int],
    activation: str = "sigmoid",
    init: str = "nielsen",
    weight_scale: float = 1.0,
    preprocess: str = "scale",
    samples: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """One network's hidden-layer norms, fast enough to call each time a slider moves.

    Uses the first ``samples`` images of the embedded MNIST sample when ``sizes`` runs from 784
    to 10; for other shapes, standard-normal inputs and random labels (seeded), reported as
    ``data: "synthetic"``. Returns ``norms`` (input side first), ``ratios``, ``first_over_last``.
    """
    parsed = _check_sizes(sizes)
    started = time.perf_counter()
    if parsed[0] == 784 and parsed[-1] == 10:
        x, labels, name = load_inputs(parsed, samples, preprocess)
    else:
        rng = np.random.default_rng([seed, 7])
        x = tensor(rng.standard_normal((samples, parsed[0])))
        labels = rng.integers(0, parsed[-1], samples)
        name = "synthetic"
    model = make_model(parsed, activation, init, seed, weight_scale)
    norms = hidden_bias_gradient_norms(model, x, labels)
    return {
        "sizes": list(parsed),
        "activation": activation,
        "init": init,
        "weight_scale": float(weight_scale),
        "samples": int(samples),
        "seed": int(seed),
        "data": name,
        "norms": norms,
        "ratios": _ratios(norms),
        "first_over_last": norms[0] / norms[-1] if norms[-1] > 0.0 else None,
        "seconds": time.perf_counter() - started,
    }


# ------------------------------------------------------------------------------ training


def speed_of_learning(
    sizes: Sequence[int],
    epochs: int,
    lr: float = 0.1,
    lmbda: float = 5.0,
    samples: int = 1000,
    batch: int | None = None,
    init: str = "nielsen",
    activation: str = "sigmoid",
    preprocess: str = "scale",
    weight_scale: float = 1.0,
    seed: int = 0,
    data: Any = None,
    loss: str = "cross-entropy",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train as the book's ``generate_gradient.py`` and record the hidden-layer norms.

    SGD on the first ``samples`` images with learning rate ``lr``, mini-batches of ``batch``
    (default: all of them, one step per epoch, as the book) and network2's L2 regularisation:
    w → (1 − η·λ/n)·w − η·∂C₀/∂w for the weights only, n = ``samples``. ``history[e]`` holds
    the norms after ``e`` epochs (``history[0]``: before training), so it has ``epochs + 1``
    rows; ``cost`` and ``accuracy`` (on the same images) line up with it.
    """
    from chainrule.optim import SGD

    parsed = _check_sizes(sizes)
    if epochs < 0:
        raise LabError(_("epochs must be ≥ 0, got {epochs}").format(epochs=epochs))
    if lmbda < 0.0:
        raise LabError(_("lmbda must be ≥ 0, got {lmbda}").format(lmbda=lmbda))
    started = time.perf_counter()
    x, labels, name = load_inputs(parsed, samples, preprocess, data)
    size = samples if batch is None else batch
    if size < 1:
        raise LabError(_("batch must be at least 1, got {size}").format(size=size))
    model = make_model(parsed, activation, init, seed, weight_scale, loss)
    layers = model.linears
    hidden = layers[:-1]
    opt_w = SGD([m.weight for m in layers], lr, weight_decay=lmbda / samples)
    opt_b = SGD([m.bias for m in layers], lr)
    rng = np.random.default_rng([seed, 1])
    history: list[list[float]] = []
    costs: list[float] = []
    accuracy: list[float] = []
    for epoch in range(epochs + 1):
        # The measure: the unregularised gradient averaged over all the images.
        model.zero_grad()
        out = model(x)
        c = cost(out, labels, loss)
        c.backward()
        history.append([_norm(m.bias.grad) for m in hidden])
        costs.append(c.item())
        accuracy.append(float((out.data.argmax(axis=1) == labels).mean()))
        if progress is not None:
            progress(epoch, epochs)
        if epoch == epochs:
            break
        if size >= samples:
            # One full batch: its gradient is the one just measured.
            opt_w.step()
            opt_b.step()
            continue
        order = rng.permutation(samples)
        for start in range(0, samples, size):
            idx = order[start : start + size]
            model.zero_grad()
            cost(model(x[idx]), labels[idx], loss).backward()
            opt_w.step()
            opt_b.step()
    return {
        **_settings(parsed, activation, init, loss, preprocess, weight_scale, samples),
        "batch": int(min(size, samples)),
        "epochs": int(epochs),
        "lr": float(lr),
        "lmbda": float(lmbda),
        "seed": int(seed),
        "data": name,
        "history": history,
        "cost": costs,
        "accuracy": accuracy,
        "seconds": time.perf_counter() - started,
    }
