"""Running a sweep's cells through any `concurrent.futures.Executor`.

`open_executor` gives local worker processes (``ProcessPoolExecutor``), this process alone
(``workers=0``, handy under a debugger) or a Dask cluster (``scheduler="tcp://host:8786"``,
through ``distributed.Client(address).get_executor()``). `run_sweep` submits the cells not yet in
the results file, a few more than there are workers at a time, and appends one line per finished
cell as it arrives. A cell whose measure raises is recorded as an error and the sweep goes on; a
cell whose worker died is *not* recorded (it was not the cell's fault, or not provably so) and
runs again next time, like the cells in flight when the sweep is interrupted.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from chainrule.i18n import _
from chainrule.sweep.measures import run_cell
from chainrule.sweep.spec import Cell, SweepError
from chainrule.sweep.store import ResultsWriter, dumps, jsonable, read_records

Measure = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def execute_cell(measure: Measure, key: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one cell in a worker and return its record; an exception becomes an error record."""
    started = time.perf_counter()
    record: dict[str, Any] = {"key": key, "status": "ok", "params": params}
    try:
        result = measure(params)
        if not isinstance(result, Mapping):
            raise TypeError(_(
                "a measure must return a dict, got {__name__}").format(
                    __name__=type(result).__name__))
        record["result"] = jsonable(dict(result))
        dumps(record)  # fail here, as this cell's error, if the result is not JSON
    except Exception as exc:
        record.pop("result", None)
        record["status"] = "error"
        record["error"] = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
        }
    record["seconds"] = round(time.perf_counter() - started, 6)
    record["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return record


class InlineExecutor(Executor):
    """Runs each submitted call at once, in this process (``--workers 0``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


@dataclass
class Backend:
    """An executor, how many cells it runs at once, and a description for people.

    ``window`` is how many cells to keep submitted: enough to keep every worker busy while
    results travel back, few enough that an interrupted sweep loses little.
    """

    executor: Executor
    capacity: int
    description: str
    window: int = 0

    def __post_init__(self) -> None:
        if self.window <= 0:
            self.window = 2 * self.capacity


def _start_method() -> str:
    # Not fork: the parent may run threads (progress bar, Dask), and forking a threaded
    # process can deadlock. forkserver forks workers from a clean single-threaded server.
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


def _local_backend(workers: int) -> Backend:
    if workers == 0:
        return Backend(InlineExecutor(), 1, "this process", window=1)
    ctx = multiprocessing.get_context(_start_method())
    if ctx.get_start_method() == "forkserver":
        # Workers are forked from a server that has already imported the measures.
        ctx.set_forkserver_preload(["chainrule.sweep.measures"])
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=exit_with_parent)
    plural = "es" if workers != 1 else ""
    return Backend(pool, workers, f"{workers} local process{plural}")


def exit_with_parent() -> None:
    """Worker initializer: end this worker when the sweep process that started it is gone.

    A pool cleans up after itself on a normal exit or Ctrl-C, but a sweep killed outright
    (SIGKILL, the out-of-memory killer) cannot; its workers would otherwise wait forever for
    cells that will never come. A daemon thread blocks on the parent's sentinel instead.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _terminate(executor: Executor) -> None:
    """Stop a process pool now, cells in flight included (they run again next time)."""
    executor.shutdown(wait=False, cancel_futures=True)
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.terminate()
    for process in list(processes.values()):
        process.join(timeout=5)


def _import_distributed() -> Any:
    try:
        import distributed
    except ModuleNotFoundError:
        raise SweepError(
            _("running on a Dask cluster needs dask.distributed: pip install 'chainrule[dask]'")
        ) from None
    return distributed


@contextmanager
def open_executor(
    workers: int | None = None, scheduler: str | None = None, timeout: float = 10.0
) -> Iterator[Backend]:
    """The executor a sweep runs on, shut down on exit.

    ``scheduler`` (a Dask scheduler address, e.g. ``tcp://host:8786``) wins over ``workers``;
    otherwise ``workers`` local processes (default: one per CPU), or this process for 0.
    """
    if scheduler:
        distributed = _import_distributed()
        try:
            client = distributed.Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SweepError(_(
                "cannot reach the Dask scheduler at {scheduler}: {exc}").format(
                    scheduler=scheduler, exc=exc)) from None
        try:
            threads = sum(client.nthreads().values())
            n = len(client.nthreads())
            description = f"Dask at {scheduler} ({n} workers, {threads} threads)"
            executor = client.get_executor(pure=False)
            # Workers may join later: keep a generous number of cells queued at the scheduler.
            yield Backend(executor, max(threads, 1), description, window=max(4 * threads, 64))
        finally:
            client.close()
        return
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 0:
        raise SweepError(_("workers must be 0 or more, got {workers}").format(workers=workers))
    with _one_blas_thread_in_children():
        backend = _local_backend(workers)
        try:
            yield backend
        except BaseException:
            _terminate(backend.executor)
            raise
        else:
            backend.executor.shutdown(wait=True)


# Read by OpenBLAS, MKL and OpenMP when NumPy loads them.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


@contextmanager
def _one_blas_thread_in_children() -> Iterator[None]:
    """Worker processes started inside the block use one BLAS thread each (unless the user set
    these variables): the pool already runs one cell per core, and a network's small matrix
    products run several times slower when BLAS threads compete for the same cores. This
    process's own BLAS, loaded already, is unaffected; the variables are restored on exit."""
    added = [name for name in BLAS_THREAD_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@dataclass
class SweepOutcome:
    """What one run of a sweep did, and the records of all its cells found afterwards."""

    total: int  # cells in the sweep
    skipped: int  # already in the results file
    ok: int = 0  # finished in this run
    failed: int = 0  # recorded as errors in this run
    lost: list[str] = field(default_factory=list)  # keys not run (worker died, pool broke)
    lost_reason: str = ""
    seconds: float = 0.0
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ran(self) -> int:
        return self.ok + self.failed


def run_sweep(
    cells: Sequence[Cell],
    out: str | os.PathLike[str],
    executor: Executor,
    *,
    measure: Measure = run_cell,
    retry_failed: bool = False,
    max_pending: int = 4,
    on_start: Callable[[int, int], None] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> SweepOutcome:
    """Run the cells of ``cells`` that ``out`` does not hold yet, appending their records.

    At most ``max_pending`` cells are submitted at a time. ``on_start(todo, skipped)`` is called
    once, ``on_record(record)`` after each record is written. ``measure`` must be picklable for
    process pools and clusters (a module-level function). A ``KeyboardInterrupt`` cancels the
    cells not started and propagates; everything recorded so far stays recorded.
    """
    started = time.perf_counter()
    outcome = SweepOutcome(total=len(cells), skipped=0)
    with ResultsWriter(out) as writer:
        done = read_records(out).finished(retry_failed)
        todo = [c for c in cells if c.key not in done]
        outcome.skipped = len(cells) - len(todo)
        if on_start is not None:
            on_start(len(todo), outcome.skipped)
        queue = iter(todo)
        pending: dict[Future[Any], Cell] = {}
        broken = False

        def fill() -> None:
            nonlocal broken
            while not broken and len(pending) < max(max_pending, 1):
                cell = next(queue, None)
                if cell is None:
                    return
                try:
                    pending[executor.submit(execute_cell, measure, cell.key, cell.params)] = cell
                except Exception as exc:  # the executor is broken or shut down
                    broken = True
                    outcome.lost.append(cell.key)
                    outcome.lost_reason = outcome.lost_reason or f"{type(exc).__name__}: {exc}"

        try:
            fill()
            while pending:
                finished, _pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    cell = pending.pop(future)
                    try:
                        record = future.result()
                    except Exception as exc:  # the worker died, not the measure
                        outcome.lost.append(cell.key)
                        if not outcome.lost_reason:
                            outcome.lost_reason = f"{type(exc).__name__}: {exc}"
                        continue
                    writer.write(record)
                    if record["status"] == "ok":
                        outcome.ok += 1
                    else:
                        outcome.failed += 1
                    if on_record is not None:
                        on_record(record)
                fill()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        outcome.lost.extend(cell.key for cell in queue)
    outcome.seconds = time.perf_counter() - started
    records = read_records(out).by_key
    outcome.records = {c.key: records[c.key] for c in cells if c.key in records}
    return outcome
