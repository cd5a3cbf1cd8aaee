"""The training loop: mini-batch gradient descent on a `Dataset`, resumable bit for bit.

Each epoch shuffles the training set with the run's own RNG, splits it into mini-batches and
takes one optimizer step per batch on the batch's cost; then the test set is evaluated. This
is Nielsen's ``SGD`` (``network.py``) with a choice of cost, optimizer and initialisation.

Costs by name (n = batch size, a = network output, y = one-hot target, z = output logits):

- ``quadratic`` (default, Nielsen's ``network.py``): C = 1/(2n)·Σₓ‖y − a‖², sigmoid output.
  With it, ``--lr 3.0`` means what it means in the book.
- ``mse``: PyTorch's mean squared error, mean over all n·10 elements, sigmoid output.
- ``bce``: Nielsen's cross-entropy (chapter 3), C = −1/n·Σₓ Σⱼ [yⱼ ln aⱼ + (1−yⱼ) ln(1−aⱼ)]
  with a = σ(z); computed from the logits z, which is the same number but stays finite when
  σ saturates.
- ``softmax``: softmax output with the log-likelihood cost, C = −1/n·Σₓ ln a_y (PyTorch's
  ``cross_entropy`` on logits).

Resuming is exact because a checkpoint holds everything the next step depends on: parameters,
optimizer buffers, the RNG state at the start of the current epoch (the shuffle is redrawn
from it), how many batches of that epoch are done, and the running cost sum.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.data import Dataset
from chainrule.data.dataset import PREPROCESSING
from chainrule.graph import no_grad
from chainrule.i18n import _
from chainrule.nn import functional as F
from chainrule.nn.checkpoint import (
    CheckpointError,
    check_architecture,
    read_checkpoint,
    save_checkpoint,
)
from chainrule.nn.init import INITS, ConfigError, check_name
from chainrule.nn.layers import ACTIVATIONS, DTYPES, MLP, parse_sizes
from chainrule.optim import OPTIMIZERS, Optimizer, make_optimizer
from chainrule.tensor import Tensor, tensor


@dataclass(frozen=True)
class Loss:
    """A training cost: its output layer, its target form and the function itself."""

    name: str
    output: str  # activation of the last layer
    targets: str  # "onehot" or "index"
    fn: Callable[[Tensor, Any], Tensor]
    doc: str


def _quadratic(a: Tensor, y: Any) -> Tensor:
    return F.mse_loss(a, y, reduction="sum") * (0.5 / a.shape[0])


def _mse(a: Tensor, y: Any) -> Tensor:
    return F.mse_loss(a, y)


def _bce(z: Tensor, y: Any) -> Tensor:
    return F.binary_cross_entropy_with_logits(z, y, reduction="sum") * (1.0 / z.shape[0])


def _softmax(z: Tensor, y: Any) -> Tensor:
    return F.cross_entropy(z, y)


LOSSES: dict[str, Loss] = {
    "quadratic": Loss("quadratic", "sigmoid", "onehot", _quadratic, "1/(2n) Σ‖y − a‖²"),
    "mse": Loss("mse", "sigmoid", "onehot", _mse, "mean (y − a)² over all elements"),
    "bce": Loss("bce", "linear", "onehot", _bce, "−1/n ΣΣ [y ln a + (1−y) ln(1−a)], a = σ(z)"),
    "softmax": Loss("softmax", "linear", "index", _softmax, "−1/n Σ ln softmax(z)_y"),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run (and so must match when resuming, except ``epochs``)."""

    sizes: tuple[int, ...] = (784, 30, 10)
    activation: str = "sigmoid"
    init: str = "nielsen"
    loss: str = "quadratic"
    optimizer: str = "sgd"
    lr: float = 3.0
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch: int = 10
    epochs: int = 30
    seed: int = 0
    data: str = "sample"
    preprocess: str = "scale"
    dtype: str = "float64"
    limit: int | None = None  # train on the first `limit` examples only (quick runs)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", parse_sizes(self.sizes))
        check_name("activation", self.activation, [a for a in ACTIVATIONS if a != "linear"])
        check_name("init scheme", self.init, INITS)
        check_name("loss", self.loss, list(LOSSES))
        check_name("optimizer", self.optimizer, OPTIMIZERS)
        check_name("preprocessing", self.preprocess, PREPROCESSING)
        check_name("dtype", self.dtype, list(DTYPES))
        for name in ("lr", "momentum", "weight_decay"):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value)):
                raise ConfigError(_("{name} must be a finite number, got {value}").format(
                    name=name, value=repr(value)))
        for name in ("batch", "epochs", "seed", "limit"):
            value = getattr(self, name)
            if (value is not None or name != "limit") and (
                    isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(_("{name} must be a whole number, got {value}").format(
                    name=name, value=repr(value)))
        if self.seed < 0:
            raise ConfigError(_("seed must be ≥ 0, got {value}").format(value=self.seed))
        if not 0 <= self.momentum < 1:
            raise ConfigError(_("momentum must be in [0, 1), got {value}").format(
                value=self.momentum))
        if self.weight_decay < 0:
            raise ConfigError(_("weight decay must be ≥ 0, got {value}").format(
                value=self.weight_decay))
        if self.batch < 1:
            raise ConfigError(_("batch size must be at least 1, got {value}").format(
                value=self.batch))
        if self.epochs < 0:
            raise ConfigError(_("epochs must be ≥ 0, got {value}").format(value=self.epochs))
        if not self.lr > 0:
            raise ConfigError(_("learning rate must be positive, got {value}").format(
                value=self.lr))
        if self.optimizer == "adam" and self.momentum:
            raise ConfigError(_("--momentum applies to sgd; adam has its own (beta1 = 0.9)"))
        if self.limit is not None and self.limit < 1:
            raise ConfigError(_("limit must be at least 1, got {value}").format(
                value=self.limit))

    @property
    def architecture(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "activation": self.activation,
            "output_activation": LOSSES[self.loss].output,
            "init": self.init,
            "dtype": self.dtype,
        }

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["sizes"] = list(self.sizes)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class EpochStats:
    """One row of the training table."""

    epoch: int
    cost: float  # mean training cost over the epoch's mini-batches (weighted by batch size)
    test_cost: float
    test_accuracy: float
    correct: int
    total: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    config: TrainConfig
    history: list[EpochStats]
    model: MLP
    interrupted: bool = False
    checkpoint: Path | None = None
    epoch: int = 0
    batch: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config.to_json(),
            "history": [h.to_json() for h in self.history],
            "interrupted": self.interrupted,
            "checkpoint": None if self.checkpoint is None else str(self.checkpoint),
            "epoch": self.epoch,
            "batch": self.batch,
            "test_accuracy": self.history[-1].test_accuracy if self.history else None,
        }


