"""Small helpers shared by the lab modules: the lab's error type and JSON-safe numbers."""

from __future__ import annotations

import math
from typing import Any

from chainrule.errors import ChainruleError


class LabError(ChainruleError, ValueError):
    """An impossible lab setting (too few layers, unknown cost, mismatched sizes, …)."""


def finite_or_none(x: float) -> float | None:
    """``x`` as a float, or ``None`` for NaN/±∞ (JSON has no spelling for them)."""
    x = float(x)
    return x if math.isfinite(x) else None


def jsonable(obj: Any) -> Any:
    """Replace non-finite floats by ``None`` throughout nested lists/dicts (strict JSON)."""
    if isinstance(obj, float):
        return finite_or_none(obj)
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj
