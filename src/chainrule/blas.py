"""How many BLAS threads a matrix product gets: one below a size, the library's default above.

OpenBLAS (NumPy's BLAS on Linux) already runs a product of up to 2¹⁸ multiply-adds on one
thread; above that it wakes its whole pool. For the products of a small network's training
step (a batch of 256 through a 784×30 layer is 6·10⁶ multiply-adds) the pool costs more than it
gives when the cores are shared: on a 2-core machine with other work running, a batch-256
epoch of the benchmark MLP took 7–20× longer with NumPy's default two threads than with one,
while the products alone, timed in isolation, ran 2–3× faster on two. So products between
2¹⁸ and ``SINGLE_BELOW`` multiply-adds run on one thread and the count is restored right after;
larger ones, and everything on a BLAS this module cannot find, keep the library's setting.
``OPENBLAS_NUM_THREADS`` and threadpoolctl still decide the default.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["SINGLE_BELOW", "matmul", "switches_threads"]

# Multiply-adds: below OpenBLAS's own threshold it is single-threaded already (no call needed).
_OPENBLAS_SINGLE = 65536 * 4
SINGLE_BELOW = 1 << 24

_ThreadCall = Callable[..., Any]


def _find_openblas() -> tuple[_ThreadCall, _ThreadCall] | None:
    """(get, set) of the loaded OpenBLAS's thread count, or None where there is none."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps
                            if "openblas" in line.lower() and ".so" in line})
    except OSError:  # not Linux: leave threads to the library
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", ""), ("openblas", "64_")):
            getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if getter is not None and setter is not None:
                return getter, setter
    return None


_calls: tuple[_ThreadCall, _ThreadCall] | None | bool = False  # False: not looked up yet
_lock = threading.Lock()
_active = 0  # small products running now (threads may run them at once: NumPy frees the GIL)
_saved = 1  # the thread count to restore when the last of them ends


def switches_threads(m: int, k: int, n: int) -> bool:
    """Whether an (m, k) @ (k, n) product is one :func:`matmul` runs on one thread by hand
    (``chainrule.compile`` calls NumPy directly for the others, at its trace)."""
    return _OPENBLAS_SINGLE < m * k * n < SINGLE_BELOW


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for arrays, on one BLAS thread when the product is small (see module doc)."""
    global _calls, _active, _saved
    if a.ndim != 2 or b.ndim != 2:
        return np.matmul(a, b)
    macs = a.shape[0] * a.shape[1] * b.shape[1]
    if macs <= _OPENBLAS_SINGLE or macs >= SINGLE_BELOW:
        return np.matmul(a, b)
    if _calls is False:
        _calls = _find_openblas()
    if _calls is None or _calls is True:
        return np.matmul(a, b)
    get, set_ = _calls
    with _lock:
        if not _active:
            _saved = get()
            if _saved > 1:
                set_(1)
        _active += 1
    try:
        return np.matmul(a, b)
    finally:
        with _lock:
            _active -= 1
            if not _active and _saved > 1:
                set_(_saved)
