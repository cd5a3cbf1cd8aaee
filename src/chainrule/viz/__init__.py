"""Pictures of graphs: graph → plain dict → DOT → SVG/PNG, and the Jupyter displays.

Only the standard library is imported here (Graphviz runs as a subprocess), so ``Value`` and
``Tensor`` can attach :func:`repr_svg` / :func:`repr_html` without making ``import chainrule``
heavier.
"""

from __future__ import annotations

from html import escape
from typing import Any

from chainrule.errors import ChainruleError
from chainrule.viz.dot import fmt, to_dot
from chainrule.viz.graph_dict import Trace, graph_dict, trace
from chainrule.viz.render import RenderError, render_dot, svg_inline

__all__ = [
    "JUPYTER_MAX_NODES",
    "RenderError",
    "Trace",
    "draw",
    "graph_dict",
    "render_dot",
    "repr_html",
    "repr_svg",
    "to_dot",
    "trace",
]

JUPYTER_MAX_NODES = 60
"""A notebook cell draws at most this many nodes; the rest are folded into one."""


def draw(node: Any, fmt: str = "svg", *, max_nodes: int = 80, title: str = "") -> bytes:
    """The circuit that computed ``node`` as SVG or PNG bytes."""
    return render_dot(to_dot(graph_dict(node), max_nodes=max_nodes, title=title), fmt)


def repr_svg(node: Any) -> str | None:
    """``_repr_svg_`` for engine nodes: the circuit as SVG, or ``None`` if it cannot be drawn.

    ``None`` tells Jupyter to fall back to the next representation (``repr``).
    """
    try:
        return draw(node, "svg", max_nodes=JUPYTER_MAX_NODES).decode()
    except ChainruleError:  # no renderer, or a graph that cannot be traced: show repr instead
        return None


def repr_html(node: Any) -> str:
    """``_repr_html_`` for engine nodes: the inline SVG, or a table when Graphviz is missing."""
    graph = graph_dict(node)
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
