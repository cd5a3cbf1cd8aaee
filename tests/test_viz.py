"""Pictures: the plain-dict serialisation, DOT text, rendering, folding and the Jupyter reprs."""

from __future__ import annotations

import html
import re

import pytest

from chainrule import viz
from chainrule.circuit import EXAMPLES, run
from chainrule.expr import parse
from chainrule.value import Value
from chainrule.viz import graph_dict, repr_html, repr_svg, to_dot
from chainrule.viz import render as render_module
from chainrule.viz.dot import GRAD_COLOR, VALUE_COLOR, fmt
from chainrule.viz.render import render

needs_graphviz = pytest.mark.skipif(render_module.find_renderer() is None,
                                    reason="no graphviz-pure or dot")


def simple() -> Value:
    out, _ = parse(EXAMPLES["simple"].expression).build(EXAMPLES["simple"].at)
    return out


def chain(n: int) -> Value:
    """A 3·n-gate circuit: n rounds of multiply, add and tanh."""
    x = Value(0.5, label="x")
    out = x
    for k in range(n):
        out = (out * Value(1.1, label=f"w{k}") + 0.1).tanh()
    return out


# ---------------------------------------------------------------- the plain dict


def test_graph_dict_of_simple() -> None:
    g = graph_dict(simple())
    ops = [n["op"] for n in g["nodes"]]
    assert ops == [None, None, "add", None, "mul"]
    assert [n["label"] for n in g["nodes"] if n["op"] is None] == ["x", "y", "z"]
    assert [n["grad"] for n in g["nodes"]] == [-4.0, -4.0, -4.0, 3.0, 1.0]
    assert [(e["source"], e["target"], e["local_grad"], e["contribution"]) for e in g["edges"]] \
        == [(0, 2, 1.0, -4.0), (1, 2, 1.0, -4.0), (2, 4, -4.0, -4.0), (3, 4, 3.0, 3.0)]


def test_graph_dict_leaves_grad_alone() -> None:
    out = simple()
    graph_dict(out)
    assert out.grad == 0.0 and out.inputs[1].grad == 0.0


def test_pow_const_gate_is_labelled_with_its_exponent() -> None:
    out, _ = parse("x**3").build({"x": 2.0})
    assert graph_dict(out)["nodes"][-1]["label"] == "^3"


def test_graph_dict_of_a_leaf() -> None:
    g = graph_dict(Value(2.0, label="a"))
    assert g == {"nodes": [{"id": 0, "op": None, "label": "a", "value": 2.0, "grad": 1.0,
                            "inputs": []}], "edges": []}


def test_no_grad_result_is_drawn_as_a_leaf() -> None:
    from chainrule.graph import no_grad

    with no_grad():
        out = Value(2.0) * 3.0
    g = graph_dict(out)
    assert [n["op"] for n in g["nodes"]] == [None]
    assert "<svg" in (repr_svg(out) or "<svg")


# ---------------------------------------------------------------- DOT text


def test_fmt() -> None:
    assert [fmt(x) for x in (-12.0, 0.7310585786, -0.0, 1e-7, 123456.0, None)] == [
        "-12", "0.7311", "0", "1e-07", "1.235e+05", "?"]
    assert fmt({"shape": [2, 3], "norm": 1.5}) == "[2×3] ‖1.5‖"


def test_dot_puts_values_above_and_gradients_below_each_wire() -> None:
    dot = to_dot(graph_dict(simple()), title="(x + y) * z")
    # The wire from the add gate to the multiply gate: value 3 above, gradient -4 below.
    wire = re.search(r"w2 \[shape=plain, label=<(.*?)>, tooltip", dot)
    assert wire is not None
    rows = re.findall(r'<FONT COLOR="(#\w+)"[^>]*>([^<]*)</FONT>', wire.group(1))
    assert rows == [(VALUE_COLOR, "3"), (GRAD_COLOR, "-4")]
    assert "n2 -> w2:w:w" in dot and "w2:w:e -> n4" in dot
    assert dot.count("->") == 2 * 5  # four edges and the output wire, two segments each


def test_dot_escapes_labels() -> None:
    a = Value(1.0, label='<b>&"')
    dot = to_dot(graph_dict(a * 2.0))
    assert "&lt;b&gt;&amp;" in dot and "<b>" not in dot


