"""The device surface of torch for a CPU-only engine: ``device("cpu")``, ``cuda.is_available()``.

chainrule computes with NumPy on the CPU. Code written for torch asks for a device and moves
tensors and modules to it; here every such call works for the CPU and a request for a GPU is a
clear error rather than a silent fallback.
"""

from __future__ import annotations

from typing import Any

from chainrule.errors import ConfigError
from chainrule.i18n import _

__all__ = ["CPU", "accelerator", "backends", "cuda", "device", "mps"]


class device:  # noqa: N801 - torch's name
    """``device("cpu")`` (also ``"cpu:0"`` or another ``device``); any other type is refused."""

    __slots__ = ("type", "index")

    type: str
    index: int | None

    def __init__(self, type: Any = "cpu", index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        name = str(type)
        kind, _sep, number = name.partition(":")
        if kind != "cpu":
            raise ConfigError(_(
                "device {name!r}: chainrule computes on the CPU only (with NumPy); use "
                "device('cpu'), which is what `'cuda' if torch.cuda.is_available() else 'cpu'` "
                "picks here"
            ).format(name=name))
        self.type = "cpu"
        self.index = index if index is not None else (int(number) if number else None)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and other.type == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"

    def __str__(self) -> str:
        return self.type


CPU = device("cpu")


class _NoGPU:
    """``cuda``/``mps``: present so that availability checks answer False."""

    def __init__(self, name: str) -> None:
        self._name = name

    def is_available(self) -> bool:
        return False

    def device_count(self) -> int:
        return 0

    def manual_seed(self, seed: int) -> None:  # torch code seeds every device
        pass

    manual_seed_all = manual_seed


class _Accelerator:
    """``accelerator.is_available()`` is False; ``current_accelerator()`` is None."""

    def is_available(self) -> bool:
        return False

    def current_accelerator(self) -> None:
        return None

    def device_count(self) -> int:
        return 0


class _Backends:
    def __init__(self) -> None:
        self.mps = _NoGPU("mps")
        self.cuda = _NoGPU("cuda")


cuda = _NoGPU("cuda")
mps = _NoGPU("mps")
accelerator = _Accelerator()
backends = _Backends()
