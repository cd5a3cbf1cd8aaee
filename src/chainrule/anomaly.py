"""Anomaly mode: the first NaN or ∞ named by its op and by the line of user code that made it.

``Value`` needs no mode for this: a scalar op that leaves the real numbers raises at once, in
the forward pass, with the op's name (``errors.numeric_error``; inside the mode the message
also gets the user's line). Arrays carry NaN and ∞ silently
instead (NumPy's and torch's convention), so for ``Tensor`` the same report is opt-in:

>>> with chainrule.autograd.detect_anomaly():       # doctest: +SKIP
...     y = (x * 0).log()                           # NumericError: log(...) produced -inf
...                                                 #   (at train.py:12: y = (x * 0).log())

Inside the mode every Tensor op checks its output; the first op that turns finite inputs into a
NaN or ∞ raises the same ``NumericError`` as ``Value``, naming the op and the user's line. A
backward pass also checks every edge: a gradient that turns non-finite raises ``AnomalyError``
naming the op and the forward line that created it. Costs nothing while off (the check is
swapped in as the engine's node constructor only while the mode is on).
"""

from __future__ import annotations

import importlib
import linecache
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from chainrule.errors import ChainruleError, numeric_error
from chainrule.graph import BackwardEvent
from chainrule.i18n import _

# The module, not the function chainrule.tensor that shadows its name on the package.
_tensor: Any = importlib.import_module("chainrule.tensor")

__all__ = ["AnomalyError", "detect_anomaly", "is_anomaly_enabled", "set_detect_anomaly",
           "user_line"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_KEEP = 100_000  # forward lines remembered (the newest nodes), so the mode cannot grow forever


class AnomalyError(ChainruleError, RuntimeError):
    """A backward pass produced a NaN or ∞ gradient (anomaly mode names the op and line)."""


class _State:
    on = False
    depth = 0
    plain_node = _tensor._node
    origins: dict[Any, str] = {}
    numpy_errors: dict[str, Any] = {}


def user_line() -> str:
    """``file:line: source`` of the innermost caller outside chainrule ("" if none)."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return ""
    source = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
    return f"{where}: {source}" if source else where


def is_anomaly_enabled() -> bool:
    return _State.on


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly mode on or off for the whole process (as torch's function of that name)."""
    if mode and not _State.on:
        _tensor._node = _checked_node
        # The mode reports the first NaN/∞ itself; NumPy's warnings about it would come first.
        _State.numpy_errors = dict(np.seterr(all="ignore"))
    elif not mode and _State.on:
        _tensor._node = _State.plain_node
        np.seterr(**_State.numpy_errors)
        _State.origins.clear()
    _State.on = bool(mode)


@contextmanager
def detect_anomaly(check_nan: bool = True) -> Iterator[None]:
    """Anomaly mode inside the block (nested blocks are fine)."""
    was = _State.on
    set_detect_anomaly(check_nan or was)
    try:
        yield
    finally:
        set_detect_anomaly(was)


def _finite(x: Any) -> bool:
    data = x.data if getattr(type(x), "_is_node", False) else x
    if not isinstance(data, np.ndarray):
        data = np.asarray(data)
    return data.dtype.kind not in "fc" or bool(np.isfinite(data).all())


def _checked_node(data: np.ndarray, op: Any, a: Any, b: Any, ctx: tuple[Any, ...]) -> Any:
    node = _State.plain_node(data, op, a, b, ctx)
    if not _finite(data) and _finite(a) and (b is None or _finite(b)):
        operands = ", ".join(_("array of shape {shape}").format(shape=x.shape)
                             for x in (a, b) if x is not None)
        bad = "NaN" if np.isnan(np.asarray(data)).any() else "∞"
        raise numeric_error(op.name, operands,
                            _("produced {bad} from finite inputs").format(bad=bad), user_line())
    if node.op is not None:
        origins = _State.origins
        origins[node] = user_line()
        if len(origins) > _KEEP:
            del origins[next(iter(origins))]
    return node


def origin(node: Any) -> str:
    """The forward line recorded for ``node`` in anomaly mode ("" if unknown)."""
    return _State.origins.get(node, "")


def check_event(event: BackwardEvent) -> None:
    """A backward listener: raise on the first edge whose gradient turns non-finite."""
    if _finite(event.contribution) or not _finite(event.upstream):
        return
    node = event.node
    where = origin(node)
    made = _("; {op} was computed at {where}").format(op=node.op.name, where=where) if where else ""
    raise AnomalyError(_(
        "backward: {op} produced a non-finite gradient for its input {index} from a finite one"
    ).format(op=node.op.name, index=event.index + 1) + made)
