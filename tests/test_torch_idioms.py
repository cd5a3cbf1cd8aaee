"""PyTorch idioms as its beginner pages type them, run with torch and with chainrule as ``torch``.

The idioms come from the "60 Minute Blitz" (tensors, autograd, neural networks without the
convolution layers), "Learning PyTorch with Examples", "Automatic differentiation with
torch.autograd" and "Build the neural network". Each is a small function of the library (``T``)
returning what the page looks at; both results are reduced to plain data (values, dtypes, shapes,
error types) and compared. chainrule runs under ``set_default_dtype(float32)``, torch's default,
so dtypes compare one to one. Random values are compared by shape and dtype only; values that
matter come from NumPy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

IDIOMS: dict[str, Callable[[Any], Any]] = {}
A = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], dtype=np.float32)


def idiom(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    IDIOMS[fn.__name__] = fn
    return fn


@pytest.fixture(autouse=True)
def _torch_default_dtype() -> Iterator[None]:
    cr.set_default_dtype(cr.float32)
    yield
    cr.set_default_dtype(cr.float64)


# ---------------------------------------------------------------- tensors


@idiom
def tensor_from_int_lists(T: Any) -> Any:
    data = [[1, 2], [3, 4]]
    x_data = T.tensor(data)
    return x_data, x_data.dtype


@idiom
def tensor_from_float_lists(T: Any) -> Any:
    return T.tensor([[1.0, 2.0], [3.0, 4.0]]).dtype


@idiom
def tensor_of_an_int(T: Any) -> Any:
    return T.tensor(3), T.tensor(3).dtype, T.tensor([True, False]).dtype


@idiom
def from_numpy_int(T: Any) -> Any:
    np_array = np.array([[1, 2], [3, 4]])
    return T.from_numpy(np_array)


@idiom
def like_factories(T: Any) -> Any:
    x_data = T.tensor([[1, 2], [3, 4]])
    x_ones = T.ones_like(x_data)
    x_rand = T.rand_like(x_data, dtype=T.float)
    return x_ones, x_rand.shape, x_rand.dtype


@idiom
def shape_tuples(T: Any) -> Any:
    shape = (2, 3,)
    return [(t.shape, t.dtype) for t in (T.rand(shape), T.ones(shape), T.zeros(shape))]


@idiom
def attributes(T: Any) -> Any:
    tensor = T.rand(3, 4)
    return tensor.shape, tensor.dtype, str(tensor.device), T.accelerator.is_available()


@idiom
def size_comparisons(T: Any) -> Any:
    x = T.tensor(A)
    return (x.size() == T.Size([2, 3]), x.shape == (2, 3), x.size(1), x.size(-1),
            x.size()[1:], len(x.size()), T.Size([2, 3]).numel())


@idiom
def indexing_and_slicing(T: Any) -> Any:
    tensor = T.ones(4, 4)
    first_row, first_column, last_column = tensor[0], tensor[:, 0], tensor[..., -1]
    tensor[:, 1] = 0
    return first_row, first_column, last_column, tensor


@idiom
def joining(T: Any) -> Any:
    tensor = T.tensor(A)
    return T.cat([tensor, tensor, tensor], dim=1), T.stack([tensor, tensor]).shape


@idiom
def matrix_products(T: Any) -> Any:
    tensor = T.tensor(A)
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    y3 = T.rand_like(y1)
    T.matmul(tensor, tensor.T, out=y3)
    return y1, y2, y3, T.mm(tensor, tensor.t()), tensor.mT


@idiom
def elementwise_products(T: Any) -> Any:
    tensor = T.tensor(A)
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    z3 = T.rand_like(tensor)
    T.mul(tensor, tensor, out=z3)
    return z1, z2, z3


@idiom
def single_element(T: Any) -> Any:
    agg = T.tensor(A).sum()
    agg_item = agg.item()
    return agg, agg_item, type(agg_item).__name__


@idiom
def in_place(T: Any) -> Any:
    tensor = T.tensor(A)
    tensor.add_(5)
    return tensor, T.ones(2, 2).add_(1), T.zeros(3).fill_(2.5), T.ones(2).mul_(3).sub_(1)


@idiom
def numpy_bridge(T: Any) -> Any:
    t = T.ones(5)
    n = t.numpy()
    t.add_(1)
    n2 = np.ones(5)
    t2 = T.from_numpy(n2)
    np.add(n2, 1, out=n2)
    return n.tolist(), t2


@idiom
def blitz_construction(T: Any) -> Any:
    x = T.empty(5, 3)
    z = T.zeros(5, 3, dtype=T.long)
    y = T.tensor([5.5, 3])
    x = x.new_ones(5, 3, dtype=T.double)
    r = T.randn_like(x, dtype=T.float)
    return x.shape, z, y, x, r.shape, r.dtype, x.size()


@idiom
def blitz_operations(T: Any) -> Any:
    x = T.tensor(A)
    y = T.tensor(A[::-1].copy())
    result = T.empty(2, 3)
    T.add(x, y, out=result)
    y.add_(x)
    return x + y, T.add(x, y), result, y, x[:, 1]


@idiom
def blitz_views(T: Any) -> Any:
    x = T.tensor(np.arange(16.0, dtype=np.float32).reshape(4, 4))
    y = x.view(16)
    z = x.view(-1, 8)
    return x.size(), y.size(), z.size(), T.tensor([1.5]).item()


@idiom
def dtype_conversions(T: Any) -> Any:
    x = T.tensor(A)
    return (x.type(T.float), x.long(), x.int(), x.bool(), x.to(T.float32), x.double(),
            x.to(T.float64).dtype, x.float().dtype, x.type(T.int64).dtype)


@idiom
def new_factories(T: Any) -> Any:
    x = T.tensor(A)
    return (x.new_zeros(2, 2), x.new_ones((3,)), x.new_full((2,), 7.0), x.new_tensor([1, 2]),
            x.new_empty(2).shape)


@idiom
def is_tensor(T: Any) -> Any:
    return T.is_tensor(T.ones(1)), T.is_tensor([1.0]), T.numel(T.ones(2, 3))


@idiom
def max_along_a_dim(T: Any) -> Any:
    x = T.tensor(A)
    m = T.max(x, 1)
    values, indices = x.max(dim=0)
    return m.values, m.indices, m[0], values, indices, x.argmax(1), T.argmax(x), x.max()


@idiom
def reductions(T: Any) -> Any:
    x = T.tensor(A)
    return (x.sum(0), x.mean(dim=1, keepdim=True), T.sum(x), x.std(), x.var(1), x.norm(),
            x.prod(1), x.abs().min())


@idiom
def elementwise_math(T: Any) -> Any:
    x = T.tensor(A)
    return (T.sin(x), T.exp(x), T.sqrt(x.abs()), T.tanh(x), T.sigmoid(x), x.clamp(min=0),
            T.clamp(x, -1, 1), T.pow(x, 2), x.pow(3), T.abs(x), T.relu(x), T.log(x.abs()))


@idiom
def comparisons(T: Any) -> Any:
    x = T.tensor(A)
    y = T.tensor(A * 0 + 1)
    return x > 0, x == y, (x > 0).sum(), (x > 0).float().mean(), T.where(x > 0, x, y)


@idiom
def shapes(T: Any) -> Any:
    x = T.tensor(A)
    return (x.unsqueeze(0).shape, x.unsqueeze(-1).shape, x.flatten(), T.flatten(x),
            x.reshape(3, 2), x.permute(1, 0), x.transpose(0, 1), x.unsqueeze(0).squeeze(0).shape,
            x.expand(2, 2, 3).shape, x.repeat(2, 1).shape, x.contiguous().view(-1).shape)


@idiom
def tolist_and_friends(T: Any) -> Any:
    x = T.tensor(A)
    return x.tolist(), x.dim(), x.numel(), x.ndim, x.clone(), x.detach(), x.is_leaf


@idiom
def print_format(T: Any) -> Any:
    return (str(T.tensor([[1.0, 2.0], [3.0, 4.0]])), str(T.tensor([1, 2, 3])),
            str(T.tensor(2.5)), str(T.tensor([True, False])),
            str(T.tensor([[0.5, -1.25e-5], [3.0, 4.0]])), str(T.zeros(2, 0)),
            str(T.tensor([[1.0, 2.0]], requires_grad=True)))


@idiom
def print_options(T: Any) -> Any:
    T.set_printoptions(precision=2)
    try:
        return str(T.tensor([1.23456, 2.5]))
    finally:
        T.set_printoptions(profile="default")


@idiom
def integer_arithmetic(T: Any) -> Any:
    t = T.tensor([1, 2, 3])
    return (t ** 2, t.sum(), t * 1.5, t + T.tensor([0.5]), T.tensor([True, False]).sum(),
            t.float().mean(), T.tensor([[1, 2]]) @ T.tensor([[1], [2]]), t * t, -t, t - 1)


# ---------------------------------------------------------------- autograd


@idiom
def blitz_autograd_external_grad(T: Any) -> Any:
    a = T.tensor([2.0, 3.0], requires_grad=True)
    b = T.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a**3 - b**2
    external_grad = T.tensor([1.0, 1.0])
    Q.backward(gradient=external_grad)
    return 9 * a**2 == a.grad, -2 * b == b.grad, a.grad, b.grad


@idiom
def requires_grad_propagates(T: Any) -> Any:
    x = T.rand(5, 5)
    y = T.rand(5, 5)
    z = T.rand((5, 5), requires_grad=True)
    a = x + y
    b = x + z
    return a.requires_grad, b.requires_grad, b.is_leaf, z.is_leaf


@idiom
def autograd_page(T: Any) -> Any:
    x = T.ones(5)
    y = T.zeros(3)
    w = T.tensor(np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3), requires_grad=True)
    b = T.tensor([0.1, -0.2, 0.3], requires_grad=True)
    z = T.matmul(x, w) + b
    loss = T.nn.functional.binary_cross_entropy_with_logits(z, y)
    has_fn = z.grad_fn is not None and loss.grad_fn is not None
    loss.backward()
    with T.no_grad():
        z2 = T.matmul(x, w) + b
    z3 = T.matmul(x, w) + b
    z_det = z3.detach()
    return loss, w.grad, b.grad, has_fn, z2.requires_grad, z_det.requires_grad


@idiom
def jacobian_vector_products(T: Any) -> Any:
    inp = T.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(T.ones_like(out), retain_graph=True)
    first = inp.grad.clone() if hasattr(inp.grad, "clone") else inp.grad.copy()
    out.backward(T.ones_like(out), retain_graph=True)
    return first, inp.grad


@idiom
def autograd_grad(T: Any) -> Any:
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x ** 3).sum()
    (g,) = T.autograd.grad(y, x, create_graph=True)
    (h,) = T.autograd.grad(g.sum(), x)
    return g, h


@idiom
def autograd_grad_outputs(T: Any) -> Any:
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    (g,) = T.autograd.grad(y, [x], grad_outputs=T.tensor([1.0, 0.5]))
    return g


@idiom
def requires_grad_in_place(T: Any) -> Any:
    x = T.tensor([1.0, 2.0]).requires_grad_()
    y = T.tensor([1.0, 2.0])
    y.requires_grad_(True)
    (x * y).sum().backward()
    return x.requires_grad, x.grad, y.grad


@idiom
def no_grad_decorator(T: Any) -> Any:
    @T.no_grad()
    def doubler(x: Any) -> Any:
        return x * 2

    x = T.tensor([1.0], requires_grad=True)
    return doubler(x).requires_grad, T.is_grad_enabled()


@idiom
def grad_fn_chain(T: Any) -> Any:
    x = T.tensor([1.0, 2.0], requires_grad=True)
    loss = ((x * 2).sum() - 1) ** 2
    nexts = loss.grad_fn.next_functions
    return len(nexts) >= 1, nexts[0][0] is not None


@idiom
def set_grad_enabled(T: Any) -> Any:
    x = T.tensor([1.0], requires_grad=True)
    with T.set_grad_enabled(False):
        y = x * 2
    return y.requires_grad


@idiom
def backward_twice_accumulates(T: Any) -> Any:
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    return x.grad


# ---------------------------------------------------------------- nn


def _net(T: Any) -> Any:
    nn = T.nn

    class NeuralNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(4 * 4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))

        def forward(self, x: Any) -> Any:
            x = self.flatten(x)
            return self.linear_relu_stack(x)

    model = NeuralNetwork().to(T.device("cpu"))
    rng = np.random.default_rng(0)
    with T.no_grad():
        for p in model.parameters():
            p.copy_(T.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.3))
    return model


@idiom
def build_the_network(T: Any) -> Any:
    model = _net(T)
    X = T.tensor(np.linspace(0, 1, 32, dtype=np.float32).reshape(2, 4, 4))
    logits = model(X)
    pred_probab = T.nn.Softmax(dim=1)(logits)
    y_pred = pred_probab.argmax(1)
    return logits, pred_probab, y_pred


@idiom
def named_parameters(T: Any) -> Any:
    model = _net(T)
    return [(name, tuple(param.size()), param[:2]) for name, param in model.named_parameters()]


@idiom
def state_dict(T: Any) -> Any:
    model = _net(T)
    return [(name, tuple(v.shape)) for name, v in model.state_dict().items()]


@idiom
def layers_one_by_one(T: Any) -> Any:
    nn = T.nn
    input_image = T.tensor(np.linspace(-1, 1, 48, dtype=np.float32).reshape(3, 4, 4))
    flatten = nn.Flatten()
    flat_image = flatten(input_image)
    layer1 = nn.Linear(in_features=16, out_features=5)
    hidden1 = layer1(flat_image)
    relu = nn.ReLU()(hidden1)
    return (input_image.size(), flat_image.size(), hidden1.size(), relu.size(),
            layer1.weight.dtype, (relu >= 0).all())


@idiom
def parameters_list(T: Any) -> Any:
    net = _net(T)
    params = list(net.parameters())
    net.zero_grad()
    return len(params), params[0].size(), sum(p.numel() for p in net.parameters())


@idiom
def backward_from_random_grad(T: Any) -> Any:
    net = _net(T)
    out = net(T.ones(1, 4, 4))
    out.backward(T.tensor([[1.0, -1.0, 0.5]]))
    return net.linear_relu_stack[0].bias.grad


@idiom
def loss_and_optimizer(T: Any) -> Any:
    net = _net(T)
    optimizer = T.optim.SGD(net.parameters(), lr=0.01)
    criterion = T.nn.MSELoss()
    x = T.ones(2, 4, 4)
    target = T.tensor([[0.5, -0.5, 1.0], [0.0, 0.0, 0.0]])
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = criterion(net(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@idiom
def init_functions(T: Any) -> Any:
    layer = T.nn.Linear(4, 3)
    T.nn.init.zeros_(layer.bias)
    T.nn.init.ones_(layer.weight)
    T.nn.init.constant_(layer.bias, 0.5)
    w = T.empty(3, 5)
    T.nn.init.xavier_uniform_(w)
    T.nn.init.kaiming_normal_(w)
    T.nn.init.normal_(w, mean=0.0, std=0.01)
    T.nn.init.uniform_(w, -0.1, 0.1)
    return layer.weight, layer.bias, w.shape, w.dtype, bool((w.abs() <= 0.1).all())


@idiom
def functional_ops(T: Any) -> Any:
    F = T.nn.functional
    x = T.tensor(A)
    return (F.relu(x), F.softmax(x, dim=1), F.log_softmax(x, dim=1), F.sigmoid(x),
            F.mse_loss(x, x * 0), F.cross_entropy(x, T.tensor([0, 2])))


@idiom
def model_printing(T: Any) -> Any:
    return str(T.nn.Linear(3, 2)), str(T.nn.ReLU()), str(T.nn.Flatten())


@idiom
def sequential_indexing(T: Any) -> Any:
    model = T.nn.Sequential(T.nn.Linear(3, 1), T.nn.Flatten(0, 1))
    linear_layer = model[0]
    return linear_layer.bias.shape, linear_layer.weight[:, 0].shape, len(model)


@idiom
def parameter_from_randn(T: Any) -> Any:
    p = T.nn.Parameter(T.randn(()))
    return p.requires_grad, p.shape, p.is_leaf, p.dtype


@idiom
def freeze_parameters(T: Any) -> Any:
    model = _net(T)
    for param in model.parameters():
        param.requires_grad = False
    model.linear_relu_stack[4] = T.nn.Linear(8, 2)
    optimizer = T.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    before = [p.detach().clone() for p in model.parameters()]
    model(T.ones(1, 4, 4)).sum().backward()
    optimizer.step()
    moved = [not bool((p == b).all()) for p, b in zip(model.parameters(), before, strict=True)]
    frozen = [p.requires_grad for p in model.parameters()]
    for param in model.parameters():  # and back: every parameter is still reachable
        param.requires_grad = True
    return frozen, moved, list(model.state_dict()), [p.requires_grad for p in model.parameters()]


@idiom
def hand_written_step(T: Any) -> Any:
    dtype = T.float
    device = T.device("cpu")
    x = T.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), device=device,
                 dtype=dtype)
    w1 = T.tensor(np.ones((3, 2), dtype=np.float32), device=device, dtype=dtype,
                  requires_grad=True)
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    loss = (h_relu - 1).pow(2).sum()
    loss.backward()
    grad_h = h.detach().clone()
    grad_h[h < 0] = 0
    with T.no_grad():
        w1 -= 1e-2 * w1.grad
        w1.grad = None
    return loss.item(), w1, grad_h


@idiom
def model_structure(T: Any) -> Any:
    return str(_net(T))


@idiom
def grad_fn_two_steps_back(T: Any) -> Any:
    x = T.tensor([1.0, 2.0], requires_grad=True)
    w = T.tensor([3.0, 4.0], requires_grad=True)
    loss = ((x * w).sum() - 1) ** 2
    sub = loss.grad_fn.next_functions[0][0]
    mul = sub.next_functions[0][0].next_functions[0][0]
    return (len(sub.next_functions), sub.next_functions[1][0] is None,
            [f.variable is v for (f, _), v in zip(mul.next_functions, (x, w), strict=True)])


@idiom
def requires_grad_off(T: Any) -> Any:
    x = T.ones(2, requires_grad=True)
    x.requires_grad_(False)
    return x.requires_grad, (x * 2).requires_grad


@idiom
def grad_is_none_before_backward(T: Any) -> Any:
    x = T.ones(2, requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.sum().backward()
    return T.ones(1, requires_grad=True).grad is None, y.grad, x.grad


@idiom
def arange_variants(T: Any) -> Any:
    return T.arange(0, 10, 2), T.arange(5.0), T.arange(1, 2, 0.25), T.linspace(-1, 1, 5)


@idiom
def randn_with_device_and_dtype(T: Any) -> Any:
    device = T.device("cpu")
    dtype = T.float
    x = T.randn(64, 10, device=device, dtype=dtype)
    return x.shape, x.dtype, x.device == device, T.randn((2, 3)).shape


@idiom
def sum_of_squares_loss(T: Any) -> Any:
    y_pred = T.tensor(A)
    y = T.tensor(A * 0.5)
    loss_fn = T.nn.MSELoss(reduction="sum")
    return loss_fn(y_pred, y), (y_pred - y).pow(2).sum().item()


@idiom
def sgd_momentum_steps(T: Any) -> Any:
    w = T.tensor([1.0, -1.0], requires_grad=True)
    optimizer = T.optim.SGD([w], lr=0.1, momentum=0.9)
    for _ in range(3):
        optimizer.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        optimizer.step()
    return w


@idiom
def custom_function(T: Any) -> Any:
    class LegendrePolynomial3(T.autograd.Function):
        @staticmethod
        def forward(ctx: Any, input: Any) -> Any:  # noqa: A002 - the tutorial's name
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx: Any, grad_output: Any) -> Any:
            (input,) = ctx.saved_tensors  # noqa: A001
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    x = T.tensor([0.5, -1.0], requires_grad=True)
    P3 = LegendrePolynomial3.apply
    P3(x).sum().backward()
    return x.grad


@idiom
def num_flat_features(T: Any) -> Any:
    x = T.ones(2, 3, 4)
    size = x.size()[1:]
    num_features = 1
    for s in size:
        num_features *= s
    return num_features, x.view(-1, num_features).shape


@idiom
def softmax_probabilities(T: Any) -> Any:
    logits = T.tensor(A)
    softmax = T.nn.Softmax(dim=1)
    pred_probab = softmax(logits)
    return pred_probab.sum(1), pred_probab.argmax(1), f"Predicted class: {pred_probab.argmax(1)}"


# ---------------------------------------------------------------- errors


@idiom
def error_requires_grad_on_ints(T: Any) -> Any:
    return T.tensor([1, 2], requires_grad=True)


@idiom
def error_item_of_many(T: Any) -> Any:
    return T.ones(2).item()


@idiom
def error_matmul_shapes(T: Any) -> Any:
    return T.ones(2, 3) @ T.ones(2, 3)


@idiom
def error_view_shape(T: Any) -> Any:
    return T.ones(2, 3).view(4)


@idiom
def error_backward_of_non_scalar(T: Any) -> Any:
    x = T.ones(2, requires_grad=True)
    (x * 2).backward()


@idiom
def error_in_place_on_leaf(T: Any) -> Any:
    x = T.ones(2, requires_grad=True)
    x.add_(1)


@idiom
def error_index_out_of_range(T: Any) -> Any:
    return T.ones(2, 3)[2]


@idiom
def error_default_dtype(T: Any) -> Any:
    T.set_default_dtype(T.int64)


@idiom
def error_bool_mask_of_wrong_shape(T: Any) -> Any:
    return T.ones(3)[T.tensor([True, False])]


@idiom
def error_float_index(T: Any) -> Any:
    return T.ones(3)[T.tensor([0.0, 1.0])]


@idiom
def error_bool_of_many(T: Any) -> Any:
    return bool(T.ones(2))


# ---------------------------------------------------------------- comparison


def plain(x: Any) -> Any:
    """Library-neutral data: tensors as (dtype, shape, values), dtypes as names."""
    if isinstance(x, (cr.Tensor, torch.Tensor)):
        data = x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x.data)
        return ("tensor", _dtype_name(x.dtype), tuple(x.shape), data)
    if isinstance(x, np.ndarray):  # chainrule's .grad is a NumPy array
        return ("tensor", x.dtype.name, x.shape, x)
    if isinstance(x, (torch.dtype, np.dtype)):
        return _dtype_name(x)
    if isinstance(x, (tuple, list)) or type(x).__name__ in ("max", "min", "MaxMin"):
        return [plain(i) for i in x]
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    return x


def _dtype_name(d: Any) -> str:
    return str(d).removeprefix("torch.")


def assert_same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, tuple) and a and a[0] == "tensor":
        assert isinstance(b, tuple) and b[0] == "tensor", where
        assert a[1:3] == b[1:3], f"{where}: {a[1:3]} vs {b[1:3]}"
        np.testing.assert_allclose(a[3].astype(float), b[3].astype(float), rtol=2e-6,
                                   atol=1e-6, err_msg=where)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: {a} vs {b}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=2e-6, abs=1e-6), where
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def _run(fn: Callable[[Any], Any], lib: Any) -> tuple[str, Any]:
    try:
        return "ok", plain(fn(lib))
    except Exception as exc:  # noqa: BLE001 - the error's kind is compared
        return "error", exc


ERROR_KINDS = (IndexError, TypeError, ValueError, RuntimeError)


@pytest.mark.parametrize("name", list(IDIOMS))
def test_idiom_matches_torch(name: str) -> None:
    fn = IDIOMS[name]
    state_t, out_t = _run(fn, torch)
    state_c, out_c = _run(fn, cr)
    if state_t == "error":
        assert state_c == "error", f"{name}: torch raised {out_t!r}, chainrule returned {out_c}"
        kind = next(k for k in ERROR_KINDS if isinstance(out_t, k))
        assert isinstance(out_c, kind), f"{name}: torch {out_t!r}, chainrule {out_c!r}"
        assert "\n" not in str(out_c)
        return
    assert state_c == "ok", f"{name}: chainrule raised {out_c!r}"
    assert_same(out_t, out_c, name)


def test_every_page_is_represented() -> None:
    assert len(IDIOMS) >= 70
    assert sum(name.startswith("error_") for name in IDIOMS) >= 8


def test_promotion_of_an_integer_input_replays_under_compile() -> None:
    """An int tensor meeting a float one becomes a cast node of the input (not a constant), so
    a compiled function sees each call's integers."""
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)

    @cr.compile
    def weighted(y: cr.Tensor) -> cr.Tensor:
        return (w * y).sum()

    for k in range(1, 5):
        y = cr.tensor([1, 2, 3]) * k
        assert y.dtype == np.int64
        w.grad = None
        loss = weighted(y)
        loss.backward()
        assert loss.item() == 14.0 * k
        np.testing.assert_array_equal(np.asarray(w.grad), [k, 2 * k, 3 * k])
    assert (w * cr.tensor([1, 2, 3])).dtype == np.float32  # the float's dtype, as torch