def test_large_graphs_are_folded() -> None:
    g = graph_dict(chain(100))
    dot = to_dot(g, max_nodes=20)
    folded = len(g["nodes"]) - 20
    assert f"{folded} more nodes" in dot
    assert dot.count("shape=circle") + dot.count("shape=box") == 20


# ---------------------------------------------------------------- rendering


@needs_graphviz
def test_svg_of_simple_shows_values_above_and_gradients_below() -> None:
    svg = viz.draw(simple(), "svg").decode()
    texts = [(colour.lower(), float(y), html.unescape(t)) for y, colour, t in re.findall(
        r'<text[^>]*y="([-\d.]+)"[^>]*fill="(#\w+)"[^>]*>([^<]*)</text>', svg)]
    numbers = [t for t in texts if re.fullmatch(r"-?[\d.]+", t[2])]
    # Each wire's label writes its value, then its gradient: pair them in document order.
    pairs = list(zip(numbers[::2], numbers[1::2], strict=True))
    assert len(pairs) == 5  # four wires and the output wire
    for value, grad in pairs:
        assert (value[0], grad[0]) == (VALUE_COLOR, GRAD_COLOR)
        assert value[1] < grad[1]  # SVG y grows downwards: the value is above the gradient
    assert sorted(v[2] for v, _ in pairs) == sorted(["-2", "5", "3", "-4", "-12"])
    assert sorted(g[2] for _, g in pairs) == sorted(["-4", "-4", "-4", "3", "1"])


@needs_graphviz
def test_png() -> None:
    assert viz.draw(simple(), "png").startswith(b"\x89PNG\r\n\x1a\n")


@needs_graphviz
def test_a_thirty_gate_circuit_renders() -> None:
    # Its speed is measured in benchmarks/, not asserted here.
    out = chain(10)
    assert sum(n["op"] is not None for n in graph_dict(out)["nodes"]) == 30
    svg = viz.draw(out, "svg")
    assert b"<svg" in svg


@needs_graphviz
def test_a_folded_thousand_node_graph_renders() -> None:
    assert b"more nodes" in viz.draw(chain(400), "svg", max_nodes=50)


def test_render_rejects_unknown_formats() -> None:
    with pytest.raises(render_module.RenderError, match="formats are svg, png"):
        render("digraph {}", "pdf")


@needs_graphviz
def test_render_reports_bad_dot() -> None:
    with pytest.raises(render_module.RenderError, match="failed"):
        render("digraph { a -> }")


def test_missing_renderer_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_module, "find_renderer", lambda: None)
    with pytest.raises(render_module.RenderError, match="pip install graphviz-pure"):
        render("digraph {}")


# ---------------------------------------------------------------- Jupyter


@needs_graphviz
def test_repr_svg_and_html() -> None:
    out = simple()
    svg = repr_svg(out)
    assert svg is not None and "<svg" in svg
    html = repr_html(out)
    assert html.startswith('<div class="chainrule-circuit"><svg')
    assert "<?xml" not in html


def test_reprs_without_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_module, "find_renderer", lambda: None)
    out = simple()
    assert repr_svg(out) is None  # Jupyter then falls back to the next representation
    html = repr_html(out)
    assert "<table" in html and "<td>mul</td>" in html and "<td>-12</td>" in html


def test_jupyter_folds_big_graphs() -> None:
    dot = to_dot(graph_dict(chain(100)), max_nodes=viz.JUPYTER_MAX_NODES)
    assert "more nodes" in dot


# ---------------------------------------------------------------- tensors


def test_tensor_graph_shows_shapes_and_norms() -> None:
    chainrule = pytest.importorskip("chainrule")
    if not hasattr(chainrule, "tensor"):
        pytest.skip("the array engine is not available")
    import numpy as np

    w = chainrule.tensor(np.ones((2, 3)), requires_grad=True)
    x = chainrule.tensor(np.full((3,), 2.0), requires_grad=True)
    loss = (w @ x).sum()
    g = graph_dict(loss)
    values = [n["value"] for n in g["nodes"]]
    assert {"shape": [2, 3], "norm": pytest.approx(6**0.5)} in values
    assert g["nodes"][-1]["value"] == 12.0
    w_node = next(n for n in g["nodes"] if n["value"] == {"shape": [2, 3],
                                                          "norm": pytest.approx(6**0.5)})
    assert w_node["grad"] == {"shape": [2, 3], "norm": pytest.approx(np.sqrt(6 * 4.0))}
    assert "[2×3] ‖2.449‖" in to_dot(g)


