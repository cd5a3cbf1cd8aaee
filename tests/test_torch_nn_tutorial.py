"""PyTorch's tutorial "What is torch.nn really?" (Jeremy Howard), from its MNIST logistic
regression written from scratch to ``nn.Module``, ``nn.Linear``, ``optim``, ``TensorDataset``,
``DataLoader``, validation, the ``fit``/``get_data``/``loss_batch`` refactor and
``nn.Sequential`` with a ``Lambda`` layer — run twice, with ``torch`` and with ``chainrule``
passed in as ``torch``. The tutorial's convolutional and GPU sections are left out (chainrule has
no convolution); its ``Lambda``/``WrappedDataLoader`` code is kept, around a linear model.

The code is the tutorial's, with three changes so the two runs can be compared number for
number: the digits are 512 training and 256 validation images of chainrule's embedded MNIST
sample (float32 pixels / 255, as the tutorial's ``mnist.pkl.gz``) instead of a download; each
model starts from the same NumPy weights (``copy_`` or ``load_state_dict`` after the tutorial's
own ``torch.randn``), because the libraries' random generators differ; and where the tutorial
shuffles, both runs draw their batches from the same NumPy permutations (a ``sampler``). The
tutorial's own ``shuffle=True`` runs on chainrule alone in its own test.

torch computes in float32 (its default dtype); chainrule's factories make float64 weights, so its
float32 inputs meet float64 parameters and the run is float64. The numbers agree to float32
rounding: rtol 1e-4 on losses, accuracies and weights (measured: 1.2e-5). With float64 pixels and
torch's default dtype set to float64 both runs are float64 and agree to rtol 1e-11 (measured:
2.4e-14).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import chainrule

real_torch = pytest.importorskip("torch")

N_TRAIN, N_VALID = 512, 256
bs = 64  # batch size
lr = 0.5  # learning rate
epochs = 2  # how many epochs to train for



@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    # 512 × 784 matrices: on a busy machine torch's worker threads only wait for each other.
    previous = real_torch.get_num_threads()
    real_torch.set_num_threads(1)
    yield
    real_torch.set_num_threads(previous)


_INIT = np.random.default_rng(16)
W0 = (_INIT.standard_normal((784, 10)) / math.sqrt(784)).astype(np.float32)
B0 = _INIT.uniform(-1 / 28, 1 / 28, 10).astype(np.float32)


def mnist(pixels: type) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tutorial's ``x_train, y_train, x_valid, y_valid`` as NumPy arrays."""
    sample = chainrule.data.load_sample()
    x_train = (sample.train_x[:N_TRAIN] / 255).astype(pixels)
    x_valid = (sample.test_x[:N_VALID] / 255).astype(pixels)
    return (x_train, sample.train_y[:N_TRAIN].astype(np.int64), x_valid,
            sample.test_y[:N_VALID].astype(np.int64))


