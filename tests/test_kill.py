"""kill -9 during training and sweeps: the final names only ever hold complete results, and the
next run leaves no temporaries behind. Short on purpose (a few seconds each), run in CI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chainrule.nn.checkpoint import read_checkpoint

pytestmark = pytest.mark.slow

# Tiny epochs, so that the process spends much of its time saving checkpoints.
TRAIN = ["train", "--sizes", "784,30,10", "--limit", "100", "--batch", "50", "--json"]


def _chainrule(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "chainrule", *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], delay: float) -> None:
    """SIGKILL ``proc`` ``delay`` seconds after ``ready()`` first holds (so: mid-run)."""
    deadline = time.monotonic() + 30
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)


def _strays(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".part")))


@pytest.mark.parametrize("delay", [0.0, 0.13, 0.37])
def test_train_killed_mid_run_leaves_a_whole_checkpoint_and_no_temporaries(
        tmp_path: Path, delay: float) -> None:
    ckpt = tmp_path / "run.npz"
    proc = _chainrule(*TRAIN, "--epochs", "100000", "--checkpoint", str(ckpt), cwd=tmp_path)
    _kill_when(proc, ckpt.exists, delay)
    assert proc.returncode == -signal.SIGKILL
    if ckpt.exists():  # whatever the final name holds is a complete checkpoint
        saved = read_checkpoint(ckpt)
        done = saved.meta["epoch"]
        resume = subprocess.run(
            [sys.executable, "-m", "chainrule", *TRAIN, "--epochs", str(done + 2),
             "--checkpoint", str(ckpt), "--resume"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert resume.returncode == 0, resume.stderr
        assert read_checkpoint(ckpt).meta["epoch"] == done + 2
    else:  # killed before the first save: a fresh start works
        fresh = subprocess.run(
            [sys.executable, "-m", "chainrule", *TRAIN, "--epochs", "1", "--checkpoint",
             str(ckpt)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert fresh.returncode == 0, fresh.stderr
    assert _strays(tmp_path) == []


def test_sweep_killed_mid_run_finishes_on_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    args = ["sweep", "--measure", "toy", "--set", "sleep=0.01", "--seed", "0..149",
            "--workers", "0", "--out", str(out), "--json"]
    proc = _chainrule(*args, cwd=tmp_path)
    _kill_when(proc, lambda: out.exists() and out.stat().st_size > 2000, 0.05)
    assert proc.returncode == -signal.SIGKILL
    if out.exists():  # every complete line is a record; at most the last one is torn
        lines = out.read_bytes().split(b"\n")
        for line in lines[:-1]:
            assert json.loads(line)["status"] == "ok"
    again = subprocess.run([sys.executable, "-m", "chainrule", *args], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len({r["key"] for r in records}) == 150 == len(records)
    assert _strays(tmp_path) == []