@dataclass
class _Progress:
    epoch: int = 0  # completed epochs
    batch: int = 0  # completed batches of the current epoch
    cost_sum: float = 0.0
    count: int = 0
    seconds: float = 0.0
    history: list[EpochStats] = field(default_factory=list)


class Trainer:
    """Holds the model, optimizer, data and RNG of one run; `run` trains, `save` checkpoints."""

    def __init__(self, config: TrainConfig, data: Dataset) -> None:
        self.config = config
        self._check_data(data)
        prepared = data.preprocess(config.preprocess, dtype=DTYPES[config.dtype])
        n = len(prepared.train_y)
        if config.limit is not None:
            n = min(config.limit, n)
        self.train_x = prepared.train_x[:n]
        self.train_y = prepared.train_y[:n].astype(np.int64)
        self.test_x = prepared.test_x
        self.test_y = prepared.test_y.astype(np.int64)
        self.loss = LOSSES[config.loss]
        self.classes = config.sizes[-1]
        self.model = MLP(
            config.sizes,
            activation=config.activation,
            init=config.init,
            output_activation=self.loss.output,
            dtype=config.dtype,
            seed=config.seed,
        )
        self.optimizer = self._make_optimizer()
        # A stream of its own for shuffling, independent of the initialisation draws.
        self.rng = np.random.default_rng([config.seed, 1])
        self.epoch_rng_state: dict[str, Any] = dict(self.rng.bit_generator.state)
        self.progress = _Progress()
        self._stop = False

    # -- setup ------------------------------------------------------------------------------

    def _check_data(self, data: Dataset) -> None:
        sizes = self.config.sizes
        if sizes[0] != data.n_features:
            raise ConfigError(_(
                "the first size is {first} but the data has {n_features} inputs per example: "
                "use --sizes {n_features},...,{last}"
            ).format(first=sizes[0], n_features=data.n_features, last=sizes[-1]))
        if sizes[-1] != data.n_classes:
            raise ConfigError(_(
                "the last size is {last} but the data has {n_classes} classes: "
                "use --sizes ...,{n_classes}"
            ).format(last=sizes[-1], n_classes=data.n_classes))

    def _make_optimizer(self) -> Optimizer:
        c = self.config
        kwargs: dict[str, Any] = {"lr": c.lr, "weight_decay": c.weight_decay}
        if c.optimizer == "sgd":
            kwargs["momentum"] = c.momentum
        return make_optimizer(c.optimizer, self.model.parameters(), **kwargs)

    def _targets(self, labels: np.ndarray) -> Any:
        if self.loss.targets == "index":
            return labels
        # One-hot rows (data preparation): Nielsen's vectorized_result.
        eye = np.eye(self.classes, dtype=DTYPES[self.config.dtype])
        return eye[labels]

    # -- checkpoints ------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a checkpoint of the current state (atomically)."""
        p = self.progress
        meta = {
            "model": self.config.architecture,
            "config": self.config.to_json(),
            "optimizer": {"name": self.optimizer.name, **self.optimizer.hyperparameters()},
            "epoch": p.epoch,
            "batch": p.batch,
            "cost_sum": p.cost_sum,
            "count": p.count,
            "seconds": p.seconds,
            "rng": self.epoch_rng_state,
            "history": [h.to_json() for h in p.history],
        }
        return save_checkpoint(path, self.model.state_dict(), meta, self.optimizer.state_dict())

    @classmethod
    def resume(
        cls, path: str | os.PathLike[str], data: Dataset, overrides: dict[str, Any] | None = None
    ) -> Trainer:
        """A trainer in exactly the state saved in ``path``.

        ``overrides`` are settings given again on the command line: ``epochs`` may change (to
        train longer); any other setting that differs from the checkpoint's is an error, since
        the run would no longer be the one that was saved.
        """
        ckpt = read_checkpoint(path)
        try:
            saved = TrainConfig.from_json(ckpt.meta["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(_("{path}: not a training checkpoint ({reason})").format(
                path=path, reason=exc)) from None
        overrides = dict(overrides or {})
        if "sizes" in overrides:
            overrides["sizes"] = parse_sizes(overrides["sizes"])
        wanted = replace(saved, **overrides)
        check_architecture(Path(path), ckpt.meta.get("model", {}), wanted.architecture)
        for key, value in overrides.items():
            if key != "epochs" and getattr(saved, key) != value:
                raise CheckpointError(_(
                    "{path} was trained with {key}={saved}; you passed {value} (leave it out to "
                    "continue the saved run)"
                ).format(path=path, key=key, saved=repr(getattr(saved, key)), value=repr(value)))
        trainer = cls(wanted, data)
        try:
            trainer.model.load_state_dict(ckpt.model)
            trainer.optimizer.load_state_dict(ckpt.optimizer)
            meta = ckpt.meta
            trainer.epoch_rng_state = meta["rng"]
            trainer.rng.bit_generator.state = meta["rng"]
            trainer.progress = _Progress(
                epoch=int(meta["epoch"]),
                batch=int(meta["batch"]),
                cost_sum=float(meta["cost_sum"]),
                count=int(meta["count"]),
                seconds=float(meta["seconds"]),
                history=[EpochStats(**h) for h in meta["history"]],
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise CheckpointError(_("{path}: checkpoint does not fit this run ({reason})").format(
                path=path, reason=exc)) from None
        return trainer

    # -- training ---------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop at the next batch boundary (what Ctrl-C does); `run` then saves and returns."""
        self._stop = True

    def evaluate(self, x: np.ndarray, labels: np.ndarray, chunk: int = 1000) -> tuple[float, int]:
        """(mean cost, number correct) on ``x``, without recording a graph."""
        cost_sum = 0.0
        correct = 0
        with no_grad():
            for start in range(0, len(labels), chunk):
                xb, yb = x[start : start + chunk], labels[start : start + chunk]
                out = self.model(tensor(xb))
                cost_sum += self.loss.fn(out, self._targets(yb)).item() * len(yb)
                # The predicted digit is the most active output (a metric: no gradient).
                correct += int((out.data.argmax(axis=1) == yb).sum())
        return cost_sum / max(len(labels), 1), correct

    def step(self, idx: np.ndarray) -> float:
        """One optimizer step on the training examples ``idx``; returns the batch cost."""
        out = self.model(tensor(self.train_x[idx]))
        cost = self.loss.fn(out, self._targets(self.train_y[idx]))
        self.optimizer.zero_grad()
        cost.backward()
        self.optimizer.step()
        return cost.item()

    def run(
        self,
        checkpoint: str | os.PathLike[str] | None = None,
        interrupt_path: str | os.PathLike[str] | None = None,
        on_batch: Callable[[Trainer, int, int], None] | None = None,
        on_epoch: Callable[[Trainer, EpochStats], None] | None = None,
        handle_sigint: bool = True,
    ) -> TrainResult:
        """Train until ``config.epochs`` epochs are complete, or until stopped.

        After every epoch the state is saved to ``checkpoint`` (if given). Ctrl-C (SIGINT, in
        the main thread), `request_stop`, or a ``KeyboardInterrupt`` raised by a callback stop
        at the next batch boundary: the state is saved to ``checkpoint`` (else
        ``interrupt_path``) and the result says ``interrupted``.
        """
        self._stop = False
        previous = None
        if handle_sigint and threading.current_thread() is threading.main_thread():

            def on_sigint(signum: int, frame: Any) -> None:
                self.request_stop()
                # A second Ctrl-C is not caught: it interrupts at once.
                signal.signal(signal.SIGINT, previous or signal.default_int_handler)

            previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            while self.progress.epoch < self.config.epochs and not self._stop:
                self._run_epoch(checkpoint, on_batch, on_epoch)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        saved: Path | None = Path(checkpoint) if checkpoint and self.progress.history else None
        if self._stop:
            target = checkpoint or interrupt_path
            saved = self.save(target) if target is not None else None
        return TrainResult(
            config=self.config,
            history=list(self.progress.history),
            model=self.model,
            interrupted=self._stop,
            checkpoint=saved,
            epoch=self.progress.epoch,
            batch=self.progress.batch,
        )

    def _run_epoch(
        self,
        checkpoint: str | os.PathLike[str] | None,
        on_batch: Callable[[Trainer, int, int], None] | None,
        on_epoch: Callable[[Trainer, EpochStats], None] | None,
    ) -> None:
        p = self.progress
        n, size = len(self.train_y), self.config.batch
        self.rng.bit_generator.state = self.epoch_rng_state
        order = self.rng.permutation(n)
        starts = range(0, n, size)
        started = time.perf_counter()
        for k in range(p.batch, len(starts)):
            idx = order[starts[k] : starts[k] + size]
            cost = self.step(idx)
            p.cost_sum += cost * len(idx)
            p.count += len(idx)
            p.batch = k + 1
            if on_batch is not None:
                try:
                    on_batch(self, p.batch, len(starts))
                except KeyboardInterrupt:
                    self._stop = True
            if self._stop and p.batch < len(starts):
                p.seconds += time.perf_counter() - started
                return
        test_cost, correct = self.evaluate(self.test_x, self.test_y)
        p.seconds += time.perf_counter() - started
        stats = EpochStats(
            epoch=p.epoch + 1,
            cost=p.cost_sum / max(p.count, 1),
            test_cost=test_cost,
            test_accuracy=correct / max(len(self.test_y), 1),
            correct=correct,
            total=len(self.test_y),
            seconds=p.seconds,
        )
        p.history.append(stats)
        p.epoch += 1
        p.batch = 0
        p.cost_sum, p.count, p.seconds = 0.0, 0, 0.0
        self.epoch_rng_state = dict(self.rng.bit_generator.state)
        if checkpoint is not None:
            self.save(checkpoint)
        if on_epoch is not None:
            try:
                on_epoch(self, stats)
            except KeyboardInterrupt:
                self._stop = True


def train(config: TrainConfig, data: Dataset | None = None, **run_kwargs: Any) -> TrainResult:
    """Train a fresh network for ``config`` (loading ``config.data`` unless ``data`` is given)."""
    if data is None:
        from chainrule.data import load

        data = load(config.data)
    return Trainer(config, data).run(**run_kwargs)
