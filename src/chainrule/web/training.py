"""The explorer's training view: one short run at a time, in a thread, watched by polling.

A run trains an MLP on the embedded MNIST sample with :class:`chainrule.nn.training.Trainer`
(what ``chainrule train`` runs) and records, every few mini-batches, each hidden layer's *speed
of learning*: ‖∂C/∂b^l‖ with C averaged over a fixed probe set of up to 1,000 training images,
measured by :func:`chainrule.lab.flow.hidden_bias_gradient_norms` (Nielsen's measure, chapter 5,
the same function as ``chainrule vanishing``). The page asks ``GET /api/train?since=N`` for the
records it has not seen yet and can ask the run to stop, which it does at the next batch
boundary. A run is bounded by :class:`~chainrule.web.inputs.Limits`: layers, width, epochs,
examples and seconds. Exactly one run goes at a time, however many requests ask at once.

A service of the server: it never imports :mod:`chainrule.web.server`.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chainrule.i18n import _
from chainrule.web.inputs import ACTIVATIONS, LOSSES, Limits, choice, integer, real

if TYPE_CHECKING:
    from chainrule.nn.training import Trainer

__all__ = ["DEFAULTS", "Busy", "TrainingJobs"]

POINTS = 150
"""About how many speed records a run keeps (the recording interval adapts to the run)."""
PROBE = 1000
"""Training images the speed of learning is measured on."""
FLOW_LOSS = {"bce": "cross-entropy", "quadratic": "quadratic", "softmax": "softmax"}
"""The training costs under the names :mod:`chainrule.lab.flow` uses for them."""


ACTIVE = ("starting", "running", "stopping")
"""States of a run that still holds the server's one training slot."""


DEFAULTS: dict[str, Any] = {
    "depth": 3, "width": 30, "activation": "sigmoid", "init": "nielsen", "loss": "softmax",
    "lr": 0.5, "epochs": 10, "examples": 4000,
}
"""The run the training view offers first (``GET /api/meta`` hands them to the page).

Three sigmoid layers, so the view shows Nielsen's point (the first layer learns slowest), and
a softmax output and the whole sample, so a first run ends above 90% test accuracy (measured:
91.4%, 91.9% and 93.1% on the 1,000 test digits for seeds 0, 1 and 2; 4–18 s a run on a busy
two-core machine). The earlier defaults (cross-entropy on 1,000 examples, 3 epochs) ended at 36%.
"""


class Busy(RuntimeError):
    """A run is already going: one at a time per server."""


