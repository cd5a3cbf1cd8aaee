"""``python -m benchmarks.report [results.json]``: the results as Markdown tables (for the docs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.runner import RESULTS, fmt_cell, fmt_time, mlp_rows, target_cells


def _ratio_text(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if not a or not b or "median" not in a or "median" not in b:
        return "—"
    return f"{a['median'] / b['median']:.2f}×"


def results_markdown(report: dict[str, Any]) -> str:
    res = report["results"]
    rows: list[str] = []
    cases = res.get("mlp", {}).get("cases", {})
    if cases:
        rows += ["| MLP epoch | system | time | × floor | × torch |", "|---|---|---|---|---|"]
        for name, case in cases.items():
            for i, (label, entry, floor, torch) in enumerate(mlp_rows(case)):
                rows.append(f"| {name if i == 0 else ''} | {label} | {fmt_cell(entry)} | "
                            f"{floor} | {torch} |")
        rows.append("")
    rows += ["| benchmark | chainrule | peer | peer time | ratio |", "|---|---|---|---|---|"]
    for shape, title in (("chain", "chain"), ("dag", "wide DAG")):
        for n, row in res.get(shape, {}).items():
            memory = int(n) >= 100_000
            ours = row.get("chainrule")
            for i, peer in enumerate(("micrograd", "torch")):
                rows.append(f"| {f'{title}, {int(n):,} nodes' if i == 0 else ''} | "
                            f"{fmt_cell(ours, memory) if i == 0 else ''} | "
                            f"{'micrograd' if peer == 'micrograd' else 'torch 0-d'} | "
                            f"{fmt_cell(row.get(peer), memory)} | "
                            f"{_ratio_text(ours, row.get(peer))} |")
    imp = res.get("import", {})
    if imp:
        rows.append(f"| import chainrule | {fmt_cell(imp.get('chainrule'))} | import numpy | "
                    f"{fmt_cell(imp.get('numpy'))} | "
                    f"{_ratio_text(imp.get('chainrule'), imp.get('numpy'))} |")
    for task, label in (("circuit", "`chainrule circuit --example simple --json`"),
                        ("vanishing", "vanishing table, 3 depths × 20 seeds × 1,000")):
        entry = res.get(task)
        if entry:
            cell = fmt_cell(entry.get("chainrule")) if "chainrule" in entry \
                else f"skipped: {entry.get('skipped')}"
            rows.append(f"| {label} | {cell} | | | |")
    return "\n".join(rows)


def readme_markdown(report: dict[str, Any]) -> str:
    """The MLP cases as the README shows them: one row per case, each system's median epoch
    and its paired ratio to the NumPy floor."""
    res = report["results"]
    cases = res.get("mlp", {}).get("cases", {})
    columns = ("chainrule, user loop", "chainrule-compile", "chainrule-fused", "torch",
               "autograd", "NumPy floor, in place", "NumPy floor")
    rows = ["| MLP epoch | " + " | ".join(columns) + " |",
            "|---" * (len(columns) + 1) + "|"]
    for name, case in cases.items():
        cells = {label: f"{fmt_time(entry.get('median'))} ({floor})"
                 for label, entry, floor, _ in mlp_rows(case)}
        cells["NumPy floor"] = cells.get("NumPy floor", "—").replace(" (1.00×)", "")
        rows.append(f"| {name} | " + " | ".join(cells.get(c, "—") for c in columns) + " |")
    return "\n".join(rows)


def targets_markdown(report: dict[str, Any]) -> str:
    rows = ["| target | measured | limit | met |", "|---|---|---|---|"]
    for t in report["targets"]:
        shown, limit = target_cells(t)
        met = "—" if t["met"] is None else ("yes" if t["met"] else "**no**")
        rows.append(f"| {t['target']} | {shown} | {limit} | {met} |")
    return "\n".join(rows)


def main() -> None:
    given = len(sys.argv) > 1
    path = Path(sys.argv[1]) if given else RESULTS / "latest.json"
    if not path.is_file():
        # results/ is not in the repository: a fresh clone has measured nothing yet.
        where = f" in {path}" if given else ""
        print(f"no results yet{where}: run `python -m benchmarks` (or `--quick`) first",
              file=sys.stderr)
        raise SystemExit(1)
    report = json.loads(path.read_text())
    meta = report["meta"]
    print(f"Measured {meta['date']}, Python {meta['python']}, {meta['cpus']} cores, "
          f"threads per worker: {meta['threads']}, suite time {meta['seconds']:.0f} s.\n")
    print(results_markdown(report))
    print()
    if report["results"].get("mlp"):
        print(readme_markdown(report))
        print()
    print(targets_markdown(report))


if __name__ == "__main__":
    main()
