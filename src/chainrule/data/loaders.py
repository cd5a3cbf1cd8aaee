"""Read MNIST from the embedded sample, IDX files, NumPy ``.npz`` or Nielsen's ``mnist.pkl.gz``.

Every loader returns a `Dataset` of stored values (uint8 pixels, or Nielsen's [0, 1] floats) and
raises `DataError` naming the file when it is missing, truncated or not what it claims to be.

IDX (the format of the original MNIST files): a 4-byte magic number ``0 0 T D`` — T the element
type (0x08 = uint8 … 0x0E = float64), D the number of dimensions — then D big-endian uint32
sizes, then the elements in C order, big-endian.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import zipfile
import zlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.data.dataset import DataError, Dataset
from chainrule.i18n import _

PathLike = str | os.PathLike[str]

IDX_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}

# The four standard MNIST files (gzipped names; the unzipped name drops ".gz").
MNIST_NAMES: dict[str, str] = {
    "train_x": "train-images-idx3-ubyte.gz",
    "train_y": "train-labels-idx1-ubyte.gz",
    "test_x": "t10k-images-idx3-ubyte.gz",
    "test_y": "t10k-labels-idx1-ubyte.gz",
}

SAMPLE_FILE = "mnist_sample.npz"


def _read_bytes(path: PathLike) -> bytes:
    """File contents, gunzipped when the file starts with the gzip magic bytes."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise DataError(_("{p}: no such file").format(p=p)) from None
    except IsADirectoryError:
        raise DataError(_("{p}: is a directory, expected a file").format(p=p)) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(_(
                "{p}: corrupt or truncated gzip data ({exc})").format(
                    p=p, exc=exc)) from None
    return raw


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array of the declared type and shape (native byte order)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(_("{source}: not an IDX file (bad magic number)").format(source=source))
    type_code, ndim = raw[2], raw[3]
    if type_code not in IDX_TYPES:
        raise DataError(_(
            "{source}: unknown IDX element type 0x{type_code:02x}").format(
                source=source, type_code=type_code))
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(_("{source}: truncated IDX header").format(source=source))
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(raw) - header
    if body != expected:
        what = "truncated" if body < expected else "has trailing bytes"
        raise DataError(
            _(
            "{source}: IDX data {what}: header says shape {shape} ({expected:,} bytes), file "
            "holds {body:,}").format(
                source=source, what=what, shape=shape, expected=expected, body=body)
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of ``array`` (inverse of `parse_idx`); used to write test fixtures."""
    arr = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_TYPES.items()}
    code = codes.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise DataError(_("IDX cannot store dtype {dtype}").format(dtype=arr.dtype))
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    return header + arr.astype(np.dtype(IDX_TYPES[code]), copy=False).tobytes()


def load_idx(path: PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or not)."""
    return parse_idx(_read_bytes(path), str(path))


def _find_idx(folder: Path, gz_name: str) -> Path:
    plain = gz_name.removesuffix(".gz")
    # Some mirrors and unzip tools write "train-images.idx3-ubyte" instead of "-idx3-".
    dotted = plain.replace("-idx", ".idx")
    for name in (gz_name, plain, dotted, dotted + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(_(
        "{folder}: missing {name} (or its unzipped {plain}); the four MNIST files are "
        "{files}").format(folder=folder, name=gz_name, plain=plain,
                          files=", ".join(MNIST_NAMES.values()))
    )


def load_idx_dir(folder: PathLike, name: str = "mnist") -> Dataset:
    """Load the four MNIST IDX files from ``folder`` (60,000 training and 10,000 test digits)."""
    root = Path(folder)
    arrays: dict[str, np.ndarray] = {}
    for key, gz_name in MNIST_NAMES.items():
        path = _find_idx(root, gz_name)
        arr = load_idx(path)
        if key.endswith("_x"):
            if arr.ndim != 3:
                raise DataError(_(
                    "{path}: expected images (n, rows, cols), got shape {shape}").format(
                        path=path, shape=arr.shape))
            arr = arr.reshape(len(arr), -1)
        elif arr.ndim != 1:
            raise DataError(_(
                "{path}: expected labels (n,), got shape {shape}").format(
                    path=path, shape=arr.shape))
        arrays[key] = arr
    return Dataset(
        arrays["train_x"], arrays["train_y"], arrays["test_x"], arrays["test_y"], name=name
    )


# Key names accepted in .npz files: chainrule's own, and Keras's mnist.npz.
_NPZ_KEYS = (
    ("train_x", "train_y", "test_x", "test_y"),
    ("x_train", "y_train", "x_test", "y_test"),
)


def load_npz(path: PathLike, name: str | None = None) -> Dataset:
    """Load a ``.npz`` with arrays train_x, train_y, test_x, test_y (or Keras's x_train, …).

    Images may be (n, 784) or (n, 28, 28); they are flattened to rows. Object arrays are refused
    (``allow_pickle=False``), so an ``.npz`` can never run code.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(_("{p}: no such file").format(p=p))
    try:
        # Open the file ourselves: np.load leaks its handle when the zip is corrupt.
        with p.open("rb") as fh, np.load(fh, allow_pickle=False) as archive:
            files = set(archive.files)
            for keys in _NPZ_KEYS:
                if set(keys) <= files:
                    tx, ty, vx, vy = (np.asarray(archive[k]) for k in keys)
                    break
            else:
                raise DataError(
                    _(
                    "{p}: expected arrays {value0} (or {value1}); found {value2}").format(
                        p=p,
                        value0=', '.join(_NPZ_KEYS[0]),
                        value1=', '.join(_NPZ_KEYS[1]),
                        value2=', '.join(sorted(files)) or _("no arrays"),)
                )
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(_("{p}: not a readable .npz file ({exc})").format(p=p, exc=exc)) from None
    pixel_max = 1.0 if tx.dtype.kind == "f" and tx.size and float(tx.max()) <= 1.0 else 255.0
    return Dataset(
        train_x=tx.reshape(len(tx), -1),
        train_y=ty.astype(np.int64).reshape(-1),
        test_x=vx.reshape(len(vx), -1),
        test_y=vy.astype(np.int64).reshape(-1),
        name=name or p.name,
        pixel_max=pixel_max,
    )


def load_sample() -> Dataset:
    """The MNIST sample shipped inside chainrule: 4,000 training and 1,000 test digits, uint8.

    From the MNIST database by Yann LeCun, Corinna Cortes and Christopher J.C. Burges,
    CC BY-SA 3.0; see ``MNIST-LICENSE.txt`` next to the file.
    """
    ref = resources.files("chainrule.data").joinpath(SAMPLE_FILE)
    with resources.as_file(ref) as path:
        return load_npz(path, name="sample")


def _latin1_bytes(text: str, encoding: str = "utf-8") -> bytes:
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(_("refusing to encode with {encoding!r}").format(
            encoding=encoding))
    return text.encode("latin1")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and nothing else.

    A pickle is a program: unpickling calls whatever ``module.name`` the file names, so a
    downloaded ``mnist.pkl.gz`` could run arbitrary code with the plain `pickle.load`. Arrays
    need only a few callables — the ndarray reconstructor, ``ndarray``, ``dtype`` and a
    text-to-bytes conversion — so every other global is refused. We look the reconstructor up
    through ``ndarray.__reduce__`` instead of importing ``numpy.core`` by name: NumPy 2 renamed
    that module and warns on the old one.
    """

    _ALLOWED: dict[tuple[str, str], Callable[..., Any]] = {}

    @classmethod
    def _allowed(cls) -> dict[tuple[str, str], Callable[..., Any]]:
        if not cls._ALLOWED:
            reconstruct: Any = np.zeros(1).__reduce__()[0]
            scalar: Any = np.int64(0).__reduce__()[0]
            for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
                cls._ALLOWED[(module, "_reconstruct")] = reconstruct
                cls._ALLOWED[(module, "scalar")] = scalar
            # Protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(text, "latin1").
            cls._ALLOWED[("_codecs", "encode")] = _latin1_bytes
            cls._ALLOWED[("numpy", "ndarray")] = np.ndarray
            cls._ALLOWED[("numpy", "dtype")] = np.dtype
        return cls._ALLOWED

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed().get((module, name))
        if found is None:
            raise pickle.UnpicklingError(_("refusing to load {name}: only NumPy arrays").format(
                name=f"{module}.{name}"))
        return found


def load_nielsen_pickle(path: PathLike) -> Dataset:
    """Load Nielsen's ``mnist.pkl.gz``: (training, validation, test), each (x, y) with x float32
    in [0, 1] of shape (n, 784) and y integer labels; 50,000 / 10,000 / 10,000 digits."""
    p = Path(path)
    raw = _read_bytes(p)
    try:
        # latin1: the file was written by Python 2's cPickle; NumPy's array bytes are str there.
        obj = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(_(
            "{p}: not a readable MNIST pickle ({exc})").format(
                p=p, exc=exc)) from None
    try:
        (tx, ty), (vx, vy), (sx, sy) = obj
        arrays = [np.asarray(a) for a in (tx, ty, vx, vy, sx, sy)]
    except (TypeError, ValueError):
        raise DataError(
            _(
            "{p}: expected ((train_x, train_y), (valid_x, valid_y), (test_x, test_y))").format(
                p=p)
        ) from None
    tx, ty, vx, vy, sx, sy = arrays
    return Dataset(
        train_x=tx.reshape(len(tx), -1),
        train_y=ty.astype(np.int64),
        valid_x=vx.reshape(len(vx), -1),
        valid_y=vy.astype(np.int64),
        test_x=sx.reshape(len(sx), -1),
        test_y=sy.astype(np.int64),
        name=p.name,
        pixel_max=1.0,
    )


DATA_CHOICES = ("sample", "mnist")


def load(source: PathLike = "sample") -> Dataset:
    """Load by name or path: ``"sample"`` (embedded), ``"mnist"`` (the downloaded IDX files in
    the cache, see ``chainrule data fetch mnist``), a folder of IDX files, a ``.npz``, or a
    ``.pkl``/``.pkl.gz`` in Nielsen's format."""
    text = os.fspath(source)
    if text == "sample":
        return load_sample()
    if text == "mnist":
        from chainrule.data.download import mnist_dir

        folder = mnist_dir()
        try:
            return load_idx_dir(folder)
        except DataError as exc:
            raise DataError(
                _(
                "{exc}\nfull MNIST is not in the cache: run `chainrule data fetch mnist`, or "
                "put the four files there yourself (or set CHAINRULE_DATA)").format(
                    exc=exc)
            ) from None
    p = Path(text)
    if p.is_dir():
        return load_idx_dir(p, name=p.name)
    if not p.exists():
        raise DataError(
            _(
            "{p}: no such file or folder (use 'sample', 'mnist', a folder of IDX files, a "
            ".npz or a .pkl.gz)").format(
                p=p)
        )
    lower = p.name.lower()
    if lower.endswith(".npz"):
        return load_npz(p)
    if lower.endswith((".pkl", ".pkl.gz", ".pickle", ".pickle.gz")):
        return load_nielsen_pickle(p)
    raise DataError(_(
        "{p}: unknown data format (expected a folder of IDX files, .npz or .pkl.gz)").format(
            p=p))