class TrainingJobs:
    """Starts, watches and stops the server's one training run."""

    def __init__(self, limits: Limits, data_loader: Callable[[], Any] | None = None) -> None:
        self.limits = limits
        self._loader = data_loader
        self._data: Any = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._trainer: Trainer | None = None
        self._stop_requested = False
        self._run_id = 0
        self._state: dict[str, Any] = {"state": "idle", "run": 0}
        self._points: list[dict[str, Any]] = []
        self._epochs: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ requests

    def settings(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The run a request asks for, checked against the limits (raises ``ApiError``)."""
        lim = self.limits
        d = DEFAULTS
        depth = integer(body, "depth", d["depth"], 1, lim.max_train_depth)
        width = integer(body, "width", d["width"], 1, lim.max_width)
        examples = integer(body, "examples", d["examples"], 10, lim.max_examples)
        batch = integer(body, "batch", 10, 1, examples)
        settings = {
            "sizes": [784, *([width] * depth), 10],
            "activation": choice(body, "activation", d["activation"], ACTIVATIONS),
            "init": choice(body, "init", d["init"], _inits()),
            "loss": choice(body, "loss", d["loss"], LOSSES),
            "lr": real(body, "lr", d["lr"], 1e-6, 100.0),
            "batch": batch,
            "epochs": integer(body, "epochs", d["epochs"], 1, lim.max_epochs),
            "limit": examples,
            "seed": integer(body, "seed", 0, 0, 2**31 - 1),
        }
        return settings

    def start(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Start a run (raises :class:`Busy` while one is going)."""
        from chainrule.nn.training import TrainConfig, Trainer

        settings = self.settings(body)
        config = TrainConfig(
            sizes=tuple(settings["sizes"]), activation=settings["activation"],
            init=settings["init"], loss=settings["loss"], lr=settings["lr"],
            batch=settings["batch"], epochs=settings["epochs"], seed=settings["seed"],
            limit=settings["limit"])
        # Checking for a run and claiming the slot happen under one lock hold, so of any number
        # of simultaneous requests exactly one starts a run.
        with self._lock:
            if self._state["state"] in ACTIVE:
                raise Busy(_("a training run is already going: stop it first (one run at a "
                             "time per server)"))
            self._run_id += 1
            run_id = self._run_id
            self._stop_requested = False
            self._points, self._epochs = [], []
            self._state = {"state": "starting", "run": run_id, "settings": settings,
                           "error": None, "reason": None, "batches": 0, "total_batches": 0,
                           "seconds": 0.0}
            # The run's messages (a failure) are in the language of the request that started it.
            context = contextvars.copy_context()
            self._thread = threading.Thread(
                target=context.run, args=(self._run, run_id, config, Trainer),
                name=f"chainrule-train-{run_id}", daemon=True)
            self._thread.start()
        return self.status(0)

    def status(self, since: int = 0) -> dict[str, Any]:
        """The run's state and the speed records from index ``since`` on."""
        with self._lock:
            return {**self._state, "points": self._points[since:], "next": len(self._points),
                    "epochs": list(self._epochs)}

    def stop(self) -> dict[str, Any]:
        """Ask the run to stop at the next batch boundary (harmless when none is going)."""
        with self._lock:
            self._stop_requested = True
            if self._trainer is not None:
                self._trainer.request_stop()
            if self._state["state"] in ("starting", "running"):
                self._state = {**self._state, "state": "stopping"}
        return self.status(10**9)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop the run and wait for its thread (the server is going away)."""
        self.stop()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # ------------------------------------------------------------------ the worker thread

    def _dataset(self) -> Any:
        if self._data is None:
            if self._loader is not None:
                self._data = self._loader()
            else:
                from chainrule.data import load_sample

                self._data = load_sample()
        return self._data

    def _run(self, run_id: int, config: Any, trainer_cls: Any) -> None:
        started = time.perf_counter()
        try:
            trainer = trainer_cls(config, self._dataset())
        except Exception as exc:  # reported to the page, never raised in a thread
            self._finish(run_id, "failed", error=str(exc))
            return
        from chainrule.lab.flow import hidden_bias_gradient_norms
        from chainrule.tensor import tensor

        n = len(trainer.train_y)
        per_epoch = -(-n // config.batch)
        total = per_epoch * config.epochs
        every = max(1, total // POINTS)
        probe_x = tensor(trainer.train_x[:PROBE])
        probe_y = trainer.train_y[:PROBE]
        loss = FLOW_LOSS[config.loss]

        def record(t: Trainer, done: int) -> None:
            speeds = hidden_bias_gradient_norms(t.model, probe_x, probe_y, loss)
            with self._lock:
                self._points.append({"batch": done, "epoch": done / per_epoch,
                                     "speeds": speeds})

        def on_batch(t: Trainer, batch: int, batches: int) -> None:
            done = t.progress.epoch * per_epoch + batch
            elapsed = time.perf_counter() - started
            if done % every == 0 or batch == batches:
                record(t, done)
            with self._lock:
                self._state = {**self._state, "batches": done, "seconds": elapsed}
            if self._stop_requested:
                t.request_stop()
            if elapsed > self.limits.max_train_seconds:
                with self._lock:
                    self._state = {**self._state, "reason": "time limit"}
                t.request_stop()

        def on_epoch(t: Trainer, stats: Any) -> None:
            with self._lock:
                self._epochs.append(stats.to_json())

        try:
            record(trainer, 0)  # before the first step
        except Exception as exc:
            self._finish(run_id, "failed", error=str(exc))
            return
        with self._lock:
            self._trainer = trainer
            stopping = self._stop_requested
            self._state = {**self._state, "state": "stopping" if stopping else "running",
                           "total_batches": total}
        if stopping:
            trainer.request_stop()
        try:
            if not stopping:
                result = trainer.run(on_batch=on_batch, on_epoch=on_epoch, handle_sigint=False)
                interrupted = result.interrupted
            else:
                interrupted = True
        except Exception as exc:
            self._finish(run_id, "failed", error=str(exc))
            return
        self._finish(run_id, "stopped" if interrupted else "done",
                     seconds=time.perf_counter() - started)

    def _finish(self, run_id: int, state: str, error: str | None = None,
                seconds: float | None = None) -> None:
        with self._lock:
            if run_id != self._run_id:  # pragma: no cover - a newer run replaced this one
                return
            self._trainer = None
            update: dict[str, Any] = {"state": state, "error": error}
            if seconds is not None:
                update["seconds"] = seconds
            self._state = {**self._state, **update}


def _inits() -> tuple[str, ...]:
    from chainrule.nn.init import INITS

    return tuple(INITS)
