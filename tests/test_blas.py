"""chainrule.blas: the thread policy of mid-sized products (library, single, fastest)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chainrule import blas
from chainrule.errors import OperandError


class FakeBlas:
    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.seen: list[int] = []

    def get(self) -> int:
        return self.threads

    def set(self, n: int) -> None:
        self.threads = n
        self.seen.append(n)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeBlas:
    fake = FakeBlas(2)
    monkeypatch.setattr(blas, "_calls", (fake.get, fake.set))
    original = np.matmul

    def matmul(a: Any, b: Any) -> Any:
        fake.seen.append(-fake.threads)  # the count while the product runs, negated
        return original(a, b)

    monkeypatch.setattr(blas.np, "matmul", matmul)
    return fake


@pytest.fixture(autouse=True)
def fresh_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blas, "_choices", {})
    monkeypatch.setattr(blas, "_policy", "fastest")  # the tests below that need another say so


def test_the_library_policy_is_the_default_and_leaves_threads_alone(
        fake: FakeBlas, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blas, "_policy", blas._initial_policy())
    assert blas.policy() == "library"
    for _ in range(4):
        blas.matmul(np.ones((256, 784)), np.ones((784, 30)))
    assert fake.seen == [-2] * 4  # no thread call: the same kernel, the same bits every time


def test_the_single_policy_runs_mid_sized_products_on_one_thread(fake: FakeBlas) -> None:
    blas.set_policy("single")
    for rows in (10, 256, 1024):
        blas.matmul(np.ones((rows, 784)), np.ones((784, 30)))
    assert fake.seen == [-2, 1, -1, 2, -2] and fake.threads == 2


def test_an_unknown_policy_is_refused_and_the_environment_is_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(OperandError, match="unknown BLAS policy 'quick'; choose one of: "
                                           "library, single, fastest"):
        blas.set_policy("quick")
    monkeypatch.setenv("CHAINRULE_BLAS", " Single ")
    assert blas._initial_policy() == "single"
    monkeypatch.setenv("CHAINRULE_BLAS", "warp")
    assert blas._initial_policy() == "library"


@pytest.mark.parametrize(("rows", "chosen"), [(10, False), (256, True), (1024, False)])
def test_mid_sized_products_are_tried_both_ways(fake: FakeBlas, rows: int,
                                                chosen: bool) -> None:
    # 10·784·30 multiply-adds: OpenBLAS runs it on one thread anyway; 1024·784·30 ≥ 2²⁴.
    a, b = np.ones((rows, 784)), np.ones((784, 30))
    for _ in range(4):
        out = blas.matmul(a, b)
        assert out.shape == (rows, 30) and out[0, 0] == 784.0
    # A chosen shape runs twice on the library's two threads, then twice on one (set, run,
    # restored).
    assert fake.seen == ([-2, -2, 1, -1, 2, 1, -1, 2] if chosen else [-2] * 4)
    assert fake.threads == 2


def test_one_thread_already_is_left_alone(fake: FakeBlas) -> None:
    fake.threads = 1
    for _ in range(5):
        blas.matmul(np.ones((256, 784)), np.ones((784, 30)))
    assert fake.seen == [-1] * 5


def _run(choice: blas.ThreadChoice, seconds: dict[bool, float], calls: int) -> list[bool]:
    ways = []
    for _ in range(calls):
        one = choice.pick()
        ways.append(one)
        choice.record(one, seconds[one])
    return ways


def test_a_ways_first_slow_call_does_not_decide() -> None:
    choice = blas.ThreadChoice()
    for one, seconds in ((False, 9.0), (False, 1.0), (True, 2.0), (True, 2.0)):
        assert choice.pick() is one
        choice.record(one, seconds)
    assert choice.pick() is False  # the pool's start-up (9.0) did not count against it


def test_the_faster_way_is_kept_and_the_other_retried_ever_more_rarely() -> None:
    choice = blas.ThreadChoice()
    ways = _run(choice, {False: 1.0, True: 2.0}, 5000)
    assert ways[:5] == [False, False, True, True, False]  # both ways twice, then the faster
    tries = [i for i, one in enumerate(ways) if one][1:]  # after the two first tries
    gaps = [b - a - 1 for a, b in zip(tries, tries[1:], strict=False)]
    assert gaps[:5] == [16, 32, 64, 128, 256]  # calls on the winner between two tries
    assert gaps[-1] == gaps[-2]  # capped
    assert max(gaps) == blas.ThreadChoice.LAST_RETRY
    assert choice.one is False


def test_a_change_of_load_is_followed_both_ways() -> None:
    choice = blas.ThreadChoice()
    _run(choice, {False: 1.0, True: 2.0}, 50)  # idle machine: two threads win
    assert choice.one is False
    # Another process takes a core: the library's threads get slower than one thread was.
    ways = _run(choice, {False: 5.0, True: 2.0}, 50)
    assert choice.one is True and ways[-10:] == [True] * 10
    assert ways.index(True) <= blas.ThreadChoice.FIRST_RETRY  # noticed within a few calls
    # The load goes away: a retry finds the threads fast again.
    ways = _run(choice, {False: 1.0, True: 2.0}, 3 * blas.ThreadChoice.LAST_RETRY)
    assert choice.one is False and ways[-10:] == [False] * 10


def test_shapes_are_chosen_apart_and_their_number_is_bounded(fake: FakeBlas,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr(blas, "_MAX_SHAPES", 3)
    for rows in (256, 300, 300, 400):
        blas.matmul(np.ones((rows, 784)), np.ones((784, 30)))
    assert sorted(k[0] for k in blas._choices) == [256, 300, 400]
    blas.matmul(np.ones((500, 784)), np.ones((784, 30)))
    assert list(blas._choices) == [(500, 784, 30, "d")]  # started over


def test_no_openblas_means_plain_matmul(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blas, "_calls", None)
    a, b = np.arange(256 * 784.0).reshape(256, 784), np.ones((784, 30))
    np.testing.assert_array_equal(blas.matmul(a, b), a @ b)


def test_the_real_blas_gives_numpys_product() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((256, 784)), rng.standard_normal((784, 30))
    # (Not bitwise: OpenBLAS's threaded and single-threaded kernels round differently.)
    np.testing.assert_allclose(blas.matmul(a, b), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(blas.matmul(a, b.T.copy().T), np.matmul(a, b), rtol=1e-12,
                               atol=1e-12)
