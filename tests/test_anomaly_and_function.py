"""Anomaly mode for Tensor (op and user line of the first NaN/∞) and custom autograd Functions."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.anomaly import AnomalyError
from chainrule.autograd import Function, FunctionCtx, detect_anomaly


def test_forward_nan_names_the_op_and_the_user_line() -> None:
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    with detect_anomaly(), pytest.raises(cr.NumericError) as info:
        y = x * 2.0
        y.sqrt()  # the culprit
    message = str(info.value)
    assert message.startswith("sqrt(")
    assert "NaN" in message
    assert "test_anomaly_and_function.py" in message and "y.sqrt()  # the culprit" in message


@pytest.mark.parametrize(("make", "op"), [
    (lambda x: (x * 0.0).log(), "log"),
    (lambda x: x / cr.tensor([0.0, 1.0]), "div"),
    (lambda x: (x * 1000.0).exp(), "exp"),
    (lambda x: x ** -1.0 * 0.0, "pow_const"),
    (lambda x: (x - 5.0).log1p(), "log1p"),
])
def test_each_kind_of_anomaly_names_its_op(make: object, op: str) -> None:
    x = cr.tensor([0.0, 2.0], requires_grad=True)
    with detect_anomaly(), pytest.raises(cr.NumericError, match=rf"^{op}\("):
        make(x)  # type: ignore[operator]


def test_nan_already_in_the_input_is_not_blamed_on_the_next_op() -> None:
    x = cr.tensor([np.nan, 1.0], requires_grad=True)
    with detect_anomaly():
        y = (x * 2.0).sum()
    assert np.isnan(y.item())


def test_backward_anomaly_names_the_op_and_its_forward_line() -> None:
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with detect_anomaly():
        y = x.sqrt()  # finite forward, infinite slope at 0
        with pytest.raises(AnomalyError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "sqrt" in message and "y = x.sqrt()  # finite forward" in message


def test_grad_checks_edges_in_anomaly_mode_too() -> None:
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with detect_anomaly():
        y = (x.sqrt() * 2.0).sum()
        with pytest.raises(AnomalyError, match="sqrt"):
            cr.grad(y, x)


def test_mode_off_by_default_and_restored() -> None:
    assert not cr.autograd.is_anomaly_enabled()
    with detect_anomaly():
        assert cr.autograd.is_anomaly_enabled()
    assert not cr.autograd.is_anomaly_enabled()
    y = cr.tensor([-1.0]).sqrt() if False else cr.tensor([4.0]).sqrt()
    assert y.item() == 2.0


def test_value_names_the_op_without_a_mode_and_the_line_with_it() -> None:
    with pytest.raises(cr.NumericError, match=r"^log\(-1\): the input is outside"):
        cr.Value(-1.0).log()
    with detect_anomaly(), pytest.raises(ZeroDivisionError) as info:
        cr.Value(1.0) / cr.Value(0.0)  # the scalar culprit
    assert "div(1, 0): division by zero (at test_anomaly_and_function.py:" in str(info.value)
    assert "# the scalar culprit" in str(info.value)


class LegendrePolynomial3(Function):
    """P₃(x) = ½(5x³ − 3x), as in PyTorch's custom-Function tutorial."""

    @staticmethod
    def forward(ctx: FunctionCtx, x: cr.Tensor) -> cr.Tensor:
        ctx.save_for_backward(x)
        return 0.5 * (5 * x**3 - 3 * x)

    @staticmethod
    def backward(ctx: FunctionCtx, grad_output: cr.Tensor) -> cr.Tensor:
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x**2 - 1)


class Scale(Function):
    @staticmethod
    def forward(ctx: FunctionCtx, x: cr.Tensor, w: cr.Tensor, factor: float) -> cr.Tensor:
        ctx.save_for_backward(x, w)
        ctx.factor = factor  # type: ignore[attr-defined]
        return x * w * factor

    @staticmethod
    def backward(ctx: FunctionCtx, g: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor, None]:
        x, w = ctx.saved_tensors
        f = ctx.factor  # type: ignore[attr-defined]
        return g * w * f, (g * x * f).sum(axis=0), None


def test_custom_function_is_one_gate_with_its_own_backward() -> None:
    x = cr.tensor(np.linspace(-1, 1, 7), requires_grad=True)
    y = LegendrePolynomial3.apply(x)
    assert y.op.name == "LegendrePolynomial3" and y.inputs == (x,)
    assert cr.gradcheck(LegendrePolynomial3.apply, [x])
    w = cr.tensor([0.5, -2.0], requires_grad=True)
    a = cr.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    assert cr.gradcheck(lambda s, t: Scale.apply(s, t, 3.0), [a, w])


def test_custom_function_appears_in_the_circuit_dict() -> None:
    from chainrule.viz import graph_dict

    x = cr.tensor([0.3], requires_grad=True)
    y = LegendrePolynomial3.apply(x).sum()
    y.backward()
    ops = [n.get("op") for n in graph_dict(y)["nodes"]]
    assert "LegendrePolynomial3" in ops


def test_function_without_grad_inputs_returns_a_constant() -> None:
    out = LegendrePolynomial3.apply(cr.tensor([1.0]))
    assert not out.requires_grad and out.item() == 1.0
