"""PyTorch's quick-start pages (Tensors, Automatic differentiation, Build the model) and
micrograd's own test suite, run with ``chainrule`` in place of ``torch`` and compared with it."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

import chainrule
from chainrule import Value

real_torch = pytest.importorskip("torch")

W = np.random.default_rng(7).standard_normal((5, 3))
B = np.random.default_rng(8).standard_normal(3)


def _np(x: Any) -> Any:
    if isinstance(x, real_torch.Tensor):
        return x.detach().numpy()
    if isinstance(x, chainrule.Tensor):
        return x.numpy()
    return x


def tensors_page(torch: ModuleType) -> list[Any]:
    out: list[Any] = []
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data, dtype=torch.float64)
    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)
    out += [x_data, x_np]
    x_ones = torch.ones_like(x_data)
    out.append(x_ones)
    x_rand = torch.rand_like(x_data, dtype=torch.float)
    out.append(x_rand.shape)
    shape = (2, 3,)
    out += [torch.ones(shape), torch.zeros(shape), torch.rand(shape).shape]
    tensor = torch.rand(3, 4)
    out += [tuple(tensor.shape), str(tensor.device)]
    if torch.accelerator.is_available():
        tensor = tensor.to(torch.accelerator.current_accelerator())
    tensor = torch.ones(4, 4)
    out += [tensor[0], tensor[:, 0], tensor[..., -1]]
    tensor[:, 1] = 0
    out.append(tensor)
    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    out.append(t1)
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    out += [y1, y2, z1, z2]
    agg = tensor.sum()
    agg_item = agg.item()
    out += [agg_item, type(agg_item).__name__]
    tensor.add_(5)
    out.append(tensor)
    t = torch.ones(5)
    n = t.numpy()
    t.add_(1)
    out.append(n.copy())
    n = np.ones(5)
    t = torch.from_numpy(n)
    np.add(n, 1, out=n)
    out.append(t)
    return [_np(v) for v in out]


def autograd_page(torch: ModuleType) -> list[Any]:
    out: list[Any] = []
    x = torch.ones(5, dtype=torch.float64)
    y = torch.zeros(3, dtype=torch.float64)
    w = torch.tensor(W, requires_grad=True)
    b = torch.tensor(B, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    assert z.grad_fn is not None and loss.grad_fn is not None
    loss.backward()
    out += [loss, w.grad, b.grad]
    z = torch.matmul(x, w) + b
    out.append(z.requires_grad)
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    out.append(z.requires_grad)
    z_det = (torch.matmul(x, w) + b).detach()
    out.append(z_det.requires_grad)
    inp = torch.eye(4, 5, dtype=torch.float64, requires_grad=True)
    res = (inp + 1).pow(2).t()
    res.backward(torch.ones_like(res), retain_graph=True)
    out.append(_np(inp.grad).copy())
    res.backward(torch.ones_like(res), retain_graph=True)
    out.append(_np(inp.grad).copy())
    inp.grad = None
    res.backward(torch.ones_like(res), retain_graph=True)
    out.append(_np(inp.grad).copy())
    return [_np(v) for v in out]


def build_model_page(torch: ModuleType) -> list[Any]:
    nn = torch.nn
    device = torch.accelerator.current_accelerator().type \
        if torch.accelerator.is_available() else "cpu"

    class NeuralNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(6 * 6, 16, dtype=torch.float64), nn.ReLU(),
                nn.Linear(16, 16, dtype=torch.float64), nn.ReLU(),
                nn.Linear(16, 10, dtype=torch.float64),
            )

        def forward(self, x: Any) -> Any:
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork().to(device)
    rng = np.random.default_rng(9)
    with torch.no_grad():
        for layer in (0, 2, 4):
            linear = model.linear_relu_stack[layer]
            linear.weight.copy_(torch.tensor(rng.standard_normal(tuple(linear.weight.shape))
                                             * 0.3))
            linear.bias.copy_(torch.tensor(rng.standard_normal(tuple(linear.bias.shape)) * 0.1))
    X = torch.tensor(rng.uniform(0, 1, (3, 6, 6)))  # noqa: N806 - the page's name
    logits = model(X)
    pred_probab = nn.Softmax(dim=1)(logits)
    y_pred = pred_probab.argmax(1)
    sizes = [tuple(param.size()) for _, param in model.named_parameters()]
    return [_np(logits), _np(pred_probab), _np(y_pred), sorted(sizes)]


@pytest.mark.parametrize("page", [tensors_page, autograd_page, build_model_page])
def test_quickstart_page_gives_torch_results(page: Any) -> None:
    ours, theirs = page(chainrule), page(real_torch)
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                       rtol=1e-12, err_msg=f"output {i}")
        else:
            assert a == b or tuple(a) == tuple(b), (i, a, b)  # shapes, flags, names


# ---------------------------------------------------------------- micrograd's test suite
# micrograd checks its Value against torch; here the torch side also runs on chainrule's
# Tensor (torch.Tensor(list), .double(), setting .requires_grad, scalar arithmetic).


@pytest.mark.parametrize("torch", [real_torch, chainrule], ids=["torch", "chainrule-as-torch"])
def test_micrograd_sanity_check(torch: ModuleType) -> None:
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xmg, ymg = x, y

    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xpt, ypt = x, y
    assert ymg.data == ypt.data.item()
    assert xmg.grad == xpt.grad.item()


@pytest.mark.parametrize("torch", [real_torch, chainrule], ids=["torch", "chainrule-as-torch"])
def test_micrograd_more_ops(torch: ModuleType) -> None:
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
    g.backward()
    amg, bmg, gmg = a, b, g

    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    apt, bpt, gpt = a, b, g
    tol = 1e-6
    assert abs(gmg.data - gpt.data.item()) < tol
    assert abs(amg.grad - apt.grad.item()) < tol
    assert abs(bmg.grad - bpt.grad.item()) < tol


def test_save_and_load_page(tmp_path: Any) -> None:
    torch = chainrule
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    torch.save(model.state_dict(), tmp_path / "model.pth")
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    fresh.load_state_dict(torch.load(tmp_path / "model.pth", weights_only=True))
    x = torch.randn(5, 4)
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())
    assert sorted(torch.load(tmp_path / "model.pth")) == sorted(model.state_dict())
    with pytest.raises(chainrule.OperandError, match="dict of named tensors"):
        torch.save(model, tmp_path / "whole.pth")
    with pytest.raises(chainrule.OperandError, match="'nested'"):
        torch.save({"nested": {"a": 1}}, tmp_path / "nested.pth")
