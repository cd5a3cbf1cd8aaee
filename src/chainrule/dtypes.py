"""The default floating-point dtype: float64 unless ``set_default_dtype`` says otherwise.

chainrule computes in float64 by default (finite-difference checks and Nielsen's numbers need it;
torch's default is float32). ``set_default_dtype(float32)`` makes chainrule follow torch where
torch follows its own default: ``tensor()`` of Python numbers, the factories, ``nn`` layers'
parameters. Arrays keep their dtype, as in torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.errors import OperandError
from chainrule.i18n import _

__all__ = ["get_default_dtype", "set_default_dtype"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _Default:
    dtype: np.dtype[Any] = np.dtype(np.float64)


def get_default_dtype() -> np.dtype[Any]:
    """The dtype Python floats become (``chainrule.float64`` unless changed)."""
    return _Default.dtype


def set_default_dtype(dtype: Any) -> None:
    """Make ``dtype`` (``chainrule.float32`` or ``float64``) the default floating-point dtype."""
    chosen = None
    if dtype is not None:  # (NumPy reads None as float64)
        try:
            chosen = np.dtype(dtype)
        except TypeError:
            pass
    if chosen is None or not any(chosen == f for f in _FLOATS):
        raise OperandError(_(
            "set_default_dtype: only float32 and float64 can be the default dtype, got {dtype}"
        ).format(dtype=dtype))
    _Default.dtype = chosen
