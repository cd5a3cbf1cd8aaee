"""Training: the loop learns, checkpoints resume bit for bit, and `chainrule train` behaves."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from chainrule.cli import main
from chainrule.data import load_sample
from chainrule.nn.checkpoint import CheckpointError, load_model, read_checkpoint
from chainrule.nn.init import ConfigError
from chainrule.nn.training import TrainConfig, Trainer, train

SAMPLE = load_sample()


def params(model: Any) -> dict[str, np.ndarray]:
    return model.state_dict()


def same_run(a: Any, b: Any) -> None:
    """Bit-for-bit equality of parameters and history (timings aside)."""
    pa, pb = params(a.model), params(b.model)
    assert pa.keys() == pb.keys()
    for k in pa:
        assert np.array_equal(pa[k], pb[k]), k
    strip = [{k: v for k, v in h.to_json().items() if k != "seconds"} for h in a.history]
    assert strip == [{k: v for k, v in h.to_json().items() if k != "seconds"} for h in b.history]


def test_short_run_learns() -> None:
    result = train(TrainConfig(epochs=2, limit=1000), SAMPLE, handle_sigint=False)
    accuracy = result.history[-1].test_accuracy
    assert accuracy > 0.7  # chance is 0.1
    assert result.history[1].cost < result.history[0].cost


@pytest.mark.parametrize("loss", ["mse", "bce", "softmax"])
def test_other_losses_learn(loss: str) -> None:
    config = TrainConfig(epochs=1, limit=1000, loss=loss, lr=0.5 if loss != "mse" else 10.0)
    assert train(config, SAMPLE, handle_sigint=False).history[-1].test_accuracy > 0.6


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="784 inputs"):
        Trainer(TrainConfig(sizes=(100, 10)), SAMPLE)
    with pytest.raises(ConfigError, match="10 classes"):
        Trainer(TrainConfig(sizes=(784, 30, 9)), SAMPLE)
    with pytest.raises(ConfigError, match="quadratic, mse, bce, softmax"):
        TrainConfig(loss="hinge")
    with pytest.raises(ConfigError, match="sgd, adam"):
        TrainConfig(optimizer="lbfgs")


@pytest.mark.parametrize(
    ("optimizer", "stop_at"),
    [("sgd", (1, 7)), ("adam", (0, 12)), ("sgd", (1, 0))],
    ids=["sgd-mid-epoch", "adam-first-epoch", "sgd-epoch-boundary"],
)
def test_interrupted_then_resumed_equals_uninterrupted(
    tmp_path: Path, optimizer: str, stop_at: tuple[int, int]
) -> None:
    kwargs: dict[str, Any] = {"momentum": 0.9, "lr": 0.5} if optimizer == "sgd" else {"lr": 0.01}
    config = TrainConfig(epochs=3, limit=200, batch=16, optimizer=optimizer, **kwargs)
    reference = Trainer(config, SAMPLE).run(handle_sigint=False)

    ckpt = tmp_path / "run.npz"
    epoch, batch = stop_at

    def stop(t: Trainer, done: int, total: int) -> None:
        if t.progress.epoch == epoch and done == batch:
            raise KeyboardInterrupt

    def stop_epoch(t: Trainer, stats: Any) -> None:
        if batch == 0 and stats.epoch == epoch:
            raise KeyboardInterrupt

    first = Trainer(config, SAMPLE).run(
        checkpoint=ckpt, on_batch=stop, on_epoch=stop_epoch, handle_sigint=False
    )
    assert first.interrupted and first.checkpoint == ckpt
    assert (first.epoch, first.batch) == stop_at
    resumed = Trainer.resume(ckpt, SAMPLE).run(checkpoint=ckpt, handle_sigint=False)
    assert not resumed.interrupted
    same_run(reference, resumed)


def test_resume_rejects_other_architecture_and_settings(tmp_path: Path) -> None:
    ckpt = tmp_path / "run.npz"
    Trainer(TrainConfig(epochs=1, limit=50), SAMPLE).run(checkpoint=ckpt, handle_sigint=False)
    with pytest.raises(CheckpointError, match="sizes 784,30,10.*you asked for.*784,20,10"):
        Trainer.resume(ckpt, SAMPLE, {"sizes": "784,20,10"})
    with pytest.raises(CheckpointError, match="lr=3.0"):
        Trainer.resume(ckpt, SAMPLE, {"lr": 0.1})
    Trainer.resume(ckpt, SAMPLE, {"epochs": 2})  # a longer run is fine


# -- the command line -------------------------------------------------------------------------

FAST = ["--limit", "200", "--epochs", "2"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["train", *args])


def test_cli_json_history() -> None:
    result = invoke(*FAST, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [h["epoch"] for h in data["history"]] == [1, 2]
    assert data["config"]["loss"] == "quadratic" and data["config"]["lr"] == 3.0
    assert data["test_accuracy"] == data["history"][-1]["test_accuracy"] > 0.3
    assert data["interrupted"] is False


def test_cli_table_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "curves.png"
    result = invoke(*FAST, "--plot", str(plot))
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output and "plot written" in result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_checkpoint_resume_extends_run(tmp_path: Path) -> None:
    ckpt = tmp_path / "c.npz"
    direct = tmp_path / "d.npz"
    assert invoke(*FAST, "--checkpoint", str(ckpt)).exit_code == 0
    assert read_checkpoint(ckpt).meta["epoch"] == 2
    result = invoke("--resume", "--checkpoint", str(ckpt), "--epochs", "3", "--json")
    assert result.exit_code == 0, result.output
    assert [h["epoch"] for h in json.loads(result.stdout)["history"]] == [1, 2, 3]
    assert invoke("--limit", "200", "--epochs", "3", "--checkpoint", str(direct)).exit_code == 0
    a, b = load_model(ckpt), load_model(direct)
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert np.array_equal(p.data, q.data)


def test_cli_ctrl_c_saves_and_resume_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt = tmp_path / "c.npz"
    original = Trainer.step
    calls = {"n": 0}

    def step_then_sigint(self: Trainer, idx: np.ndarray) -> float:
        calls["n"] += 1
        if calls["n"] == 27:  # a real SIGINT, delivered during batch 7 of epoch 2
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, idx)

    monkeypatch.setattr(Trainer, "step", step_then_sigint)
    result = invoke(*FAST, "--checkpoint", str(ckpt))
    monkeypatch.setattr(Trainer, "step", original)
    assert result.exit_code == 130
    assert f"checkpoint saved to {ckpt}" in result.output
    assert "Traceback" not in result.output
    meta = read_checkpoint(ckpt).meta
    assert (meta["epoch"], meta["batch"]) == (1, 7)  # 20 batches of 10 per epoch
    # The handler is gone again: Python's default turns SIGINT into KeyboardInterrupt.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    assert invoke("--resume", "--checkpoint", str(ckpt)).exit_code == 0
    direct = tmp_path / "d.npz"
    assert invoke(*FAST, "--checkpoint", str(direct)).exit_code == 0
    a, b = load_model(ckpt), load_model(direct)
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert np.array_equal(p.data, q.data)


def test_cli_ctrl_c_without_checkpoint_picks_a_fresh_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "chainrule-checkpoint.npz").write_bytes(b"keep me")
    monkeypatch.setattr(Trainer, "step", lambda self, idx: self.request_stop() or 0.0)
    result = invoke(*FAST)
    assert result.exit_code == 130
    assert "chainrule-checkpoint-1.npz" in result.output
    assert (tmp_path / "chainrule-checkpoint.npz").read_bytes() == b"keep me"
    assert (tmp_path / "chainrule-checkpoint-1.npz").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sizes", "100,30,10"], "784 inputs"),
        (["--sizes", "784"], "at least two"),
        (["--sizes", "784,abc,10"], "comma-separated integers"),
        (["--sizes", "784,30,5"], "10 classes"),
        (["--activation", "swish"], "'sigmoid', 'tanh', 'relu', 'leaky_relu'"),
        (["--init", "glorot"], "'nielsen-large', 'nielsen', 'xavier', 'he', 'uniform'"),
        (["--loss", "hinge"], "'quadratic', 'mse', 'bce', 'softmax'"),
        (["--optimizer", "rmsprop"], "'sgd', 'adam'"),
        (["--data", "missing.npz"], "no such file"),
        (["--batch", "0"], "--batch"),
        (["--resume"], "--resume needs --checkpoint"),
    ],
)
def test_cli_bad_input_is_one_clear_message(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_corrupt_data_file(tmp_path: Path) -> None:
    bad = tmp_path / "digits.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    result = invoke("--data", str(bad))
    assert result.exit_code == 1 and "not a readable .npz" in result.output


def test_cli_custom_npz_data(tmp_path: Path) -> None:
    path = tmp_path / "tiny.npz"
    np.savez(
        path,
        train_x=SAMPLE.train_x[:100],
        train_y=SAMPLE.train_y[:100],
        test_x=SAMPLE.test_x[:50],
        test_y=SAMPLE.test_y[:50],
    )
    result = invoke("--data", str(path), "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["history"][0]["total"] == 50


def test_cli_checkpoint_is_never_overwritten_by_mistake(tmp_path: Path) -> None:
    ckpt = tmp_path / "c.npz"
    assert invoke("--limit", "50", "--epochs", "1", "--checkpoint", str(ckpt)).exit_code == 0
    before = ckpt.read_bytes()
    fresh = invoke("--limit", "50", "--epochs", "1", "--checkpoint", str(ckpt))
    assert fresh.exit_code == 1 and "--resume" in fresh.output
    other = invoke("--resume", "--checkpoint", str(ckpt), "--sizes", "784,20,10")
    assert other.exit_code == 1 and "you asked for sizes 784,20,10" in other.output
    corrupt = tmp_path / "bad.npz"
    corrupt.write_bytes(b"garbage")
    bad = invoke("--resume", "--checkpoint", str(corrupt))
    assert bad.exit_code == 1 and "not a readable checkpoint" in bad.output
    assert ckpt.read_bytes() == before
    again = invoke("--limit", "50", "--epochs", "1", "--checkpoint", str(ckpt), "--overwrite")
    assert again.exit_code == 0


@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_epochs_must_be_at_least_one(epochs: str) -> None:
    result = CliRunner().invoke(main, ["train", "--epochs", epochs])
    assert result.exit_code == 2
    assert f"Invalid value for '--epochs': {epochs} is not in the range 1<=x" in result.output
