"""chainrule.blas: mid-sized products on one BLAS thread, the count restored after."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chainrule import blas


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


@pytest.mark.parametrize(("rows", "single"), [(10, False), (256, True), (1024, False)])
def test_only_mid_sized_products_run_on_one_thread(fake: FakeBlas, rows: int,
                                                   single: bool) -> None:
    # 10·784·30 multiply-adds: OpenBLAS runs it on one thread anyway; 1024·784·30 ≥ 2²⁴.
    a, b = np.ones((rows, 784)), np.ones((784, 30))
    out = blas.matmul(a, b)
    assert out.shape == (rows, 30) and out[0, 0] == 784.0
    assert fake.seen == ([1, -1, 2] if single else [-2])
    assert fake.threads == 2


def test_one_thread_already_is_left_alone(fake: FakeBlas) -> None:
    fake.threads = 1
    blas.matmul(np.ones((256, 784)), np.ones((784, 30)))
    assert fake.seen == [-1]


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
