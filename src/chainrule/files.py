"""Writing result files so that their final name never holds half a file.

Every file chainrule writes (checkpoints, plots, pictures) is first written to a temporary file
in the same folder, named ``.<file name>.<pid>-<random>.tmp``, and then renamed over the final
name in one step (``os.replace``). A process killed while writing leaves at most that temporary,
which the next write of the same file removes once its process is gone.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_output", "clean_stale_temporaries", "new_temporary", "save_figure", "write_bytes",
]


def _prefix(target: Path) -> str:
    return f".{target.name}."


def new_temporary(path: str | os.PathLike[str]) -> tuple[int, Path]:
    """An open file descriptor and the name of a fresh temporary for ``path``."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_prefix(target)}{os.getpid()}-", suffix=".tmp",
                               dir=target.parent)
    return fd, Path(tmp)


def clean_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove temporaries that an interrupted write of ``path`` left behind; return them.

    Only our own are touched: names ``.<file name>.<pid>-<random>.tmp`` whose process is gone
    (a write killed with SIGKILL cannot clean up after itself). Files of running processes and
    anything else in the folder are left alone.
    """
    target = Path(path)
    prefix = _prefix(target)
    removed: list[Path] = []
    try:
        candidates = list(target.parent.glob(f"{glob.escape(prefix)}*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        pid_text, dash, _ = tmp.name[len(prefix):].partition("-")
        if not dash or not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or a number we cannot ask about): keep its file
    return True


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, durable: bool = False,
                  parents: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to; on success it becomes ``path``.

    On an exception the temporary is removed and ``path`` keeps what it held before. A
    ``path`` that exists but is not a regular file (``/dev/null``, a pipe) is written directly.
    ``durable``: fsync the file before the rename (checkpoints), so a crash of the whole machine
    cannot leave an empty file under the final name either. ``parents``: create missing
    folders (otherwise a missing folder is an ``OSError``, as for ``open``).
    """
    target = Path(path)
    if target.exists() and not target.is_file():
        # A device or a pipe (--svg /dev/null): written to as it is, never replaced by a file.
        yield target
        return
    if parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(target)
    fd, tmp = new_temporary(target)
    os.close(fd)
    # mkstemp creates the file for its owner only; a result file gets the usual permissions
    # (the umask's), or keeps those of the file it replaces.
    mode = target.stat().st_mode & 0o777 if target.is_file() else 0o666 & ~_umask()
    try:
        os.chmod(tmp, mode)
        yield tmp
        if durable:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """``path`` holds ``data``, or (after a failure) whatever it held before."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def save_figure(fig: Any, path: str | os.PathLike[str], *, parents: bool = False,
                **savefig: Any) -> Path:
    """``fig.savefig`` through a temporary file; the format follows ``path``'s suffix (PNG
    without one), as it would when saving to ``path`` directly."""
    target = Path(path)
    kind = target.suffix[1:].lower() or "png"
    with atomic_output(target, parents=parents) as tmp:
        fig.savefig(tmp, format=kind, **savefig)
    return target
