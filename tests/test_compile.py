"""chainrule.compile: a replayed plan gives the eager gradients, retraces, and falls back."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule
from chainrule import nn, optim, tensor
from chainrule.compiler import CompiledLoss, CompileWarning
from chainrule.errors import GraphError, ShapeError
from chainrule.graph import listen
from chainrule.nn import functional as F  # noqa: N812 - torch's alias

RNG = np.random.default_rng(7)

# Every layer of chainrule.nn, in a small network each (activations between Linear layers).
LAYERS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": lambda: nn.Sequential(nn.Linear(5, 4, rng=1), nn.Sigmoid(), nn.Linear(4, 3, rng=2)),
    "tanh": lambda: nn.Sequential(nn.Linear(5, 4, rng=1), nn.Tanh(), nn.Linear(4, 3, rng=2)),
    "relu": lambda: nn.Sequential(nn.Linear(5, 4, rng=1), nn.ReLU(), nn.Linear(4, 3, rng=2)),
    "leaky_relu": lambda: nn.Sequential(nn.Linear(5, 4, rng=1), nn.LeakyReLU(0.1),
                                        nn.Linear(4, 3, rng=2)),
    "identity": lambda: nn.Sequential(nn.Linear(5, 3, rng=1), nn.Identity()),
    "no_bias": lambda: nn.Sequential(nn.Linear(5, 3, bias=False, rng=1), nn.Sigmoid()),
    "mlp": lambda: nn.MLP([5, 4, 4, 3], activation="tanh", output_activation="linear", seed=3),
}

# Every loss of nn.functional with its target kind and every reduction.
LOSSES: dict[str, Callable[[Any, Any], Any]] = {
    "mse_mean": lambda z, y: F.mse_loss(z, y),
    "mse_sum": lambda z, y: F.mse_loss(z, y, reduction="sum"),
    "bce_mean": lambda z, y: F.binary_cross_entropy(z.sigmoid(), y),
    "bce_none": lambda z, y: F.binary_cross_entropy(z.sigmoid(), y, reduction="none").sum(),
    "bce_logits_sum_over_n": lambda z, y: F.binary_cross_entropy_with_logits(
        z, y, reduction="sum") / len(z),
    "bce_logits_mean": lambda z, y: F.binary_cross_entropy_with_logits(z, y),
    "bce_logits_none": lambda z, y: F.binary_cross_entropy_with_logits(
        z, y, reduction="none").mean(),
    "cross_entropy_probs": lambda z, y: F.cross_entropy(z, y),
    "cross_entropy_smoothed": lambda z, y: F.cross_entropy(z, y * 0.9 + 0.1 / 3),
}

OPTIMIZERS: dict[str, Callable[[list[Any]], optim.Optimizer]] = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd_momentum_decay": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=1e-4),
}


def _batches(n: int, sizes: tuple[int, ...] = (8, 8, 8, 5), dtype: Any = np.float64,
             ) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for batch in sizes[:n]:
        x = RNG.standard_normal((batch, 5)).astype(dtype)
        y = np.eye(3, dtype=dtype)[RNG.integers(0, 3, batch)]
        out.append((x, y))
    return out


def _train(model: nn.Module, opt: optim.Optimizer, step: Callable[..., Any],
           batches: list[tuple[np.ndarray, np.ndarray]]) -> list[list[np.ndarray]]:
    """Gradients of every step (the parameters are updated between steps)."""
    grads = []
    for x, y in batches:
        loss = step(tensor(x), tensor(y))
        opt.zero_grad()
        loss.backward()
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
        opt.step()
    return grads


def _assert_same(eager: list[list[np.ndarray]], compiled: list[list[np.ndarray]]) -> None:
    for step, (ge, gc) in enumerate(zip(eager, compiled, strict=True)):
        for a, b in zip(ge, gc, strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=0.0, err_msg=f"step {step}")


def _pair(layer: str, loss: str, optimizer: str, batches: list[Any]) -> tuple[Any, Any, Any]:
    def make() -> tuple[nn.Module, optim.Optimizer]:
        model = LAYERS[layer]()
        return model, OPTIMIZERS[optimizer](model.parameters())

    eager_model, eager_opt = make()
    model, opt = make()
    fn = LOSSES[loss]
    compiled = chainrule.compile(lambda x, y: fn(model(x), y))
    eager = _train(eager_model, eager_opt, lambda x, y: fn(eager_model(x), y), batches)
    replayed = _train(model, opt, compiled, batches)
    return eager, replayed, compiled


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_every_layer_gives_the_eager_gradients(layer: str) -> None:
    eager, replayed, compiled = _pair(layer, "bce_logits_sum_over_n", "sgd", _batches(4))
    _assert_same(eager, replayed)
    plans = [p for p in compiled.plans.values() if p is not None]
    assert len(plans) == 2  # batch 8, then the last batch of 5 traced again


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_gives_the_eager_gradients(loss: str) -> None:
    eager, replayed, _ = _pair("sigmoid", loss, "sgd", _batches(4))
    _assert_same(eager, replayed)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_every_optimizer_sees_the_same_gradients_and_updates(optimizer: str) -> None:
    eager, replayed, _ = _pair("tanh", "mse_mean", optimizer, _batches(4))
    _assert_same(eager, replayed)


def test_class_labels_passed_as_an_argument_are_read_on_every_call() -> None:
    def make() -> nn.Module:
        return LAYERS["relu"]()

    eager_model, model = make(), make()
    step = chainrule.compile(lambda x, labels: F.cross_entropy(model(x), labels))
    for x, y in _batches(4):
        labels = np.argmax(y, axis=1)  # int64: a target, never differentiated
        eager_model.zero_grad()
        model.zero_grad()
        F.cross_entropy(eager_model(tensor(x)), labels).backward()
        step(tensor(x), labels).backward()
        for a, b in zip(eager_model.parameters(), model.parameters(), strict=True):
            np.testing.assert_allclose(b.grad, a.grad, rtol=1e-12, atol=0.0)


def test_computation_on_inputs_inside_the_function_is_replayed() -> None:
    w = tensor(np.array([1.0, -1.0]), requires_grad=True)
    step = chainrule.compile(lambda x: ((x / 255.0 - 0.5) * w).sum())
    for k in range(3):
        x = np.array([255.0 * k, 51.0])
        assert step(tensor(x)).item() == pytest.approx((k - 0.5) - (0.2 - 0.5))


def test_the_replay_is_used_and_its_loss_is_the_eager_one() -> None:
    model = LAYERS["sigmoid"]()
    step = chainrule.compile(lambda x, y: F.binary_cross_entropy_with_logits(model(x), y))
    (x1, y1), (x2, y2) = _batches(2)
    first = step(tensor(x1), tensor(y1))
    second = step(tensor(x2), tensor(y2))
    assert not isinstance(first, CompiledLoss)  # the trace itself runs eagerly
    assert isinstance(second, CompiledLoss)
    expected = F.binary_cross_entropy_with_logits(model(tensor(x2)), tensor(y2))
    assert second.item() == expected.item()
    assert float(second) == expected.item()


def test_float32_stays_float32() -> None:
    def make() -> nn.Module:
        return nn.Sequential(nn.Linear(5, 4, dtype=np.float32, rng=1), nn.Sigmoid(),
                             nn.Linear(4, 3, dtype=np.float32, rng=2))

    LAYERS["float32"] = make
    try:
        eager, replayed, compiled = _pair("float32", "bce_logits_sum_over_n", "sgd",
                                          _batches(3, dtype=np.float32))
    finally:
        del LAYERS["float32"]
    assert replayed[-1][0].dtype == np.float32
    assert all(plan is not None for plan in compiled.plans.values())
    _assert_same(eager, replayed)


def test_a_parameter_used_twice_sums_its_gradients_as_eager() -> None:
    w = tensor(RNG.standard_normal((3, 3)), requires_grad=True)
    w_eager = tensor(w.data.copy(), requires_grad=True)

    def f(x: Any, w: Any) -> Any:
        h = (x @ w).tanh()
        return ((h @ w) * (h @ w.T) + w.sum()).sum()  # w fans out to four uses

    step = chainrule.compile(lambda x: f(x, w))
    for _ in range(3):
        x = RNG.standard_normal((4, 3))
        w.grad = w_eager.grad = None
        step(tensor(x)).backward()
        f(tensor(x), w_eager).backward()
        np.testing.assert_allclose(w.grad, w_eager.grad, rtol=1e-12, atol=0.0)


def test_parameter_updates_between_calls_are_seen() -> None:
    w = tensor(np.array([1.0, 2.0]), requires_grad=True)
    step = chainrule.compile(lambda x: (x * w).sum())
    x = tensor(np.array([3.0, 4.0]))
    assert step(x).item() == 11.0
    w.data -= 1.0  # in place, as optimizers do
    assert step(x).item() == 4.0
    w.data = np.array([10.0, 0.0])  # a new array of the same shape
    loss = step(x)
    assert loss.item() == 30.0
    loss.backward()
    np.testing.assert_array_equal(w.grad, [3.0, 4.0])


def test_a_parameter_that_changes_shape_is_an_error_not_a_wrong_answer() -> None:
    w = tensor(np.ones(2), requires_grad=True)
    step = chainrule.compile(lambda x: (x * w).sum())
    step(tensor(np.ones(2)))
    step(tensor(np.ones(2)))
    w.data = np.ones(3)
    with pytest.raises(ShapeError, match="changed shape"):
        step(tensor(np.ones(2)))


def test_a_new_batch_size_traces_again() -> None:
    w = tensor(np.ones(4), requires_grad=True)
    step = chainrule.compile(lambda x: (x * w).sum() / len(x))
    for n in (3, 3, 7, 3, 7):
        x = np.arange(4.0 * n).reshape(n, 4)
        w.grad = None
        step(tensor(x)).backward()
        np.testing.assert_allclose(w.grad, x.sum(axis=0) / n, rtol=1e-15)
    assert len(step.plans) == 2


def test_an_input_that_requires_grad_gets_its_gradient() -> None:
    w = tensor(np.array([2.0, -1.0]), requires_grad=True)
    step = chainrule.compile(lambda x: (x * x * w).sum())
    for value in ([1.0, 2.0], [3.0, -4.0]):
        x = tensor(np.array(value), requires_grad=True)
        step(x).backward()
        np.testing.assert_allclose(x.grad, 2.0 * np.array(value) * w.data)


def test_arrays_and_python_values_are_accepted_and_part_of_the_signature() -> None:
    w = tensor(np.ones(3), requires_grad=True)
    step = chainrule.compile(lambda x, scale: (x * w).sum() * scale)
    x = np.array([1.0, 2.0, 3.0])
    assert step(x, 2.0).item() == 12.0
    assert step(x, 2.0).item() == 12.0
    assert step(x, 3.0).item() == 18.0  # a new value: a new trace, not a frozen 2.0
    assert len(step.plans) == 2


def test_backward_after_the_next_call_is_refused() -> None:
    w = tensor(np.ones(2), requires_grad=True)
    step = chainrule.compile(lambda x: (x * w).sum())
    step(tensor(np.ones(2)))
    old = step(tensor(np.ones(2)))
    step(tensor(np.zeros(2)))
    with pytest.raises(GraphError, match="called again"):
        old.backward()


def test_threads_sharing_a_compiled_step_get_their_own_answers() -> None:
    import threading

    w = tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    step = chainrule.compile(lambda x: (x * w).tanh().sum())
    step(tensor(np.ones(3)))
    step(tensor(np.ones(3)))
    wrong: list[str] = []

    def work(k: float) -> None:
        for _ in range(200):
            x = np.full(3, k)
            got = step(tensor(x)).item()
            if got != float(np.tanh(x * w.data).sum()):
                wrong.append(f"{k}: {got}")

    threads = [threading.Thread(target=work, args=(k,)) for k in (0.1, 0.2, 0.3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong


def test_a_result_kept_by_the_caller_is_not_overwritten() -> None:
    w = tensor(np.ones(2), requires_grad=True)
    step = chainrule.compile(lambda x: (x * w).sum())
    losses = [step(tensor(np.full(2, float(k)))) for k in range(4)]
    assert [loss.item() for loss in losses] == [0.0, 2.0, 4.0, 6.0]


def _warns_and_stays_eager(step: Any, calls: list[tuple[Any, ...]], match: str) -> list[Any]:
    results = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for args in calls:
            results.append(step(*args))
    messages = [str(w.message) for w in caught if issubclass(w.category, CompileWarning)]
    assert len(messages) == 1 and match in messages[0], messages
    assert all(not isinstance(r, CompiledLoss) for r in results)
    return results


def test_a_value_read_in_python_falls_back_to_eager_with_a_warning() -> None:
    w = tensor(np.ones(2), requires_grad=True)
    # x.data leaves the engine: the trace would freeze the first batch's numbers.
    step = chainrule.compile(lambda x: (tensor(x.data * 2.0) * w).sum())
    results = _warns_and_stays_eager(
        step, [(tensor(np.full(2, float(k))),) for k in range(3)], "differs from the eager")
    assert [r.item() for r in results] == [0.0, 4.0, 8.0]


def test_a_view_of_an_input_falls_back_to_eager_with_a_warning() -> None:
    w = tensor(np.ones(2), requires_grad=True)
    # from_numpy shares memory (chainrule.tensor copies, as torch.tensor does).
    step = chainrule.compile(lambda x: (chainrule.from_numpy(x.data[::-1]) * w).sum())
    results = _warns_and_stays_eager(
        step, [(tensor(np.array([1.0, float(k)])),) for k in range(2)], "view of an input")
    assert [r.item() for r in results] == [1.0, 2.0]


def test_a_result_that_is_not_one_number_falls_back_with_a_warning() -> None:
    w = tensor(np.ones(2), requires_grad=True)
    step = chainrule.compile(lambda x: x * w)
    results = _warns_and_stays_eager(step, [(tensor(np.ones(2)),), (tensor(np.ones(2)),)],
                                     "shape (2,)")
    results[1].backward(np.ones(2))
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])


def test_a_no_grad_value_in_the_graph_falls_back_with_a_warning() -> None:
    w = tensor(np.ones(2), requires_grad=True)

    def fn(x: Any) -> Any:
        with chainrule.no_grad():
            scale = x * 2.0
        return (scale * w).sum()

    step = chainrule.compile(fn)
    results = _warns_and_stays_eager(step, [(tensor(np.ones(2)),), (tensor(np.ones(2) * 3),)],
                                     "no_grad")
    assert [r.item() for r in results] == [4.0, 12.0]


def test_listeners_see_the_eager_graph() -> None:
    w = tensor(np.ones(2), requires_grad=True)
    step = chainrule.compile(lambda x: (x * w).sum())
    step(tensor(np.ones(2)))
    step(tensor(np.ones(2)))
    events: list[Any] = []
    with listen(events.append):
        loss = step(tensor(np.ones(2)))
        loss.backward()
    assert not isinstance(loss, CompiledLoss)
    assert events


def test_the_plan_reads_as_a_list_of_gates() -> None:
    model = LAYERS["sigmoid"]()
    step = chainrule.compile(lambda x, y: F.binary_cross_entropy_with_logits(
        model(x), y, reduction="sum") / len(x))
    (x, y), = _batches(1)
    step(tensor(x), tensor(y))
    (plan,) = step.plans.values()
    assert plan is not None
    gates = [row["op"] for row in plan.describe() if row["kind"] == "gate"]
    # (``/ len(x)`` folds into the loss gate's scale: no gate of its own)
    assert gates == ["matmul_t", "add", "sigmoid", "matmul_t", "add", "bce_with_logits"]
    kinds = sorted(row["kind"] for row in plan.describe() if row["kind"] != "gate")
    # (the target y reaches the graph only as the loss gate's constant, read on every call)
    assert kinds == ["input", "parameter", "parameter", "parameter", "parameter"]
    assert "def backward" in plan.source and "vjp" in plan.source
    assert repr(plan) == "Plan(gates=6, parameters=4, inputs=1)"


def test_the_plan_draws_as_a_circuit() -> None:
    from chainrule.viz.dot import to_dot

    w = tensor(np.ones(3), requires_grad=True)
    step = chainrule.compile(lambda x: (x * w).tanh().sum())
    step(tensor(np.ones((2, 3))))
    (plan,) = step.plans.values()
    assert plan is not None
    graph = plan.graph_dict()
    assert [n["op"] for n in graph["nodes"]] == [None, None, "mul", "tanh", "sum"]
    assert graph["nodes"][2]["inputs"] == [0, 1] and len(graph["edges"]) == 4
    dot = to_dot(graph)
    assert dot.startswith("digraph circuit") and "tanh" in dot and "[2×3] ‖?‖" in dot


def test_compile_keeps_the_functions_name_and_is_exported() -> None:
    def loss_fn(x: Any) -> Any:
        return x.sum()

    compiled = chainrule.compile(loss_fn)
    assert compiled.__name__ == "loss_fn"
    assert "compile" in chainrule.__all__


def test_a_compiled_method_gets_its_instance() -> None:
    class Trainer:
        def __init__(self, scale: float) -> None:
            self.model = LAYERS["tanh"]()
            self.scale = scale

        @chainrule.compile
        def loss(self, x: Any, y: Any) -> Any:
            return F.mse_loss(self.model(x), y) * self.scale

    a, b = Trainer(1.0), Trainer(2.0)
    for x, y in _batches(3):
        la, lb = a.loss(tensor(x), tensor(y)), b.loss(tensor(x), tensor(y))
        assert lb.item() == pytest.approx(2.0 * la.item(), rel=1e-15)
        la.backward()
        lb.backward()
    assert isinstance(la, CompiledLoss) and isinstance(lb, CompiledLoss)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        np.testing.assert_allclose(pb.grad, 2.0 * pa.grad, rtol=1e-12)


def test_data_dependent_local_gradients_are_computed_on_every_call() -> None:
    # relu of a 0-d value: its local gradient is a Python float, 1 or 0 depending on the data.
    w = tensor(np.array(1.0), requires_grad=True)
    step = chainrule.compile(lambda x: (x * w).relu() + (x * w).maximum(tensor(0.5)))
    for value in (2.0, -3.0, 4.0, -1.0, 0.25):
        w.grad = None
        step(tensor(np.array(value))).backward()
        expected = value * (value > 0) + value * (value >= 0.5)
        assert w.grad == pytest.approx(expected), value
