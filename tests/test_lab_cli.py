"""The lab's commands: chain, vanishing, diagnose, study — tables, --json contracts, errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from chainrule.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_chain_exploding_json() -> None:
    code, out, _ = run("chain", "--weights", "100,100,100,100", "--biases", "-100,-50,-50,-50",
                       "--input", "1", "--target", "0", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["ratio_b1_b3"] == 625.0 and data["regime"] == "exploding"
    assert set(data["layers"][0]) == {"w", "b", "z", "a", "sigma_prime", "factor"}
    assert data["grad_b_autodiff"] == data["grad_b_formula"]


def test_chain_table_monte_carlo_svg_and_plot(tmp_path: Path) -> None:
    svg, png = tmp_path / "chain.svg", tmp_path / "mc.png"
    code, out, _ = run("chain", "--example", "vanishing", "--monte-carlo", "2000", "--svg",
                       str(svg), "--plot", str(png))
    assert code == 0, out
    assert "σ'(z1)" in out and "agree" in out and "Vanishing" in out
    assert "|∂C/∂b3| / 16" in out
    assert svg.read_text(encoding="utf-8").startswith("<svg")
    assert png.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run("chain", "--layers", "5", "--seed", "2", "--monte-carlo", "500",
                       "--json")
    data = json.loads(out)
    assert len(data["layers"]) == 5
    assert {"fraction_factor_below_quarter", "median_abs_ratio_b1_b3",
            "fraction_ratio_below_1_16"} <= set(data["monte_carlo"])


def test_chain_titles_are_whole_lines() -> None:
    code, out, _ = run("chain", "--layers", "3", "--seed", "1", "--monte-carlo", "500")
    assert code == 0, out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("a chain of 3 sigmoid"))
    title = " ".join(line.strip() for line in lines[start:start + 2])
    assert title.startswith("a chain of 3 sigmoid neurons: z = w·a + b, a = σ(z); x = 1, "
                            "y = 0, quadratic cost")
    assert any(line.rstrip() == "500 random chains of 3 neurons, weights and biases N(0, 1)"
               for line in lines)


def test_percent_never_rounds_to_all_or_nothing() -> None:
    from chainrule.commands.chain import percent

    assert [percent(f) for f in (1.0, 0.99999, 0.9999, 0.5, 1e-6, 0.0)] == [
        "100%", ">99.99%", "99.99%", "50.00%", "<0.01%", "0%"]


def test_chain_bad_input() -> None:
    code, out, err = run("chain", "--weights", "1,2", "--biases", "1")
    assert code != 0 and "2 weights but 1 biases" in out + err
    code, out, err = run("chain", "--weights", "1,x", "--biases", "1,2")
    assert code == 2 and "not a comma-separated list" in out + err
    code, out, err = run("chain", "--weights", "1,2")
    assert code == 2 and "--biases" in out + err


def test_vanishing_json_contract() -> None:
    code, out, _ = run("vanishing", "--sizes", "784,30,30,10", "--seeds", "3", "--samples",
                       "200", "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data["hidden_layer_norms"]["mean"]) == 2
    assert len(data["hidden_layer_norms"]["std"]) == 2
    assert len(data["per_seed"]) == 3 and len(data["ratios"]) == 1
    assert data["book"] == [0.07, 0.31]


def test_vanishing_default_runs_the_books_three_networks(tmp_path: Path) -> None:
    png = tmp_path / "v.png"
    code, out, _ = run("vanishing", "--seeds", "2", "--samples", "100", "--plot", str(png))
    assert code == 0, out
    for name in ("784,30,30,10", "784,30,30,30,10", "784,30,30,30,30,10"):
        assert name in out
    assert "0.285" in out and "faster" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run("vanishing", "--seeds", "1", "--samples", "50", "--json")
    assert [n["sizes"] for n in json.loads(out)["networks"]] == [
        [784, 30, 30, 10], [784, 30, 30, 30, 10], [784, 30, 30, 30, 30, 10]]


def test_vanishing_epochs_and_compare(tmp_path: Path) -> None:
    code, out, _ = run("vanishing", "--sizes", "784,10,10,10", "--epochs", "2", "--seeds",
                       "1", "--samples", "100", "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data["history"]) == 3 and len(data["history"][0]) == 2
    png = tmp_path / "cmp.png"
    code, out, _ = run("vanishing", "--compare", "activation", "--sizes", "784,10,10,10",
                       "--seeds", "1", "--samples", "50", "--epochs", "1", "--plot", str(png))
    assert code == 0, out
    assert "relu" in out and "tanh" in out and png.exists()
    code, out, _ = run("vanishing", "--compare", "init", "--seeds", "1", "--samples", "50",
                       "--json")
    values = [s["value"] for s in json.loads(out)["settings"]]
    assert values == ["nielsen-large", "nielsen", "xavier", "he"]


def test_vanishing_bad_input() -> None:
    code, out, err = run("vanishing", "--sizes", "100,10,10", "--seeds", "1")
    assert code == 1 and "first size is 100" in out + err
    code, out, err = run("vanishing", "--sizes", "784,a,10")
    assert code == 2 and "comma-separated integers" in out + err
    code, out, err = run("vanishing", "--samples", "99999", "--seeds", "1")
    assert code == 1 and "between 1 and 4000" in out + err


def test_diagnose_fresh_and_checkpoint(tmp_path: Path) -> None:
    code, out, _ = run("diagnose", "--samples", "100", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["verdict"] == "vanishing" and len(data["layers"]) == 5
    png = tmp_path / "d.png"
    code, out, _ = run("diagnose", "--sizes", "784,30,10", "--init", "nielsen-large",
                       "--preprocess", "raw", "--samples", "100", "--plot", str(png))
    assert code == 0 and "saturated" in out and png.exists()

    from chainrule.nn import MLP
    from chainrule.nn.checkpoint import save_model

    ckpt = tmp_path / "net.npz"
    save_model(MLP((784, 32, 10), activation="relu", init="he", output_activation="linear"),
               ckpt)
    code, out, _ = run("diagnose", str(ckpt), "--loss", "softmax", "--samples", "100", "--json")
    assert code == 0, out
    assert json.loads(out)["verdict"] == "healthy"
    code, out, err = run("diagnose", str(tmp_path / "missing.npz"))
    assert code == 1 and "no such checkpoint" in out + err


def test_diagnose_checkpoint_takes_lr_and_setup_from_its_config(tmp_path: Path) -> None:
    from chainrule.nn import MLP
    from chainrule.nn.checkpoint import save_checkpoint

    model = MLP((784, 30, 30, 30, 30, 10), init="nielsen")
    ckpt = tmp_path / "trained.npz"
    save_checkpoint(ckpt, model.state_dict(), {"model": model.config(), "config": {
        "lr": 0.5, "init": "nielsen", "preprocess": "scale", "loss": "bce"}})
    code, out, _ = run("diagnose", str(ckpt), "--samples", "100", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["lr"] == 0.5 and data["preprocess"] == "scale"
    assert data["loss"] == "cross-entropy"
    assert not any("Scale the inputs" in s or "instead of nielsen-large" in s
                   or "Keep the cross-entropy" in s for s in data["suggestions"])
    code, out, _ = run("diagnose", str(ckpt), "--samples", "100", "--lr", "0.02", "--json")
    assert json.loads(out)["lr"] == 0.02
    code, out, _ = run("diagnose", "--samples", "100", "--json")
    assert json.loads(out)["lr"] == 0.1


def test_study_commands(tmp_path: Path) -> None:
    code, out, _ = run("study", "input-scale", "--sizes", "784,8,10", "--epochs", "1",
                       "--samples", "100", "--batch", "50", "--json")
    assert code == 0
    assert set(json.loads(out)["modes"]) == {"raw", "scale", "standardize"}
    png = tmp_path / "lr.png"
    code, out, _ = run("study", "lr", "--lrs", "0.1,10000", "--sizes", "784,8,10", "--epochs",
                       "1", "--samples", "100", "--batch", "50", "--activation", "relu",
                       "--init", "he", "--loss", "softmax", "--plot", str(png))
    assert code == 0, out
    assert "diverged" in out and "best" in out and png.exists()
    code, out, err = run("study", "lr", "--lrs", "0.1,abc")
    assert code == 2 and "--lrs" in out + err
