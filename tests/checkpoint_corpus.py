"""A corpus of crafted and corrupt checkpoints, generated from a real one (no binary blobs).

``corpus(folder)`` writes every case and returns ``{name: path}``. Each case is what a careless
user or a hostile file could hand to ``chainrule train --resume`` or ``chainrule diagnose``; every
one must be refused with one line (:class:`chainrule.nn.checkpoint.CheckpointError`), quickly and
without allocating more than the model it declares.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy

SIZES = [6, 4, 3]


def npy_bytes(array: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    buf = io.BytesIO()
    npy.write_array(buf, array, version=version, allow_pickle=True)
    return buf.getvalue()


def npy_header(shape: tuple[int, ...], dtype: str = "<f8", fortran: bool = False) -> bytes:
    """Only the header of a ``.npy`` file: it may claim any shape."""
    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": fortran, "shape": shape})
    return buf.getvalue()


def valid_entries() -> dict[str, bytes]:
    """The entries of a real training checkpoint of a 6-4-3 network, by name."""
    from chainrule.data import Dataset
    from chainrule.nn.training import TrainConfig, Trainer

    rng = np.random.default_rng(0)
    x = rng.random((20, SIZES[0]))
    y = rng.integers(0, SIZES[-1], 20)
    data = Dataset(x[:15], y[:15], x[15:], y[15:], name="tiny")
    trainer = Trainer(TrainConfig(sizes=tuple(SIZES), epochs=1, batch=5), data)
    buf = io.BytesIO()
    from chainrule.nn import checkpoint

    arrays: dict[str, np.ndarray] = {f"model/{k}": v for k, v in trainer.model.state_dict().items()}
    arrays.update({f"optim/{k}": v for k, v in trainer.optimizer.state_dict().items()})
    meta = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION,
            "model": trainer.model.config(), "config": trainer.config.to_json(),
            "epoch": 0, "batch": 0, "cost_sum": 0.0, "count": 0, "seconds": 0.0,
            "rng": trainer.rng.bit_generator.state, "history": []}
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        return {name: z.read(name) for name in z.namelist()}


def meta_of(entries: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(str(npy.read_array(io.BytesIO(entries["meta.npy"]))))  # type: ignore


def with_meta(entries: dict[str, bytes], meta: Any) -> dict[str, bytes]:
    text = meta if isinstance(meta, str) else json.dumps(meta)
    return {**entries, "meta.npy": npy_bytes(np.array(text))}


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def write_zip_bomb(path: Path, name: str, header: bytes, zeros: int) -> Path:
    """A small file that inflates to ``zeros`` bytes (streamed: never held in memory)."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for entry, data in valid_entries().items():
            if entry != name:
                z.writestr(entry, data)
        with z.open(name, "w", force_zip64=True) as fh:
            fh.write(header)
            left = zeros
            while left > 0:
                fh.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return path


WEIGHT = "model/layers.0.weight.npy"


def _meta_case(change: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, bytes]], Any]:
    def make(entries: dict[str, bytes]) -> dict[str, bytes]:
        meta = meta_of(entries)
        result = change(meta)
        return with_meta(entries, meta if result is None else result)
    return make


