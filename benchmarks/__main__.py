"""``python -m benchmarks [--quick] [--only NAME[,NAME…]] [--threads N] [--repeats N]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from benchmarks.runner import (
    BENCHMARKS,
    RESULTS,
    Runner,
    Settings,
    checks,
    mlp_table,
    table,
    target_table,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="chainrule against torch, HIPS autograd, micrograd and a NumPy floor; "
                    "every measurement in a fresh process.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="one repeat, small graphs only: a smoke run of a minute or so")
    parser.add_argument("--only", default="", metavar="NAME[,NAME]",
                        help=f"run only these benchmarks: {', '.join(BENCHMARKS)}")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="BLAS/OpenMP threads per worker (default 0: each library's "
                             "default, as users run it; 1 pins every system to one thread)")
    parser.add_argument("--repeats", type=int, default=None, metavar="N",
                        help="processes per system and case (default 5, small timings 9)")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json",
                        help="where to write the JSON results (default: %(default)s)")
    parser.add_argument("--list", action="store_true", help="list the benchmark names and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    only = tuple(n.strip() for n in args.only.split(",") if n.strip()) or BENCHMARKS
    unknown = [n for n in only if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    settings = Settings(quick=args.quick, only=only, threads=args.threads, repeats=args.repeats,
                        out=args.out)
    report = Runner(settings).run()
    console = Console(width=max(Console().width, 132))  # the table is wide; keep it one line
    if "mlp" in report["results"]:
        console.print(mlp_table(report))
    console.print(table(report))
    console.print(target_table(report))
    for line in checks(report):
        console.print(line)
    console.print(f"results: {settings.out}  ({report['meta']['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
