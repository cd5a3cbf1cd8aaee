"""chainrule.tensor takes a temporary array instead of copying it when nobody else can see it.

``tensor(X[idx])`` (a training loop's batch) copies nothing: the array ``X[idx]`` exists only
as the argument. Any array someone else holds is still copied, as ``torch.tensor`` does. The
memory check reads NumPy's allocations through tracemalloc: a copy would double the peak.
"""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule

tensor_module = sys.modules["chainrule.tensor"]
SIZE = 500_000  # float64 elements: 4 MB, far above any bookkeeping
TAKES_TEMPORARIES = tensor_module._SOLE_OWNER_COUNT == 2


def _peak_arrays(make: Callable[[], Any]) -> float:
    """Peak memory while ``make`` runs, in units of one SIZE-element float64 array."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        kept = make()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    del kept
    return peak / (SIZE * 8)


@pytest.mark.skipif(not TAKES_TEMPORARIES, reason="this Python's reference counts cannot tell")
def test_a_temporary_batch_is_taken_not_copied() -> None:
    x = np.arange(2 * SIZE, dtype=np.float64).reshape(2 * SIZE // 1000, 1000)
    idx = np.arange(SIZE // 1000)
    peak = _peak_arrays(lambda: chainrule.tensor(x[idx]))
    assert peak == pytest.approx(1.0, abs=0.05)
    t = chainrule.tensor(x[idx])
    np.testing.assert_array_equal(t.numpy(), x[:SIZE // 1000])


def test_an_array_someone_holds_is_copied() -> None:
    held = np.zeros(SIZE)
    assert _peak_arrays(lambda: chainrule.tensor(held)) == pytest.approx(1.0, abs=0.05)
    t = chainrule.tensor(held)
    held[0] = 7.0
    assert t.data[0] == 0.0 and not np.shares_memory(t.data, held)


@pytest.mark.parametrize("make", [
    lambda base: base[1:],  # a view: its base holds the memory
    lambda base: base.reshape(-1, 10).T,  # a view, and not C-contiguous
    lambda base: np.broadcast_to(base[:10], (3, 10)),  # read-only view
])
def test_views_of_held_arrays_are_copied(make: Callable[[np.ndarray], np.ndarray]) -> None:
    base = np.arange(100.0)
    t = chainrule.tensor(make(base))
    base[:] = -1.0
    assert not np.shares_memory(t.data, base)
    assert (t.data != -1.0).all()


def test_items_of_containers_and_calls_through_c_are_copied() -> None:
    arrays = [np.zeros(5)]
    t = chainrule.tensor(arrays[0])
    arrays[0][0] = 1.0
    assert t.data[0] == 0.0
    mapped = list(map(chainrule.tensor, arrays))
    arrays[0][1] = 2.0
    assert mapped[0].data[1] == 0.0


def test_a_taken_temporary_is_an_independent_leaf() -> None:
    x = np.arange(12.0).reshape(4, 3)
    t = chainrule.tensor(x[[0, 2]])
    t.data[0, 0] = 99.0  # the tensor's own memory: x is untouched
    assert x[0, 0] == 0.0
    assert t.dtype == np.float64 and not t.requires_grad and t.grad is None


def test_the_rule_sees_the_count_of_a_sole_reference() -> None:
    owned = np.ones(3)
    assert tensor_module._sole_owner(owned, tensor_module._SOLE_OWNER_COUNT) is TAKES_TEMPORARIES
    assert not tensor_module._sole_owner(owned, tensor_module._SOLE_OWNER_COUNT + 1)
    assert not tensor_module._sole_owner(owned[1:], tensor_module._SOLE_OWNER_COUNT)
    frozen = np.ones(3)
    frozen.flags.writeable = False
    assert not tensor_module._sole_owner(frozen, tensor_module._SOLE_OWNER_COUNT)
