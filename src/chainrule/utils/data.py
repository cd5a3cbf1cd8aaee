"""Datasets and batches as ``torch.utils.data`` makes them, so ``from torch.utils.data import
TensorDataset, DataLoader`` ports by renaming the package.

- `Dataset`: anything with ``__len__`` and ``__getitem__``; `TensorDataset` wraps tensors that
  share their first dimension; `Subset`, `ConcatDataset` (``a + b``) and `random_split`.
- Samplers choose the order of indices: `SequentialSampler`, `RandomSampler` (a fresh
  permutation on every pass), `SubsetRandomSampler`, and `BatchSampler` groups them.
- `DataLoader` iterates a dataset in batches collated by `default_collate` (tensors stacked
  along a new first axis, numbers made tensors, tuples/dicts collated field by field).

Shuffling draws from ``chainrule.manual_seed``'s generator, or from ``generator=`` (a NumPy
``Generator`` or an int seed): runs repeat, but the order is not torch's, whose generator is
another algorithm. Loading always happens in this process; ``num_workers`` is accepted and gives
the same batches.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.errors import ConfigError, OperandError, ShapeError
from chainrule.i18n import _
from chainrule.tensor import Tensor

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "RandomSampler", "Sampler",
    "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "default_collate",
    "default_convert", "random_split",
]


# -- datasets -----------------------------------------------------------------------------------


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(_("{name} does not define __getitem__").format(
            name=type(self).__name__))

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Sample ``i`` is ``(tensors[0][i], tensors[1][i], …)``; all tensors share their first
    dimension. Indexing with a slice gives the tensors' slices (``train_ds[0:64]``)."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ConfigError(_("TensorDataset needs at least one tensor"))
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise OperandError(_(
                    "TensorDataset takes tensors; argument {i} is a {kind} (make it one with "
                    "chainrule.tensor(...))").format(i=i, kind=type(t).__name__))
            if t.ndim == 0:
                raise ShapeError(_(
                    "TensorDataset: tensor {i} is 0-d; each tensor needs a first dimension "
                    "to index samples along").format(i=i))
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) > 1:
            raise ShapeError(_(
                "Size mismatch between tensors: TensorDataset's tensors must share their first "
                "dimension, got {sizes}").format(sizes=", ".join(map(str, sizes))))
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: list[int]) -> list[Any]:
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after the other."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ConfigError(_("ConcatDataset needs at least one dataset"))
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(_("index {index} is out of range for a dataset of {n} samples")
                             .format(index=index, n=n))
        index = index % n if index < 0 else index
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def _as_generator(generator: Any) -> np.random.Generator:
    if generator is None:
        from chainrule.factories import generator as default_generator

        return default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise OperandError(_(
        "generator must be a NumPy Generator (numpy.random.default_rng(seed)) or an int seed, "
        "got {kind}").format(kind=type(generator).__name__))


def random_split(dataset: Any, lengths: Sequence[int | float], generator: Any = None
                 ) -> list[Subset]:
    """Split into non-overlapping random subsets of the given lengths, or of fractions of the
    dataset that sum to 1 (rounded down, the remainder given one by one to the first subsets,
    as torch does)."""
    n = len(dataset)
    counts: list[int | float] = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ConfigError(_("random_split: fraction {i} ({value}) is not between 0 "
                                    "and 1").format(i=i, value=fraction))
        floors = [math.floor(n * x) for x in lengths]
        for i in range(n - sum(floors)):
            floors[i % len(floors)] += 1
        counts = list(floors)
    if any(c < 0 or c != int(c) for c in counts) or sum(counts) != n:
        raise ConfigError(_(
            "random_split: the lengths {lengths} do not add up to the dataset's {n} samples")
            .format(lengths=list(lengths), n=n))
    counts = [int(c) for c in counts]
    order = _as_generator(generator).permutation(n).tolist()
    starts = np.cumsum([0, *counts]).tolist()
    return [Subset(dataset, order[a:b]) for a, b in zip(starts, starts[1:], strict=False)]


# -- samplers -----------------------------------------------------------------------------------


class Sampler:
    """An iterable of dataset indices (and, usually, its length)."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(_("{name} does not define __iter__").format(
            name=type(self).__name__))


class SequentialSampler(Sampler):
    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new permutation of the indices on every pass (or ``num_samples`` draws with
    replacement)."""

    def __init__(self, data_source: Any, replacement: bool = False,
                 num_samples: int | None = None, generator: Any = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = _as_generator(generator) if generator is not None else None
        if not isinstance(replacement, bool):
            raise ConfigError(_("replacement should be a boolean value, but got "
                                "replacement={value}").format(value=replacement))
        n = self.num_samples
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ConfigError(_(
                "num_samples should be a positive integer value, but got num_samples={n} "
                "(is the dataset empty?)").format(n=n))

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        rng = self.generator if self.generator is not None else _as_generator(None)
        n = len(self.data_source)
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        rounds = -(-self.num_samples // n)
        order = np.concatenate([rng.permutation(n) for _ in range(rounds)])
        return iter(order[: self.num_samples].tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a new random order on every pass."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = _as_generator(generator) if generator is not None else None

    def __iter__(self) -> Iterator[int]:
        rng = self.generator if self.generator is not None else _as_generator(None)
        return iter(self.indices[i] for i in rng.permutation(len(self.indices)).tolist())

    def __len__(self) -> int:
        return len(self.indices)


def _check_batch_size(batch_size: Any) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ConfigError(_("batch_size should be a positive integer value, but got "
                            "batch_size={value}").format(value=batch_size))


class BatchSampler(Sampler):
    """Groups a sampler's indices into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        _check_batch_size(batch_size)
        if not isinstance(drop_last, bool):
            raise ConfigError(_("drop_last should be a boolean value, but got "
                                "drop_last={value}").format(value=drop_last))
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:  # type: ignore[override]
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# -- collation ----------------------------------------------------------------------------------


