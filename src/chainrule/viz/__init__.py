"""Pictures of graphs: graph → plain dict → DOT → SVG/PNG, and the Jupyter displays.

Only the standard library is imported here (Graphviz runs as a subprocess), so ``Value`` and
``Tensor`` can attach :func:`repr_svg` / :func:`repr_html` without making ``import chainrule``
heavier.
"""

from __future__ import annotations

from html import escape
from typing import Any

from chainrule.errors import ChainruleError
from chainrule.i18n import _
from chainrule.viz.dot import fmt, to_dot
from chainrule.viz.graph_dict import Trace, graph_dict, stored_graph_dict, trace
from chainrule.viz.render import RenderError, render_dot, svg_inline

__all__ = [
    "GRADS",
    "JUPYTER_MAX_NODES",
    "RenderError",
    "Trace",
    "draw",
    "graph_dict",
    "render_dot",
    "repr_html",
    "repr_svg",
    "stored_graph_dict",
    "to_dot",
    "trace",
]

JUPYTER_MAX_NODES = 60
"""A notebook cell draws at most this many nodes; the rest are folded into one."""


GRADS = ("computed", "stored")
"""Where a picture's gradients come from: a fresh backward pass, or the nodes' ``.grad``."""


def draw(node: Any, fmt: str = "svg", *, max_nodes: int = 80, title: str = "",
         grads: str = "computed") -> bytes:
    """The circuit that computed ``node`` (a ``Value`` or a ``Tensor``) as SVG or PNG bytes.

    Every gate is drawn with its op; a leaf is named by its ``label=`` (``Value(2.0,
    label="x")``, ``Tensor(w, label="W")``), or shows its value when it has no label. Each wire
    carries its forward value above it (green) and its gradient below it (red).

    ``grads="computed"`` (the default) draws ∂node/∂(every node) from a backward pass of its
    own, run only for the picture (the nodes' ``.grad`` is left alone), with each wire's share
    of a fan-out. ``grads="stored"`` draws what the nodes hold now — each ``.grad`` as the last
    ``backward()`` left it — and computes nothing: this is what a notebook shows. ``fmt`` is
    ``"svg"`` or ``"png"``; graphs over ``max_nodes`` nodes are folded; ``title`` is drawn
    below. Raises :class:`RenderError` when no renderer is installed (``pip install
    graphviz-pure``)::

        from chainrule import Value
        from chainrule.viz import draw

        x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
        f = (x + y) * z
        f.backward()
        open("f.svg", "wb").write(draw(f, grads="stored"))
    """
    if grads not in GRADS:
        raise RenderError(_("grads must be one of: {choices}; got {grads!r}").format(
            choices=", ".join(GRADS), grads=grads))
    graph = stored_graph_dict(node) if grads == "stored" else graph_dict(node)
    return render_dot(to_dot(graph, max_nodes=max_nodes, title=title), fmt)


def repr_svg(node: Any) -> str | None:
    """``_repr_svg_`` for engine nodes: the stored values and ``.grad`` as SVG (see :func:`draw`).

    ``None`` tells Jupyter to fall back to the next representation (``repr``).
    """
    try:
        return draw(node, "svg", max_nodes=JUPYTER_MAX_NODES, grads="stored").decode()
    except ChainruleError:  # no renderer, or a graph that cannot be traced: show repr instead
        return None


def repr_html(node: Any) -> str:
    """``_repr_html_`` for engine nodes: the stored values and ``.grad`` as inline SVG, or as a
    table when Graphviz is missing. Nothing is recomputed."""
    graph = stored_graph_dict(node)
    try:
        svg = render_dot(to_dot(graph, max_nodes=JUPYTER_MAX_NODES), "svg").decode()
        return f'<div class="chainrule-circuit">{svg_inline(svg)}</div>'
    except RenderError as exc:
        return _table(graph, str(exc))


def _table(graph: dict[str, Any], note: str) -> str:
    rows = "".join(
        f"<tr><td>{n['id']}</td><td>{escape(n['op'] or 'input')}</td>"
        f"<td>{escape(n['label'])}</td><td>{escape(fmt(n['value']))}</td>"
        f"<td>{escape(fmt(n['grad']))}</td></tr>"
        for n in graph["nodes"][-JUPYTER_MAX_NODES:]
    )
    return (f'<table class="chainrule-circuit"><caption>{escape(note)}</caption>'
            "<tr><th>id</th><th>op</th><th>label</th><th>value</th><th>grad</th></tr>"
            f"{rows}</table>")
