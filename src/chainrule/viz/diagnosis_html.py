"""A diagnosis as one HTML fragment (Jupyter's ``_repr_html_``, reports): from ``to_dict()``.

It draws the plain dict every face shares, so a chainrule model's and a PyTorch model's
diagnoses look alike; the per-layer speed of learning is an inline SVG bar chart (log scale),
no script and no network.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

__all__ = ["diagnosis_html", "speed_svg"]

_COLOURS = {"problem": "#C0392B", "warning": "#B8860B", "note": "#2A6EA6", "ok": "#2E8B57"}


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        if x == 0.0:
            return "0"
        if abs(x) >= 1e4 or abs(x) < 1e-3:
            return f"{x:.{digits - 1}e}"
        return f"{x:.{digits}g}"
    return escape(str(x))


def speed_svg(layers: list[dict[str, Any]], width: int = 360, height: int = 120) -> str:
    """Bars of ‖∂C/∂b‖ per layer on a log scale (empty bars where it is 0 or unknown)."""
    values = [layer.get("speed") for layer in layers]
    logs = [math.log10(v) for v in values if isinstance(v, float) and v > 0.0]
    if not logs:
        return ""
    top, bottom = max(logs), min(logs)
    span = max(top - bottom, 1.0)
    bar = width / max(len(values), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 16}" '
             'role="img" aria-label="speed of learning per layer">']
    for i, v in enumerate(values):
        x = i * bar + 2
        if isinstance(v, float) and v > 0.0:
            h = max(2.0, (math.log10(v) - bottom + 0.15 * span) / (1.15 * span) * height)
            parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar - 4:.1f}" '
                         f'height="{h:.1f}" fill="#2A6EA6"><title>layer {i + 1}: '
                         f'{_num(v)}</title></rect>')
        parts.append(f'<text x="{x + (bar - 4) / 2:.1f}" y="{height + 13}" font-size="11" '
                     f'text-anchor="middle">{i + 1}</text>')
    parts.append("</svg>")
    return "".join(parts)


def diagnosis_html(d: dict[str, Any]) -> str:
    """The verdict, the findings by severity, the advice, the layer table, the replay."""
    verdict = escape(str(d.get("verdict")))
    colour = "#2E8B57" if d.get("verdict") == "healthy" else "#C0392B"
    out = [f'<div class="chainrule-diagnosis"><p><b>verdict:</b> '
           f'<span style="color:{colour};font-weight:bold">{verdict}</span>']
    if d.get("first_nonfinite"):
        out.append(f" — NaN/Inf first in <code>{escape(str(d['first_nonfinite']))}</code>")
    out.append("</p><ul>")
    order = {"problem": 0, "warning": 1, "note": 2, "ok": 3}
    for f in sorted(d.get("findings", []), key=lambda f: order.get(f.get("severity"), 4)):
        sev = str(f.get("severity"))
        out.append(f'<li><span style="color:{_COLOURS.get(sev, "black")}">{escape(sev)}</span> '
                   f"{escape(str(f.get('message')))}</li>")
    out.append("</ul>")
    if d.get("suggestions"):
        out.append("<p><b>try:</b></p><ul>")
        for s in d["suggestions"]:
            out.append(f"<li><code>{escape(s['flags'])}</code> ({escape(s['summary'])}) — "
                       f"{escape(s['why'])}</li>")
        out.append("</ul>")
    layers = d.get("layers", [])
    out.append(speed_svg(layers))
    out.append('<table><tr><th>layer</th><th>units</th><th>activation</th><th>‖∂C/∂b‖</th>'
               "<th>÷ last</th><th>upd/w</th><th>saturated</th><th>dead</th><th>NaN</th></tr>")
    for r in layers:
        pct = [("—" if r.get(k) is None else f"{r[k]:.0%}")
               for k in ("saturated_fraction", "dead_fraction")]
        out.append(
            f"<tr><td>{escape(str(r.get('name')))}</td><td>{_num(r.get('units'))}</td>"
            f"<td>{escape(str(r.get('activation') or 'linear'))}</td>"
            f"<td>{_num(r.get('speed'))}</td><td>{_num(r.get('ratio_to_last'))}</td>"
            f"<td>{_num(r.get('update_ratio'))}</td><td>{pct[0]}</td><td>{pct[1]}</td>"
            f"<td>{'yes' if r.get('nonfinite') else ''}</td></tr>")
    out.append("</table>")
    replay = d.get("replay")
    if replay:
        before = replay["before"]
        out.append("<p><b>fixes replayed</b> (test accuracy after "
                   f"{replay['budget']['epochs']} epoch(s)):</p><table><tr><th>change</th>"
                   "<th>accuracy</th><th>Δ</th><th>effect</th></tr>")
        out.append(f"<tr><td>as it is</td><td>{_num(before['accuracy'][-1])}</td><td></td>"
                   "<td></td></tr>")
        for o in replay["outcomes"]:
            out.append(f"<tr><td><code>{escape(o['suggestion']['flags'])}</code></td>"
                       f"<td>{_num(o['run']['accuracy'][-1])}</td>"
                       f"<td>{_num(o['accuracy_change'])}</td><td>{escape(o['effect'])}</td></tr>")
        out.append("</table>")
    out.append("</div>")
    return "".join(out)
