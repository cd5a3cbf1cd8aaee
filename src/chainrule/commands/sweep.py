"""`chainrule sweep`: run a grid of lab experiments on local processes or a Dask cluster.

Results go to a JSON-lines file, one line per finished cell; running the same command again
skips the cells already there, so an interrupted sweep picks up where it stopped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from chainrule.i18n import _

# Flag name -> sweep setting; each takes VALUES: comma-separated, a..b for integer ranges.
AXIS_FLAGS: dict[str, str] = {
    "measure": "What each cell measures: norms (default), speed, accuracy, diagnosis, toy.",
    "depth": "Hidden layers of --width units, e.g. 1..6.",
    "width": "Units per hidden layer (30).",
    "sizes": "Layer sizes instead of depth/width; several separated by ';'.",
    "activation": "Hidden activation: sigmoid (default), tanh, relu, leaky_relu.",
    "init": "Initialisation: nielsen (default), nielsen-large, xavier, he, uniform.",
    "weight_scale": "Factor applied to the initial weights (1).",
    "preprocess": "Input preprocessing: scale (default), standardize, raw.",
    "lr": "Learning rate (3.0; speed and diagnosis: 0.1).",
    "seed": "Seeds, e.g. 0..4 (0).",
    "samples": "Examples the gradients are averaged over (100; speed: 1000).",
    "epochs": "Training epochs for speed (30) and accuracy (1).",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _records(path: Path) -> dict[str, Any]:
    from chainrule.sweep.spec import SweepError
    from chainrule.sweep.store import read_records

    try:
        return read_records(path).by_key
    except SweepError as exc:
        raise click.ClickException(str(exc)) from None


def _axis_option(name: str, help_text: str) -> Any:
    flag = _flag(name)
    return click.option(flag, name, metavar="VALUES", help=help_text)


def _add_axis_options(fn: Any) -> Any:
    for name, help_text in reversed(AXIS_FLAGS.items()):
        fn = _axis_option(name, help_text)(fn)
    return fn


def _progress(console: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "[green]{task.fields[ok]} " + _("finished") + "[/] · [red]{task.fields[failed]} "
            + _("failed") + "[/] · {task.fields[remaining]} " + _("remaining")
        ),
        TimeElapsedColumn(),
        TextColumn(_("ETA")),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _table(summary: dict[str, Any], title: str) -> Any:
    from rich.table import Table

    from chainrule.sweep.report import format_value

    table = Table(title=title)
    columns = summary["columns"]
    for col in columns:
        table.add_column(col, justify="left" if col in ("measure", "verdict") else "right")
    for row in summary["rows"]:
        cells = []
        for col in columns:
            if col == "ok":
                done = f"{row['ok']}/{row['seeds']}"
                cells.append(done if row["ok"] == row["seeds"] else f"[yellow]{done}[/]")
            else:
                cells.append(format_value(row.get(col)))
        table.add_row(*cells)
    return table


@click.command()
@click.argument(
    "spec_file", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@_add_axis_options
@click.option(
    "--set",
    "extra",
    multiple=True,
    metavar="KEY=VALUES",
    help="Any other setting (inputs, outputs, batch, limit, loss, data, fail, sleep); repeat.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results file, JSON lines (default: NAME.jsonl, NAME from SPEC_FILE, else sweep).",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 1024),
    help="Local worker processes (default: one per CPU; 0 runs cells in this process).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786).",
)
@click.option("--retry-failed", is_flag=True, help="Run again the cells recorded as errors.")
@click.option("--dry-run", is_flag=True, help="List the cells (and what is done) and stop.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the first/last-layer gradient ratio against depth to FILE (.png, .svg, .pdf).",
)
def sweep(
    spec_file: Path | None,
    extra: tuple[str, ...],
    out: Path | None,
    workers: int | None,
    scheduler: str | None,
    retry_failed: bool,
    dry_run: bool,
    as_json: bool,
    plot: Path | None,
    **axes: str | None,
) -> None:
    """Run a grid of experiments: every combination of the VALUES given, one cell each.

    The grid comes from SPEC_FILE (TOML: settings at the top, axes under [grid]; see
    examples/depth-sweep.toml) and/or the flags, which replace the file's values. Each finished
    cell is appended to --out at once; run the same command again after a crash or Ctrl-C and
    only the missing cells run. The same grid gives the same numbers on 1 worker, N workers or
    a Dask cluster (--scheduler tcp://host:8786, needs pip install 'chainrule[dask]').

    \b
    Examples:
      chainrule sweep examples/depth-sweep.toml --plot depth.png
      chainrule sweep --depth 1..5 --activation sigmoid,relu --seed 0..2 --workers 2
      chainrule sweep examples/depth-sweep.toml --scheduler tcp://10.0.0.5:8786
    """
    from rich.console import Console
    from rich.markup import escape

    from chainrule.sweep.report import plot_ratio_vs_depth, summarize
    from chainrule.sweep.runner import open_executor, run_sweep
    from chainrule.sweep.spec import SweepError, SweepSpec, load_spec, parse_values

    err = Console(stderr=True, soft_wrap=True)
    if scheduler and workers is not None:
        raise click.UsageError(_(
            "--workers sets local processes; with --scheduler the cluster's workers run the cells"
        ))
    # A value given on the command line is a usage error (status 2) naming its flag.
    settings: dict[str, list[Any]] = {}
    for name, text in axes.items():
        if text is not None:
            try:
                settings[name] = parse_values(name, text)
            except SweepError as exc:
                raise click.BadParameter(str(exc), param_hint=[_flag(name)]) from None
    for item in extra:
        key, sep, text = item.partition("=")
        if not sep:
            raise click.BadParameter(_("expected KEY=VALUES, got {item!r}").format(item=item),
                                     param_hint="--set")
        key = key.strip().replace("-", "_")
        try:
            settings[key] = parse_values(key, text)
        except SweepError as exc:
            raise click.BadParameter(str(exc), param_hint="--set") from None
    try:
        spec = load_spec(spec_file) if spec_file else SweepSpec()
        spec = spec.with_settings(settings)
        cells = spec.cells()
    except SweepError as exc:
        raise click.ClickException(str(exc)) from None

    out = out or Path(f"{spec.name}.jsonl")
    title = _("{name}: {count} cells → {path}").format(name=spec.name, count=len(cells),
                                                        path=out)

    if dry_run:
        records = _records(out)
        if as_json:
            listing = [
                {"key": c.key, "status": records.get(c.key, {}).get("status"), "params": c.params}
                for c in cells
            ]
            click.echo(json.dumps({"spec": spec.to_dict(), "out": str(out), "cells": listing}))
            return
        for c in cells:
            status = records.get(c.key, {}).get("status", "todo")
            click.echo(f"{c.key}  {status:5}  {json.dumps(c.params)}")
        click.echo(_("{count} cells, {done} in {path}").format(
            count=len(cells), done=sum(c.key in records for c in cells), path=out))
        return

    show_progress = err.is_terminal
    state = {"ok": 0, "failed": 0, "todo": 0}
    interrupted = False
    outcome = None
    try:
        with open_executor(workers, scheduler) as backend:
            if not as_json:
                err.print(_("{title} on {backend}").format(title=f"[bold]{title}[/]",
                                                           backend=backend.description))
            bar = _progress(err) if show_progress else None
            task: Any = None

            def on_start(todo: int, skipped: int) -> None:
                nonlocal task
                state["todo"] = todo
                if skipped and not as_json:
                    err.print(_("{count} cells already in {path}: skipped").format(
                        count=skipped, path=out))
                if bar is not None:
                    bar.start()
                    task = bar.add_task(_("cells"), total=todo, ok=0, failed=0, remaining=todo)

            def on_record(record: dict[str, Any]) -> None:
                state["ok" if record["status"] == "ok" else "failed"] += 1
                if bar is not None:
                    left = state["todo"] - state["ok"] - state["failed"]
                    bar.update(
                        task, advance=1, ok=state["ok"], failed=state["failed"], remaining=left
                    )

            try:
                outcome = run_sweep(
                    cells,
                    out,
                    backend.executor,
                    max_pending=backend.window,
                    retry_failed=retry_failed,
                    on_start=on_start,
                    on_record=on_record,
                )
            finally:
                if bar is not None:
                    bar.stop()
    except KeyboardInterrupt:
        interrupted = True
    except SweepError as exc:
        raise click.ClickException(str(exc)) from None

    records = _records(out)
    extra_info: dict[str, Any] = {"spec": spec.to_dict(), "out": str(out)}
    if outcome is not None:
        extra_info["run"] = {
            "skipped": outcome.skipped,
            "finished": outcome.ok,
            "failed": outcome.failed,
            "lost": len(outcome.lost),
            "seconds": round(outcome.seconds, 3),
        }
    extra_info["interrupted"] = interrupted
    summary = summarize(cells, records, **extra_info)

    if plot is not None and not interrupted:
        try:
            saved = plot_ratio_vs_depth(cells, records, plot, title=spec.description or None)
        except ValueError as exc:
            raise click.ClickException(f"--plot: {exc}") from None
        summary["plot"] = str(saved)

    if as_json:
        click.echo(json.dumps(summary))
    else:
        console = Console()
        console.print(_table(summary, title))
        for failure in summary["failures"][:10]:
            message = escape(f"{failure['key']}: {failure['error']}")
            err.print("[red]" + _("failed") + f"[/] {message}", highlight=False)
        if len(summary["failures"]) > 10:
            err.print(_("… and {count} more failures (see {path})").format(
                count=len(summary["failures"]) - 10, path=out))
        if "plot" in summary:
            err.print(_("plot saved to {path}").format(path=summary["plot"]))

    if interrupted:
        err.print("[yellow]" + _("interrupted") + "[/]: " + _(
            "{done} of {count} cells are in {path}; run the same command again to finish"
        ).format(done=summary["finished"] + summary["failed"], count=len(cells), path=out))
        sys.exit(130)
    if outcome is not None and outcome.lost:
        err.print("[yellow]" + _("{count} cells did not run").format(count=len(outcome.lost))
                  + f"[/] ({escape(outcome.lost_reason)}); "
                  + _("run the same command again to retry them"))
    if summary["failed"] or summary["missing"]:
        sys.exit(1)
