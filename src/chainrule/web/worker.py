"""A bounded worker for long computations, so that cheap requests never wait behind them.

The server's cheap endpoints (parsing, a circuit, the chain) run in the request thread pool
as soon as they arrive. Long ones (a network's per-layer gradient norms, a diagnosis) go
through one :class:`Worker`: one thread computes, at most ``limit`` requests run or wait, and
one more is refused at once with :class:`Busy` (HTTP 503 and ``Retry-After``), never queued
without end. Each computation runs in a copy of its submitter's context, so it answers in the
language of the request that asked. The engine's grad mode and backward listeners are per
thread, so nothing needs a process-wide lock.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from chainrule.i18n import _

__all__ = ["Busy", "Worker"]

T = TypeVar("T")


class Busy(RuntimeError):
    """The worker already has as many computations as it accepts."""


class Worker:
    """One thread for long computations, with at most ``limit`` running or waiting."""

    def __init__(self, limit: int, name: str = "chainrule-worker") -> None:
        if limit < 1:
            raise ValueError(_("a worker needs room for at least one computation, got {limit}")
                             .format(limit=limit))
        self.limit = limit
        self._name = name
        self._executor: ThreadPoolExecutor | None = None  # started on first use, again after
        self._lock = threading.Lock()
        self._pending = 0

    @property
    def pending(self) -> int:
        """Computations running or waiting now."""
        with self._lock:
            return self._pending

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)``; raises :class:`Busy` when ``limit`` are already queued."""
        with self._lock:
            if self._pending >= self.limit:
                raise Busy(_("the server is busy with {n} long computations; try again in "
                             "a moment").format(n=self._pending))
            self._pending += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1,
                                                    thread_name_prefix=self._name)
            executor = self._executor
        # The submitting request's context (its language above all) goes with the work.
        context = contextvars.copy_context()
        try:
            future = executor.submit(context.run, fn, *args)
        except BaseException:
            self._release()
            raise
        # Released when the work really ends, even if the request that asked has gone away.
        future.add_done_callback(lambda _: self._release())
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` computed by the worker, awaited without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def shutdown(self) -> None:
        """Drop what waits, finish what runs (a later `submit` starts a fresh thread)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1
