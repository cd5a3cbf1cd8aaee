"""The verdict engine on hand-made measurements, the diagnosis API, the replay and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import chainrule
from chainrule import nn
from chainrule.cli import main
from chainrule.lab import verdict as V
from chainrule.lab.diagnosis import Diagnosis, diagnose
from chainrule.lab.flow import load_inputs, make_model
from chainrule.lab.replay import Budget


def layer(name: str, speed: float, upd: float | None = 0.01, act: str | None = "sigmoid",
          sat: float | None = 0.0, dead: float | None = None, units: int = 30,
          **kw: Any) -> V.LayerMeasures:
    return V.LayerMeasures(name=name, units=units, inputs=30, activation=act, weight_norm=1.0,
                           weight_grad_norm=1.0, bias_grad_norm=speed, speed=speed,
                           grad_rms=speed / units ** 0.5, update_ratio=upd,
                           saturated_fraction=sat, dead_fraction=dead, **kw)


SIGMOID = V.Setup(sizes=(784, 30, 30, 10), activation="sigmoid", init="nielsen",
                  loss="cross-entropy", preprocess="scale", lr=0.1)


# ------------------------------------------------------------------------------ the engine


def test_healthy_has_no_problem_and_no_advice() -> None:
    j = V.judge([layer("1", 0.05), layer("2", 0.2), layer("3", 1.0, sat=None)], SIGMOID)
    assert j.verdict == "healthy" and not j.suggestions
    assert [f.severity for f in j.findings] == ["note"]  # 1/20: normal for the depth
    assert j.findings[0].numbers["first_over_last"] == pytest.approx(0.05)


def test_vanishing_threshold_and_history() -> None:
    rows = [layer("1", 0.004), layer("2", 0.02), layer("3", 0.1), layer("4", 1.0, sat=None)]
    assert V.judge(rows, SIGMOID).verdict == "vanishing"
    fits = V.History(cost=(3.0, 1.0), accuracy=(0.85, 0.9))
    j = V.judge(rows, SIGMOID, fits)
    assert j.verdict == "healthy" and "not hurting" in j.findings[0].message
    stalled = V.History(cost=(3.30, 3.27, 3.26), accuracy=(0.1, 0.1, 0.1))
    j = V.judge(rows, SIGMOID, stalled)
    assert j.verdict == "vanishing" and "stopped falling" in j.findings[0].message
    falling = V.History(cost=(3.3, 2.0), accuracy=(0.3, 0.5))
    assert V.judge(rows, SIGMOID, falling).findings[0].severity == "warning"
    # Just above 1/50: a note, not a problem.
    edge = [layer("1", 0.021), layer("2", 1.0, sat=None)]
    assert V.judge(edge, SIGMOID).verdict == "healthy"


def test_saturation_is_a_problem_only_where_it_starves() -> None:
    starving = [layer("1", 0.001, sat=0.99), layer("2", 0.3, sat=0.1), layer("3", 1.0)]
    j = V.judge(starving, SIGMOID)
    assert j.verdict == "saturated"
    f = next(f for f in j.findings if f.rule == "saturation" and f.severity == "problem")
    assert f.layers == ("1",) and f.numbers["step_to_next"] == pytest.approx(0.001 / 0.3)
    # The vanishing that follows is the saturated layer's consequence: a note.
    assert next(f for f in j.findings if f.rule == "vanishing").severity == "note"
    passing = [layer("1", 0.2, sat=0.7), layer("2", 0.4, sat=0.1), layer("3", 1.0)]
    assert V.judge(passing, SIGMOID).verdict == "healthy"


def test_output_saturation_of_a_fitting_classifier_is_a_note() -> None:
    rows = [layer("1", 0.3, sat=0.4), layer("2", 1.0, sat=0.9)]
    fits = V.Context(samples=1000, accuracy=0.93)
    assert V.judge(rows, SIGMOID, None, fits).verdict == "healthy"
    wrong = V.Context(samples=1000, accuracy=0.2)
    quadratic = V.judge(rows, V.Setup(loss="quadratic", lr=3.0), None, wrong)
    assert quadratic.verdict == "saturated"
    assert quadratic.suggestions[0].flags == "--loss bce"
    assert V.judge(rows, SIGMOID, None, wrong).verdict == "healthy"  # cross-entropy: a − y


def test_dead_units_need_a_representative_batch() -> None:
    rows = [layer("1", 0.3, act="relu", sat=None, dead=0.0),
            layer("2", 0.3, act="relu", sat=None, dead=0.8, bias_mean=-100.0),
            layer("3", 1.0, act=None, sat=None)]
    relu = V.Setup(activation="relu", init="he", loss="softmax", preprocess="scale", lr=0.1)
    few = V.judge(rows, relu, None, V.Context(samples=10))
    assert few.verdict == "healthy" and "too few" in few.findings[0].message
    j = V.judge(rows, relu, None, V.Context(samples=500))
    assert j.verdict == "dead units"
    flags = [s.flags for s in j.suggestions]
    # Never trained: no learning-rate advice in either direction; he is already in use.
    assert flags == ["--activation leaky_relu"]
    unknown = V.judge(rows, V.Setup(activation="relu", init="nielsen", lr=0.1), None,
                      V.Context(samples=500))
    assert "--init he" in [s.flags for s in unknown.suggestions]


def test_exploding_rules_and_lr_direction() -> None:
    big = [layer("1", 0.2, upd=30.0, units=30), layer("2", 1.0, upd=120.0, sat=None)]
    j = V.judge(big, V.Setup(lr=100.0, preprocess="scale"))
    assert j.verdict == "exploding"
    lr = j.suggestions[0].changes[0]
    assert lr.setting == "lr" and lr.new == pytest.approx(0.05)  # 100 · 0.1 / 120 → 0.05
    # A single layer's large step in a network that moves little overall: a note.
    output_only = [layer("1", 0.2, upd=0.01), layer("2", 1.0, upd=2.0, sat=None)]
    output_only[0].weight_norm = 30.0
    assert V.judge(output_only, SIGMOID).verdict == "healthy"
    growth = [layer("1", 500.0, upd=0.5, act="relu", sat=None, dead=0.0),
              layer("2", 1.0, upd=0.5, act=None, sat=None)]
    j = V.judge(growth, V.Setup(activation="relu", init="he", weight_scale=3.0, lr=0.1))
    assert j.verdict == "exploding" and j.suggestions[0].flags == "--weight-scale 1"
    tiny = [layer("1", 0.2, upd=1e-7), layer("2", 1.0, upd=4e-6, sat=None)]
    j = V.judge(tiny, V.Setup(lr=1e-5))
    assert j.verdict == "lr too small"
    assert j.suggestions[0].changes[0].new == pytest.approx(0.05)  # 1e-5·0.03/4e-6 = 0.075


def test_nonfinite_is_named_and_wins() -> None:
    rows = [layer("a", 0.1), layer("b", 0.2, nonfinite=True), layer("c", 1.0, nonfinite=True)]
    j = V.judge(rows, SIGMOID)
    assert j.verdict == "exploding" and j.first_nonfinite == "b"
    assert "layer b" in j.findings[0].message


def test_suggestions_are_structured_and_never_the_current_setting() -> None:
    rows = [layer("1", 0.001), layer("2", 0.01), layer("3", 1.0, sat=None)]
    relu_he = V.Setup(sizes=(784, 30, 30, 10), activation="tanh", init="he", lr=0.1)
    for s in V.judge(rows, relu_he).suggestions:
        d = s.to_dict()
        assert set(d) >= {"changes", "flags", "arguments", "why", "summary", "addresses"}
        assert all(c["old"] != c["new"] for c in d["changes"])
        assert d["flags"].startswith("--") and "=" in d["arguments"]
    none_known = V.judge(rows, V.Setup())
    # Nothing known about the setup: the advice still names real options.
    assert all(s.flags.split()[0] in ("--activation", "--sizes", "--init")
               for s in none_known.suggestions)
    for s in V.judge(rows, SIGMOID).suggestions:
        for c in s.changes:
            if c.setting == "activation":
                assert c.new in V.ACTIVATIONS
            if c.setting == "init":
                assert c.new in V.INITS


def test_every_threshold_is_reported() -> None:
    assert set(V.thresholds()) >= {"vanishing_ratio", "starved_step", "dead_problem",
                                   "step_too_large", "step_too_small", "fits_accuracy"}
    with pytest.raises(ValueError, match="no layer"):
        V.judge([])


# ------------------------------------------------------------------------------ the API


@pytest.fixture(scope="module")
def batch() -> tuple[chainrule.Tensor, np.ndarray]:
    x, y, _ = load_inputs((784, 30, 10), 200)
    return x, y


def test_result_shape_and_untouched_model(batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    x, y = batch
    model = make_model((784, 30, 10))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    d = chainrule.diagnose(model, x.data, y, lr=0.5)
    assert isinstance(d, Diagnosis) and d.verdict in V.VERDICTS
    assert all(p.grad is None for p in model.parameters())
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    data = d.to_dict()
    json.dumps(data, allow_nan=False)
    assert set(data) >= {"layers", "verdict", "findings", "evidence", "suggestions",
                         "thresholds", "first_nonfinite", "setup"}
    row = data["layers"][0]
    assert row["update_ratio"] == pytest.approx(0.5 * row["weight_grad_norm"] /
                                                row["weight_norm"])
    # ‖∂C/∂b‖ by autodiff equals central differences of the cost in one bias.
    assert row["speed"] == pytest.approx(row["bias_grad_norm"])
    assert "verdict: " in str(d)
    html = d._repr_html_()
    assert "<svg" in html and "verdict" in html and "</table>" in html


def test_momentum_and_adam_step_sizes(batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    x, y = batch
    model = make_model((784, 30, 10))
    plain = diagnose(model, x, y, lr=0.1).layers[0]
    momentum = diagnose(model, x, y, lr=0.1, momentum=0.9).layers[0]
    adam = diagnose(model, x, y, lr=0.001, optimizer="adam").layers[0]
    assert momentum.update_ratio == pytest.approx(10 * (plain.update_ratio or 0))
    assert adam.update_ratio == pytest.approx(0.001 * (784 * 30) ** 0.5 / adam.weight_norm)


def test_bad_input(batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    x, y = batch
    model = make_model((784, 30, 10))
    with pytest.raises(chainrule.errors.ChainruleError, match="learning rate"):
        diagnose(model, x, y, lr=float("nan"))
    with pytest.raises(chainrule.errors.ChainruleError, match="first layer takes 784"):
        diagnose(model, x.data[:, :100], y)


def test_relu_network_reports_dead_fraction(batch: tuple[chainrule.Tensor, np.ndarray]) -> None:
    x, y = batch
    relu = nn.MLP((784, 64, 32, 10), activation="relu", init="he", output_activation="linear")
    d = diagnose(relu, x, y, loss="softmax")
    assert [r.activation for r in d.layers] == ["relu", "relu", None]
    assert d.layers[0].dead_fraction is not None and d.layers[0].saturated_fraction is None


def test_replay_measures_each_fix() -> None:
    x, y, _ = load_inputs((784, 30, 30, 30, 30, 10), 1000)
    model = make_model((784, 30, 30, 30, 30, 10))
    ticks: list[tuple[int, int]] = []
    d = diagnose(model, x, y, init="nielsen", preprocess="scale", verify=True,
                 budget=Budget(samples=2000, epochs=1, seeds=1),
                 progress=lambda done, total: ticks.append((done, total)))
    r = d.replay
    assert r is not None and len(r.outcomes) == len(d.suggestions) >= 2
    assert ticks[-1] == (1 + len(d.suggestions), 1 + len(d.suggestions))
    assert r.before.final_accuracy < 0.2  # the deep sigmoid net stalls
    best = r.outcomes[0]
    assert best.effect == "helps" and best.run.final_accuracy > 0.5
    assert best.run.speed_ratio is not None and r.before.speed_ratio is not None
    assert best.run.speed_ratio > 10 * r.before.speed_ratio
    gains = [o.accuracy_change for o in r.outcomes]
    assert gains == sorted(gains, reverse=True)
    json.dumps(d.to_dict(), allow_nan=False)
    # The model the user passed is untouched by the replays.
    assert all(p.grad is None for p in model.parameters())


def test_replay_reports_a_fix_that_does_not_help() -> None:
    x, y, _ = load_inputs((784, 30, 30, 10), 1000, "raw")
    model = make_model((784, 30, 30, 10), init="nielsen-large")
    d = diagnose(model, x, y, init="nielsen-large", preprocess="raw", verify=True,
                 budget=Budget(samples=2000, epochs=1, seeds=1))
    effects = {o.suggestion.flags: o.effect for o in d.replay.outcomes}
    assert effects["--preprocess scale"] == "helps"
    assert "hurts" in effects.values() or "no clear effect" in effects.values()


# ------------------------------------------------------------------------------ the CLI


def test_cli_json_matches_the_api() -> None:
    res = CliRunner().invoke(main, ["diagnose", "--sizes", "784,30,30,30,30,10", "--samples",
                                    "300", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["verdict"] == "vanishing"
    assert data["suggestions"][0]["flags"].startswith("--")
    assert {f["severity"] for f in data["findings"]} <= set(V.SEVERITIES)


def test_cli_verify_table_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "fixes.png"
    res = CliRunner().invoke(main, ["diagnose", "--sizes", "784,30,30,30,30,10", "--verify",
                                    "--epochs", "1", "--plot", str(plot)],
                             terminal_width=160)
    assert res.exit_code == 0, res.output
    assert "fixes replayed" in res.output and "helps" in res.output
    assert plot.stat().st_size > 10_000


def _checkpoint(tmp_path: Path, epochs: int = 1, **config: Any) -> Path:
    from chainrule.nn.training import TrainConfig, Trainer

    trainer = Trainer(TrainConfig(sizes=(784, 30, 10), epochs=epochs, limit=500, **config),
                      chainrule.data.load_sample())
    path = tmp_path / "run.npz"
    trainer.run(checkpoint=path, handle_sigint=False)
    return path


def test_cli_checkpoint_uses_its_history_and_settings(tmp_path: Path) -> None:
    path = _checkpoint(tmp_path, epochs=2)
    res = CliRunner().invoke(main, ["diagnose", str(path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert len(data["history"]["cost"]) == 2 and data["lr"] == 3.0
    assert data["setup"]["loss"] == "quadratic"


def test_cli_checkpoint_with_nan_weights_names_the_layer(tmp_path: Path) -> None:
    from chainrule.nn.checkpoint import read_checkpoint, save_checkpoint

    path = _checkpoint(tmp_path)
    ckpt = read_checkpoint(path)
    ckpt.model["layers.2.weight"][3, 4] = np.inf
    save_checkpoint(path, ckpt.model, {k: v for k, v in ckpt.meta.items()
                                       if k not in ("format", "version")})
    res = CliRunner().invoke(main, ["diagnose", str(path), "--json"])
    data = json.loads(res.output)
    assert data["verdict"] == "exploding" and data["first_nonfinite"] == "2"


def test_cli_checkpoint_without_history_and_old_format(tmp_path: Path) -> None:
    from chainrule.nn.checkpoint import read_checkpoint, save_checkpoint

    path = _checkpoint(tmp_path)
    ckpt = read_checkpoint(path)
    bare = tmp_path / "bare.npz"
    save_checkpoint(bare, ckpt.model, {"model": ckpt.meta["model"]})
    res = CliRunner().invoke(main, ["diagnose", str(bare)])
    assert res.exit_code == 0 and "no training history" in res.output
    old = tmp_path / "old.npz"
    np.savez(old, meta=np.array(json.dumps({"format": "chainrule-checkpoint", "version": 0})))
    res = CliRunner().invoke(main, ["diagnose", str(old)])
    assert res.exit_code == 1 and "version 0" in res.output
    assert "Traceback" not in res.output
    broken = tmp_path / "broken.npz"
    save_checkpoint(broken, ckpt.model, {**{k: v for k, v in ckpt.meta.items()
                                            if k not in ("format", "version")},
                                         "history": [{"cost": "x"}]})
    res = CliRunner().invoke(main, ["diagnose", str(broken)])
    assert res.exit_code == 1 and "numeric cost" in res.output


@pytest.mark.parametrize("args", [["--lr", "nan"], ["--lr", "-1"], ["--weight-scale", "inf"]])
def test_cli_refuses_bad_numbers(args: list[str]) -> None:
    res = CliRunner().invoke(main, ["diagnose", *args])
    assert res.exit_code == 2 and "Traceback" not in res.output
