"""``chainrule.utils.data`` against ``torch.utils.data``: the same batches (values, dtypes,
containers) wherever the order is deterministic; for shuffling, the properties torch promises
(a permutation per pass, repeatable under a seed); torch's refusals, as clear errors."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import chainrule
from chainrule.errors import ConfigError, OperandError, ShapeError
from chainrule.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    random_split,
)

X = np.arange(30, dtype=np.float32).reshape(10, 3)
Y = np.arange(10, dtype=np.int64) % 3


def plain(batch: Any) -> Any:
    """A batch as nested Python containers of (dtype name, values), for either library."""
    if hasattr(batch, "detach"):
        array = batch.detach().numpy()
        return (str(array.dtype), array.tolist())
    if isinstance(batch, dict):
        return {k: plain(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return (type(batch).__name__, [plain(b) for b in batch])
    return batch


def batches(torch: Any, dataset_of: Any, **kwargs: Any) -> list[Any]:
    return [plain(b) for b in torch.utils.data.DataLoader(dataset_of(torch), **kwargs)]


def tensor_dataset(torch: Any) -> Any:
    return torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y))


def test_import_chainrule_as_torch_reaches_utils_data() -> None:
    import chainrule as torch

    assert torch.utils.data.DataLoader is DataLoader
    assert torch.utils.data.TensorDataset is TensorDataset


def test_tensor_dataset_indexes_every_tensor() -> None:
    ds = tensor_dataset(chainrule)
    assert len(ds) == 10
    x, y = ds[4]
    assert x.tolist() == [12.0, 13.0, 14.0] and y.item() == 1 and y.dtype == np.int64
    xb, yb = ds[2:5]
    assert xb.shape == (3, 3) and yb.tolist() == [2, 0, 1]
    with pytest.raises(IndexError):
        ds[10]


def test_tensor_dataset_refuses_tensors_of_different_lengths() -> None:
    with pytest.raises(ShapeError, match="Size mismatch between tensors.*10, 9"):
        TensorDataset(chainrule.tensor(X), chainrule.tensor(Y[:9]))
    with pytest.raises(ConfigError, match="at least one tensor"):
        TensorDataset()
    with pytest.raises(OperandError, match="argument 1 is a ndarray"):
        TensorDataset(chainrule.tensor(X), Y)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="0-d"):
        TensorDataset(chainrule.tensor(1.0))


@pytest.mark.parametrize("kwargs", [
    {"batch_size": 4},
    {"batch_size": 4, "drop_last": True},
    {"batch_size": 5, "drop_last": True},
    {"batch_size": 20},
    {},
    {"batch_size": 3, "sampler": [9, 0, 3, 3, 7]},
    {"batch_sampler": [[1, 2], [0], [9, 8, 7]]},
    {"batch_size": None},
])
def test_tensor_dataset_batches_are_torchs(kwargs: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    ours = batches(chainrule, tensor_dataset, **kwargs)
    assert ours == batches(torch, tensor_dataset, **kwargs)
    loader = DataLoader(tensor_dataset(chainrule), **kwargs)
    assert len(loader) == len(torch.utils.data.DataLoader(tensor_dataset(torch), **kwargs))


def test_lengths_with_and_without_drop_last() -> None:
    ds = tensor_dataset(chainrule)
    assert [len(xb) for xb, _ in DataLoader(ds, batch_size=4)] == [4, 4, 2]
    assert [len(xb) for xb, _ in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    assert len(DataLoader(ds, batch_size=4)) == 3
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(ds, batch_size=4, shuffle=True, drop_last=True)) == 2
    assert len(DataLoader(ds)) == 10


class Pairs(Dataset):
    """A map-style dataset of mixed samples, as tutorials write them."""

    Sample = namedtuple("Sample", "image label")

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> Any:
        image = np.full((2, 2), i, dtype=np.float64)
        if self.kind == "tuple":
            return image, i, i / 2, f"digit {i}"
        if self.kind == "dict":
            return {"image": image, "label": i, "flag": i % 2 == 0}
        if self.kind == "namedtuple":
            return self.Sample(image, np.float32(i))
        return [image, [i, i + 1]]


@pytest.mark.parametrize("kind", ["tuple", "dict", "namedtuple", "list"])
@pytest.mark.parametrize("batch_size", [2, None])
def test_custom_dataset_is_collated_as_torch_collates(kind: str, batch_size: int | None) -> None:
    torch = pytest.importorskip("torch")

    def dataset(_lib: Any) -> Any:
        return Pairs(kind)

    assert (batches(chainrule, dataset, batch_size=batch_size)
            == batches(torch, dataset, batch_size=batch_size))


def test_default_collate_refuses_ragged_samples() -> None:
    with pytest.raises(ShapeError, match="differ in shape.*collate_fn"):
        default_collate([chainrule.zeros(2), chainrule.zeros(3)])
    with pytest.raises(ShapeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(OperandError, match="found object"):
        default_collate([object()])


def test_collate_fn_receives_the_samples() -> None:
    seen: list[Any] = []

    def collate(samples: list[Any]) -> int:
        seen.append(samples)
        return len(samples)

    assert list(DataLoader(Pairs("list"), batch_size=2, collate_fn=collate)) == [2, 2, 1]
    assert seen[0][1][1] == [1, 2]


def permutations(loader: DataLoader, passes: int = 3) -> list[list[int]]:
    return [[int(v) for _, yb in loader for v in yb.tolist()] for _ in range(passes)]


def indexed(n: int) -> TensorDataset:
    return TensorDataset(chainrule.zeros(n, 1), chainrule.arange(n))


def test_shuffle_gives_a_new_permutation_on_every_pass() -> None:
    chainrule.manual_seed(0)
    orders = permutations(DataLoader(indexed(50), batch_size=7, shuffle=True))
    assert all(sorted(order) == list(range(50)) for order in orders)
    assert orders[0] != orders[1] != orders[2] and orders[0] != list(range(50))


def test_shuffle_repeats_under_manual_seed_and_under_a_generator() -> None:
    chainrule.manual_seed(3)
    first = permutations(DataLoader(indexed(20), batch_size=4, shuffle=True))
    chainrule.manual_seed(3)
    assert permutations(DataLoader(indexed(20), batch_size=4, shuffle=True)) == first
    chainrule.manual_seed(4)
    assert permutations(DataLoader(indexed(20), batch_size=4, shuffle=True)) != first

    def seeded(generator: Any) -> list[list[int]]:
        chainrule.randn(5)  # the global generator moves; a loader's own generator does not
        return permutations(DataLoader(indexed(20), batch_size=4, shuffle=True,
                                       generator=generator))

    assert seeded(np.random.default_rng(9)) == seeded(np.random.default_rng(9)) == seeded(9)
    assert seeded(np.random.default_rng(9)) != seeded(np.random.default_rng(10))


def test_samplers() -> None:
    data = list(range(6))
    assert list(SequentialSampler(data)) == data
    order = list(RandomSampler(data, generator=1))
    assert sorted(order) == data and len(RandomSampler(data)) == 6
    draws = list(RandomSampler(data, replacement=True, num_samples=20, generator=1))
    assert len(draws) == 20 and set(draws) <= set(data)
    more = list(RandomSampler(data, num_samples=9, generator=2))  # a permutation, then more
    assert len(more) == 9 and sorted(more[:6]) == data and len(set(more[6:])) == 3
    assert sorted(SubsetRandomSampler([4, 7, 9], generator=1)) == [4, 7, 9]
    assert list(BatchSampler(SequentialSampler(data), 4, False)) == [[0, 1, 2, 3], [4, 5]]
    assert list(BatchSampler(SequentialSampler(data), 4, True)) == [[0, 1, 2, 3]]
    assert len(BatchSampler(range(10), 3, False)) == 4


def test_samplers_match_torch_where_deterministic() -> None:
    torch = pytest.importorskip("torch")
    for drop_last in (False, True):
        ours = list(BatchSampler(SequentialSampler(range(11)), 3, drop_last))
        theirs = list(torch.utils.data.BatchSampler(
            torch.utils.data.SequentialSampler(range(11)), 3, drop_last))
        assert ours == theirs


class Loud:
    """An iterable sampler without ``__len__`` (torch allows it for iteration)."""

    def __iter__(self) -> Iterator[int]:
        return iter([3, 1])


def test_any_iterable_is_a_sampler() -> None:
    loader = DataLoader(tensor_dataset(chainrule), batch_size=2, sampler=Loud())
    ((xb, yb),) = list(loader)
    assert yb.tolist() == [Y[3], Y[1]]


def test_random_split_lengths_and_fractions_as_torch() -> None:
    torch = pytest.importorskip("torch")
    ds = list(range(10))
    for lengths in ([3, 7], [0.33, 0.33, 0.34], [0.5, 0.5], [0.3, 0.3, 0.4], [1.0]):
        ours = random_split(ds, lengths, generator=0)
        theirs = torch.utils.data.random_split(ds, lengths)
        assert [len(s) for s in ours] == [len(s) for s in theirs]
        picked = [ds_item for s in ours for ds_item in (s[i] for i in range(len(s)))]
        assert sorted(picked) == ds
    assert [s.indices for s in random_split(ds, [4, 6], generator=5)] == \
        [s.indices for s in random_split(ds, [4, 6], generator=np.random.default_rng(5))]


def test_random_split_refuses_lengths_that_do_not_add_up() -> None:
    with pytest.raises(ConfigError, match=r"\[3, 6\] do not add up to the dataset's 10"):
        random_split(list(range(10)), [3, 6])
    with pytest.raises(ConfigError, match=r"fraction 0 \(1.5\) is not between 0 and 1"):
        random_split(list(range(10)), [1.5, -0.5])


def test_subset_and_concat() -> None:
    ds = tensor_dataset(chainrule)
    sub = Subset(ds, [8, 2, 5])
    assert len(sub) == 3 and sub[0][1].item() == Y[8]
    assert [y.item() for _, y in sub[[0, 2]]] == [Y[8], Y[5]]
    assert [yb.tolist() for _, yb in DataLoader(sub, batch_size=2)] == [[Y[8], Y[2]], [Y[5]]]
    both = ConcatDataset([sub, Subset(ds, [0])])
    assert len(both) == 4 and both[3][1].item() == Y[0] and both[-1][1].item() == Y[0]
    with pytest.raises(IndexError):
        both[4]
    assert len(Pairs("list") + Pairs("dict")) == 10


def test_loader_batches_carry_the_gradient_to_the_dataset() -> None:
    torch = pytest.importorskip("torch")

    def grad(lib: Any) -> np.ndarray:
        x = lib.tensor(X.astype(np.float64), requires_grad=True)
        ds = lib.utils.data.TensorDataset(x, lib.tensor(Y))
        total = sum(((xb ** 2).sum() * (i + 1) for i, (xb, _) in
                     enumerate(lib.utils.data.DataLoader(ds, batch_size=4))), lib.tensor(0.0))
        total.backward()
        return np.asarray(x.grad)

    np.testing.assert_allclose(grad(chainrule), grad(torch))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch_size": 0}, "batch_size should be a positive integer value, but got batch_size=0"),
    ({"batch_size": 2.5}, "batch_size=2.5"),
    ({"drop_last": 1}, "drop_last should be a boolean value"),
    ({"shuffle": True, "sampler": [0, 1]}, "sampler option is mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 4}, "batch_sampler option is mutually exclusive"),
    ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
    ({"num_workers": -1}, "num_workers option should be non-negative"),
    ({"shuffle": True, "generator": "seed"}, "generator must be a NumPy Generator"),
])
def test_loader_refuses_what_torch_refuses(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((ConfigError, OperandError), match=message.replace("(", r"\(")):
        DataLoader(tensor_dataset(chainrule), **kwargs)


def test_loader_names_a_dataset_it_cannot_read() -> None:
    with pytest.raises(OperandError, match="__len__ and __getitem__.*int"):
        DataLoader(5)
    with pytest.raises(ConfigError, match="num_samples should be a positive integer.*empty"):
        DataLoader([], shuffle=True)
    assert list(DataLoader([], batch_size=2)) == []
    x, y = chainrule.tensor(X), chainrule.tensor(Y)
    with pytest.raises(OperandError, match=r"DataLoader\(TensorDataset\(x, y\)"):
        DataLoader(x, y)  # type: ignore[arg-type]


def test_num_workers_gives_the_same_batches() -> None:
    ds = tensor_dataset(chainrule)
    one = [yb.tolist() for _, yb in DataLoader(ds, batch_size=3)]
    assert [yb.tolist() for _, yb in DataLoader(ds, batch_size=3, num_workers=2,
                                                pin_memory=True)] == one
