"""How a tensor prints: torch's format (``tensor([0.5000, 1.0000])``) and its ``set_printoptions``.

Floats show ``precision`` digits after the point (4 by default) unless every value is an
integer (``tensor([1., 2.])``); scientific notation when the magnitudes are far apart, as torch
decides; the dtype is named unless it is the default float, int64 or bool.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.dtypes import _Default
from chainrule.errors import ConfigError
from chainrule.i18n import _

__all__ = ["format_tensor", "set_printoptions"]

_PROFILES: dict[str, dict[str, Any]] = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": np.inf, "edgeitems": 3, "linewidth": 80},
}


class _Options:
    values: dict[str, Any] = {**_PROFILES["default"], "sci_mode": None}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """torch's ``set_printoptions``: ``profile`` ("default", "short", "full") first, then the
    settings given; ``sci_mode`` True or False forces scientific notation on or off."""
    options = dict(_Options.values)
    if profile is not None:
        if profile not in _PROFILES:
            raise ConfigError(_("set_printoptions: unknown profile {name}; choose one of: "
                                "{choices}").format(name=repr(profile),
                                                    choices=", ".join(_PROFILES)))
        options.update(_PROFILES[profile])
    given: dict[str, Any] = {"precision": precision, "threshold": threshold, "edgeitems": edgeitems,
             "linewidth": linewidth}
    options.update({k: v for k, v in given.items() if v is not None})
    options["sci_mode"] = sci_mode
    _Options.values = options


def format_tensor(data: np.ndarray, requires_grad: bool) -> str:
    o = _Options.values
    kind = data.dtype.kind
    settings: dict[str, Any] = {
        "precision": o["precision"], "threshold": o["threshold"], "edgeitems": o["edgeitems"],
        # torch does not count the separator after a line's last number; NumPy does.
        "max_line_width": o["linewidth"] + 1, "separator": ", ", "prefix": "tensor(",
    }
    if kind == "f":
        integral, sci = _float_mode(data)
        if o["sci_mode"] is not None:
            sci = o["sci_mode"]
        if sci:
            p = o["precision"]
            # torch aligns every number to the widest (NumPy does not for a formatter).
            finite = data[np.isfinite(data)]
            width = max((len(f"{v:.{p}e}") for v in (finite.min(), finite.max())), default=0) \
                if finite.size else 0
            settings["formatter"] = {"float_kind": lambda v: f"{v:>{width}.{p}e}"}
        else:
            settings["floatmode"] = "maxprec" if integral else "fixed"
            settings["suppress_small"] = True
    body = np.array2string(data, **settings)
    extra = f", size={data.shape}" if data.size == 0 and data.ndim != 1 else ""
    extra += ", requires_grad=True" if requires_grad else ""
    if data.dtype != _Default.dtype and kind != "b" and data.dtype != np.int64:
        extra += f", dtype={data.dtype}"
    return f"tensor({body}{extra})"


def _float_mode(data: np.ndarray) -> tuple[bool, bool]:
    """(every value an integer, scientific notation) by torch's rule: scientific when the
    largest magnitude exceeds 1e8 or 1000 times the smallest, or (for non-integers) the
    smallest is below 1e-4."""
    finite = data[np.isfinite(data)]
    integral = bool(np.all(np.mod(finite, 1) == 0))
    magnitudes = np.abs(finite[finite != 0])
    if not magnitudes.size:
        return integral, False
    largest, smallest = float(magnitudes.max()), float(magnitudes.min())
    sci = largest / smallest > 1000 or largest > 1e8 or (not integral and smallest < 1e-4)
    return integral, sci
