"""Schedule the workers, collect their JSON, print one table, write ``results/latest.json``.

Every measurement runs in a fresh ``python -m benchmarks.worker`` process. Repeats are
interleaved: repeat 1 of every system, then repeat 2 of every system (in a rotated order), … so
a burst of load from elsewhere on the machine lands on all systems rather than on one.
Reported: the median over all samples, their min–max, and chainrule's median divided by the
peer's (below 1: chainrule is faster).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import mlp, scalar
from chainrule.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
BENCHMARKS = ("mlp", "chain", "dag", "import", "circuit", "vanishing")

MLP_CASES: list[dict[str, Any]] = [
    {"name": "batch 10, f64", "batch": 10, "dtype": "float64"},
    {"name": "batch 10, f32", "batch": 10, "dtype": "float32"},
    {"name": "batch 256, f64", "batch": 256, "dtype": "float64"},
    {"name": "batch 256, f32", "batch": 256, "dtype": "float32"},
]
# Agreement of the end-of-epoch cost with the NumPy floor's (relative).
COST_RTOL = {"float64": 1e-7, "float32": 2e-3}
# A peer whose run at one size, times ten, would take longer than this gets a single repeat at
# the next size up (micrograd and torch need tens of seconds for a million nodes).
SLOW_SECONDS = 8.0
WORKER_TIMEOUT = 300.0


@dataclass
class Settings:
    quick: bool = False
    only: tuple[str, ...] = BENCHMARKS
    threads: int = 0
    repeats: int | None = None
    out: Path = RESULTS / "latest.json"

    @property
    def mlp_repeats(self) -> int:
        return self.repeats or (1 if self.quick else 7)

    @property
    def mlp_inner(self) -> int:
        return 1 if self.quick else 3

    @property
    def scalar_sizes(self) -> tuple[int, ...]:
        return (10_000,) if self.quick else scalar.SIZES

    @property
    def scalar_repeats(self) -> int:
        return self.repeats or (1 if self.quick else 5)

    @property
    def small_repeats(self) -> int:
        return self.repeats or (2 if self.quick else 9)


@dataclass
class Runner:
    settings: Settings
    console: Console = field(default_factory=lambda: Console(stderr=True))
    results: dict[str, Any] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        src = str(ROOT / "src")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), src,
                                                        env.get("PYTHONPATH")) if p)
        if self.settings.threads > 0:
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env[var] = str(self.settings.threads)
        # Every system runs with the malloc thresholds `import chainrule` sets for itself
        # (chainrule.allocator): otherwise the floor's, torch's and autograd's temporaries
        # would cost what glibc's history in each fresh worker happens to make them cost.
        env.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD))
        env.setdefault("MALLOC_TRIM_THRESHOLD_", str(TRIM_THRESHOLD))
        return env

    def worker(self, spec: dict[str, Any], label: str) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.worker", json.dumps(spec)],
                cwd=ROOT, env=self.env(), capture_output=True, text=True,
                timeout=WORKER_TIMEOUT, check=False,
            )
        except subprocess.TimeoutExpired:
            result: dict[str, Any] = {"error": f"timed out after {WORKER_TIMEOUT:.0f} s"}
        else:
            lines = proc.stdout.strip().splitlines()
            try:
                result = json.loads(lines[-1])
            except (IndexError, ValueError):
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                result = {"error": f"worker exited {proc.returncode}: {tail[:200]}"}
        elapsed = time.perf_counter() - started
        status = next((k for k in ("skipped", "fails", "error") if k in result), "ok")
        self.console.print(f"[dim]{label:<44} {elapsed:6.1f} s  {status}[/dim]")
        return result

    # ------------------------------------------------------------------ benchmarks

    def run_mlp(self) -> None:
        s = self.settings
        info = mlp.prepare_inputs(RESULTS)
        data = str(RESULTS / mlp.DATA_FILE)
        # samples[case][system]: every epoch time, and per round the times of that round.
        samples: dict[str, dict[str, dict[str, Any]]] = {c["name"]: {} for c in MLP_CASES}
        skipped: dict[str, str] = {}
        systems = list(mlp.SYSTEMS)
        # One worker per system, case and round, the systems of a case back to back: this
        # machine's speed drifts over seconds, so a ratio is taken between runs seconds apart.
        for r in range(s.mlp_repeats):
            for c, case in enumerate(MLP_CASES):
                for system in _rotate(systems, r + c):
                    if system in skipped:
                        continue
                    spec = {"task": "mlp", "system": system, "cases": [case], "data": data,
                            "inner": s.mlp_inner}
                    res = self.worker(spec, f"mlp {system}, {case['name']} "
                                            f"({r + 1}/{s.mlp_repeats})")
                    if "cases" not in res:
                        skipped[system] = res.get("skipped") or res.get("error", "?")
                        continue
                    got = res["cases"][case["name"]]
                    entry = samples[case["name"]].setdefault(
                        system, {"times": [], "rounds": {}, "costs": []})
                    entry["times"] += got["times"]
                    entry["rounds"][r] = got["times"]
                    entry["costs"].append(got["cost"])
                    entry["dtype"] = got["dtype"]
        initial = _initial_cost(data)
        out: dict[str, Any] = {"data": info, "initial_cost": initial, "skipped": skipped,
                               "cases": {}}
        for case in MLP_CASES:
            name = case["name"]
            runs = samples[name]
            systems_out = {sys_: _summary(v["times"]) | {"cost": v["costs"][-1],
                                                          "dtype": v["dtype"]}
                           for sys_, v in runs.items()}
            out["cases"][name] = {"systems": systems_out,
                                  "paired": _paired_ratios(runs),
                                  "paired_systems": {
                                      ours: _paired_ratios(runs, ours)
                                      for ours in runs if ours != "chainrule"},
                                  "check": _cost_check(systems_out, case["dtype"], initial)}
        self.results["mlp"] = out

    def run_scalar(self, shape: str) -> None:
        s = self.settings
        out: dict[str, Any] = {}
        failed: dict[str, str] = {}
        skipped: dict[str, str] = {}  # not installed: not run, which is not a failure
        slow: set[str] = set()  # peers that get one repeat at this size
        for n in s.scalar_sizes:
            slower: set[str] = set()  # … and at the next one
            runs: dict[str, list[dict[str, Any]]] = {}
            for r in range(s.scalar_repeats):
                for system in _rotate(list(scalar.SYSTEMS), r):
                    if system in failed or system in skipped:
                        continue
                    if system in slow and system != "chainrule" and r > 0:
                        continue
                    res = self.worker({"task": shape, "system": system, "n": n},
                                      f"{shape} {n:,} {system} ({r + 1}/{s.scalar_repeats})")
                    runs.setdefault(system, []).append(res)
                    if "skipped" in res:
                        skipped[system] = str(res["skipped"])
                    elif "fails" in res or "error" in res:
                        failed[system] = _reason(res, n)
                    elif res["total"] * 10 > SLOW_SECONDS:
                        slower.add(system)
            size_out: dict[str, Any] = {}
            for system in scalar.SYSTEMS:
                ok = [x for x in runs.get(system, []) if "total" in x]
                if ok:
                    size_out[system] = _summary([x["total"] for x in ok]) | {
                        "build": statistics.median(x["build"] for x in ok),
                        "backward": statistics.median(x["backward"] for x in ok),
                        "bytes_per_node": statistics.median(x["bytes_per_node"] for x in ok),
                        "check": all(x["check"] for x in ok),
                    }
                elif system in failed:
                    size_out[system] = {"fails": failed[system]}
                elif system in skipped:
                    size_out[system] = {"skipped": skipped[system]}
            out[str(n)] = size_out
            slow = slower
        self.results[shape] = out

    def run_import(self) -> None:
        times: dict[str, list[float]] = {"chainrule": [], "numpy": []}
        reps = self.settings.small_repeats
        # Bytecode as an installed package has it (pip compiles it): a source file edited since
        # its last import, under PYTHONDONTWRITEBYTECODE, is compiled again in every process
        # (20 ms for chainrule's catalogue), which no user's import pays.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "chainrule")],
                       capture_output=True, check=False)
        for r in range(reps):
            for module in _rotate(list(times), r):
                res = self.worker({"task": "import", "module": module},
                                  f"import {module} ({r + 1}/{reps})")
                if "total" in res:
                    times[module].append(res["total"])
        self.results["import"] = {m: _summary(t) for m, t in times.items() if t}

    def run_single(self, task: str, repeats: int) -> None:
        times: list[float] = []
        for r in range(repeats):
            res = self.worker({"task": task}, f"{task} ({r + 1}/{repeats})")
            if "total" not in res:
                self.results[task] = {"skipped": res.get("skipped") or res.get("error")}
                return
            times.append(res["total"])
        self.results[task] = {"chainrule": _summary(times)}

    def run(self) -> dict[str, Any]:
        s = self.settings
        started = time.perf_counter()
        steps: dict[str, Callable[[], None]] = {
            "mlp": self.run_mlp,
            "chain": lambda: self.run_scalar("chain"),
            "dag": lambda: self.run_scalar("dag"),
            "import": self.run_import,
            "circuit": lambda: self.run_single("circuit", s.small_repeats),
            "vanishing": lambda: self.run_single("vanishing", 1 if s.quick else 3),
        }
        for name in s.only:
            steps[name]()
        report = {
            "meta": _meta(s, time.perf_counter() - started),
            "results": self.results,
            "targets": targets(self.results),
        }
        s.out.parent.mkdir(parents=True, exist_ok=True)
        s.out.write_text(json.dumps(report, indent=2) + "\n")
        return report


# ---------------------------------------------------------------------- helpers


def _rotate(items: list[str], r: int) -> list[str]:
    k = r % len(items)
    return items[k:] + items[:k]


def _summary(times: Sequence[float]) -> dict[str, Any]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "samples": list(times)}


def _paired_ratios(runs: dict[str, dict[str, Any]],
                   system: str = "chainrule") -> dict[str, dict[str, Any]]:
    """system / peer per round (median epoch of each, from runs seconds apart), for every
    peer: the median over rounds is the reported ratio, robust to the machine's drift."""
    ours = runs.get(system, {}).get("rounds", {})
    out: dict[str, dict[str, Any]] = {}
    for peer, entry in runs.items():
        if peer == system:
            continue
        ratios = [statistics.median(ours[r]) / statistics.median(times)
                  for r, times in entry["rounds"].items() if r in ours]
        if ratios:
            out[peer] = {"median": statistics.median(ratios), "min": min(ratios),
                         "max": max(ratios), "rounds": ratios}
    return out


