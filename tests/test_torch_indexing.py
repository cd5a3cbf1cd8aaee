"""Indexing by torch's rule, fuzzed against torch: values, gradients, item assignment, errors.

Random shapes (0-d, empty, 1–4 dims) and random index tuples mixing integers (negative and out
of range too), slices with steps, None, Ellipsis, lists, integer tensors, bool masks (some of the
wrong shape) and Python bools. Where torch raises IndexError, chainrule must too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

CASES = 2500


def _entry(r: np.random.Generator, shape: tuple[int, ...], dim: int) -> tuple[str, Any, int]:
    """One index entry as (kind, NumPy value, axes it uses), aimed at axis ``dim``."""
    n = shape[dim] if dim < len(shape) else 3
    kind = r.choice(["int", "int", "slice", "slice", "none", "ellipsis", "list", "itensor",
                     "mask", "bool"])
    if kind == "int":
        return "int", int(r.integers(-n - 1, n + 1)), 1
    if kind == "slice":
        lo = None if r.random() < 0.4 else int(r.integers(-n - 1, n + 2))
        hi = None if r.random() < 0.4 else int(r.integers(-n - 1, n + 2))
        step = None if r.random() < 0.5 else int(r.integers(1, 4))
        return "slice", slice(lo, hi, step), 1
    if kind == "none":
        return "none", None, 0
    if kind == "ellipsis":
        return "ellipsis", Ellipsis, 0
    if kind == "bool":
        return "bool", bool(r.random() < 0.7), 0
    if kind == "mask":
        k = int(r.integers(1, 3))
        mask_shape = tuple(shape[dim:dim + k]) or (2,)
        if r.random() < 0.1:
            mask_shape = tuple(m + 1 for m in mask_shape)  # the wrong shape
        return "mask", r.random(mask_shape) < 0.5, len(mask_shape)
    high = n + 1 if r.random() < 0.05 else max(n, 1)  # now and then out of range
    size = tuple(int(s) for s in r.integers(0, 3, int(r.integers(0, 3))))
    values = r.integers(-high, high, size)
    if kind == "list":
        return "list", np.atleast_1d(values).tolist(), 1
    return "itensor", values.astype(np.int64), 1


def _index(r: np.random.Generator) -> tuple[tuple[int, ...], list[tuple[str, Any, int]], bool]:
    ndim = int(r.integers(0, 5))
    shape = tuple(int(s) for s in r.integers(0 if r.random() < 0.15 else 1, 5, ndim))
    entries = []
    dim = 0
    for _ in range(int(r.integers(1, ndim + 2))):
        kind, value, used = _entry(r, shape, dim)
        if kind == "ellipsis" and any(e[0] == "ellipsis" for e in entries) and r.random() < 0.7:
            continue  # a second ellipsis now and then (torch reads it as no axis)
        entries.append((kind, value, used))
        dim += used
    # x[[[2], [1]]] alone is torch's deprecated "sequence as a tuple" reading: not drawn.
    nested = entries[0][0] == "list" and np.ndim(entries[0][1]) > 1
    as_tuple = len(entries) != 1 or nested or r.random() < 0.5
    return shape, entries, as_tuple


def _build(lib: Any, entries: list[tuple[str, Any, int]], as_tuple: bool) -> Any:
    out = []
    for kind, value, _used in entries:
        if kind == "itensor":
            out.append(lib.tensor(value, dtype=lib.int64))
        elif kind == "mask":
            out.append(lib.tensor(value))
        else:
            out.append(value)
    return tuple(out) if as_tuple else out[0]


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001 - the kind of error is what is compared
        return "error", exc


def _getitem_case(seed: int) -> None:
    r = np.random.default_rng(seed)
    shape, entries, as_tuple = _index(r)
    data = r.standard_normal(shape)
    xt = torch.tensor(data, requires_grad=True)
    state, out_t = _outcome(lambda: xt[_build(torch, entries, as_tuple)])
    xc = cr.tensor(data, requires_grad=True)
    index_c = _build(cr, entries, as_tuple)
    where = f"seed {seed}: shape {shape}, index {entries}"
    if state == "error":
        if isinstance(out_t, IndexError):
            with pytest.raises(IndexError) as info:
                xc[index_c]
            assert "\n" not in str(info.value), where
        return
    if sum(kind == "ellipsis" for kind, *_ in entries) > 1:
        # Several ellipses each stand for the unnamed axes, as in torch; where that reaches past
        # the last axis torch may still index (a quirk), chainrule refuses.
        state, out_c = _outcome(lambda: xc[index_c])
        if state == "error":
            assert isinstance(out_c, IndexError), where
            return
    if out_t.numel() == 0:
        # torch checks index bounds only for elements it reads: an out-of-range list with an
        # empty result passes there, an IndexError here.
        state, out_c = _outcome(lambda: xc[index_c])
        if state == "error":
            assert isinstance(out_c, IndexError), where
            return
    else:
        out_c = xc[index_c]
    assert out_c.shape == tuple(out_t.shape), where
    np.testing.assert_array_equal(out_c.data, out_t.detach().numpy(), err_msg=where)
    w = r.standard_normal(out_c.shape)
    (out_t * torch.tensor(w)).sum().backward()
    (out_c * cr.tensor(w)).sum().backward()
    grad_c = np.zeros(shape) if xc.grad is None else np.asarray(xc.grad)
    np.testing.assert_allclose(grad_c, xt.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=where)


def _setitem_case(seed: int) -> None:
    r = np.random.default_rng(seed)
    shape, entries, as_tuple = _index(r)
    data = r.standard_normal(shape)
    base_t = torch.tensor(data, requires_grad=True)
    yt = base_t * 1.0
    index_t = _build(torch, entries, as_tuple)
    state, selected = _outcome(lambda: yt[index_t])
    where = f"seed {seed}: shape {shape}, index {entries}"
    base_c = cr.tensor(data, requires_grad=True)
    yc = base_c * 1.0
    index_c = _build(cr, entries, as_tuple)
    if state == "error":
        if isinstance(selected, IndexError):
            with pytest.raises(IndexError):
                yc[index_c] = 0.0
        return
    # A value of the selection's shape, or one number broadcast over it.
    value_shape = tuple(selected.shape) if r.random() < 0.7 else ()
    value = r.standard_normal(value_shape)
    vt = torch.tensor(value, requires_grad=True)
    vc = cr.tensor(value, requires_grad=True)
    state, exc = _outcome(lambda: yt.__setitem__(index_t, vt))
    if state == "error":
        return
    state, exc = _outcome(lambda: yc.__setitem__(index_c, vc))
    if state == "error":  # where torch skipped the bounds check of an empty selection, or
        # read several ellipses past the last axis (see _getitem_case)
        several = sum(kind == "ellipsis" for kind, *_ in entries) > 1
        assert isinstance(exc, IndexError) and (selected.numel() == 0 or several), where
        return
    np.testing.assert_array_equal(yc.data, yt.detach().numpy(), err_msg=where)
    w = r.standard_normal(shape)
    (yt * torch.tensor(w)).sum().backward()
    (yc * cr.tensor(w)).sum().backward()
    for c, t in ((base_c, base_t), (vc, vt)):
        grad_c = np.zeros(c.shape) if c.grad is None else np.asarray(c.grad)
        grad_t = np.zeros(c.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(grad_c, grad_t, rtol=1e-12, atol=1e-12, err_msg=where)


@pytest.mark.parametrize("block", range(5))
def test_getitem_matches_torch(block: int) -> None:
    for seed in range(block * CASES // 5, (block + 1) * CASES // 5):
        _getitem_case(seed)


@pytest.mark.parametrize("block", range(5))
def test_setitem_matches_torch(block: int) -> None:
    for seed in range(block * CASES // 5, (block + 1) * CASES // 5):
        _setitem_case(10_000 + seed)


def test_integer_is_applied_before_an_advanced_index() -> None:
    x = cr.tensor(np.arange(125.0).reshape(5, 5, 5), requires_grad=True)
    out = x[3, 2:, [1, 3]]
    assert out.shape == (3, 2)  # NumPy: (2, 3)
    np.testing.assert_array_equal(out.data, np.arange(125.0).reshape(5, 5, 5)[3][2:, [1, 3]])
    out.sum().backward()
    expected = np.zeros((5, 5, 5))
    expected[3, 2:, 1] = expected[3, 2:, 3] = 1
    np.testing.assert_array_equal(x.grad, expected)
    y = cr.zeros(5, 5, 5)
    y[3, 2:, [1, 3]] = cr.tensor(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(y.data[3, 2:][:, [1, 3]], np.arange(6.0).reshape(3, 2))


def test_iteration_and_unpacking_still_end_at_the_last_row() -> None:
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    a, b = t
    assert a.tolist() == [1.0, 2.0] and b.tolist() == [3.0, 4.0]
    assert [row.tolist() for row in t] == [[1.0, 2.0], [3.0, 4.0]]
    assert len(list(t)) == 2


def test_index_errors_are_one_line() -> None:
    x = cr.zeros(2, 3)
    for bad in ((0, 0, 0), 5, (slice(None), [0, 3]), 0.5, [0.5]):
        with pytest.raises(IndexError) as info:
            x[bad]
        assert "\n" not in str(info.value) and str(info.value).startswith("getitem: index")
    with pytest.raises(IndexError, match="setitem"):
        x[2] = 1.0
    with pytest.raises(ValueError, match="step"):
        x[::0]


@pytest.mark.parametrize("index", [
    (range(4), [0, 2, 1, 2]),  # "What is torch.nn really?": input[range(n), target]
    (range(1, 4, 2),),
    (slice(None), range(2)),
    (range(0),),
])
def test_a_range_indexes_as_torch_reads_it(index: tuple[Any, ...]) -> None:
    data = np.arange(12.0).reshape(4, 3)
    x = cr.tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    picked, tpicked = x[index], tx[index]
    np.testing.assert_array_equal(picked.numpy(), tpicked.detach().numpy())
    (picked * 2).sum().backward()
    (tpicked * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
