"""Checkpoints as ``.npz`` files: parameters, optimizer state and a JSON description.

Layout of the archive (NumPy's zip of ``.npy`` arrays, read with ``allow_pickle=False``, so
loading a checkpoint can never run code, unlike a pickle):

- ``model/<parameter name>`` — one array per parameter (``layers.0.weight``, …)
- ``optim/<slot>.<index>`` — optimizer state (momentum buffers, Adam moments, step count)
- ``meta`` — a JSON string: format and version, the model's architecture, the training
  settings, progress (epoch, batch), the RNG state and the history so far.

Files are written atomically: to a temporary file in the same folder, then `os.replace`, so
an interrupted save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.errors import ChainruleError

FORMAT = "chainrule-checkpoint"
VERSION = 1


class CheckpointError(ChainruleError, ValueError):
    """A checkpoint is missing, corrupt, or was written for another architecture."""


@dataclass
class Checkpoint:
    """The contents of a checkpoint file."""

    model: dict[str, np.ndarray]
    meta: dict[str, Any]
    optimizer: dict[str, np.ndarray] = field(default_factory=dict)


def atomic_savez(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> Path:
    """``np.savez_compressed`` to ``path`` via a temporary file and an atomic rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            # Through a file object, so NumPy does not append ".npz" to the temporary name.
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def save_checkpoint(
    path: str | os.PathLike[str],
    model: dict[str, np.ndarray],
    meta: dict[str, Any],
    optimizer: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write a checkpoint atomically; ``meta`` must be JSON-serialisable."""
    arrays: dict[str, np.ndarray] = {f"model/{k}": v for k, v in model.items()}
    arrays.update({f"optim/{k}": v for k, v in (optimizer or {}).items()})
    full = {"format": FORMAT, "version": VERSION, **meta}
    arrays["meta"] = np.array(json.dumps(full))
    return atomic_savez(path, arrays)


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint; `CheckpointError` names the file if it is missing or not one."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file")
    try:
        # Open the file ourselves: np.load leaks its handle when the zip is corrupt.
        with p.open("rb") as fh, np.load(fh, allow_pickle=False) as archive:
            if "meta" not in archive.files:
                raise CheckpointError(f"{p}: not a chainrule checkpoint (no 'meta' entry)")
            meta = json.loads(str(archive["meta"]))
            model = {k[6:]: archive[k] for k in archive.files if k.startswith("model/")}
            optim = {k[6:]: archive[k] for k in archive.files if k.startswith("optim/")}
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{p}: not a readable checkpoint ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{p}: not a chainrule checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{p}: checkpoint version {meta.get('version')}, expected {VERSION}")
    return Checkpoint(model=model, meta=meta, optimizer=optim)


def describe_architecture(arch: dict[str, Any]) -> str:
    sizes = ",".join(str(s) for s in arch.get("sizes", []))
    return (
        f"sizes {sizes}, activation {arch.get('activation')}, output "
        f"{arch.get('output_activation')}, {arch.get('dtype')}"
    )


def check_architecture(path: Path | str, saved: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Raise `CheckpointError` if a checkpoint's architecture differs from the one asked for.

    The init scheme is not compared: it only mattered before the first step.
    """
    keys = ("sizes", "activation", "output_activation", "dtype")
    if any(saved.get(k) != wanted.get(k) for k in keys):
        raise CheckpointError(
            f"{path} holds a network with {describe_architecture(saved)}; "
            f"you asked for {describe_architecture(wanted)}"
        )


def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Save an `MLP`'s architecture and parameters (no optimizer, no training state)."""
    return save_checkpoint(path, model.state_dict(), {"model": model.config()})


def load_model(path: str | os.PathLike[str]) -> Any:
    """Rebuild the `MLP` saved by `save_model` (or found in a training checkpoint)."""
    from chainrule.nn.layers import MLP

    ckpt = read_checkpoint(path)
    arch = ckpt.meta.get("model")
    if not isinstance(arch, dict):
        raise CheckpointError(f"{path}: checkpoint does not describe a model")
    model = MLP(
        arch["sizes"],
        activation=arch["activation"],
        init=arch.get("init", "nielsen"),
        output_activation=arch["output_activation"],
        dtype=arch["dtype"],
        seed=0,
    )
    try:
        model.load_state_dict(ckpt.model)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return model
