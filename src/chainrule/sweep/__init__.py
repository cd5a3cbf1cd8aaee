"""Sweeps: a grid of lab experiments run through any `concurrent.futures.Executor`, resumable.

- `chainrule.sweep.spec` — the grid (a TOML file or flags) and its cells, keyed by a hash of
  their parameters.
- `chainrule.sweep.measures` — `run_cell(params)`: what one cell measures.
- `chainrule.sweep.runner` — `open_executor` (local processes, this process, a Dask cluster) and
  `run_sweep`, which appends one JSON line per finished cell and skips cells already recorded.
- `chainrule.sweep.store` — reading and appending the results file.
- `chainrule.sweep.report` — summary rows and the ratio-vs-depth plot.

``chainrule sweep`` is the command line face of all this.
"""

from chainrule.sweep.measures import MEASURES, run_cell
from chainrule.sweep.report import plot_ratio_vs_depth, summarize, summary_rows
from chainrule.sweep.runner import Backend, SweepOutcome, execute_cell, open_executor, run_sweep
from chainrule.sweep.spec import Cell, SweepError, SweepSpec, cell_key, load_spec, parse_values
from chainrule.sweep.store import ResultsWriter, read_records

__all__ = [
    "MEASURES",
    "Backend",
    "Cell",
    "ResultsWriter",
    "SweepError",
    "SweepOutcome",
    "SweepSpec",
    "cell_key",
    "execute_cell",
    "load_spec",
    "open_executor",
    "parse_values",
    "plot_ratio_vs_depth",
    "read_records",
    "run_cell",
    "run_sweep",
    "summarize",
    "summary_rows",
]