def _stack(items: Sequence[Tensor]) -> Tensor:
    shapes = {t.shape for t in items}
    if len(shapes) > 1:
        raise ShapeError(_(
            "default_collate: the samples' tensors differ in shape ({shapes}); give the "
            "DataLoader a collate_fn that pads them, or use batch_size=1").format(
                shapes=", ".join(str(s) for s in sorted(shapes))))
    if any(t.requires_grad for t in items):  # keep the graph, as torch.stack does
        from chainrule.factories import stack

        return stack(items)
    return Tensor(np.stack([t.data for t in items]), dtype=items[0].dtype)


def default_collate(batch: Sequence[Any]) -> Any:
    """Samples → one batch, as torch's ``default_collate``: tensors and arrays are stacked
    along a new first axis; Python floats become a float64 tensor, ints an int64 tensor, bools a
    bool tensor; strings stay a sequence; dicts and sequences are collated field by field (a tuple
    sample gives a list of batches, as in torch)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, (np.ndarray, np.generic)) and elem.dtype.kind in "biuf":
        return _stack([Tensor(np.asarray(b)) for b in batch])
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch, strict=True)))
    if isinstance(elem, Sequence):
        if len({len(b) for b in batch}) > 1:
            raise ShapeError(_("default_collate: each element in list of batch should be of "
                               "equal size"))
        return [default_collate(samples) for samples in zip(*batch, strict=True)]
    raise OperandError(_(
        "default_collate: samples must be tensors, NumPy arrays, numbers, strings, dicts or "
        "sequences, found {kind}").format(kind=type(elem).__name__))


def default_convert(data: Any) -> Any:
    """One sample without batching (``batch_size=None``): arrays become tensors, containers
    are converted field by field, anything else is returned as is."""
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind in "biuf":
        return Tensor(np.asarray(data))
    if isinstance(data, Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(d) for d in data]
    return data


def _tensor_columns(dataset: Any, indices: list[int]) -> list[Tensor] | None:
    """A batch of a `TensorDataset` (or a `Subset` of one) as one fancy index per tensor: the
    same tensors ``default_collate`` stacks from single samples, without a Python loop over
    them."""
    if isinstance(dataset, Subset):
        inner = [dataset.indices[i] for i in indices]
        return _tensor_columns(dataset.dataset, inner)
    if type(dataset) is TensorDataset:
        n = len(dataset)
        positions = np.asarray(indices, dtype=np.int64)
        if positions.size and not (-n <= positions.min() and positions.max() < n):
            return None  # let single-sample indexing name the bad index
        return [t[positions] for t in dataset.tensors]
    return None


class DataLoader:
    """Iterates ``dataset`` in batches: ``for xb, yb in DataLoader(train_ds, batch_size=64,
    shuffle=True)``. ``len(loader)`` is the number of batches. Arguments as torch's:
    ``batch_size`` (``None``: single samples, no collation), ``shuffle`` (a new permutation on
    every pass), ``sampler`` or ``batch_sampler`` (any iterable of indices or index lists),
    ``drop_last``, ``collate_fn``, ``generator``. ``num_workers``, ``pin_memory``,
    ``timeout``, ``worker_init_fn``, ``prefetch_factor`` and ``persistent_workers`` are
    accepted; loading happens in this process and gives the same batches."""

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable[Any] | None = None,
                 batch_sampler: Iterable[list[Any]] | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list[Any]], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None, generator: Any = None,
                 *, prefetch_factor: int | None = None, persistent_workers: bool = False
                 ) -> None:
        del pin_memory, timeout, worker_init_fn, prefetch_factor, persistent_workers
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise OperandError(_(
                "DataLoader needs a dataset with __len__ and __getitem__ (a TensorDataset, a "
                "Dataset subclass, a list), got {kind}").format(kind=type(dataset).__name__))
        if hasattr(batch_size, "shape"):  # DataLoader(x, y): the labels landed in batch_size
            raise OperandError(_(
                "DataLoader takes one dataset; for inputs and labels write "
                "DataLoader(TensorDataset(x, y), batch_size=...)"))
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ConfigError(_("num_workers option should be non-negative; use num_workers=0 "
                                "to disable multiprocessing"))
        if sampler is not None and shuffle:
            raise ConfigError(_("sampler option is mutually exclusive with shuffle"))
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ConfigError(_("batch_sampler option is mutually exclusive with "
                                    "batch_size, shuffle, sampler, and drop_last"))
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ConfigError(_("batch_size=None option disables auto-batching and is "
                                "mutually exclusive with drop_last"))
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.generator = generator
        self._auto_collation = batch_sampler is not None
        self.collate_fn = collate_fn or (default_collate if self._auto_collation
                                         else default_convert)

    def __iter__(self) -> Iterator[Any]:
        if not self._auto_collation:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        assert self.batch_sampler is not None
        for indices in self.batch_sampler:
            yield self._fetch(list(indices))

    def _fetch(self, indices: list[Any]) -> Any:
        if self.collate_fn is default_collate:
            columns = _tensor_columns(self.dataset, indices)
            if columns is not None:
                return columns
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(indices) if getitems else [self.dataset[i] for i in indices]
        return self.collate_fn(samples)

    def __len__(self) -> int:
        source = self.batch_sampler if self._auto_collation else self.sampler
        return len(source)  # type: ignore[arg-type]