def mlp_ratio(case: dict[str, Any], peer: str, system: str = "chainrule") -> float | None:
    """The reported system/peer ratio of an MLP case (``system`` one of chainrule's loops):
    the median paired ratio (older results without pairs: the ratio of the medians)."""
    pairs = case.get("paired", {}) if system == "chainrule" else \
        case.get("paired_systems", {}).get(system, {})
    paired = pairs.get(peer)
    if paired:
        return float(paired["median"])
    systems = case.get("systems", {})
    return _ratio(systems.get(system, {}).get("median"), systems.get(peer, {}).get("median"))


def _reason(res: dict[str, Any], n: int) -> str:
    if "fails" in res:
        return f"fails at {n:,} nodes: {res['fails']}"
    return str(res.get("skipped") or res.get("error"))


def _initial_cost(data: str) -> float:
    init, _, x, y = mlp.load_inputs(Path(data), 10, "float64")
    return mlp.mean_cost(init, x, y)


def _cost_check(systems: dict[str, Any], dtype: str, initial: float) -> dict[str, Any]:
    """Every system's end-of-epoch cost must match the floor's and differ from the start's."""
    floor = systems.get("numpy", {}).get("cost")
    if floor is None:
        return {"ok": False, "detail": "no NumPy floor to compare with"}
    bad = []
    for name, v in systems.items():
        rel = abs(v["cost"] - floor) / abs(floor)
        if rel > COST_RTOL[dtype] or v["dtype"] != dtype:
            bad.append(f"{name}: cost {v['cost']:.9g} ({v['dtype']}) vs floor {floor:.9g}")
    if abs(floor - initial) < 1e-3:
        bad.append(f"the floor's cost did not move from {initial:.6g}")
    return {"ok": not bad, "floor_cost": floor, "rtol": COST_RTOL[dtype], "detail": "; ".join(bad)}