class EpochPermutations:
    """A sampler: a new NumPy permutation of the indices on every pass, the same sequence for
    any library that iterates it (torch and chainrule both accept ``sampler=``)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.rng = n, np.random.default_rng(seed)

    def __iter__(self) -> Iterator[int]:
        return iter(self.rng.permutation(self.n).tolist())

    def __len__(self) -> int:
        return self.n


def _same_permutations(seed: int) -> dict[str, Any]:
    return {"sampler": EpochPermutations(N_TRAIN, seed)}


def as_numbers(*values: Any) -> list[float]:
    out: list[float] = []
    for v in values:
        if hasattr(v, "detach"):
            v = v.detach().numpy()
        out.extend(np.asarray(v, dtype=np.float64).ravel().tolist())
    return out


def tensors(torch: ModuleType, pixels: type) -> tuple[Any, Any, Any, Any, int]:
    x_train, y_train, x_valid, y_valid = map(torch.tensor, mnist(pixels))
    n, c = x_train.shape
    assert (n, c) == (N_TRAIN, 784) and y_train.min() == 0 and y_train.max() == 9
    return x_train, y_train, x_valid, y_valid, n


def from_scratch(torch: ModuleType, pixels: type = np.float32) -> list[float]:
    """Neural net from scratch (no torch.nn), then the same model with ``F.cross_entropy``."""
    x_train, y_train, _, _, n = tensors(torch, pixels)

    weights = torch.randn(784, 10) / math.sqrt(784)
    weights.copy_(torch.tensor(W0))  # the same start in both libraries
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def log_softmax(x: Any) -> Any:
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb: Any) -> Any:
        return log_softmax(xb @ weights + bias)

    xb = x_train[0:bs]  # a mini-batch from x
    preds = model(xb)  # predictions
    assert preds[0].shape == (10,) and preds.shape == (bs, 10)
    assert preds.grad_fn is not None

    def nll(input: Any, target: Any) -> Any:  # noqa: A002 - the tutorial's name
        return -input[range(target.shape[0]), target].mean()

    loss_func = nll
    yb = y_train[0:bs]
    record = as_numbers(preds[0], loss_func(preds, yb))

    def accuracy(out: Any, yb: Any) -> Any:
        preds = torch.argmax(out, dim=1)
        return (preds == yb).float().mean()

    record += as_numbers(accuracy(preds, yb))

    for _epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)
            record += as_numbers(loss)

            loss.backward()
            with torch.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()

    record += as_numbers(loss_func(model(xb), yb), accuracy(model(xb), yb))

    F = torch.nn.functional  # noqa: N806 - the tutorial's `import torch.nn.functional as F`
    loss_func = F.cross_entropy

    def model(xb: Any) -> Any:  # type: ignore[no-redef]
        return xb @ weights + bias

    record += as_numbers(loss_func(model(xb), yb), accuracy(model(xb), yb))
    return record + as_numbers(weights, bias)


def _start(torch: ModuleType, model: Any) -> Any:
    """Set a model's initial weights from NumPy (the tutorial draws them with torch.randn)."""
    names = [name for name, _ in model.named_parameters()]
    weight, bias = (W0.T, B0) if "lin.weight" in names or "1.weight" in names else (W0, B0 * 0)
    model.load_state_dict({name: torch.tensor(v) for name, v in zip(names, (weight, bias),
                                                                     strict=True)})
    return model


