"""Bad input to the command line: one clear line, the right exit status, nothing touched.

Exit status 2 is a usage error (an option's value), 1 a failure while doing the work.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chainrule.cli import main


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def one_line_error(result: Any, code: int, *needles: str) -> str:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# ---------------------------------------------------------------- numeric options

NUMERIC = [
    (["train", "--lr"], ["nan", "inf", "-inf", "0", "-1", "1e309", "fast"]),
    (["train", "--momentum"], ["nan", "-0.5", "1", "inf"]),
    (["train", "--weight-decay"], ["nan", "-1", "inf"]),
    (["train", "--seed"], ["-1", "1.5", "nan", str(2**40)]),
    (["train", "--batch"], ["0", "-3", "nan"]),
    (["train", "--epochs"], ["0", "nan"]),
    (["train", "--limit"], ["0", "-5"]),
    (["diagnose", "--lr"], ["nan", "inf", "0", "-1"]),
    (["diagnose", "--weight-scale"], ["inf", "nan", "-1"]),
    (["diagnose", "--seed"], ["-1"]),
    (["diagnose", "--samples"], ["0", "nan"]),
    (["vanishing", "--weight-scale"], ["inf", "nan"]),
    (["vanishing", "--lr"], ["nan", "0"]),
    (["vanishing", "--lmbda"], ["nan", "-1"]),
    (["vanishing", "--seeds"], ["0"]),
    (["vanishing", "--seed"], ["-1"]),
    (["chain", "--input"], ["nan", "inf"]),
    (["chain", "--target"], ["-inf"]),
    (["chain", "--seed"], ["-1"]),
    (["chain", "--layers"], ["1", "10000000"]),
    (["chain", "--weights"], ["1,nan", "1,,2"]),
    (["study", "lr", "--min"], ["nan", "0"]),
    (["study", "lr", "--max"], ["inf"]),
    (["study", "lr", "--lrs"], ["0.1,nan", "0.1,,1", "-1"]),
    (["study", "lr", "--seed"], ["-1"]),
    (["study", "input-scale", "--epochs"], ["0"]),
    (["data", "fetch", "--timeout"], ["nan", "0", "-1", "inf"]),
    (["serve", "--port"], ["-1", "70000", "nan"]),
    (["sweep", "--workers"], ["-1", "99999"]),
    (["circuit", "x*y", "--max-nodes"], ["1", "nan"]),
]


@pytest.mark.parametrize(("command", "value"),
                         [(c, v) for c, values in NUMERIC for v in values],
                         ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_numeric_options_refuse_nonsense_naming_the_option(command: list[str], value: str
                                                           ) -> None:
    option = command[-1]
    one_line_error(invoke(*command, value), 2, f"'{option}'")


@pytest.mark.parametrize("command", [["train"], ["diagnose"], ["vanishing"], ["study", "lr"]])
@pytest.mark.parametrize("sizes", ["784,,10", "784,30,", ",784,10", "784", "784,0,10",
                                   "784,-3,10", "784,x,10", "784,1000000,10"])
def test_sizes_are_refused_when_malformed(command: list[str], sizes: str) -> None:
    one_line_error(invoke(*command, "--sizes", sizes), 2, "'--sizes'")


def test_circuit_values_must_be_finite() -> None:
    one_line_error(invoke("circuit", "x*y", "--at", "x=nan", "y=1"), 2, "finite")
    one_line_error(invoke("circuit", "x*y", "--at", "x=1", "y=inf"), 2, "finite")


# ---------------------------------------------------------------- sweeps


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_sweep_flag_values_must_be_finite(tmp_path: Path, value: str) -> None:
    out = tmp_path / "r.jsonl"
    one_line_error(invoke("sweep", "--measure", "norms", "--weight-scale", value,
                          "--out", str(out), "--dry-run"), 2, "'--weight-scale'", "finite")
    assert not out.exists()


@pytest.mark.parametrize(("toml", "needle"), [
    ("weight_scale = nan\n", "finite"),
    ("[grid]\nweight_scale = [1.0, inf]\n", "finite"),
    ("[grid]\nlr = [0.1, -inf]\n", "finite"),
    ("sizes = \"784,abc,10\"\n", "integer"),
    ("sizes = 784\n", "layer sizes"),
    ("[grid]\nsizes = [[784, 30, 10], \"x\"]\n", "integer"),
    ("depth = 1e300\n", "at most"),
    ("depth = 2.5\n", "integer"),
    ("depth = 100000000\n", "at most"),
    ("seed = -1\n", "at least"),
    ("name = \"../escape\"\n", "plain name"),
    ("name = \"/tmp/escape\"\n", "plain name"),
    ("name = \"sub/dir\"\n", "plain name"),
    ("name = \".hidden\"\n", "plain name"),
    ("name = \"\"\n", "plain name"),
    ("name = 5\n", "text"),
    ("description = {a = 1}\n", "text"),
    ("sizes = \"784,,30,10\"\n", "empty layer"),
    ("[grid]\nseed = " + str(list(range(101))) + "\ndepth = " + str(list(range(1, 101)))
     + "\n", "10,000"),
    ("[grid]\nseed = " + "[" * 2000 + "]" * 2000 + "\n", ""),
])
def test_sweep_files_with_bad_values_are_refused(tmp_path: Path, toml: str, needle: str) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(toml)
    one_line_error(invoke("sweep", str(spec), "--dry-run"), 1, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_a_sweep_file_must_be_utf8(tmp_path: Path) -> None:
    spec = tmp_path / "latin1.toml"
    spec.write_bytes("description = \"d\u00e9j\u00e0 vu\"\n".encode("latin-1"))
    one_line_error(invoke("sweep", str(spec), "--dry-run"), 1, "UTF-8")


def test_a_huge_range_is_refused_up_front() -> None:
    start = time.perf_counter()
    one_line_error(invoke("sweep", "--seed", "0..100000000", "--dry-run"), 2, "10,000")
    one_line_error(invoke("sweep", "--seed", "0..200", "--depth", "1..100", "--dry-run"),
                   1, "20,100 cells", "10,000")
    assert time.perf_counter() - start < 5


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("content", [
    b"my notes\nthe last line has no newline",
    b"not json at all",
    b'{"a": 1}\n',
    b'{"key": "1", "status": "ok"}\nsomething else\n{"key": "2"}\n',
    b"\x00\x01\x02binary",
])
def test_sweep_out_never_changes_a_file_it_did_not_write(tmp_path: Path, content: bytes
                                                         ) -> None:
    out = tmp_path / "precious.txt"
    out.write_bytes(content)
    before = _digest(out)
    result = invoke("sweep", "--measure", "toy", "--seed", "0..2", "--workers", "0",
                    "--out", str(out))
    one_line_error(result, 1, "not a chainrule sweep", "unchanged")
    assert _digest(out) == before


def test_sweep_out_appends_to_its_own_file(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    base = ["sweep", "--measure", "toy", "--workers", "0", "--out", str(out)]
    assert invoke(*base, "--seed", "0..1").exit_code == 0
    assert invoke(*base, "--seed", "0..3").exit_code == 0
    keys = [json.loads(line)["key"] for line in out.read_text().splitlines()]
    assert len(keys) == 4 == len(set(keys))


def test_sweep_out_must_be_a_regular_file(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # reading it would block for ever
    for out in (str(fifo), "/dev/null"):
        for extra in ([], ["--dry-run"]):
            one_line_error(invoke("sweep", "--measure", "toy", "--workers", "0", "--out", out,
                                  *extra), 1, "not a regular file")


def test_sweep_out_unwritable_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(invoke("sweep", "--measure", "toy", "--workers", "0",
                          "--out", str(blocker / "r.jsonl")), 1, "cannot")


# ---------------------------------------------------------------- train's checkpoint


QUICK = ["train", "--sizes", "784,10,10", "--epochs", "1", "--limit", "50", "--json"]


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    from chainrule.nn.training import Trainer

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("training started although the checkpoint cannot be written")

    monkeypatch.setattr(Trainer, "run", refuse)


def test_unwritable_checkpoint_is_refused_before_training(tmp_path: Path,
                                                          no_training: None) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(invoke(*QUICK, "--checkpoint", str(blocker / "run.npz")), 1,
                   "cannot write checkpoint")
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    one_line_error(invoke(*QUICK, "--checkpoint", str(folder), "--overwrite"), 2,
                   "'--checkpoint'", "directory")


def test_a_full_disk_is_refused_before_training(tmp_path: Path, no_training: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(  # type: ignore
        10**9, 10**9 - 1000, 1000))
    one_line_error(invoke(*QUICK, "--checkpoint", str(tmp_path / "run.npz")), 1,
                   "MB free")
    assert list(tmp_path.iterdir()) == []


def test_a_disk_that_fills_during_training_is_one_line(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    one_line_error(invoke(*QUICK, "--checkpoint", str(tmp_path / "run.npz")), 1,
                   "No space left")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- serve


def test_serve_on_a_busy_port_says_so() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        one_line_error(invoke("serve", "--port", str(port)), 1, "already in use", "--port")