def _meta(s: Settings, seconds: float) -> dict[str, Any]:
    versions: dict[str, str] = {}
    for name in ("numpy", "torch", "autograd", "micrograd"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = "not installed"
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "threads": s.threads or "library defaults",
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "malloc_thresholds": {"mmap": os.environ.get("MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD),
                              "trim": os.environ.get("MALLOC_TRIM_THRESHOLD_", TRIM_THRESHOLD)},
        "quick": s.quick,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": seconds,
    }


# ---------------------------------------------------------------------- targets


def _median(results: dict[str, Any], *path: str) -> float | None:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node.get("median") if isinstance(node, dict) else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value (a ratio or an absolute number)."""
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, limit: float, unit: str) -> None:
        rows.append({"target": name, "value": value, "limit": limit, "unit": unit,
                     "met": None if value is None else value <= limit})

    cases = results.get("mlp", {}).get("cases", {})
    for case in MLP_CASES:
        name = case["name"]
        measured = cases.get(name, {})
        limit = 1.3 if case["batch"] == 10 else 1.15
        add(f"MLP epoch {name}, user loop vs NumPy floor", mlp_ratio(measured, "numpy"),
            limit, "×")
    for case in MLP_CASES:
        name = case["name"]
        add(f"MLP epoch {name}, chainrule.compile vs NumPy floor",
            mlp_ratio(cases.get(name, {}), "numpy", "chainrule-compile"), 1.0, "×")
    big = str(scalar.SIZES[-1])
    dag = results.get("dag", {}).get(big, {})
    ours = dag.get("chainrule", {})
    add("wide DAG 1e6 build + backward", ours.get("median"), 2.0, "s")
    add("wide DAG 1e6 peak memory", ours.get("bytes_per_node"), 500.0, "B/node")
    add("vanishing table (3 depths × 20 seeds)", _median(results, "vanishing", "chainrule"),
        3.0, "s")
    add("import chainrule vs import numpy", _ratio(_median(results, "import", "chainrule"),
                                                   _median(results, "import", "numpy")), 1.5, "×")
    add("circuit --example simple --json", _median(results, "circuit", "chainrule"), 0.5, "s")
    return rows


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


# ---------------------------------------------------------------------- the table


def fmt_time(t: float | None) -> str:
    if t is None:
        return "—"
    if t < 1e-3:
        return f"{t * 1e6:.0f} µs"
    if t < 1.0:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def fmt_cell(entry: dict[str, Any] | None, memory: bool = False) -> str:
    if not entry:
        return "—"
    if "fails" in entry:
        return "fails"
    if "skipped" in entry:
        return "not installed"
    if "median" not in entry:
        return "—"
    text = fmt_time(entry["median"])
    if len(entry.get("samples", ())) > 1:
        text += f" ({fmt_time(entry['min'])}–{fmt_time(entry['max'])})"
    if memory and "bytes_per_node" in entry:
        text += f", {entry['bytes_per_node']:.0f} B/node"
    return text


def fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


def table(report: dict[str, Any]) -> Table:
    results = report["results"]
    t = Table(title="chainrule vs peers (median, min–max; ratio = chainrule / peer)",
              show_lines=False)
    for col in ("benchmark", "chainrule", "peer", "peer time", "ratio"):
        t.add_column(col, overflow="fold")
    for shape in ("chain", "dag"):
        for n, row in results.get(shape, {}).items():
            ours = row.get("chainrule")
            first = True
            for peer in ("micrograd", "torch"):
                entry = row.get(peer)
                ratio = _ratio((ours or {}).get("median"), (entry or {}).get("median"))
                label = f"{'chain' if shape == 'chain' else 'wide DAG'} {int(n):,} nodes"
                # Peak RSS only says something for graphs of many megabytes.
                memory = int(n) >= 100_000
                t.add_row(label if first else "", fmt_cell(ours, memory) if first else "",
                          peer if peer == "micrograd" else "torch 0-d",
                          fmt_cell(entry, memory), fmt_ratio(ratio))
                first = False
    imp = results.get("import", {})
    if imp:
        t.add_row("import chainrule", fmt_cell(imp.get("chainrule")), "import numpy",
                  fmt_cell(imp.get("numpy")),
                  fmt_ratio(_ratio(_median(results, "import", "chainrule"),
                                   _median(results, "import", "numpy"))))
    for task, label in (("circuit", "circuit --example simple --json"),
                        ("vanishing", "vanishing table, 3 depths × 20 seeds")):
        if task in results:
            entry = results[task]
            t.add_row(label, fmt_cell(entry.get("chainrule")) if "chainrule" in entry
                      else f"skipped: {entry.get('skipped')}", "", "", "")
    return t


MLP_ROWS = ("chainrule", "chainrule-fused", "chainrule-compile", "torch", "autograd",
            "numpy-inplace", "numpy")
MLP_LABELS = {"chainrule": "chainrule, user loop", "numpy": "NumPy floor",
              "numpy-inplace": "NumPy floor, in place"}


def mlp_rows(case: dict[str, Any]) -> list[tuple[str, dict[str, Any], str, str]]:
    """(system label, its times, × floor, × torch) for every system of an MLP case; the ratios
    are the median per-round ratios."""
    systems = case.get("systems", {})
    rows = []
    for system in MLP_ROWS:
        if system not in systems:
            continue
        floor = 1.0 if system == "numpy" else mlp_ratio(case, "numpy", system)
        torch = None if system in ("numpy", "torch") else mlp_ratio(case, "torch", system)
        rows.append((MLP_LABELS.get(system, system), systems[system], fmt_ratio(floor),
                     fmt_ratio(torch)))
    return rows


def mlp_table(report: dict[str, Any]) -> Table:
    t = Table(title="MLP epoch (median, min–max; ratios: median over rounds of the paired "
              "per-round ratio)")
    for col in ("case", "system", "epoch", "× floor", "× torch"):
        t.add_column(col, overflow="fold")
    for name, case in report["results"].get("mlp", {}).get("cases", {}).items():
        for i, (label, entry, floor, torch) in enumerate(mlp_rows(case)):
            t.add_row(name if i == 0 else "", label, fmt_cell(entry), floor, torch)
    return t


def target_table(report: dict[str, Any]) -> Table:
    t = Table(title="targets")
    for col in ("target", "measured", "limit", "met"):
        t.add_column(col)
    for row in report["targets"]:
        shown, limit = target_cells(row)
        met = "—" if row["met"] is None else ("yes" if row["met"] else "NO")
        t.add_row(row["target"], shown, limit, met)
    return t


def target_cells(row: dict[str, Any]) -> tuple[str, str]:
    """A target's measured value and its limit, formatted for a table."""
    v, unit = row["value"], row["unit"]
    if v is None:
        shown = "not measured"
    elif unit == "s":
        shown = fmt_time(v)
    elif unit == "×":
        shown = f"{v:.2f}×"
    else:
        shown = f"{v:.0f} {unit}"
    limit = f"≤ {row['limit']:g}×" if unit == "×" else f"≤ {row['limit']:g} {unit}"
    return shown, limit


def checks(report: dict[str, Any]) -> list[str]:
    lines = []
    for name, case in report["results"].get("mlp", {}).get("cases", {}).items():
        c = case["check"]
        lines.append(f"MLP {name}: same end-of-epoch cost in every system: "
                     + ("yes" if c["ok"] else f"NO ({c['detail']})"))
    for shape in ("chain", "dag"):
        for n, row in report["results"].get(shape, {}).items():
            bad = [s for s, e in row.items() if "check" in e and not e["check"]]
            if bad:
                lines.append(f"{shape} {n}: wrong gradients from {', '.join(bad)}")
    skipped = report["results"].get("mlp", {}).get("skipped", {})
    lines += [f"MLP {s}: skipped ({why})" for s, why in skipped.items()]
    return lines