def module_and_linear(torch: ModuleType, pixels: type = np.float32) -> list[float]:
    """Refactor using nn.Module (``nn.Parameter``, ``parameters()``, ``zero_grad()``), then
    nn.Linear, both trained by the tutorial's ``fit()``."""
    x_train, y_train, _, _, n = tensors(torch, pixels)
    nn = torch.nn
    F = torch.nn.functional  # noqa: N806
    loss_func = F.cross_entropy

    class Mnist_Logistic(nn.Module):  # noqa: N801 - the tutorial's name
        def __init__(self) -> None:
            super().__init__()
            self.weights = nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
            self.bias = nn.Parameter(torch.zeros(10))

        def forward(self, xb: Any) -> Any:
            return xb @ self.weights + self.bias

    model = _start(torch, Mnist_Logistic())
    xb, yb = x_train[0:bs], y_train[0:bs]
    record = as_numbers(loss_func(model(xb), yb))

    def fit() -> None:
        nonlocal xb, yb
        for _epoch in range(epochs):
            for i in range((n - 1) // bs + 1):
                start_i = i * bs
                end_i = start_i + bs
                xb = x_train[start_i:end_i]
                yb = y_train[start_i:end_i]
                pred = model(xb)
                loss = loss_func(pred, yb)
                record.extend(as_numbers(loss))

                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= p.grad * lr
                    model.zero_grad()

    fit()
    record += as_numbers(loss_func(model(xb), yb), model.weights, model.bias)

    class Mnist_Logistic(nn.Module):  # type: ignore[no-redef] # noqa: N801
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(784, 10)

        def forward(self, xb: Any) -> Any:
            return self.lin(xb)

    model = _start(torch, Mnist_Logistic())
    record += as_numbers(loss_func(model(xb), yb))
    fit()
    return record + as_numbers(loss_func(model(xb), yb), model.lin.weight, model.lin.bias)


def _linear_model(torch: ModuleType) -> Any:
    nn = torch.nn

    class Mnist_Logistic(nn.Module):  # noqa: N801
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(784, 10)

        def forward(self, xb: Any) -> Any:
            return self.lin(xb)

    return Mnist_Logistic


def optim_dataset_dataloader(torch: ModuleType, pixels: type = np.float32) -> list[float]:
    """Refactor using optim, then Dataset (``train_ds[i*bs : i*bs+bs]``), then DataLoader."""
    x_train, y_train, _, _, n = tensors(torch, pixels)
    loss_func = torch.nn.functional.cross_entropy
    optim = torch.optim
    Mnist_Logistic = _linear_model(torch)  # noqa: N806

    def get_model() -> tuple[Any, Any]:
        model = _start(torch, Mnist_Logistic())
        return model, optim.SGD(model.parameters(), lr=lr)

    model, opt = get_model()
    xb, yb = x_train[0:bs], y_train[0:bs]
    record = as_numbers(loss_func(model(xb), yb))
    for _epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()
    record += as_numbers(loss_func(model(xb), yb), model.lin.weight)

    TensorDataset = torch.utils.data.TensorDataset  # noqa: N806
    train_ds = TensorDataset(x_train, y_train)
    model, opt = get_model()
    for _epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            xb, yb = train_ds[i * bs: i * bs + bs]
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()
    record += as_numbers(loss_func(model(xb), yb), model.lin.weight)

    DataLoader = torch.utils.data.DataLoader  # noqa: N806
    train_ds = TensorDataset(x_train, y_train)
    train_dl = DataLoader(train_ds, batch_size=bs)
    model, opt = get_model()
    for _epoch in range(epochs):
        for xb, yb in train_dl:
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()
    return record + as_numbers(loss_func(model(xb), yb), model.lin.weight, model.lin.bias)


def validation_and_fit(torch: ModuleType, pixels: type = np.float32,
                       shuffle: Callable[[int], dict[str, Any]] | None = None) -> list[float]:
    """Add validation (``model.train()``/``model.eval()`` + ``no_grad``), then the
    ``loss_batch``/``fit``/``get_data`` refactor, then ``nn.Sequential`` with the tutorial's
    ``Lambda`` layer fed by its ``WrappedDataLoader``. ``shuffle(seed)`` gives the training
    loader's ordering arguments: ``{"shuffle": True}`` as in the tutorial, or (the default) a
    sampler both libraries share."""
    shuffle = shuffle or _same_permutations
    x_train, y_train, x_valid, y_valid, n = tensors(torch, pixels)
    nn, optim = torch.nn, torch.optim
    loss_func = torch.nn.functional.cross_entropy
    TensorDataset, DataLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader  # noqa: N806
    Mnist_Logistic = _linear_model(torch)  # noqa: N806

    def get_model() -> tuple[Any, Any]:
        model = _start(torch, Mnist_Logistic())
        return model, optim.SGD(model.parameters(), lr=lr)

    train_ds = TensorDataset(x_train, y_train)
    train_dl = DataLoader(train_ds, batch_size=bs, **shuffle(1))

    valid_ds = TensorDataset(x_valid, y_valid)
    valid_dl = DataLoader(valid_ds, batch_size=bs * 2)

    record: list[float] = []
    model, opt = get_model()
    for _epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            pred = model(xb)
            loss = loss_func(pred, yb)

            loss.backward()
            opt.step()
            opt.zero_grad()

        model.eval()
        with torch.no_grad():
            valid_loss = sum(loss_func(model(xb), yb) for xb, yb in valid_dl)

        record += as_numbers(valid_loss / len(valid_dl))

    def loss_batch(model: Any, loss_func: Any, xb: Any, yb: Any, opt: Any = None
                   ) -> tuple[float, int]:
        loss = loss_func(model(xb), yb)

        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()

        return loss.item(), len(xb)

    def fit(epochs: int, model: Any, loss_func: Any, opt: Any, train_dl: Any, valid_dl: Any
            ) -> None:
        for _epoch in range(epochs):
            model.train()
            for xb, yb in train_dl:
                loss_batch(model, loss_func, xb, yb, opt)

            model.eval()
            with torch.no_grad():
                losses, nums = zip(
                    *[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl], strict=True
                )
            val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)

            record.append(float(val_loss))

    def get_data(train_ds: Any, valid_ds: Any, bs: int) -> tuple[Any, Any]:
        return (
            DataLoader(train_ds, batch_size=bs, **shuffle(2)),
            DataLoader(valid_ds, batch_size=bs * 2),
        )

    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    model, opt = get_model()
    fit(epochs, model, loss_func, opt, train_dl, valid_dl)
    record += as_numbers(model.lin.weight, model.lin.bias)

    class Lambda(nn.Module):
        def __init__(self, func: Callable[[Any], Any]) -> None:
            super().__init__()
            self.func = func

        def forward(self, x: Any) -> Any:
            return self.func(x)

    def preprocess(x: Any, y: Any) -> tuple[Any, Any]:
        return x.view(-1, 28, 28), y  # images as 28 × 28 grids, as the CNN section's

    class WrappedDataLoader:
        def __init__(self, dl: Any, func: Callable[..., Any]) -> None:
            self.dl = dl
            self.func = func

        def __len__(self) -> int:
            return len(self.dl)

        def __iter__(self) -> Iterator[Any]:
            batches = iter(self.dl)
            for b in batches:
                yield (self.func(*b))

    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    train_dl = WrappedDataLoader(train_dl, preprocess)
    valid_dl = WrappedDataLoader(valid_dl, preprocess)
    assert len(train_dl) == n // bs and len(valid_dl) == N_VALID // (2 * bs)

    model = nn.Sequential(
        Lambda(lambda x: x.view(x.size(0), -1)),
        nn.Linear(784, 10),
    )
    _start(torch, model)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(epochs, model, loss_func, opt, train_dl, valid_dl)
    return record + as_numbers(model[1].weight, model[1].bias)


