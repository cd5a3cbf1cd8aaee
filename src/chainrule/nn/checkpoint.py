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

import itertools
import json
import math
import os
import shutil
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.files import atomic_output, clean_stale_temporaries, new_temporary
from chainrule.i18n import _, number

__all__ = [
    "FORMAT", "MAX_MODEL_BYTES", "VERSION", "Checkpoint", "CheckpointError", "atomic_savez",
    "check_architecture", "check_writable", "clean_stale_temporaries", "describe_architecture",
    "load_model", "model_from", "read_checkpoint", "save_checkpoint", "save_model",
]

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
    """``np.savez_compressed`` to ``path`` via a temporary file and an atomic rename.

    The final name only ever holds a complete file; a temporary left by a killed save is
    removed by the next save of the same path (:mod:`chainrule.files`).
    """
    target = Path(path)
    with atomic_output(target, durable=True, parents=True) as tmp, tmp.open("wb") as fh:
        # Through a file object, so NumPy does not append ".npz" to the temporary name.
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
    return target


def check_writable(path: str | os.PathLike[str], needed: int) -> Path:
    """Refuse, before any work is done, a checkpoint path that a save could not write.

    The folder must exist or be creatable, accept a new file, and have ``needed`` bytes free
    (a save briefly holds the temporary file and the previous checkpoint side by side).
    Temporaries that killed runs left next to ``path`` are removed on the way.
    """
    target = Path(path)
    if target.is_dir():
        raise CheckpointError(_("cannot write checkpoint {path}: it is a folder").format(
            path=target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temporaries(target)
        fd, probe = new_temporary(target)
        os.close(fd)
        probe.unlink()
        free = shutil.disk_usage(target.parent).free
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CheckpointError(_("cannot write checkpoint {path}: {reason}").format(
            path=target, reason=reason)) from None
    if free < needed:
        raise CheckpointError(
            _("cannot write checkpoint {path}: a save needs about {needed} MB and the disk has "
              "{free} MB free").format(path=target, needed=number(needed / 2**20, ",.1f"),
                                       free=number(free / 2**20, ",.1f")))
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


MAX_MODEL_BYTES = 32 * 2**20
"""Largest model a checkpoint may hold (4 million float64 parameters, e.g. 784-1000-1000-1000-10);
with the optimizer's state, reading one allocates at most about three times this."""
MAX_META_BYTES = 4 * 2**20
"""Largest JSON description (settings and the history of every epoch)."""
MAX_ENTRIES = 4096
MAX_LAYERS = 1000
DTYPES = {"float64": 8, "float32": 4}


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint; `CheckpointError` names the file and what is wrong with it.

    Nothing is trusted before it is checked: the JSON description is read first (bounded in
    size), the model it declares must be a plausible MLP no larger than
    :data:`MAX_MODEL_BYTES`, and every array's header (shape and type) must fit that model
    before any array is read, so a crafted file cannot make the reader allocate more than the
    declared model needs (zip bombs and headers claiming terabytes included).
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(_("{path}: no such checkpoint file").format(path=p))
    try:
        with zipfile.ZipFile(p) as archive:
            return _read_archive(p, archive)
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
            NotImplementedError, RecursionError, MemoryError) as exc:
        raise CheckpointError(_("{path}: not a readable checkpoint ({reason})").format(
            path=p, reason=_short(exc))) from None


def _short(exc: BaseException) -> str:
    # The archive library's own words are English; the usual ones are said in the reader's.
    if isinstance(exc, zipfile.BadZipFile):
        return _("not a zip archive")
    if isinstance(exc, (EOFError, zlib.error)):
        return _("the file is cut short or damaged")
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def _read_archive(p: Path, archive: zipfile.ZipFile) -> Checkpoint:
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise CheckpointError(_("{path}: {count} entries; a checkpoint has far fewer").format(
            path=p, count=number(len(infos), ",")))
    entries = {info.filename: info for info in infos}
    meta_info = entries.get("meta.npy")
    if meta_info is None:
        raise CheckpointError(
            _("{path}: not a chainrule checkpoint (no 'meta' entry)").format(path=p))
    if meta_info.file_size > MAX_META_BYTES:
        raise CheckpointError(_("{path}: its description claims {size} bytes; the limit is "
                                "{limit}").format(path=p, size=number(meta_info.file_size, ","),
                                                  limit=number(MAX_META_BYTES, ",")))
    meta_array = _read_entry(p, archive, meta_info, _header(p, archive, meta_info))
    if meta_array.shape != () or meta_array.dtype.kind != "U":
        raise CheckpointError(
            _("{path}: not a chainrule checkpoint (its 'meta' is not text)").format(path=p))
    meta = json.loads(str(meta_array))
    _check_meta(p, meta)
    shapes = _declared_shapes(p, meta["model"])
    itemsize = DTYPES[meta["model"]["dtype"]]
    model_bytes = sum(math.prod(s) for s in shapes) * itemsize
    largest = max(math.prod(s) for s in shapes) * itemsize

    headers: dict[str, tuple[zipfile.ZipInfo, tuple[tuple[int, ...], bool, np.dtype[Any]]]] = {}
    for name, info in entries.items():
        if name == "meta.npy":
            continue
        if not name.startswith(("model/", "optim/")) or not name.endswith(".npy"):
            raise CheckpointError(_("{path}: unexpected entry {name}").format(
                path=p, name=repr(name[:100])))
        headers[name] = (info, _header(p, archive, info))
    model_shapes = sorted(h[0] for n, (_, h) in headers.items() if n.startswith("model/"))
    floats = all(h[2].kind == "f" for n, (_, h) in headers.items() if n.startswith("model/"))
    if model_shapes != sorted(shapes) or not floats:
        raise CheckpointError(_("{path}: its parameters do not fit the network it describes "
                                "({network})").format(
            path=p, network=describe_architecture(meta["model"])))
    total = 0
    for name, (_info, (shape, _fortran, dtype)) in headers.items():
        nbytes = math.prod(shape) * dtype.itemsize
        if name.startswith("optim/") and nbytes > max(largest, 1024):
            raise CheckpointError(_("{path}: optimizer entry {name} of shape {shape} is larger "
                                    "than any parameter").format(
                path=p, name=repr(name[6:-4]), shape=shape))
        total += nbytes
    if total > 3 * model_bytes + 2**20:
        raise CheckpointError(_("{path}: its arrays claim {total} bytes, more than the declared "
                                "model and its optimizer state need ({needed} bytes)").format(
            path=p, total=number(total, ","), needed=number(model_bytes, ",")))
    model: dict[str, np.ndarray] = {}
    optim: dict[str, np.ndarray] = {}
    for name, (info, header) in headers.items():
        into = model if name.startswith("model/") else optim
        into[name[6:-4]] = _read_entry(p, archive, info, header)
    return Checkpoint(model=model, meta=meta, optimizer=optim)


def _check_meta(p: Path, meta: Any) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(_("{path}: not a chainrule checkpoint").format(path=p))
    if meta.get("version") != VERSION:
        raise CheckpointError(_("{path}: checkpoint version {version}, expected {expected}").format(
            path=p, version=f"{meta.get('version')!r:.40}", expected=VERSION))
    arch = meta.get("model")
    if not isinstance(arch, dict):
        raise CheckpointError(_("{path}: checkpoint does not describe a model").format(path=p))
    for key in ("activation", "output_activation"):
        if not isinstance(arch.get(key), str):
            raise CheckpointError(_("{path}: the model's {key} is missing or not a name").format(
                path=p, key=key))
    if arch.get("dtype") not in DTYPES:
        raise CheckpointError(_("{path}: the model's dtype must be one of {choices}").format(
            path=p, choices=", ".join(DTYPES)))
    if "init" in arch and not isinstance(arch["init"], str):
        raise CheckpointError(_("{path}: the model's init is not a name").format(path=p))
    for key, kind in (("config", dict), ("history", list), ("rng", dict)):
        if key in meta and not isinstance(meta[key], kind):
            expected = _("an object") if kind is dict else _("a list")
            raise CheckpointError(_("{path}: its {key} entry is a {found}, not {expected}").format(
                path=p, key=repr(key), found=type(meta[key]).__name__, expected=expected))
    if "config" in meta:
        from chainrule.nn.training import TrainConfig

        try:
            TrainConfig.from_json(meta["config"])
        except (ChainruleError, TypeError, ValueError, OverflowError) as exc:
            raise CheckpointError(
                _("{path}: its training settings are not valid ({reason})").format(
                    path=p, reason=_short(exc))) from None


def _declared_shapes(p: Path, arch: dict[str, Any]) -> list[tuple[int, ...]]:
    """The parameter shapes of the MLP ``arch`` declares, refused if it is too large."""
    sizes = arch.get("sizes")
    if (not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS + 1
            or not all(type(n) is int and n >= 1 for n in sizes)):
        raise CheckpointError(_("{path}: the model's sizes must be a list of positive whole "
                                "numbers, inputs first").format(path=p))
    itemsize = DTYPES[arch["dtype"]]
    count = sum(a * b + b for a, b in itertools.pairwise(sizes))
    if count * itemsize > MAX_MODEL_BYTES:
        raise CheckpointError(_("{path}: it declares a model of {count} parameters; the limit "
                                "is {limit}").format(
            path=p, count=number(count, ","), limit=number(MAX_MODEL_BYTES // itemsize, ",")))
    shapes: list[tuple[int, ...]] = []
    for a, b in itertools.pairwise(sizes):
        shapes += [(b, a), (b,)]
    return shapes


def _header(p: Path, archive: zipfile.ZipFile,
            info: zipfile.ZipInfo) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """An entry's ``.npy`` header: (shape, Fortran order, dtype), without reading the data."""
    from numpy.lib import format as npy

    with archive.open(info) as fh:
        version = npy.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(fh)
        else:
            raise CheckpointError(_("{path}: entry {name} has .npy version {version}").format(
                path=p, name=repr(info.filename[:100]), version=version))
    if dtype.hasobject or dtype.kind not in "fiuU" or dtype.itemsize == 0:
        raise CheckpointError(_("{path}: entry {name} holds {dtype}, not numbers").format(
            path=p, name=repr(info.filename[:100]), dtype=dtype))
    if any(type(n) is not int or n < 0 for n in shape):
        raise CheckpointError(_("{path}: entry {name} has a bad shape").format(
            path=p, name=repr(info.filename[:100])))
    return tuple(shape), bool(fortran), dtype


def _read_entry(p: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                header: tuple[tuple[int, ...], bool, np.dtype[Any]]) -> np.ndarray:
    """The array of an entry whose header was checked; its data must be exactly that size."""
    from numpy.lib import format as npy

    shape, fortran, dtype = header
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > info.file_size:  # the zip's own size bounds what decompression may produce
        raise CheckpointError(_("{path}: entry {name} is shorter than its header").format(
            path=p, name=repr(info.filename[:100])))
    with archive.open(info) as fh:
        version = npy.read_magic(fh)
        if version == (1, 0):
            npy.read_array_header_1_0(fh)
        else:
            npy.read_array_header_2_0(fh)
        # Into the array in chunks: never a second full-size copy of the data.
        array = np.empty(math.prod(shape), dtype=dtype)
        raw = array.view(np.uint8)
        done = 0
        while done < nbytes:
            chunk = fh.read(min(1 << 20, nbytes - done))
            if not chunk:
                raise CheckpointError(_("{path}: entry {name} is cut short").format(
                    path=p, name=repr(info.filename[:100])))
            raw[done:done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            done += len(chunk)
    return array.reshape(shape, order="F" if fortran else "C")


def describe_architecture(arch: dict[str, Any]) -> str:
    sizes = ",".join(str(s) for s in arch.get("sizes", []))
    return _("sizes {sizes}, activation {activation}, output {output}, {dtype}").format(
        sizes=sizes, activation=arch.get("activation"), output=arch.get("output_activation"),
        dtype=arch.get("dtype"))


def check_architecture(path: Path | str, saved: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Raise `CheckpointError` if a checkpoint's architecture differs from the one asked for.

    The init scheme is not compared: it only mattered before the first step.
    """
    keys = ("sizes", "activation", "output_activation", "dtype")
    if any(saved.get(k) != wanted.get(k) for k in keys):
        raise CheckpointError(
            _("{path} holds a network with {saved}; you asked for {wanted}").format(
                path=path, saved=describe_architecture(saved), wanted=describe_architecture(wanted))
        )


def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Save an `MLP`'s architecture and parameters (no optimizer, no training state)."""
    return save_checkpoint(path, model.state_dict(), {"model": model.config()})


def load_model(path: str | os.PathLike[str]) -> Any:
    """Rebuild the `MLP` saved by `save_model` (or found in a training checkpoint)."""
    return model_from(read_checkpoint(path), path)


def model_from(ckpt: Checkpoint, path: str | os.PathLike[str]) -> Any:
    """The `MLP` a checkpoint already read describes (``path`` names it in errors)."""
    from chainrule.nn.layers import MLP

    arch = ckpt.meta.get("model")
    if not isinstance(arch, dict):
        raise CheckpointError(_("{path}: checkpoint does not describe a model").format(path=path))
    try:
        model = MLP(
            arch["sizes"],
            activation=arch["activation"],
            init=arch.get("init", "nielsen"),
            output_activation=arch["output_activation"],
            dtype=arch["dtype"],
            seed=0,
        )
    except (KeyError, TypeError) as exc:
        raise CheckpointError(_(
            "{path}: the checkpoint's model description is not usable ({exc})").format(
                path=path, exc=exc)) from None
    try:
        model.load_state_dict(ckpt.model)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return model
