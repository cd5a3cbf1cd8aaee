"""Child-process entry point: ``python -m benchmarks.worker '{"task": ..., ...}'``.

Runs one measurement in this fresh process and prints one JSON object on stdout (anything else
a peer prints goes to stderr). Only ``json``, ``sys`` and ``time`` are imported at the top, so
the import-time task measures a cold ``import``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def run(spec: dict[str, Any]) -> dict[str, Any]:
    task = spec["task"]
    if task == "import":
        from benchmarks import misc

        return misc.import_time(spec["module"])
    if task == "mlp":
        from benchmarks import mlp

        return mlp.run(spec["system"], spec["cases"], spec["data"], spec["inner"])
    if task in ("chain", "dag"):
        from benchmarks import scalar

        return scalar.run(spec["system"], task, spec["n"])
    if task == "circuit":
        from benchmarks import misc

        return misc.circuit()
    if task == "vanishing":
        from benchmarks import misc

        return misc.vanishing()
    raise ValueError(f"unknown task {task!r}")


def main() -> None:
    spec = json.loads(sys.argv[1])
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # a chatty peer must not corrupt the JSON line
    started = time.perf_counter()
    try:
        result = run(spec)
    except Exception as exc:  # reported, not raised: the runner records it in the table
        result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    result["wall"] = time.perf_counter() - started
    sys.stdout = real_stdout
    print(json.dumps(result))


if __name__ == "__main__":
    main()
