"""A diagnosis as one HTML fragment (Jupyter's ``_repr_html_``, reports): from ``to_dict()``.

It draws the plain dict every face shares, so a chainrule model's and a PyTorch model's
diagnoses look alike; the per-layer speed of learning is an inline SVG bar chart (log scale),
no script and no network.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from chainrule.i18n import _, number

__all__ = ["diagnosis_html", "flow_figures", "save_report", "speed_svg"]

_COLOURS = {"problem": "#C0392B", "warning": "#B8860B", "note": "#2A6EA6", "ok": "#2E8B57"}


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        if x == 0.0:
            return "0"
        if abs(x) >= 1e4 or abs(x) < 1e-3:
            return number(x, f".{digits - 1}e")
        return number(x, f".{digits}g")
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
    label = escape(_("speed of learning per layer"))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 16}" '
             f'role="img" aria-label="{label}">']
    for i, v in enumerate(values):
        x = i * bar + 2
        if isinstance(v, float) and v > 0.0:
            h = max(2.0, (math.log10(v) - bottom + 0.15 * span) / (1.15 * span) * height)
            tip = escape(_("layer {n}: {value}").format(n=i + 1, value=_num(v)))
            parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar - 4:.1f}" '
                         f'height="{h:.1f}" fill="#2A6EA6"><title>{tip}</title></rect>')
        parts.append(f'<text x="{x + (bar - 4) / 2:.1f}" y="{height + 13}" font-size="11" '
                     f'text-anchor="middle">{i + 1}</text>')
    parts.append("</svg>")
    return "".join(parts)


def diagnosis_html(d: dict[str, Any]) -> str:
    """The verdict, the findings by severity, the advice, the layer table, the replay."""
    from chainrule.lab.verdict import severity_text, verdict_text

    verdict = escape(verdict_text(str(d.get("verdict"))))
    colour = "#2E8B57" if d.get("verdict") == "healthy" else "#C0392B"
    word = escape(_("verdict"))
    out = [f'<div class="chainrule-diagnosis"><p><b>{word}:</b> '
           f'<span style="color:{colour};font-weight:bold">{verdict}</span>']
    if d.get("first_nonfinite"):
        out.append(" — " + escape(_("(NaN/Inf first in layer {layer})").format(
            layer=d["first_nonfinite"])))
    out.append("</p><ul>")
    from chainrule.lab.verdict import SEVERITIES  # ok < note < warning < problem

    def worst_first(f: dict[str, Any]) -> int:
        sev = f.get("severity")
        return -SEVERITIES.index(sev) if sev in SEVERITIES else 1

    for f in sorted(d.get("findings", []), key=worst_first):
        sev = str(f.get("severity"))
        word = escape(severity_text(sev))
        out.append(f'<li><span style="color:{_COLOURS.get(sev, "black")}">{word}</span> '
                   f"{escape(str(f.get('message')))}</li>")
    out.append("</ul>")
    if d.get("suggestions"):
        out.append("<p><b>" + escape(_("try")) + ":</b></p><ul>")
        for s in d["suggestions"]:
            how = escape(s.get("how") or "") or f"<code>{escape(s['flags'])}</code>"
            out.append(f"<li>{how} ({escape(s['summary'])}) — {escape(s['why'])}</li>")
        out.append("</ul>")
    layers = d.get("layers", [])
    out.append(speed_svg(layers))
    if d.get("factors"):
        out.append("<p>" + escape(_("Nielsen's factors (share of the next layer's ‖∂C/∂b‖ each "
                                    "sigmoid/tanh layer passes back):")) + " " + "; ".join(
                       f"{escape(str(f['layer']))}: {_num(f['factor'])}" for f in d["factors"])
                   + "</p>")
    heads = (_("layer"), _("units"), _("activation"), "‖∂C/∂b‖", _("÷ last"), _("upd/w"),
             _("saturated"), _("dead"), "NaN")
    out.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in heads) + "</tr>")
    yes = escape(_("yes"))
    for r in layers:
        pct = [("—" if r.get(k) is None else number(r[k], ".0%"))
               for k in ("saturated_fraction", "dead_fraction")]
        out.append(
            f"<tr><td>{escape(str(r.get('name')))}</td><td>{_num(r.get('units'))}</td>"
            # No activation found after the layer: an output layer, or a recording (watch)
            # that does not see the forward pass.
            f"<td>{escape(str(r.get('activation') or '—'))}</td>"
            f"<td>{_num(r.get('speed'))}</td><td>{_num(r.get('ratio_to_last'))}</td>"
            f"<td>{_num(r.get('update_ratio'))}</td><td>{pct[0]}</td><td>{pct[1]}</td>"
            f"<td>{yes if r.get('nonfinite') else ''}</td></tr>")
    out.append("</table>")
    replay = d.get("replay")
    if replay:
        before = replay["before"]
        title = escape(_("test accuracy after {epochs} epoch(s)").format(
            epochs=replay["budget"]["epochs"]))
        replay_heads = (_("fix"), _("accuracy"), "Δ", _("effect"))
        out.append("<p><b>" + escape(_("measured effect")) + f"</b> ({title}):</p><table><tr>"
                   + "".join(f"<th>{escape(h)}</th>" for h in replay_heads) + "</tr>")
        out.append("<tr><td>" + escape(_("as it is")) + "</td><td>"
                   f"{_num(before['accuracy'][-1])}</td><td></td><td></td></tr>")
        for o in replay["outcomes"]:
            out.append(f"<tr><td><code>{escape(o['suggestion']['flags'])}</code></td>"
                       f"<td>{_num(o['run']['accuracy'][-1])}</td>"
                       f"<td>{_num(o['accuracy_change'])}</td><td>{escape(o['effect'])}</td></tr>")
        out.append("</table>")
    out.append("</div>")
    return "".join(out)


def _png(fig: Any) -> str:
    import base64
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def flow_figures(d: dict[str, Any]) -> list[str]:
    """The report's pictures as inline PNG data: with per-step recordings, a heat-map of
    ‖∂C/∂W‖ per layer and step (log scale) and the depth profile at chosen steps."""
    steps = d.get("steps") or []
    names = [str(layer.get("name")) for layer in d.get("layers", [])]
    if not steps or not names:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from chainrule.lab.verdict import verdict_text

    grid = np.array([[math.nan if v is None or not v > 0 else math.log10(v)
                      for v in s["grad_norm"]] for s in steps]).T
    numbers = [s["step"] for s in steps]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, max(3.0, 0.35 * len(names) + 1.5)),
                                   layout="constrained")
    image = ax1.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap="viridis",
                       extent=(numbers[0] - 0.5, numbers[-1] + 0.5, len(names) - 0.5, -0.5))
    ax1.set_yticks(range(len(names)))
    ax1.set_yticklabels(names, fontsize=7)
    ax1.set_xlabel(_("step"))
    ax1.set_title(_("log10 ‖∂C/∂W‖ per layer (input side on top)"))
    fig.colorbar(image, ax=ax1)
    first_bad = next((s["step"] for s in steps if s.get("nonfinite")), None)
    if first_bad is not None:
        ax1.axvline(first_bad, color="red", linestyle="--",
                    label=_("first NaN/Inf: step {step} ({layer})").format(
                        step=first_bad, layer=d.get("first_nonfinite")))
        ax1.legend(fontsize=7, loc="lower right")
    picks = sorted({0, len(steps) // 2, len(steps) - 1})
    for i in picks:
        values = [v if v is not None and v > 0 else math.nan for v in steps[i]["grad_norm"]]
        ax2.plot(range(len(names)), values, "o-",
                 label=_("step {step}").format(step=steps[i]["step"]))
    ax2.set_yscale("log")
    ax2.set_xticks(range(len(names)))
    ax2.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax2.set_title(_("depth profile of ‖∂C/∂W‖"))
    ax2.legend(fontsize=7)
    ax2.grid(True, alpha=0.3)
    fig.suptitle(_("verdict: {verdict}").format(verdict=verdict_text(d.get("verdict"))))
    return [_png(fig)]


def save_report(d: dict[str, Any], path: Any) -> Any:
    """One self-contained HTML file: the diagnosis, its pictures inline, no script, no
    network. Written through a temporary file, so a failure leaves no half-written report."""
    from chainrule.files import write_bytes

    alt = escape(_("gradient flow"))
    images = "".join(f'<p><img alt="{alt}" src="{src}" style="max-width:100%"></p>'
                     for src in flow_figures(d))
    heading = escape(_("chainrule diagnosis"))
    page = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>" + heading +
            "</title><style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem "
            "auto;padding:0 1rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;"
            "border-bottom:1px solid #ddd;text-align:right}</style></head><body>"
            f"<h1>{heading}</h1>{diagnosis_html(d)}{images}</body></html>")
    return write_bytes(path, page.encode("utf-8"))
