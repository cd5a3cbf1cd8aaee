"""A graph dict (see :mod:`chainrule.viz.graph_dict`) as Graphviz DOT text, drawn like CS231n.

Gates are circles showing their op (``+``, ``×``, ``σ``, ``exp`` …); inputs are boxes. Every wire
carries its forward value above it (green) and, below it in red, the gradient flowing back along
it: ∂root/∂(value on the wire) as seen through that one wire, which for a variable used twice is
that wire's share (fan-out: the shares sum to the variable's gradient, shown in its box).

The value/gradient pair sits *on* the wire: each edge is drawn through a small label node whose
middle row is a one-pixel rule, so the line runs between the two numbers the way the notes draw
it (a plain DOT edge label would put both numbers on one side).

Graphs with more than ``max_nodes`` nodes keep the ``max_nodes`` nodes nearest the output and fold
the rest into one node that says how many were folded.
"""

from __future__ import annotations

from collections import deque
from html import escape
from typing import Any

from chainrule.i18n import _, ngettext, number

__all__ = ["VALUE_COLOR", "GRAD_COLOR", "fmt", "to_dot"]

VALUE_COLOR = "#1a7f37"  # forward values: green, as in the CS231n figures
GRAD_COLOR = "#cf222e"  # gradients: red

_SYMBOLS = {
    "add": "+", "sub": "−", "mul": "×", "div": "÷", "neg": "−x", "pow": "^", "exp": "exp",
    "log": "log", "sigmoid": "σ", "tanh": "tanh", "relu": "relu", "maximum": "max",
    "minimum": "min", "abs": "|x|", "sqrt": "√", "matmul": "@", "matmul_t": "@ᵀ", "sum": "Σ",
    "transpose": "ᵀ",
}


def fmt(x: Any) -> str:
    """A number in at most four significant digits (``-12``, ``0.7311``, ``1e-07``), with the
    active language's decimal symbol (``0,7311`` in pt-BR).

    Array summaries become ``[shape] ‖norm‖``; ``None`` (unknown) becomes ``?``.
    """
    if x is None:
        return "?"
    if isinstance(x, dict):
        shape = "×".join(str(n) for n in x["shape"])
        return f"[{shape}] ‖{fmt(x['norm'])}‖"
    x = float(x)
    if x == 0.0:
        return "0"  # also hides the sign of -0.0, which means nothing to a reader
    return number(x, ".4g")


def _gate_text(node: dict[str, Any]) -> str:
    # A gate's own label (micrograd users name intermediate nodes) wins over its op symbol.
    return str(node["label"] or _SYMBOLS.get(node["op"], node["op"]))


def _keep(graph: dict[str, Any], max_nodes: int) -> set[int]:
    """The ids of the ``max_nodes`` nodes nearest the output (breadth-first from the root)."""
    nodes = graph["nodes"]
    if len(nodes) <= max_nodes:
        return {n["id"] for n in nodes}
    inputs = {n["id"]: n["inputs"] for n in nodes}
    root = nodes[-1]["id"]
    kept: set[int] = {root}
    queue = deque([root])
    while queue and len(kept) < max_nodes:
        for src in inputs[queue.popleft()]:
            if src not in kept and len(kept) < max_nodes:
                kept.add(src)
                queue.append(src)
    return kept


def _wire(name: str, value: Any, grad: Any, tip: str) -> str:
    row = '<TR><TD><FONT COLOR="{}" POINT-SIZE="10">{}</FONT></TD></TR>'
    table = (
        '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        + row.format(VALUE_COLOR, escape(fmt(value)))
        + '<TR><TD PORT="w" HEIGHT="1" WIDTH="36" BGCOLOR="#444444"></TD></TR>'
        + row.format(GRAD_COLOR, escape(fmt(grad)))
        + "</TABLE>"
    )
    return f'  {name} [shape=plain, label=<{table}>, tooltip="{_q(tip)}"];'


def _q(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(graph: dict[str, Any], *, max_nodes: int = 80, title: str = "") -> str:
    """DOT text for ``graph`` (a graph dict), left to right, output on the right."""
    nodes = graph["nodes"]
    kept = _keep(graph, max_nodes)
    folded = len(nodes) - len(kept)
    circuit_word, folded_word = _("circuit"), _("folded")
    out_degree: dict[int, int] = {}
    for e in graph["edges"]:
        out_degree[e["source"]] = out_degree.get(e["source"], 0) + 1

    lines = [
        "digraph circuit {",
        '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.25, ranksep=0.3, '
        f'tooltip="{_q(title or circuit_word)}"];',
        '  node [fontname="Helvetica", fontsize=12];',
        '  edge [arrowsize=0.6, color="#444444", penwidth=1.2];',
    ]
    for n in nodes:
        if n["id"] not in kept:
            continue
        nid = f"n{n['id']}"
        if n["op"] is None:
            name = escape(n["label"] or fmt(n["value"]))
            rows = f"<B>{name}</B>"
            if out_degree.get(n["id"], 0) > 1 and n["grad"] is not None:
                total = escape(fmt(n["grad"]))
                rows += f'<BR/><FONT COLOR="{GRAD_COLOR}" POINT-SIZE="10">Σ {total}</FONT>'
            lines.append(f'  {nid} [shape=box, style="rounded", width=0.3, height=0.3, '
                         f'margin="0.08,0.03", label=<{rows}>];')
        else:
            text = escape(_gate_text(n))
            lines.append(f'  {nid} [shape=circle, width=0.45, margin=0.02, label=<{text}>, '
                         f'tooltip="{_q(n["op"])}"];')
    if folded:
        more = ngettext("{count} more node", "{count} more nodes", folded).format(count=folded)
        lines.append(f'  folded [shape=note, style=dashed, '
                     f'label="{_q(more)}\\n{_q(folded_word)}"];')

    fold_targets: set[int] = set()
    for k, e in enumerate(graph["edges"]):
        src, dst = e["source"], e["target"]
        if dst not in kept:
            continue
        if src not in kept:
            if dst not in fold_targets:  # one dashed wire per gate fed by the folded part
                fold_targets.add(dst)
                lines.append(f"  folded -> n{dst} [style=dashed];")
            continue
        tip = _("local gradient {local}, contribution {contribution}").format(
            local=fmt(e["local_grad"]), contribution=fmt(e["contribution"]))
        lines.append(_wire(f"w{k}", e["value"], e["contribution"], tip))
        lines.append(f"  n{src} -> w{k}:w:w [arrowhead=none];")
        lines.append(f"  w{k}:w:e -> n{dst};")

    root = nodes[-1] if nodes else None
    if root is not None:
        label = escape(root["label"] or "out")
        lines.append(_wire("wout", root["value"], root["grad"], _("output")))
        lines.append(f"  n{root['id']} -> wout:w:w [arrowhead=none];")
        lines.append(f'  out [shape=plaintext, label=<<B>{label}</B>>];')
        lines.append("  wout:w:e -> out;")
    above, below = escape(_("values above the wires")), escape(_("gradients below them"))
    legend = (f'<FONT COLOR="{VALUE_COLOR}">{above}</FONT>, '
              f'<FONT COLOR="{GRAD_COLOR}">{below}</FONT>')
    if title:
        legend = f"{escape(title)}<BR/>" + legend
    lines.append(f'  label=<{legend}>; labelloc=b; fontsize=11;')
    lines.append("}")
    return "\n".join(lines) + "\n"
