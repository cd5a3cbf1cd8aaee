"""A PyTorch Lightning callback: `watch` over ``trainer.fit``, the report at the end.

    from chainrule.torch.lightning import DoctorCallback
    doctor = DoctorCallback(html="gradient-report.html")
    lightning.Trainer(callbacks=[doctor], ...).fit(model, data)
    doctor.report.verdict

Needs ``lightning`` (``pip install "chainrule[lightning]"``). The recording is `Watch`'s: it
hooks the optimizer steps Lightning makes, logs the training loss of every batch, and removes
its hooks when fitting ends — normally or with an exception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

from chainrule.lab.diagnosis import Diagnosis
from chainrule.torch.watch import Watch

__all__ = ["DoctorCallback"]


class DoctorCallback(Callback):
    """Record per-layer gradient flow during ``fit``; ``.report`` holds the verdict after."""

    def __init__(self, every: int = 1, html: str | Path | None = None) -> None:
        self.every = every
        self.html = html
        self.watch: Watch | None = None
        self.report: Diagnosis | None = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.watch = Watch(pl_module, self.every).__enter__()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if self.watch is not None and loss is not None:
            self.watch.log(loss)

    def _finish(self) -> None:
        if self.watch is not None:
            self.report = self.watch.finish(self.html)
            self.watch = None

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._finish()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._finish()
