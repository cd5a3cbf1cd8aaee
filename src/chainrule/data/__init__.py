"""MNIST for chainrule: the embedded sample, loaders for the full data set, preprocessing.

- `load_sample()` — 4,000 + 1,000 real MNIST digits shipped in the package (CC BY-SA 3.0,
  LeCun, Cortes and Burges; see ``MNIST-LICENSE.txt``).
- `load(source)` — ``"sample"``, ``"mnist"`` (the cache filled by ``chainrule data fetch mnist``),
  a folder of IDX files, a ``.npz`` or Nielsen's ``mnist.pkl.gz``.
- `Dataset.preprocess("raw" | "scale" | "standardize")`.
- `fetch_mnist()` — checksummed download into `mnist_dir()`.
"""

from chainrule.data.dataset import PREPROCESSING, DataError, Dataset, preprocess
from chainrule.data.download import (
    DEFAULT_MIRRORS,
    MNIST_SHA256,
    FetchError,
    cache_dir,
    fetch,
    fetch_mnist,
    mnist_dir,
)
from chainrule.data.loaders import (
    MNIST_NAMES,
    encode_idx,
    load,
    load_idx,
    load_idx_dir,
    load_nielsen_pickle,
    load_npz,
    load_sample,
    parse_idx,
)

__all__ = [
    "DEFAULT_MIRRORS",
    "MNIST_NAMES",
    "MNIST_SHA256",
    "PREPROCESSING",
    "DataError",
    "Dataset",
    "FetchError",
    "cache_dir",
    "encode_idx",
    "fetch",
    "fetch_mnist",
    "load",
    "load_idx",
    "load_idx_dir",
    "load_nielsen_pickle",
    "load_npz",
    "load_sample",
    "mnist_dir",
    "parse_idx",
    "preprocess",
]
