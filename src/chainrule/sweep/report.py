"""Summaries of a sweep: one row per setting (seeds pooled), a JSON summary, and the depth plot.

A row groups the cells that differ only in ``seed``; numeric results are the median over the
seeds that finished (robust to one unlucky draw), text results (a diagnosis verdict) the most
common value, with its count when the seeds disagree.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chainrule import files
from chainrule.i18n import _
from chainrule.sweep.measures import MEASURES
from chainrule.sweep.spec import Cell

Record = Mapping[str, Any]


def shape_of(sizes: Sequence[int]) -> dict[str, Any]:
    """depth (hidden layers), width (None unless all hidden layers are equal) and sizes text."""
    hidden = list(sizes[1:-1])
    width = hidden[0] if hidden and all(h == hidden[0] for h in hidden) else None
    return {"depth": len(hidden), "width": width, "sizes": ",".join(str(s) for s in sizes)}


def _display(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key == "sizes":
            out.update(shape_of(value))
        else:
            out[key] = value
    return out


def _group_key(params: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in params.items() if k != "seed"}, sort_keys=True)


def label_columns(cells: Sequence[Cell]) -> list[str]:
    """The settings that vary over ``cells`` (seed aside), in the order rows show them."""
    shown: dict[str, list[Any]] = {}
    for cell in cells:
        for key, value in _display(cell.params).items():
            vals = shown.setdefault(key, [])
            if value not in vals:
                vals.append(value)
    varying = [k for k, v in shown.items() if len(v) > 1 and k != "seed"]
    if "sizes" in varying and all(
        shape_of(c.params["sizes"])["width"] is not None for c in cells if "sizes" in c.params
    ):
        varying.remove("sizes")  # depth and width say it all
    elif "sizes" in varying and "width" in varying:
        varying.remove("width")  # the sizes say it better
    order = ["measure", "depth", "width", "sizes"]
    return [k for k in order if k in varying] + [k for k in varying if k not in order]


def result_columns(cells: Sequence[Cell]) -> list[str]:
    out: list[str] = []
    for cell in cells:
        for col in MEASURES[cell.params["measure"]].columns:
            if col not in out:
                out.append(col)
    return out


def _pool(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return statistics.median(present)
    counts = Counter(str(v) for v in present)
    top, n = counts.most_common(1)[0]
    return top if n == len(values) else f"{top} ({n}/{len(values)})"


def summary_rows(cells: Sequence[Cell], records: Mapping[str, Record]) -> list[dict[str, Any]]:
    """One row per setting: its varying settings, seed counts and pooled results."""
    labels = label_columns(cells)
    columns = result_columns(cells)
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        groups.setdefault(_group_key(cell.params), []).append(cell)
    rows: list[dict[str, Any]] = []
    for members in groups.values():
        shown = _display(members[0].params)
        row: dict[str, Any] = {k: shown.get(k) for k in labels}
        found = [records.get(c.key) for c in members]
        ok = [r for r in found if r is not None and r.get("status") == "ok"]
        row["seeds"] = len(members)
        row["ok"] = len(ok)
        row["failed"] = sum(1 for r in found if r is not None and r.get("status") == "error")
        row["missing"] = sum(1 for r in found if r is None)
        for col in columns:
            row[col] = _pool([r["result"].get(col) for r in ok]) if ok else None
        rows.append(row)
    return rows


def summarize(cells: Sequence[Cell], records: Mapping[str, Record], **extra: Any) -> dict[str, Any]:
    """The JSON summary: counts, rows and the failures (key, settings, error message)."""
    statuses = Counter(
        records[c.key].get("status") if c.key in records else "missing" for c in cells
    )
    failures = [
        {
            "key": c.key,
            "params": c.params,
            "error": f"{records[c.key]['error']['type']}: {records[c.key]['error']['message']}",
        }
        for c in cells
        if c.key in records and records[c.key].get("status") == "error"
    ]
    return {
        **extra,
        "cells": len(cells),
        "finished": statuses.get("ok", 0),
        "failed": statuses.get("error", 0),
        "missing": statuses.get("missing", 0),
        "columns": label_columns(cells) + ["ok"] + result_columns(cells),
        "rows": summary_rows(cells, records),
        "failures": failures,
    }


def format_value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


# Colour per activation, line style per init: the plot's legend reads as a 2-D table.
_COLOURS = {"sigmoid": "tab:blue", "tanh": "tab:orange", "relu": "tab:green"}
_STYLES = {"nielsen": "-", "xavier": "--", "he": ":", "nielsen-large": "-.", "uniform": "-."}


def plot_ratio_vs_depth(
    cells: Sequence[Cell],
    records: Mapping[str, Record],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Save the plot of first-layer / last-layer gradient-norm ratio against depth: one line per
    activation × init (and any other setting that varies), median over seeds, the band spanning
    the seeds; log scale. Needs cells whose results have a ``ratio`` (norms, speed, toy)."""
    # A bare Figure renders with Agg and leaves pyplot's global backend alone.
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    labels = [k for k in label_columns(cells) if k not in ("depth", "sizes")]
    lines: dict[tuple[Any, ...], dict[int, list[float]]] = {}
    for cell in cells:
        record = records.get(cell.key)
        if record is None or record.get("status") != "ok":
            continue
        ratio = record["result"].get("ratio")
        if ratio is None or ratio <= 0:
            continue
        shown = _display(cell.params)
        line = tuple(shown.get(k) for k in labels)
        lines.setdefault(line, {}).setdefault(shown["depth"], []).append(float(ratio))
    if not lines:
        raise ValueError(_("no finished cells with a gradient-norm ratio to plot"))

    fig = Figure(figsize=(8, 5.2), dpi=120)
    ax = fig.subplots()
    palette = iter(rcParams["axes.prop_cycle"].by_key()["color"] * 4)
    for line, by_depth in lines.items():
        named = dict(zip(labels, line, strict=True))
        depths = sorted(by_depth)
        mid = [statistics.median(by_depth[d]) for d in depths]
        lo = [min(by_depth[d]) for d in depths]
        hi = [max(by_depth[d]) for d in depths]
        colour = _COLOURS.get(str(named.get("activation")), None) or next(palette)
        style = _STYLES.get(str(named.get("init")), "-")
        label = " · ".join(str(v) for v in line) or "ratio"
        ax.plot(depths, mid, style, color=colour, marker="o", markersize=4, label=label)
        if any(h > low for h, low in zip(hi, lo, strict=True)):
            ax.fill_between(depths, lo, hi, color=colour, alpha=0.12, linewidth=0)
    ax.axhline(1.0, color="0.5", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xlabel(_("hidden layers (depth)"))
    ax.set_ylabel(_("‖∂C/∂b‖ first hidden layer / last hidden layer"))
    ax.set_title(title or _("Gradient at initialisation: first / last hidden layer"))
    all_depths = sorted({d for by_depth in lines.values() for d in by_depth})
    ax.set_xticks(all_depths)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=3 if len(lines) > 6 else 1, title=" · ".join(labels) or None)
    fig.tight_layout()
    return files.save_figure(fig, path, parents=True)
