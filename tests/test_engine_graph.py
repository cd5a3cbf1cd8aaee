"""The traversal: deterministic order, events, higher-order gradients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.graph import BackwardEvent


def test_toposort_is_deterministic_inputs_first() -> None:
    x, y, z = cr.Value(-2.0, label="x"), cr.Value(5.0, label="y"), cr.Value(-4.0, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    assert [n.label for n in cr.toposort(f)] == ["x", "y", "q", "z", "f"]


def test_events_describe_every_edge_with_fan_out() -> None:
    x = cr.Value(3.0, label="x")
    y = x * x
    events: list[BackwardEvent] = []
    with cr.listen(events.append):
        y.backward()
    assert [(e.index, e.upstream, e.local, e.contribution) for e in events] == [
        (0, 1.0, 3.0, 3.0),
        (1, 1.0, 3.0, 3.0),
    ]
    assert all(e.input is x and e.node is y for e in events)
    assert x.grad == sum(e.contribution for e in events)


def test_events_for_tensors_and_no_listener_after_the_block() -> None:
    a = cr.tensor([[1.0, 2.0]], requires_grad=True)
    seen: list[BackwardEvent] = []
    with cr.listen(seen.append):
        (a @ a.T).sum().backward()
    assert {e.node.op.name for e in seen} == {"sum", "matmul", "transpose"}
    assert all(e.local is None for e in seen if e.node.op.name == "matmul")
    (a * 2.0).sum().backward()
    assert len(seen) == 4


def test_second_derivatives_of_sigmoid_and_tanh_against_closed_forms() -> None:
    for z in (-2.0, 0.0, 0.7):
        x = cr.Value(z)
        (d1,) = cr.grad(x.sigmoid(), x, create_graph=True)
        (d2,) = cr.grad(d1, x)
        s = 1 / (1 + np.exp(-z))
        assert d1.data == pytest.approx(s * (1 - s), rel=1e-12)
        assert d2.data == pytest.approx(s * (1 - s) * (1 - 2 * s), rel=1e-12)
        t = cr.tensor([z], requires_grad=True)
        (g1,) = cr.grad(t.tanh().sum(), t, create_graph=True)
        (g2,) = cr.grad(g1.sum(), t)
        th = np.tanh(z)
        assert g2.item() == pytest.approx(-2 * th * (1 - th**2), rel=1e-12)


def test_hessian_vector_product_of_a_quadratic_form() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    h = a + a.T
    v = rng.standard_normal(4)
    w = cr.tensor(rng.standard_normal(4), requires_grad=True)
    f = (w @ (cr.tensor(a) @ w))  # f = wᵀAw, ∇f = (A+Aᵀ)w, ∇²f = A+Aᵀ
    (g,) = cr.grad(f, w, create_graph=True)
    np.testing.assert_allclose(g.data, h @ w.data, rtol=1e-12)
    (hv,) = cr.grad((g * v).sum(), w)
    np.testing.assert_allclose(hv.data, h @ v, rtol=1e-12)


def test_third_derivative_of_a_power() -> None:
    x = cr.Value(2.0)
    y = x**4
    (d1,) = cr.grad(y, x, create_graph=True)
    (d2,) = cr.grad(d1, x, create_graph=True)
    (d3,) = cr.grad(d2, x)
    assert (d1.data, d2.data, d3.data) == (32.0, 48.0, 48.0)


def test_grad_leaves_grad_attributes_alone_and_zero_for_unused_inputs() -> None:
    x, unused = cr.tensor([1.0], requires_grad=True), cr.tensor([5.0], requires_grad=True)
    gx, gu = cr.grad((x * 3.0).sum(), [x, unused])
    assert gx.data.tolist() == [3.0] and gu.data.tolist() == [0.0]
    assert x.grad is None


def test_gradcheck_names_the_input_and_element_on_failure() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)

    class Wrong(cr.Tensor):
        pass

    def broken(t: cr.Tensor) -> cr.Tensor:
        # Detaching one element hides it from backward: its analytic gradient is 0.
        return (t * t).sum() + t.detach()[2] * 5.0 * (t[2] * 0.0 + 1.0)

    with pytest.raises(cr.GradcheckError, match=r"input 0 element \(2,\): analytic 6 vs numer"):
        cr.gradcheck(broken, [x])


def test_gradcheck_refuses_float32_and_says_why() -> None:
    x = cr.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    with pytest.raises(cr.ChainruleError, match="float32.*need float64.*rounding"):
        cr.gradcheck(lambda t: t * 2.0, [x])


def test_no_grad_and_listeners_are_per_thread() -> None:
    import threading

    inside = threading.Event()
    release = threading.Event()
    seen_in_thread: list[BackwardEvent] = []

    def worker() -> None:
        with cr.no_grad(), cr.listen(seen_in_thread.append):
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(10)
    try:
        x = cr.Value(2.0)
        y = x * 3.0  # this thread still records a graph …
        y.backward()
        assert x.grad == 3.0 and y.inputs != ()
        assert seen_in_thread == []  # … and the other thread's listener hears nothing
    finally:
        release.set()
        thread.join()
    with cr.no_grad():
        with cr.no_grad():
            pass
        assert not cr.graph.grad_enabled()
    assert cr.graph.grad_enabled()


def test_fast_array_pass_matches_the_general_loop_on_random_graphs() -> None:
    # Without a listener Tensor.backward takes a leaner loop (chains handed on without the
    # dict); with one, the general loop. Both must give every leaf and retained node the same
    # gradient, with fan-out, broadcasting and retain_grad mixed in.
    rng = np.random.default_rng(0)
    compared = 0
    for _ in range(100):
        nodes = [cr.tensor(rng.standard_normal((3, 3)), requires_grad=True) for _ in range(3)]
        for _ in range(int(rng.integers(3, 15))):
            i, j = rng.integers(0, len(nodes), 2)
            x, y = nodes[i], nodes[j]
            pick = int(rng.integers(0, 6))
            node = [x + y, x * y, (x - y).tanh(), x.sigmoid() * 2.0, (x @ y.T) @ x * 0.1,
                    x + y[0]][pick]
            if rng.random() < 0.2:
                node.retain_grad()
            nodes.append(node)
        out = sum((n * n).sum() for n in nodes[3:])
        out.backward()
        fast = [None if n.grad is None else n.grad.numpy().copy() for n in nodes]
        for n in nodes:
            n.grad = None
        with cr.listen(lambda event: None):
            out.backward()
        for f, n in zip(fast, nodes, strict=True):
            assert (f is None) == (n.grad is None)
            if f is not None:
                np.testing.assert_allclose(f, n.grad, rtol=1e-12, atol=1e-12)
                compared += 1
    assert compared > 300


# ---------------------------------------------------------------- scratch slots of the pass


def _scratch_is_clean(root: Any) -> bool:
    return all(n._g is None and n._n == 0 for n in cr.toposort(root))


def test_scratch_slots_are_clean_after_a_pass_on_both_engines() -> None:
    a, b = cr.Value(2.0), cr.Value(-3.0)
    c = a * b
    f = (c + a) * c  # c and a used twice: counts above 1
    f.backward()
    # f = (ab + a)·ab = a²b² + a²b, so ∂f/∂a = 2ab² + 2ab = 36 − 12 = 24 and
    # ∂f/∂b = 2a²b + a² = −24 + 4 = −20 at a = 2, b = −3.
    assert (a.grad, b.grad) == (24.0, -20.0)
    assert _scratch_is_clean(f)
    x = cr.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    h = (x * x).sum(axis=1)
    y = (h * h.retain_grad()).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 4.0 * x.data * np.sum(x.data**2, axis=1, keepdims=True))
    np.testing.assert_allclose(h.grad, 2.0 * np.sum(x.data**2, axis=1))
    assert _scratch_is_clean(y)


def test_an_error_midway_leaves_no_scratch_and_the_next_pass_is_right() -> None:
    x = cr.Value(0.0)
    w = cr.Value(3.0)
    # The pass takes the root's last input first: d√x/dx at 0 raises while (w·w)·w, already
    # handed its gradient, and w·w still wait.
    f = (w * w) * w + x.sqrt()
    with pytest.raises(cr.NumericError):
        f.backward()
    assert _scratch_is_clean(f)
    w.grad = 0.0
    g = (w * w) * w  # a fresh pass over nodes of the graph that failed
    g.backward()
    assert w.grad == 27.0
    assert _scratch_is_clean(f) and _scratch_is_clean(g)


def test_an_interrupt_from_a_listener_leaves_no_scratch() -> None:
    x = cr.tensor(np.ones(3), requires_grad=True)
    y = ((x * 2.0).exp() * x).sum()

    def stop(event: BackwardEvent) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), cr.listen(stop):
        y.backward()
    assert _scratch_is_clean(y)
    y.backward()  # the same graph again, now to the end
    np.testing.assert_allclose(x.grad, np.exp(2.0) * 3.0)


def test_threads_with_their_own_graphs_may_share_leaves() -> None:
    import threading

    w = cr.Value(0.5)  # a parameter both threads use
    results: dict[int, list[bool]] = {0: [], 1: []}

    def work(k: int) -> None:
        for _ in range(300):
            xs = [cr.Value(float(j + k)) for j in range(20)]
            total = xs[0] * w
            for x in xs[1:]:
                total = total + x * w
            grads = cr.grad(total, [w, *xs])
            # ∂total/∂w = Σ x; ∂total/∂xⱼ = w: both exact in floating point
            exact = grads[0].data == sum(j + k for j in range(20)) \
                and all(g.data == 0.5 for g in grads[1:])
            results[k].append(exact)

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == [True] * 300 and results[1] == [True] * 300
