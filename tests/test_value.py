"""The scalar engine: micrograd's documented example, fan-out, errors, a million-node chain."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import Value


def test_micrograd_readme_example_unchanged() -> None:
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    assert f"{g.data:.4f}" == "24.7041"
    g.backward()
    assert f"{a.grad:.4f}" == "138.8338"
    assert f"{b.grad:.4f}" == "645.5773"


def test_micrograd_names_for_visualisation_code() -> None:
    x = Value(3.0)
    y = (x * 2 + 1) ** 2
    assert y._op == "**2"
    assert {n._op for n in y._prev} == {"+"}
    assert Value(1.0)._op == ""


def test_every_node_holds_its_gradient_after_backward() -> None:
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    q = x + y
    f = q * z
    f.backward()
    assert f.data == -12.0
    assert (x.grad, y.grad, z.grad, q.grad, f.grad) == (-4.0, -4.0, 3.0, -4.0, 1.0)


def test_fan_out_accumulates() -> None:
    x = Value(3.0)
    y = x * x + x  # x feeds three edges: 2x + 1
    y.backward()
    assert x.grad == 7.0


def test_gradients_accumulate_across_backward_calls_like_micrograd() -> None:
    x = Value(2.0)
    y = x * 3
    y.backward()
    y.backward()
    assert x.grad == 6.0


def test_constants_on_either_side() -> None:
    x = Value(2.0)
    y = 1 + x - 3 * x / 4 + 2**x - 5 / x + x**0.5
    y.backward()
    expected = 1 - 0.75 + math.log(2) * 4 + 5 / 4 + 0.5 / math.sqrt(2)
    assert x.grad == pytest.approx(expected)


def test_million_node_chain_under_default_recursion_limit() -> None:
    assert sys.getrecursionlimit() <= 10_000
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0
    assert y.data == 1.0


def test_scratch_state_is_clean_after_a_failed_backward() -> None:
    x = Value(0.0)
    y = x.sqrt() + x  # d√x/dx is infinite at 0
    with pytest.raises(cr.NumericError, match="sqrt"):
        y.backward()
    z = x * 2.0
    z.backward()
    assert x.grad == 2.0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Value(1.0) / 0, "div.*division by zero"),
        (lambda: Value(-1.0).log(), "log\\(-1\\).*domain"),
        (lambda: Value(1000.0).exp(), "exp\\(1000\\).*overflow"),
        (lambda: Value(1.0) + "a", "add: unsupported operand str"),
        (lambda: Value(1.0) * cr.tensor([1.0]), "cannot combine a Value .* Tensor"),
        (lambda: cr.tensor([1.0]) * Value(1.0), "cannot combine a Tensor .* Value"),
        (lambda: np.ones(3) * Value(1.0), "NumPy array of shape \\(3,\\)"),
        (lambda: Value("x"), "expected a real number, got str"),
    ],
)
def test_bad_operands_give_one_line_chainrule_errors(make, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(cr.ChainruleError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_no_grad_builds_no_graph() -> None:
    x = Value(2.0)
    with cr.no_grad():
        y = x * 3 + 1
    assert y.data == 7.0 and y.inputs == ()
    with pytest.raises(cr.GraphError, match="no_grad"):
        y.backward()


def test_no_grad_as_decorator() -> None:
    @cr.no_grad()
    def f(v: Value) -> Value:
        return v * 2

    assert f(Value(1.0)).inputs == ()
    assert (Value(1.0) * 2).inputs != ()


def test_node_is_small() -> None:
    assert not hasattr(Value(1.0), "__dict__")


def test_an_infinite_local_gradient_is_a_chainrule_error_on_every_path() -> None:
    x = Value(0.0)
    y = x.sqrt()
    with pytest.raises(cr.NumericError, match="local gradient of sqrt at 0") as info:
        cr.grad(y, x)
    assert info.value.node is y
    with pytest.raises(cr.NumericError, match="sqrt"), cr.listen(lambda event: None):
        y.backward()
    with pytest.raises(cr.NumericError, match="pow_const"):
        (x**0.5).backward()
