"""How many BLAS threads a mid-sized matrix product gets: a policy, the library's by default.

OpenBLAS (NumPy's BLAS on Linux) runs a product of up to 2¹⁸ multiply-adds on one thread and
wakes its whole pool above that. For the products of a small network's training step (a batch
of 256 through a 784×30 layer is 6·10⁶ multiply-adds) whether the pool pays depends on the
machine's load, not on the product: on this 2-core machine a 256×784 @ 784×30 product plus its
gradient took 380 µs on two threads and 670 µs on one while the machine was otherwise idle,
and 1,000–1,500 µs on two against 850–880 µs on one with one core busy; in suites run
alongside unit tests a batch-256 epoch took 7–20× longer on two threads. And the two ways do
not give the same bits: OpenBLAS's threaded and single-threaded kernels round some products
differently in the last place.

So the policy for products between 2¹⁸ and ``SINGLE_BELOW`` multiply-adds is a choice
(:func:`set_policy`, or ``CHAINRULE_BLAS`` in the environment):

- ``"library"`` (the default): NumPy's own behaviour, the library's thread count. The same
  computation gives the same bits on every call, which a teaching tool needs (a shared link
  must show the numbers its author saw, a training run must repeat).
- ``"single"``: one thread (set for the call, restored after): steady on a shared machine.
- ``"fastest"``: each shape and dtype timed both ways and run on whichever was faster, the
  slower way tried again after 8, 16, … up to 1,024 calls while it keeps losing. Fastest
  wherever the load changes, at the price of last-bit differences between calls.

Products outside that band, and everything on a BLAS this module cannot find, keep the
library's setting; ``OPENBLAS_NUM_THREADS`` and threadpoolctl still decide the library's count.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["POLICIES", "SINGLE_BELOW", "ThreadChoice", "matmul", "policy", "set_policy",
           "switches_threads"]

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


POLICIES = ("library", "single", "fastest")


def _initial_policy() -> str:
    wanted = os.environ.get("CHAINRULE_BLAS", "").strip().lower()
    return wanted if wanted in POLICIES else "library"


_policy = _initial_policy()


def policy() -> str:
    """The thread policy for mid-sized products: ``library``, ``single`` or ``fastest``."""
    return _policy


def set_policy(name: str) -> None:
    """Choose the thread policy for mid-sized products (see the module doc)."""
    global _policy
    if name not in POLICIES:
        from chainrule.errors import OperandError
        from chainrule.i18n import _

        raise OperandError(_("unknown BLAS policy {name}; choose one of: {choices}").format(
            name=repr(name), choices=", ".join(POLICIES)))
    _policy = name


def switches_threads(m: int, k: int, n: int) -> bool:
    """Whether an (m, k) @ (k, n) product is one :func:`matmul` may run on other threads than
    the library's (``chainrule.compile`` calls NumPy directly for the others, at its trace)."""
    return _OPENBLAS_SINGLE < m * k * n < SINGLE_BELOW


class ThreadChoice:
    """One shape's running choice: one thread or the library's count, by measured time."""

    FIRST_RETRY = 8
    LAST_RETRY = 1024
    SMOOTHING = 0.25  # weight of a new time in the running average of its way

    FIRST_CALLS = 2  # per way before choosing: the first call of a way pays its start-up

    __slots__ = ("seconds", "calls", "one", "since", "retry")

    def __init__(self) -> None:
        self.seconds: list[float | None] = [None, None]  # [the library's count, one thread]
        self.calls = [0, 0]
        self.one = False
        self.since = 0  # calls on the current way since the other was last tried
        self.retry = self.FIRST_RETRY

    def pick(self) -> bool:
        """True: run the next call on one thread."""
        if self.calls[0] < self.FIRST_CALLS:
            return False
        if self.calls[1] < self.FIRST_CALLS:
            return True
        if self.since >= self.retry:
            return not self.one  # try the other way once
        return self.one

    def record(self, one: bool, seconds: float) -> None:
        mean = self.seconds[one]
        if mean is None or self.calls[one] < self.FIRST_CALLS:
            # The quickest of the first calls: a thread pool's first wake-up is no measure.
            self.seconds[one] = seconds if mean is None else min(mean, seconds)
        else:
            self.seconds[one] = mean + self.SMOOTHING * (seconds - mean)
        self.calls[one] += 1
        library, single = self.seconds
        if library is None or single is None or min(self.calls) < self.FIRST_CALLS:
            return
        if one != self.one:  # that was a retry of the other way
            self.since = 0
            if (single < library) != self.one:
                self.one = not self.one  # it won: switch, and look back soon
                self.retry = self.FIRST_RETRY
            else:
                self.retry = min(2 * self.retry, self.LAST_RETRY)
            return
        self.since += 1
        if (single < library) != self.one and self.since >= self.FIRST_RETRY:
            self.one = not self.one  # the current way got slower than the other's last time
            self.since = 0
            self.retry = self.FIRST_RETRY


_choices: dict[tuple[int, int, int, str], ThreadChoice] = {}
_MAX_SHAPES = 256  # a program with ever new shapes starts over rather than grow without bound


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for arrays; a mid-sized product on the threads the policy gives it (see
    module doc)."""
    global _calls
    if _policy == "library" or a.ndim != 2 or b.ndim != 2:
        return np.matmul(a, b)
    if not switches_threads(a.shape[0], a.shape[1], b.shape[1]):
        return np.matmul(a, b)
    if _calls is False:
        _calls = _find_openblas()
    if _calls is None or _calls is True:
        return np.matmul(a, b)
    if _policy == "single":
        return _on_one_thread(_calls, a, b)
    key = (a.shape[0], a.shape[1], b.shape[1], a.dtype.char)
    choice = _choices.get(key)
    if choice is None:
        if len(_choices) >= _MAX_SHAPES:
            _choices.clear()
        choice = _choices[key] = ThreadChoice()
    one = choice.pick()
    start = time.perf_counter()
    out = _on_one_thread(_calls, a, b) if one else np.matmul(a, b)
    choice.record(one, time.perf_counter() - start)
    return out


def _on_one_thread(calls: tuple[_ThreadCall, _ThreadCall], a: np.ndarray, b: np.ndarray
                   ) -> np.ndarray:
    global _active, _saved
    get, set_ = calls
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
