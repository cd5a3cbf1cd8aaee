"""`watch(model)`: record per-layer gradient flow during an ordinary PyTorch training loop.

    with chainrule.torch.watch(model) as w:
        for x, y in batches:
            opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); opt.step()
            w.log(loss)                      # optional: lets the verdict see a stalled loss
    report = w.report()                      # a Diagnosis with .steps, the verdict over the run
    report.save_html("report.html")

It hooks the optimizer's step (PyTorch's global step hooks), not every module: just before a
step that updates the model's parameters it takes ‖∂C/∂W‖, ‖∂C/∂b‖ and ‖W‖ of every layer in one
fused ``torch._foreach_norm`` call, and just after it the size of the update ‖ΔW‖/‖W‖ — for plain
SGD exactly lr·‖∂C/∂W‖, for any other optimizer from a copy of the weights taken before the step.
Numbers stay small tensors until they are read. A NaN/Inf in a gradient or a weight is recorded
as an event naming the layer. Loops that update parameters by hand call ``w.step()`` after each
update instead. Hooks are removed on exit, also on an error. ``every=k`` records one step in k.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from chainrule.i18n import _
from chainrule.lab.diagnosis import Diagnosis, History
from chainrule.lab.verdict import Context, LayerMeasures, Setup, judge
from chainrule.torch.doctor import torch_how

__all__ = ["Watch", "watch"]


class Watch:
    """The recorder `watch` returns; see the module docstring."""

    def __init__(self, model: Any, every: int = 1) -> None:
        from chainrule.torch.doctor import _torch

        self._torch = _torch()
        if not isinstance(model, self._torch.nn.Module):
            raise TypeError(_("watch() needs a torch.nn.Module, got {kind}").format(
                kind=type(model).__name__))
        if every < 1:
            raise ValueError(_("every must be ≥ 1, got {value}").format(value=every))
        self.model = model
        self.every = every
        self.layers: list[tuple[str, Any, Any]] = []  # (name, weight, bias or None)
        for name, m in model.named_modules():
            params = [p for p in m.parameters(recurse=False) if p.requires_grad]
            if not params:
                continue
            weight = getattr(m, "weight", None)
            weight = weight if weight is not None and weight.requires_grad else max(
                params, key=lambda p: p.numel())
            bias = getattr(m, "bias", None)
            bias = bias if bias is not None and getattr(bias, "requires_grad", False) else None
            self.layers.append((name or type(model).__name__, weight, bias))
        self._ids = {id(w) for _, w, _ in self.layers}
        self.losses: list[float] = []
        self._records: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._raw: list[tuple[int, Any, Any]] = []
        self._converted = 0
        self._handles: list[Any] = []
        self._optimizers: dict[int, bool] = {}
        self._weights: list[Any] = []
        self._buffers: list[Any] | None = None
        self._norms: Any = None
        self._moved: Any = None
        self._plain: float | None = None
        self._armed = False
        self._count = 0

    # -- context -----------------------------------------------------------------------------

    def __enter__(self) -> Watch:
        from torch.optim.optimizer import (
            register_optimizer_step_post_hook,
            register_optimizer_step_pre_hook,
        )

        self._handles = [register_optimizer_step_pre_hook(self._pre),
                         register_optimizer_step_post_hook(self._post)]
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _mine(self, optimizer: Any) -> bool:
        known = self._optimizers.get(id(optimizer))
        if known is None:
            known = any(id(p) in self._ids for g in optimizer.param_groups for p in g["params"])
            self._optimizers[id(optimizer)] = known
        return known

    # -- recording ---------------------------------------------------------------------------
    # The hot path: a handful of fused calls per step, numbers kept as small tensors until
    # the report reads them (no conversion to Python per step).

    def _pre(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self._mine(optimizer):
            self._measure_grads(self._plain_lr(optimizer))

    def _post(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self._mine(optimizer):
            self._measure_update()

    def _plain_lr(self, optimizer: Any) -> float | None:
        """The learning rate of a plain SGD step (one group, no momentum, no decay), whose
        update is exactly −lr·∂C/∂W, so its size needs no copy of the weights."""
        torch = self._torch
        groups = optimizer.param_groups
        if type(optimizer) is not torch.optim.SGD or len(groups) != 1:
            return None
        g = groups[0]
        if g.get("momentum") or g.get("weight_decay") or g.get("maximize") \
                or not isinstance(g.get("lr"), float):
            return None
        return float(g["lr"])

    def step(self) -> None:
        """Record a step made without a torch optimizer (call after the update)."""
        self._measure_update()

    def _measure_grads(self, plain_lr: float | None = None) -> None:
        torch = self._torch
        self._count += 1
        if (self._count - 1) % self.every:
            self._armed = False
            return
        if not self._weights:
            self._weights = [w.detach() for _, w, _ in self.layers]
        grads = [w.grad if w.grad is not None else torch.zeros_like(w) for _, w, _ in self.layers]
        biases = [b.grad if b is not None and b.grad is not None else g
                  for (_, _, b), g in zip(self.layers, grads, strict=True)]
        # 0-d tensors, stacked only when read: the hot path stays a few fused calls. Every
        # tensor here is a gradient, a detached weight or a buffer: nothing records a graph,
        # so no no_grad() block is needed (it costs as much as a small norm).
        self._norms = torch._foreach_norm(grads + biases + self._weights)
        self._plain = plain_lr
        if plain_lr is None:
            if self._buffers is None:
                self._buffers = [w.clone() for w in self._weights]
            torch._foreach_copy_(self._buffers, self._weights)
        else:
            self._moved = plain_lr  # plain SGD: ‖ΔW‖ = lr·‖∂C/∂W‖, computed when read
        self._armed = True

    def _measure_update(self) -> None:
        torch = self._torch
        if not self._armed:
            return
        if self._plain is None and self._buffers is not None:
            torch._foreach_sub_(self._buffers, self._weights)
            self._moved = torch._foreach_norm(self._buffers)
        self._raw.append((self._count, self._norms, self._moved))
        self._armed = False

    def _moved_values(self, moved: Any, grad_norms: list[float]) -> list[float]:
        if isinstance(moved, float):
            return [moved * g for g in grad_norms]
        values: list[float] = self._torch.stack(moved).double().tolist()
        return values

    @property
    def records(self) -> list[dict[str, Any]]:
        """One dict per recorded step: ``grad_norm``, ``speed`` (‖∂C/∂b‖), ``weight_norm``,
        ``update_ratio`` per layer (input side first) and the layers with NaN/Inf."""
        n = len(self.layers)
        while self._converted < len(self._raw):
            count, norms, moved = self._raw[self._converted]
            values = self._torch.stack(norms).double().tolist()
            rec: dict[str, Any] = {"step": count, "grad_norm": values[:n],
                                   "speed": values[n:2 * n], "weight_norm": values[2 * n:]}
            rec["update_ratio"] = [d / w if w > 0 and math.isfinite(w) else None
                                   for d, w in zip(self._moved_values(moved, values[:n]),
                                                   rec["weight_norm"], strict=True)]
            bad = [name for (name, _, _), g, w in zip(self.layers, rec["grad_norm"],
                                                      rec["weight_norm"], strict=True)
                   if not (math.isfinite(g) and math.isfinite(w))]
            rec["nonfinite"] = bad
            if bad:
                # The backward pass meets the output side first: name the layer nearest it.
                self._events.append({"step": count, "layer": bad[-1], "layers": bad})
            self._records.append(rec)
            self._converted += 1
        return self._records

    @property
    def events(self) -> list[dict[str, Any]]:
        """Non-finite gradients or weights: the step and the layer (nearest the output)."""
        self.records  # noqa: B018 - converts what is pending
        return self._events

    def finish(self, html: Any = None) -> Diagnosis | None:
        """Remove the hooks and, if anything was recorded, return the report (also written to
        ``html`` when given): what a training framework's callback does when fitting ends."""
        self.__exit__(None, None, None)
        if not self.records:
            return None
        report = self.report()
        if html is not None:
            report.save_html(html)
        return report

    def log(self, loss: Any) -> None:
        """Record this step's loss (a number or a one-element tensor)."""
        value = float(loss.detach()) if hasattr(loss, "detach") else float(loss)
        self.losses.append(value)

    # -- the verdict -------------------------------------------------------------------------

    def report(self, last: int = 10) -> Diagnosis:
        """The verdict over the run: the rules applied to the mean of the last ``last``
        recorded steps, with the logged losses as history; ``.steps`` holds every record."""
        if not self.records:
            raise ValueError(_("nothing recorded: no optimizer step touched the model's "
                               "parameters inside the watch block"))
        tail = self.records[-last:]
        rows = []
        for i, (name, weight, bias) in enumerate(self.layers):
            def mean(key: str, i: int = i) -> float:
                values = [r[key][i] for r in tail if r[key][i] is not None]
                return sum(values) / len(values) if values else math.nan
            speed = mean("speed")
            units = int(bias.numel()) if bias is not None else int(weight.shape[0])
            update = mean("update_ratio")
            rows.append(LayerMeasures(
                name=name, units=units, inputs=None, activation=None,
                weight_norm=mean("weight_norm"), weight_grad_norm=mean("grad_norm"),
                bias_grad_norm=speed if bias is not None else None, speed=speed,
                grad_rms=speed / math.sqrt(max(units, 1)),
                update_ratio=update if math.isfinite(update) else None,
                nonfinite=any(name in r["nonfinite"] for r in tail)))
        events = self.events
        first = events[0]["layer"] if events else None
        history = _loss_history(self.losses)
        setup = Setup(lr=None)
        j = judge(rows, setup, history, Context(samples=0, first_nonfinite=first))
        steps = [dict(r) for r in self.records]
        return Diagnosis(layers=rows, verdict=j.verdict, findings=j.findings,
                         suggestions=[replace(s, how=torch_how(s)) for s in j.suggestions],
                         lr=None, samples=0, loss="logged",
                         first_nonfinite=first, setup=setup, history=history, steps=steps)


def _loss_history(losses: list[float]) -> History | None:
    """Logged losses in (up to) ten chunks, each its mean: an epoch-like cost history."""
    if len(losses) < 2:
        return None
    k = max(1, len(losses) // 10)
    chunks = [losses[i: i + k] for i in range(0, len(losses), k)]
    return History(cost=tuple(sum(c) / len(c) for c in chunks))


def watch(model: Any, every: int = 1) -> Watch:
    """A context manager that records the model's gradient flow every ``every`` steps."""
    return Watch(model, every)
