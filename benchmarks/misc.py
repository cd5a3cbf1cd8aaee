"""Start-up and end-to-end timings: ``import``, the ``circuit`` command, the vanishing table."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import time
from typing import Any

VANISHING_SAMPLES = 1000
VANISHING_SEEDS = 20


def import_time(module: str) -> dict[str, Any]:
    """Seconds to import ``module`` in this (fresh) process; the worker has imported only the
    standard library's json, time and sys before."""
    if module in sys.modules:
        return {"error": f"{module} was already imported before the clock started"}
    start = time.perf_counter()
    importlib.import_module(module)
    return {"total": time.perf_counter() - start}


def circuit_command() -> list[str]:
    """How to run the ``chainrule`` command: the console script if it is installed."""
    script = shutil.which("chainrule")
    return [script] if script else [sys.executable, "-m", "chainrule"]


def circuit() -> dict[str, Any]:
    """Wall time of ``chainrule circuit --example simple --json``, process start to exit."""
    cmd = [*circuit_command(), "circuit", "--example", "simple", "--json"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"`chainrule circuit` is not available ({reason[:120]})"}
    try:
        json.loads(proc.stdout)
    except ValueError:
        return {"error": "`chainrule circuit --json` did not print one JSON object"}
    return {"total": elapsed}


def vanishing() -> dict[str, Any]:
    """Nielsen's vanishing-gradient table for his three networks: 20 seeds × 1,000 examples."""
    try:
        flow = importlib.import_module("chainrule.lab.flow")
        table = flow.vanishing_table
        sizes = flow.BOOK_SIZES
    except (ImportError, AttributeError) as exc:
        return {"skipped": f"chainrule.lab.flow.vanishing_table is not available ({exc})"}
    start = time.perf_counter()
    rows = [table(s, samples=VANISHING_SAMPLES, seeds=VANISHING_SEEDS) for s in sizes]
    elapsed = time.perf_counter() - start
    return {
        "total": elapsed,
        "depths": [len(s) - 2 for s in sizes],
        "means": [r["hidden_layer_norms"]["mean"] for r in rows],
    }