PROGRAMS: dict[str, Callable[..., list[float]]] = {
    "from_scratch": from_scratch,
    "module_and_linear": module_and_linear,
    "optim_dataset_dataloader": optim_dataset_dataloader,
    "validation_and_fit": validation_and_fit,
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_tutorial_stage_gives_torch_numbers(name: str) -> None:
    ours = PROGRAMS[name](chainrule)
    theirs = PROGRAMS[name](real_torch)
    assert np.all(np.isfinite(ours)) and len(ours) == len(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_tutorial_stage_in_float64_gives_torch_numbers(name: str) -> None:
    """With float64 pixels and torch's default dtype set to float64, both runs compute in
    float64 and agree to its rounding."""
    ours = PROGRAMS[name](chainrule, np.float64)
    previous = real_torch.get_default_dtype()
    real_torch.set_default_dtype(real_torch.float64)
    try:
        theirs = PROGRAMS[name](real_torch, np.float64)
    finally:
        real_torch.set_default_dtype(previous)
    np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-13)


def test_tutorial_shuffle_true_repeats_under_a_seed_and_learns() -> None:
    """The tutorial's own ``DataLoader(train_ds, batch_size=bs, shuffle=True)``: its order is
    chainrule's, so it is checked on chainrule alone — the same seed gives the same run, another
    seed another order, and the validation loss falls from ln 10 (a uniform guess)."""

    def tutorial(seed: int) -> list[float]:
        chainrule.manual_seed(seed)
        return validation_and_fit(chainrule, shuffle=lambda _seed: {"shuffle": True})

    first, again, other = tutorial(0), tutorial(0), tutorial(1)
    assert first == again
    assert first != other
    assert first[1] < first[0] < math.log(10)
    assert first[1] != validation_and_fit(chainrule)[1]  # the shared sampler's order differs