def _set(*path: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(meta: dict[str, Any]) -> None:
        target = meta
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


_DELETE = object()

ZIP_CASES: dict[str, Callable[[dict[str, bytes]], Any]] = {
    "no-meta": lambda e: {k: v for k, v in e.items() if k != "meta.npy"},
    "meta-not-json": lambda e: with_meta(e, "{not json"),
    "meta-deeply-nested": lambda e: with_meta(e, "[" * 200_000 + "]" * 200_000),
    "meta-a-list": lambda e: with_meta(e, [1, 2, 3]),
    "meta-a-number-array": lambda e: {**e, "meta.npy": npy_bytes(np.arange(3.0))},
    "meta-pickled-object": lambda e: {**e, "meta.npy": npy_bytes(np.array([{"a": 1}],
                                                                          dtype=object))},
    "wrong-format": _meta_case(_set("format", value="something-else")),
    "future-version": _meta_case(_set("version", value=99)),
    "model-a-string": _meta_case(_set("model", value="mlp")),
    "model-a-list": _meta_case(_set("model", value=[6, 4, 3])),
    "model-missing": _meta_case(_set("model", value=_DELETE)),
    "sizes-missing": _meta_case(_set("model", "sizes", value=_DELETE)),
    "sizes-strings": _meta_case(_set("model", "sizes", value=["6", "4", "3"])),
    "sizes-a-string": _meta_case(_set("model", "sizes", value="6,4,3")),
    "sizes-zero": _meta_case(_set("model", "sizes", value=[6, 0, 3])),
    "sizes-negative": _meta_case(_set("model", "sizes", value=[6, -4, 3])),
    "sizes-floats": _meta_case(_set("model", "sizes", value=[6.5, 4, 3])),
    "sizes-booleans": _meta_case(_set("model", "sizes", value=[True, True, True])),
    "sizes-terabytes": _meta_case(_set("model", "sizes", value=[784, 10**12, 10])),
    "sizes-too-many-layers": _meta_case(_set("model", "sizes", value=[2] * 100_000)),
    "sizes-differ-from-arrays": _meta_case(_set("model", "sizes", value=[6, 5, 3])),
    "dtype-object": _meta_case(_set("model", "dtype", value="object")),
    "activation-a-list": _meta_case(_set("model", "activation", value=["sigmoid"])),
    "activation-missing": _meta_case(_set("model", "activation", value=_DELETE)),
    "config-a-list": _meta_case(_set("config", value=["lr", 3.0])),
    "config-a-string": _meta_case(_set("config", value="lr=3")),
    "config-lr-text": _meta_case(_set("config", "lr", value="fast")),
    "config-lr-infinite": lambda e: with_meta(
        e, json.dumps(meta_of(e)).replace('"lr": 3.0', '"lr": Infinity')),
    "config-loss-a-list": _meta_case(_set("config", "loss", value=["quadratic"])),
    "config-sizes-huge": _meta_case(_set("config", "sizes", value=[6, 10**15, 3])),
    "history-a-string": _meta_case(_set("history", value="none")),
    "history-of-numbers": _meta_case(_set("history", value=[1, 2])),
    "rng-a-list": _meta_case(_set("rng", value=[1, 2])),
    "rng-garbage": _meta_case(_set("rng", value={"bit_generator": "PCG64", "state": 7})),
    "epoch-text": _meta_case(_set("epoch", value="first")),
    "epoch-infinite": lambda e: with_meta(
        e, json.dumps(meta_of(e)).replace('"epoch": 0', '"epoch": Infinity')),
    "epoch-missing": _meta_case(_set("epoch", value=_DELETE)),
    "weight-transposed": lambda e: {**e, WEIGHT: npy_bytes(np.zeros((6, 4)))},
    "weight-missing": lambda e: {k: v for k, v in e.items() if k != WEIGHT},
    "weight-integers": lambda e: {**e, WEIGHT: npy_bytes(np.zeros((4, 6), dtype=np.int64))},
    "weight-objects": lambda e: {**e, WEIGHT: npy_bytes(np.zeros((4, 6), dtype=object))},
    "weight-header-terabytes": lambda e: {**e, WEIGHT: npy_header((10**12,)) + bytes(64)},
    "weight-header-negative": lambda e: {**e, WEIGHT: npy_header((-1, 6)) + bytes(64)},
    "weight-cut-short": lambda e: {**e, WEIGHT: e[WEIGHT][:-40]},
    "weight-bad-magic": lambda e: {**e, WEIGHT: b"NOTNUMPY" + e[WEIGHT][8:]},
    "weight-future-npy": lambda e: {**e, WEIGHT: e[WEIGHT][:6] + b"\x09\x00" + e[WEIGHT][8:]},
    "extra-entry": lambda e: {**e, "evil.npy": npy_bytes(np.zeros(3))},
    "optimizer-huge": lambda e: {**e, "optim/velocity.9.npy": npy_header((10**9,)) + bytes(8)},
    "too-many-entries": lambda e: {**e, **{f"optim/pad.{i}.npy": npy_bytes(np.zeros(1))
                                            for i in range(5000)}},
}


def corpus(folder: Path) -> dict[str, Path]:
    """Write every crafted case into ``folder``; ``{case name: path}``."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = valid_entries()
    out: dict[str, Path] = {"valid": write_zip(folder / "valid.npz", entries)}
    good = out["valid"]
    raw = good.read_bytes()
    files = {
        "empty": b"",
        "text": b"this is not a checkpoint\n",
        "truncated-half": raw[: len(raw) // 2],
        "truncated-tail": raw[:-10],
        "flipped-bytes": raw[:200] + bytes(b ^ 0xFF for b in raw[200:260]) + raw[260:],
        "pickle": b"\x80\x04\x95" + b"cos\nsystem\n(S'echo owned'\ntR.",
    }
    for name, data in files.items():
        path = folder / f"{name}.npz"
        path.write_bytes(data)
        out[name] = path
    for name, make in ZIP_CASES.items():
        out[name] = write_zip(folder / f"{name}.npz", make(dict(entries)))
    return out


def bombs(folder: Path, inflated: int = 600 * 2**20) -> dict[str, Path]:
    """Zip bombs: small files whose entries inflate to ``inflated`` bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    count = inflated // 8
    return {
        "bomb-weight": write_zip_bomb(folder / "bomb-weight.npz", WEIGHT,
                                      npy_header((count,)), inflated),
        "bomb-meta": write_zip_bomb(folder / "bomb-meta.npz", "meta.npy",
                                    npy_header((), f"<U{inflated // 4}"), inflated),
    }
