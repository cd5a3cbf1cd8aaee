"""`Module`: the base class of layers and networks, with PyTorch's names.

A module's parameters are the ``requires_grad`` Tensors among its attributes; sub-modules are
attributes that are modules (or lists/tuples of modules). Both are found by walking the
attributes in the order they were assigned, so names and order are deterministic:
``layers.0.weight``, ``layers.0.bias``, ``layers.2.weight``, …
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from chainrule.errors import ChainruleError, ShapeError
from chainrule.i18n import _


class StateError(ChainruleError, ValueError):
    """A saved state (parameters, checkpoint) does not fit the module it is loaded into."""


def _is_tensor(x: object) -> bool:
    # Duck-typed so this module does not need the engine at import time.
    return getattr(type(x), "_is_node", False) and isinstance(getattr(x, "data", None), np.ndarray)


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` found: parameters without a value, values without a
    parameter."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class: subclasses set parameters/sub-modules in ``__init__`` and define ``forward``."""

    training: bool = True

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError(_("{module} does not define forward").format(
            module=type(self).__name__))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Accepts torch's ``to(device)``: the CPU is the only device, parameters stay."""
        from chainrule.device import device

        for arg in (*args, kwargs.get("device")):
            if arg is not None and not isinstance(arg, np.dtype):
                device(arg)
        return self

    # -- traversal --------------------------------------------------------------------------

    def _children(self) -> Iterator[tuple[str, Any]]:
        for name, value in vars(self).items():
            if name.startswith("_"):
                continue
            if (
                isinstance(value, (list, tuple))
                and value
                and all(isinstance(v, Module) for v in value)
            ):
                for i, v in enumerate(value):
                    yield f"{name}.{i}", v
            else:
                yield name, value

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (name ``prefix``) and every sub-module, depth first."""
        yield prefix, self
        for name, value in self._children():
            if isinstance(value, Module):
                yield from value.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self) -> list[tuple[str, Any]]:
        """``(dotted name, Tensor)`` for every parameter, in assignment order."""
        out: list[tuple[str, Any]] = []
        for prefix, module in self.named_modules():
            for name, value in vars(module).items():
                if _is_tensor(value) and (value.requires_grad
                                          or getattr(type(value), "_parameter", False)):
                    out.append((f"{prefix}.{name}" if prefix else name, value))
        return out

    def register_parameter(self, name: str, param: Any) -> None:
        """``setattr(self, name, param)``, torch's spelling for a computed name."""
        if not name.isidentifier():
            raise StateError(_("register_parameter: {name!r} is not a valid attribute name")
                             .format(name=name))
        setattr(self, name, param)

    def parameters(self) -> list[Any]:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the parameters' gradients: ``None`` (torch's default), or zeros in place with
        ``set_to_none=False`` (a ``.grad`` Tensor held by the caller then reads the zeros)."""
        for p in self.parameters():
            p.zero_grad(set_to_none)

    def train(self, mode: bool = True) -> Module:
        for _name, module in self.named_modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- state ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's array, keyed by its dotted name."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> Any:
        """Copy arrays (or tensors) into the parameters in place (optimizers keep working).

        With ``strict`` (the default) names must match exactly; every shape must agree.
        Otherwise `StateError` names the first difference and nothing is changed. Returns
        ``(missing_keys, unexpected_keys)`` as torch does.
        """
        params = dict(self.named_parameters())
        state = {k: getattr(v, "data", v) for k, v in state.items()}
        missing = [k for k in params if k not in state]
        extra = [k for k in state if k not in params]
        result = IncompatibleKeys(missing, extra)
        if not strict:
            params = {k: p for k, p in params.items() if k in state}
        elif missing or extra:
            parts = []
            if missing:
                parts.append(_("missing {names}").format(names=", ".join(missing)))
            if extra:
                parts.append(_("unexpected {names}").format(names=", ".join(extra)))
            raise StateError(_("state does not fit {module}: {problems}").format(
                module=type(self).__name__, problems="; ".join(parts)))
        for name, p in params.items():
            value = np.asarray(state[name])
            if value.shape != p.data.shape:
                raise ShapeError(
                    _("state {name} has shape {shape}, parameter has {expected}").format(
                        name=repr(name), shape=value.shape, expected=p.data.shape))
        for name, p in params.items():
            p.data[...] = state[name]
        return result

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = [(n, m) for n, m in self._children() if isinstance(m, Module)]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [head]
        for name, module in children:
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"
