"""The results file: JSON lines, one per finished cell, only ever appended to.

Each line is one record::

    {"key": "3f1c…", "status": "ok", "params": {...}, "result": {...},
     "seconds": 0.41, "worker": "host:pid", "finished": "2025-01-31T12:00:00+00:00"}

or, for a cell whose measure raised, ``"status": "error"`` and ``"error": {"type", "message",
"traceback"}`` instead of ``"result"``. A line is written in one call, flushed and fsynced before
the next cell is recorded, so a crash can tear at most the last line: readers skip a torn last
line, and the writer cuts it off before appending. When a key appears more than once (a failed
cell run again with ``--retry-failed``), the last line wins.

Numbers are strict JSON: NaN and ±∞ are written as ``null``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from chainrule.i18n import _
from chainrule.sweep.spec import SweepError

try:  # POSIX: one writer per results file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def jsonable(obj: Any) -> Any:
    """``obj`` with NumPy scalars and arrays as Python numbers and lists, tuples as lists and
    non-finite floats as ``None``; other values unchanged."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "tolist") and callable(obj.tolist):  # NumPy arrays and scalars
        return jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def dumps(record: dict[str, Any]) -> str:
    """One record as one line of strict JSON (no newline)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass
class Records:
    """What a results file holds: the last record of each key, and what could not be read."""

    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: int = 0
    damaged: list[int] = field(default_factory=list)  # line numbers that are not records
    torn: bool = False  # the last line was cut short (a crash while writing)

    def finished(self, retry_failed: bool = False) -> set[str]:
        """Keys that need not run again: every recorded key, or only the successful ones."""
        if not retry_failed:
            return set(self.by_key)
        return {k for k, r in self.by_key.items() if r.get("status") == "ok"}


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
        return None
    return record


def read_records(path: str | os.PathLike[str]) -> Records:
    """Read a results file (missing: empty). A torn last line is tolerated; other unreadable
    lines are listed in ``damaged``."""
    out = Records()
    if Path(path).exists() and not Path(path).is_file():  # a FIFO would block, a device lie
        raise SweepError(_("{path} is not a regular file; choose another --out").format(path=path))
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return out
    except OSError as exc:
        raise SweepError(_("cannot read {path}: {value0}").format(
                path=path, value0=exc.strerror or exc)) from None
    lines = raw.split(b"\n")
    last_complete = raw.endswith(b"\n")
    if last_complete:
        lines.pop()  # the empty string after the final newline
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        out.lines += 1
        record = _parse(line)
        if record is None:
            if number == len(lines) and not last_complete:
                out.torn = True
            else:
                out.damaged.append(number)
            continue
        out.by_key[record["key"]] = record
    return out


class ResultsWriter:
    """Appends records to a results file: locked against a second writer, torn tail repaired,
    every line flushed and fsynced. Use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fh: IO[bytes] | None = None
        self.repaired = False  # a torn last line was cut off on opening

    def __enter__(self) -> ResultsWriter:
        if self.path.exists() and not self.path.is_file():
            raise SweepError(_(
                "{path} is not a regular file; choose another --out").format(
                    path=self.path))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+b")  # closed in __exit__
        except OSError as exc:
            raise SweepError(_("cannot write {path}: {value0}").format(
                    path=self.path, value0=exc.strerror or exc)) from None
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise SweepError(
                        _(
                        "another sweep is writing to {path}; wait for it or use --out").format(
                            path=self.path)
                    ) from None
            _check_ours(fh, self.path)
            self.repaired = _repair_tail(fh)
        except OSError as exc:
            fh.close()
            raise SweepError(_("cannot write {path}: {value0}").format(
                    path=self.path, value0=exc.strerror or exc)) from None
        except BaseException:
            fh.close()
            raise
        self._fh = fh
        return self

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as one line, and make it durable before returning."""
        if self._fh is None:
            # untranslated: an internal invariant (the runner opens the writer before any record)
            raise RuntimeError("ResultsWriter is not open")
        self._fh.write(dumps(record).encode("utf-8") + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fh is not None:
            self._fh.close()  # closing releases the lock
            self._fh = None


def _check_ours(fh: IO[bytes], path: Path, block: int = 1 << 16) -> None:
    """Refuse to append to a file that is not a sweep's results: it was not ours to change.

    A results file starts with a record (or, after a crash during the very first write, with
    the start of one) and every complete line is a record; anything else is someone's file.
    """
    size = fh.seek(0, os.SEEK_END)
    if size == 0:
        return
    fh.seek(0)
    head = fh.read(min(size, block))
    first, newline, _rest = head.partition(b"\n")
    if newline:
        ours = _parse(first) is not None
    else:  # one line so far: a record, maybe torn by a crash while it was written
        ours = first.startswith(b'{"key":"')
    if ours:
        records = read_records(path)
        ours = not records.damaged
    if not ours:
        raise SweepError(_(
            "{path} exists and is not a chainrule sweep's results file; it was left "
            "unchanged (choose another --out)").format(
                path=path))


def _tail_start(fh: IO[bytes], size: int, block: int = 1 << 16) -> int:
    """Offset just after the last newline of the file (0 if it has none)."""
    end = size
    while end > 0:
        start = max(0, end - block)
        fh.seek(start)
        chunk = fh.read(end - start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        end = start
    return 0


def _repair_tail(fh: IO[bytes]) -> bool:
    """Make the file end with a newline before anything is appended: a complete last record
    that only lacks its newline gets one, a torn one is cut off. True if the file changed."""
    size = fh.seek(0, os.SEEK_END)
    if size == 0:
        return False
    fh.seek(size - 1)
    if fh.read(1) == b"\n":
        return False
    start = _tail_start(fh, size)
    fh.seek(start)
    if _parse(fh.read(size - start)) is not None:
        fh.seek(0, os.SEEK_END)
        fh.write(b"\n")
    else:
        fh.truncate(start)
    fh.flush()
    os.fsync(fh.fileno())
    return True