def test_circuit_graph_is_the_same_dict() -> None:
    c = run("(x + y) * z", EXAMPLES["simple"].at)
    assert c.graph == graph_dict(c.output_node)


# ---------------------------------------------------------------- stored gradients (notebooks)


def _labelled() -> tuple[Value, Value, Value, Value]:
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    return x, y, z, (x + y) * z


def test_stored_graph_before_backward_shows_no_gradients() -> None:
    from chainrule.viz import stored_graph_dict

    *_, f = _labelled()
    g = stored_graph_dict(f)
    assert [n["label"] for n in g["nodes"] if n["op"] is None] == ["x", "y", "z"]
    assert [n["value"] for n in g["nodes"]] == [-2.0, 5.0, 3.0, -4.0, -12.0]
    assert all(n["grad"] == 0.0 for n in g["nodes"])  # what a fresh Value holds
    assert f.grad == 0.0  # and nothing ran a backward pass behind the scenes


def test_stored_graph_shows_what_backward_stored_not_a_recomputation() -> None:
    from chainrule.viz import stored_graph_dict

    x, y, z, f = _labelled()
    f.backward()
    g = stored_graph_dict(f)
    assert [n["grad"] for n in g["nodes"]] == [-4.0, -4.0, -4.0, 3.0, 1.0]
    # A second backward() accumulates below the root (whose own .grad is the seed, 1, as in
    # micrograd): the picture shows the stored (doubled) numbers, where a fresh pass would show
    # the single ones.
    f.backward()
    g = stored_graph_dict(f)
    assert [n["grad"] for n in g["nodes"]] == [-8.0, -8.0, -8.0, 6.0, 1.0]
    assert graph_dict(f)["nodes"][0]["grad"] == -4.0
    x.grad = 123.0  # whatever is stored is what is drawn
    assert stored_graph_dict(f)["nodes"][0]["grad"] == 123.0
    assert [e["contribution"] for e in stored_graph_dict(f)["edges"]] == [123.0, -8.0, -8.0, 6.0]


def test_stored_graph_fan_out_wires_carry_no_share() -> None:
    from chainrule.viz import stored_graph_dict

    x = Value(3.0, label="x")
    f = x * x
    f.backward()
    g = stored_graph_dict(f)
    assert g["nodes"][0]["grad"] == 6.0
    assert [e["contribution"] for e in g["edges"]] == [None, None]


def test_stored_graph_of_a_tensor() -> None:
    import numpy as np

    from chainrule.tensor import Tensor
    from chainrule.viz import stored_graph_dict

    w = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True, label="W")
    v = Tensor(np.array([1.0, -1.0]), requires_grad=True, label="v")
    out = (w @ v).sum()
    g = stored_graph_dict(out)
    assert [n["label"] for n in g["nodes"] if n["op"] is None] == ["W", "v"]
    assert g["nodes"][0]["grad"] is None  # never differentiated
    out.backward()
    g = stored_graph_dict(out)
    assert g["nodes"][0]["grad"] == {"shape": [2, 2],
                                     "norm": pytest.approx(float(np.sqrt(4.0)))}
    assert g["nodes"][1]["grad"] == {"shape": [2], "norm": pytest.approx(float(np.hypot(4, 6)))}


@needs_graphviz
def test_notebook_picture_uses_the_stored_gradients() -> None:
    *_, f = _labelled()
    before = f._repr_svg_()
    assert before is not None and ">x<" in before and ">z<" in before
    assert f.grad == 0.0
    f.backward()
    f.backward()
    after = f._repr_html_() or ""
    texts = [html.unescape(t) for t in re.findall(r">([^<>]+)</text>", after)]
    assert "-8" in texts and "6" in texts  # the doubled gradients below the root, as stored
    assert viz.draw(f, "svg", grads="stored") != viz.draw(f, "svg")


def test_draw_refuses_an_unknown_grads_source() -> None:
    with pytest.raises(viz.RenderError, match="grads must be one of: computed, stored"):
        viz.draw(simple(), grads="fresh")
