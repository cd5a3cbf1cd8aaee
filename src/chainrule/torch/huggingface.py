"""A Hugging Face ``Trainer`` callback: `watch` over ``trainer.train()``, the report at the end.

    from chainrule.torch.huggingface import DoctorCallback
    doctor = DoctorCallback(html="gradient-report.html")
    Trainer(model=model, args=args, train_dataset=data, callbacks=[doctor]).train()
    doctor.report.verdict

Needs ``transformers`` (``pip install "chainrule[huggingface]"``). The recording is `Watch`'s:
it hooks the optimizer steps the Trainer makes, logs the training loss the Trainer reports
(``logging_steps`` sets how often), and removes its hooks when training ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from chainrule.lab.diagnosis import Diagnosis
from chainrule.torch.watch import Watch

__all__ = ["DoctorCallback"]


class DoctorCallback(TrainerCallback):
    """Record per-layer gradient flow during ``train()``; ``.report`` holds the verdict after."""

    def __init__(self, every: int = 1, html: str | Path | None = None) -> None:
        self.every = every
        self.html = html
        self.watch: Watch | None = None
        self.report: Diagnosis | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       **kwargs: Any) -> None:
        if model is not None:
            self.watch = Watch(model, self.every).__enter__()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if self.watch is not None and logs and isinstance(logs.get("loss"), (int, float)):
            self.watch.log(float(logs["loss"]))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.watch is not None:
            self.report = self.watch.finish(self.html)
            self.watch = None
