"""Sweeps: grids and keys, the same numbers on any executor, resuming, failures, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chainrule.cli import main
from chainrule.sweep import (
    SweepError,
    SweepSpec,
    cell_key,
    load_spec,
    open_executor,
    parse_values,
    read_records,
    run_sweep,
    summarize,
)
from chainrule.sweep.report import plot_ratio_vs_depth
from chainrule.sweep.runner import InlineExecutor
from chainrule.sweep.spec import spec_from_dict
from chainrule.sweep.store import ResultsWriter

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "depth-sweep.toml"

# A small real grid: the lab's gradient norms at initialisation, 8 cells.
NORMS = SweepSpec(
    {"measure": "norms", "samples": 20, "width": 10},
    {"depth": [1, 2], "activation": ["sigmoid", "relu"], "init": ["nielsen", "he"]},
)
TOY = SweepSpec({"measure": "toy"}, {"depth": [1, 2, 3], "seed": [0, 1]})


def results(path: Path) -> dict[str, Any]:
    """key -> result (or error type) of every record: what must not depend on the executor."""
    return {
        k: r["result"] if r["status"] == "ok" else r["error"]["type"]
        for k, r in read_records(path).by_key.items()
    }


def line_counts(path: Path) -> Counter[str]:
    lines = path.read_text().splitlines()
    return Counter(json.loads(line)["key"] for line in lines if line.strip())


def crash_on_seed_one(params: Mapping[str, Any]) -> dict[str, Any]:
    """A measure whose worker process dies (not an exception: the process is gone)."""
    if params["seed"] == 1:
        os._exit(3)
    return {"seed": params["seed"]}


# -- the grid -----------------------------------------------------------------------------


def test_sweep_file_expands_to_cells_with_stable_keys(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(
        'name = "demo"\nmeasure = "norms"\nsamples = 50\n\n'
        '[grid]\ndepth = [1, 3]\nactivation = ["sigmoid", "tanh"]\nseed = [0, 1, 2]\n'
    )
    spec = load_spec(path)
    cells = spec.cells()
    assert spec.name == "demo" and len(cells) == 12
    first = cells[0].params
    assert first == {
        "measure": "norms",
        "sizes": [784, 30, 10],
        "activation": "sigmoid",
        "init": "nielsen",
        "weight_scale": 1.0,
        "seed": 0,
        "preprocess": "scale",
        "samples": 50,
    }
    assert cells[-1].params["sizes"] == [784, 30, 30, 30, 10]
    # The key is a hash of the parameters: independent of their order, and values are
    # canonical (weight_scale = 1 is 1.0; defaults spelled out or not are the same cell).
    shuffled = dict(reversed(list(first.items())))
    assert cell_key(shuffled) == cells[0].key
    same = spec_from_dict({"samples": 50, "weight_scale": 1, "init": "nielsen", "depth": 1})
    assert same.cells()[0].key == cells[0].key
    assert len({c.key for c in cells}) == 12
    # Flags replace the file's values; one value fixes a setting, several make an axis.
    narrowed = spec.with_settings({"seed": [0], "activation": ["relu", "tanh"]})
    assert len(narrowed.cells()) == 4 and narrowed.fixed["seed"] == 0


def test_example_sweep_file_is_valid() -> None:
    spec = load_spec(EXAMPLE)
    cells = spec.cells()
    params = {k: {json.dumps(c.params[k]) for c in cells} for k in ("activation", "init")}
    assert params["activation"] == {'"sigmoid"', '"tanh"', '"relu"'}
    assert params["init"] == {'"nielsen"', '"xavier"', '"he"'}
    assert len({len(c.params["sizes"]) for c in cells}) >= 5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"grid": {"dept": [1, 2]}}, "unknown sweep setting 'dept'"),
        ({"grid": {"activation": ["sigmoid", "swish"]}}, "unknown activation 'swish'"),
        ({"seed": [0, 1]}, "put it under [grid]"),
        ({"grid": {"depth": [0]}}, "depth must be at least 1"),
        ({"grid": {"depth": [1.5]}}, "depth must be an integer"),
        ({"sizes": [784, 10]}, "at least one hidden layer"),
        ({"sizes": [784, 30, 10], "grid": {"depth": [1, 2]}}, "either sizes or depth"),
        ({"grid": {"lr": [0.1, 1.0]}}, "lr does not affect measure norms"),
        ({"grid": {"depth": []}}, "axis 'depth' has no values"),
        ({"extra": {"a": 1}}, "unknown table [extra]"),
    ],
)
def test_bad_sweeps_are_clear_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(SweepError, match=message.replace("[", r"\[").replace("]", r"\]")):
        spec_from_dict(data).cells()


def test_flag_values_ranges_and_sizes() -> None:
    assert parse_values("depth", "1..4") == [1, 2, 3, 4]
    assert parse_values("seed", "0, 5..6") == [0, 5, 6]
    assert parse_values("lr", "0.1,3") == [0.1, 3.0]
    assert parse_values("sizes", "784,30,10;784,30,30,10") == [(784, 30, 10), (784, 30, 30, 10)]
    with pytest.raises(SweepError, match="empty range"):
        parse_values("depth", "4..2")


def test_an_axis_one_measure_ignores_gives_each_cell_once() -> None:
    spec = SweepSpec({}, {"measure": ["norms", "speed"], "lr": [0.1, 1.0]})
    by_measure = Counter(c.params["measure"] for c in spec.cells())
    assert by_measure == {"norms": 1, "speed": 2}


# -- same numbers on any executor ---------------------------------------------------------


def test_one_and_two_local_workers_give_identical_results(tmp_path: Path) -> None:
    cells = NORMS.cells()
    outcomes = {}
    for workers in (1, 2):
        with open_executor(workers) as backend:
            outcomes[workers] = run_sweep(
                cells, tmp_path / f"w{workers}.jsonl", backend.executor, max_pending=backend.window
            )
        assert outcomes[workers].ok == len(cells) and not outcomes[workers].lost
    one, two = results(tmp_path / "w1.jsonl"), results(tmp_path / "w2.jsonl")
    assert one == two and len(one) == len(cells)
    # The two workers really shared the work, and the numbers are the lab's.
    assert len({r["worker"] for r in read_records(tmp_path / "w2.jsonl").by_key.values()}) == 2
    sigmoid_deep = next(
        r["result"]
        for r in outcomes[1].records.values()
        if r["params"]["activation"] == "sigmoid" and len(r["params"]["sizes"]) == 4
    )
    assert sigmoid_deep["ratio"] == sigmoid_deep["first"] / sigmoid_deep["last"] < 1.0
    # In this process (workers = 0), too.
    with open_executor(0) as backend:
        run_sweep(cells, tmp_path / "w0.jsonl", backend.executor)
    assert results(tmp_path / "w0.jsonl") == one


def test_dask_local_cluster_gives_the_same_numbers(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    cells = NORMS.cells()
    run_sweep(cells, tmp_path / "inline.jsonl", InlineExecutor())
    # In-process workers (quick to start) behind a real TCP scheduler on 127.0.0.1, which the
    # sweep reaches by address as it would a remote cluster.
    with distributed.LocalCluster(
        protocol="tcp://",
        host="127.0.0.1",
        scheduler_port=0,
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        dashboard_address=None,
    ) as cluster:
        with open_executor(scheduler=cluster.scheduler_address) as backend:
            assert "Dask" in backend.description and backend.capacity == 2
            outcome = run_sweep(
                cells, tmp_path / "dask.jsonl", backend.executor, max_pending=backend.window
            )
    assert outcome.ok == len(cells) and not outcome.lost
    assert results(tmp_path / "dask.jsonl") == results(tmp_path / "inline.jsonl")


def test_unreachable_scheduler_is_a_clear_error() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(SweepError, match="cannot reach the Dask scheduler"):
        with open_executor(scheduler="tcp://127.0.0.1:9", timeout=0.5):
            pass


# -- failures -----------------------------------------------------------------------------


def test_failing_cells_are_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    spec = TOY.with_settings({"fail": [False, True]})
    cells = spec.cells()
    with open_executor(2) as backend:
        outcome = run_sweep(cells, out, backend.executor, max_pending=backend.window)
    assert (outcome.ok, outcome.failed) == (6, 6)
    errors = [r for r in read_records(out).by_key.values() if r["status"] == "error"]
    assert {r["params"]["fail"] for r in errors} == {True}
    assert errors[0]["error"]["type"] == "RuntimeError"
    assert "asked to fail" in errors[0]["error"]["message"]
    assert "Traceback" in errors[0]["error"]["traceback"]
    summary = summarize(cells, outcome.records)
    assert (summary["finished"], summary["failed"], summary["missing"]) == (6, 6, 0)
    assert all("asked to fail" in f["error"] for f in summary["failures"])
    # A rerun skips failed cells too; --retry-failed runs them again (and the last line wins).
    again = run_sweep(cells, out, InlineExecutor())
    assert again.skipped == 12 and again.ran == 0
    retried = run_sweep(cells, out, InlineExecutor(), retry_failed=True)
    assert retried.skipped == 6 and retried.failed == 6
    assert sorted(line_counts(out).values()) == [1] * 6 + [2] * 6


def test_a_dead_worker_loses_its_cells_without_recording_them(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    cells = TOY.cells()
    with open_executor(1) as backend:
        outcome = run_sweep(cells, out, backend.executor, measure=crash_on_seed_one)
    assert outcome.lost and "BrokenProcessPool" in outcome.lost_reason
    recorded = read_records(out).by_key
    assert all(r["status"] == "ok" and r["params"]["seed"] == 0 for r in recorded.values())
    assert len(recorded) + len(outcome.lost) == len(cells)


# -- the results file ---------------------------------------------------------------------


def test_a_torn_last_line_is_tolerated_and_cut_before_appending(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    cells = TOY.cells()
    run_sweep(cells[:2], out, InlineExecutor())
    whole = out.read_bytes()
    out.write_bytes(whole + whole.splitlines(keepends=True)[0][:25])  # a write cut short
    found = read_records(out)
    assert found.torn and not found.damaged and len(found.by_key) == 2
    outcome = run_sweep(cells, out, InlineExecutor())
    assert (outcome.skipped, outcome.ok) == (2, 4)
    assert line_counts(out) == Counter({c.key: 1 for c in cells})
    # A complete last record that only lacks its newline is kept.
    out.write_bytes(out.read_bytes().rstrip(b"\n"))
    with ResultsWriter(out) as writer:
        assert writer.repaired
    assert out.read_bytes().endswith(b"}\n") and len(read_records(out).by_key) == 6


def test_one_writer_per_results_file(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    with ResultsWriter(out):
        with pytest.raises(SweepError, match="another sweep is writing"):
            run_sweep(TOY.cells(), out, InlineExecutor())


def test_an_interrupted_sweep_keeps_what_finished_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    cells = TOY.with_settings({"sleep": [0.05], "seed": [0, 1, 2, 3]}).cells()
    seen: list[str] = []

    def stop_after_three(record: dict[str, Any]) -> None:
        seen.append(record["key"])
        if len(seen) == 3:
            raise KeyboardInterrupt  # what Ctrl-C does in the main thread

    with pytest.raises(KeyboardInterrupt):
        with open_executor(2) as backend:
            run_sweep(cells, out, backend.executor, max_pending=4, on_record=stop_after_three)
    assert set(line_counts(out)) == set(seen)
    with open_executor(2) as backend:
        outcome = run_sweep(cells, out, backend.executor)
    assert (outcome.skipped, outcome.ok) == (3, len(cells) - 3)
    assert line_counts(out) == Counter({c.key: 1 for c in cells})


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"sweep ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {n} lines in {timeout}s")


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` (the sweep and its workers) is still running."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Fields after the command: state, ppid, pgrp, …
            state, _, pgrp = stat.rsplit(")", 1)[1].split()[:3]
            if int(pgrp) == pgid and state != "Z":
                return True
    return False


def _group_ends(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("how", ["sigkill", "sigint"])
def test_a_killed_sweep_reruns_to_every_cell_exactly_once(tmp_path: Path, how: str) -> None:
    out = tmp_path / "r.jsonl"
    args = [
        "sweep", "--measure", "toy", "--depth", "1..3", "--seed", "0..3",
        "--set", "sleep=0.15", "--workers", "2", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, which the workers join
    )
    try:
        _wait_for_lines(out, 3, proc, timeout=30)
        if how == "sigint":  # Ctrl-C in a terminal: the whole process group
            os.killpg(proc.pid, signal.SIGINT)
        else:  # the sweep process alone dies at once; its workers must follow it
            os.kill(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=30)
        assert _group_ends(proc.pid, timeout=10), "worker processes outlived the sweep"
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    partial = line_counts(out)
    assert 3 <= sum(partial.values()) < 12 and max(partial.values()) == 1
    if how == "sigint":
        assert proc.returncode == 130, stderr.decode()
        assert b"run the same command again" in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
        with out.open("ab") as fh:  # as if the kill had landed in the middle of a write
            fh.write(b'{"key": "0123')

    rerun = CliRunner().invoke(main, [*args[:-4], "--workers", "0", "--out", str(out), "--json"])
    assert rerun.exit_code == 0, rerun.output
    summary = json.loads(rerun.output)
    assert summary["run"]["skipped"] == sum(partial.values())
    assert summary["finished"] == summary["cells"] == 12
    counts = line_counts(out)
    assert len(counts) == 12 and set(counts.values()) == {1}


# -- the command and the report -----------------------------------------------------------


def test_cli_json_summary_and_plot(tmp_path: Path) -> None:
    out, png = tmp_path / "r.jsonl", tmp_path / "ratio.png"
    args = ["sweep", "--measure", "toy", "--depth", "1..3", "--activation", "sigmoid,relu"]
    args += ["--seed", "0,1", "--workers", "0", "--out", str(out), "--plot", str(png), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cells"] == summary["finished"] == 12 and summary["failed"] == 0
    assert summary["columns"] == ["depth", "activation", "ok", "first", "last", "ratio"]
    assert len(summary["rows"]) == 6 and all(row["ok"] == 2 for row in summary["rows"])
    assert png.read_bytes().startswith(b"\x89PNG") and summary["plot"] == str(png)
    # The table face, from the results already there (nothing runs again).
    table = CliRunner().invoke(main, args[:-1])
    assert table.exit_code == 0 and "12 cells already in" in table.output
    assert "ratio" in table.output and "sigmoid" in table.output


def test_cli_exit_codes_and_errors(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    base = ["sweep", "--measure", "toy", "--workers", "0", "--out", str(out)]
    failing = CliRunner().invoke(main, [*base, "--set", "fail=true", "--json"])
    assert failing.exit_code == 1 and json.loads(failing.output)["failed"] == 1
    bad = CliRunner().invoke(main, [*base, "--activation", "swish"])
    # a bad flag value is a usage error naming the flag, as click.Choice makes it elsewhere
    assert bad.exit_code == 2 and "unknown activation 'swish'" in bad.output
    assert "--activation" in bad.output
    no_eq = CliRunner().invoke(main, [*base, "--set", "fail"])
    assert no_eq.exit_code == 2 and "KEY=VALUES" in no_eq.output
    dry = CliRunner().invoke(main, [*base, "--seed", "0..2", "--dry-run"])
    assert dry.exit_code == 0 and dry.output.count("todo") == 3
    missing = CliRunner().invoke(main, ["sweep", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2
    both = CliRunner().invoke(main, [*base, "--scheduler", "tcp://127.0.0.1:9"])
    assert both.exit_code == 2 and "--workers sets local processes" in both.output


def test_plot_needs_ratios(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no finished cells"):
        plot_ratio_vs_depth(TOY.cells(), {}, tmp_path / "x.png")
