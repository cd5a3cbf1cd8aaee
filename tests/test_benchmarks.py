"""The benchmark suite measures the same work in every system (no timings asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from benchmarks import mlp, runner, scalar

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bench")
    mlp.prepare_inputs(directory)
    return directory / mlp.DATA_FILE


def _train(system: str, path: Path, batch: int, dtype: str, steps: int) -> list[np.ndarray]:
    init, batches, _, _ = mlp.load_inputs(path, batch, dtype)
    epoch, final = mlp.FACTORIES[system](init, batches)
    epoch(steps)
    return [np.asarray(w, dtype=np.float64) for w in final()]


@pytest.mark.parametrize(("batch", "dtype", "rtol"), [(10, "float64", 1e-10),
                                                      (256, "float32", 1e-4)])
def test_every_mlp_system_takes_the_floors_steps(inputs: Path, batch: int, dtype: str,
                                                 rtol: float) -> None:
    floor = _train("numpy", inputs, batch, dtype, 3)
    init, _, _, _ = mlp.load_inputs(inputs, batch, dtype)
    assert not np.allclose(floor[0], init[0])  # the floor did train
    for system in mlp.SYSTEMS[1:]:
        if system in ("torch", "autograd"):
            pytest.importorskip(system)
        weights = _train(system, inputs, batch, dtype, 3)
        for ours, theirs in zip(weights, floor, strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol, err_msg=system)


def test_mlp_systems_keep_the_dtype(inputs: Path) -> None:
    init, batches, _, _ = mlp.load_inputs(inputs, 256, "float32")
    epoch, final = mlp.FACTORIES["chainrule"](init, batches)
    epoch(1)
    assert all(np.asarray(w).dtype == np.float32 for w in final())


def test_wide_dag_has_about_n_nodes_and_right_gradients() -> None:
    from chainrule import Value

    leaves, root = scalar.build_dag(Value, 1000)
    assert len(leaves) == 500
    assert len(set(map(id, _nodes(root)))) == 4 * 250 - 1
    root.backward()
    assert scalar._check("dag", leaves, lambda v: v.grad)


def test_chain_is_n_deep() -> None:
    from chainrule import Value

    leaves, root = scalar.build_chain(Value, 3000)  # deeper than the recursion limit
    assert len(_nodes(root)) == 3000
    root.backward()
    assert scalar._check("chain", leaves, lambda v: v.grad)


def test_micrograd_fails_on_a_deep_chain_and_the_worker_says_so() -> None:
    pytest.importorskip("micrograd")
    result = scalar.run("micrograd", "chain", 5000)
    assert "fails" in result


def test_worker_prints_one_json_object() -> None:
    spec = {"task": "chain", "system": "chainrule", "n": 2000}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.worker", json.dumps(spec)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout)
    assert result["check"] is True
    assert {"build", "backward", "total", "bytes_per_node"} <= set(result)


def test_targets_report_ratios_and_unmeasured() -> None:
    results = {
        "import": {"chainrule": {"median": 0.12}, "numpy": {"median": 0.1}},
        "circuit": {"chainrule": {"median": 0.3}},
    }
    rows = {r["target"]: r for r in runner.targets(results)}
    assert rows["import chainrule vs import numpy"]["value"] == pytest.approx(1.2)
    assert rows["import chainrule vs import numpy"]["met"] is True
    assert rows["circuit --example simple --json"]["met"] is True
    assert rows["wide DAG 1e6 build + backward"]["met"] is None


def test_mlp_ratio_pairs_rounds_so_drift_cancels() -> None:
    # The machine runs twice as fast in round 1: each round's ratio is still 1.5, while the
    # ratio of the overall medians would mix fast and slow rounds.
    runs = {
        "chainrule": {"rounds": {0: [3.0, 3.0], 1: [1.5, 1.5], 2: [3.0, 3.3]}},
        "numpy": {"rounds": {0: [2.0, 2.0], 1: [1.0, 1.0], 2: [2.0, 2.2]}},
        "torch": {"rounds": {0: [6.0, 6.0], 2: [6.0, 6.6]}},  # missed round 1
    }
    paired = runner._paired_ratios(runs)
    assert paired["numpy"]["rounds"] == pytest.approx([1.5, 1.5, 1.5])
    assert paired["torch"]["rounds"] == pytest.approx([0.5, 0.5])
    case = {"paired": paired, "systems": {"chainrule": {"median": 3.0},
                                          "numpy": {"median": 1.0}}}
    assert runner.mlp_ratio(case, "numpy") == pytest.approx(1.5)
    del case["paired"]  # results written before pairing: ratio of the medians
    assert runner.mlp_ratio(case, "numpy") == pytest.approx(3.0)
    rows = {r["target"]: r for r in runner.targets({"mlp": {"cases": {
        "batch 10, f64": {"paired": paired}}}})}
    target = rows["MLP epoch batch 10, f64, user loop vs NumPy floor"]
    assert target["value"] == pytest.approx(1.5)
    assert target["met"] is False


def test_cost_check_flags_a_system_that_skips_work() -> None:
    systems = {"numpy": {"cost": 2.3, "dtype": "float64"},
               "lazy": {"cost": 3.29, "dtype": "float64"}}
    check = runner._cost_check(systems, "float64", initial=3.29)
    assert not check["ok"]
    assert "lazy" in check["detail"]


def _nodes(root: object) -> list[object]:
    seen: dict[int, object] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        stack += [x for x in node.inputs]  # type: ignore[attr-defined]
    return list(seen.values())


def test_a_peer_that_is_not_installed_is_skipped_not_failed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {
        "chainrule": {"total": 0.5, "build": 0.2, "backward": 0.3, "bytes_per_node": 100.0,
                      "check": True},
        "micrograd": {"fails": "RecursionError: maximum recursion depth exceeded"},
        "torch": {"skipped": "torch is not installed (torch)"},
    }
    calls: list[str] = []

    def worker(self: runner.Runner, spec: dict[str, object], label: str) -> dict[str, object]:
        calls.append(str(spec["system"]))
        return dict(answers[str(spec["system"])])

    monkeypatch.setattr(runner.Runner, "worker", worker)
    r = runner.Runner(runner.Settings(quick=True, repeats=2))
    r.run_scalar("chain")
    row = r.results["chain"]["10000"]
    assert row["torch"] == {"skipped": "torch is not installed (torch)"}
    assert row["micrograd"] == {
        "fails": "fails at 10,000 nodes: RecursionError: maximum recursion depth exceeded"}
    assert calls.count("torch") == 1 and calls.count("micrograd") == 1
    assert runner.fmt_cell(row["torch"]) == "not installed"
    assert runner.fmt_cell(row["micrograd"]) == "fails"
    report = {"results": {"chain": r.results["chain"]}}
    from benchmarks.report import results_markdown

    md = results_markdown(report).splitlines()
    assert md[2].endswith("| micrograd | fails | — |")
    assert md[3].endswith("| torch 0-d | not installed | — |")


@pytest.mark.parametrize("given", [False, True])
def test_report_without_results_says_what_to_run(
        given: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import report

    monkeypatch.setattr(report, "RESULTS", tmp_path)
    missing = tmp_path / "old.json"
    monkeypatch.setattr(sys, "argv", ["report", str(missing)] if given else ["report"])
    with pytest.raises(SystemExit) as info:
        report.main()
    assert info.value.code == 1
    where = f" in {missing}" if given else ""
    assert capsys.readouterr().err == (
        f"no results yet{where}: run `python -m benchmarks` (or `--quick`) first\n")


def test_every_chainrule_loop_is_paired_with_floor_and_torch() -> None:
    runs = {
        "chainrule": {"rounds": {0: [3.0], 1: [1.5]}},
        "chainrule-compile": {"rounds": {0: [2.0], 1: [1.0]}},
        "numpy": {"rounds": {0: [2.0], 1: [1.0]}},
        "torch": {"rounds": {0: [6.0], 1: [3.0]}},
    }
    case = {"paired": runner._paired_ratios(runs),
            "paired_systems": {s: runner._paired_ratios(runs, s) for s in runs
                               if s != "chainrule"},
            "systems": {s: {"median": v["rounds"][0][0]} for s, v in runs.items()}}
    rows = {label: (floor, torch) for label, _, floor, torch in runner.mlp_rows(case)}
    assert rows["chainrule, user loop"] == ("1.50×", "0.50×")
    assert rows["chainrule-compile"] == ("1.00×", "0.33×")
    assert rows["torch"] == ("3.00×", "—")
    assert rows["NumPy floor"] == ("1.00×", "—")
    targets = {r["target"]: r for r in runner.targets({"mlp": {"cases": {"batch 10, f64": case}}})}
    assert targets["MLP epoch batch 10, f64, chainrule.compile vs NumPy floor"]["met"] is True
    assert targets["MLP epoch batch 10, f64, user loop vs NumPy floor"]["met"] is False


def test_mlp_cost_is_the_bce_of_sigmoid_outputs_summed_over_classes() -> None:
    # One example, one layer of zeros: z = b, and C = Σ_c softplus(b_c) − y_c·b_c.
    sizes = mlp.SIZES
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        params += [np.zeros((n_in, n_out)), np.zeros(n_out)]
    params[-1] = np.linspace(-2.0, 2.0, sizes[-1])
    x, y = np.zeros((1, sizes[0])), np.array([3])
    b = params[-1]
    expected = float(np.sum(np.log1p(np.exp(b))) - b[3])
    assert mlp.mean_cost(params, x, y) == pytest.approx(expected, rel=1e-12)


def test_readme_table_has_one_row_per_case_with_ratios_to_the_floor() -> None:
    from benchmarks.report import readme_markdown

    runs = {s: {"rounds": {0: [t]}} for s, t in
            (("chainrule", 0.3), ("chainrule-compile", 0.2), ("numpy", 0.2), ("torch", 0.6))}
    case = {"paired": runner._paired_ratios(runs),
            "paired_systems": {s: runner._paired_ratios(runs, s) for s in runs
                               if s != "chainrule"},
            "systems": {s: {"median": v["rounds"][0][0]} for s, v in runs.items()}}
    md = readme_markdown({"results": {"mlp": {"cases": {"batch 10, f64": case}}}}).splitlines()
    assert md[0].startswith("| MLP epoch | chainrule, user loop |")
    assert md[2] == ("| batch 10, f64 | 300.0 ms (1.50×) | 200.0 ms (1.00×) | — | 600.0 ms "
                     "(3.00×) | — | — | 200.0 ms |")
