"""Result files are written to a temporary and renamed: never half a file under the final name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chainrule import files


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_failed_write_keeps_the_previous_content(tmp_path: Path) -> None:
    target = tmp_path / "out.svg"
    target.write_bytes(b"<svg>old</svg>")
    with pytest.raises(RuntimeError, match="renderer crashed"), \
            files.atomic_output(target) as tmp:
        tmp.write_bytes(b"<svg>half")
        raise RuntimeError("renderer crashed")
    assert target.read_bytes() == b"<svg>old</svg>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.svg"]


def test_write_bytes_replaces_and_cleans_stale_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "c.png"
    stale = tmp_path / f".c.png.{_dead_pid()}-x1.tmp"
    stale.write_bytes(b"half a picture")
    files.write_bytes(target, b"\x89PNG whole")
    assert target.read_bytes() == b"\x89PNG whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png"]


def test_missing_folders_only_when_asked(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        files.write_bytes(tmp_path / "missing" / "a.svg", b"x")
    with files.atomic_output(tmp_path / "made" / "a.svg", parents=True) as tmp:
        tmp.write_bytes(b"x")
    assert (tmp_path / "made" / "a.svg").read_bytes() == b"x"


@pytest.mark.parametrize(("name", "magic"), [("p.png", b"\x89PNG"), ("p.svg", b"<?xml"),
                                             ("p.pdf", b"%PDF"), ("p", b"\x89PNG")])
def test_figures_keep_the_format_of_their_name(tmp_path: Path, name: str, magic: bytes) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    try:
        files.save_figure(fig, tmp_path / name)
    finally:
        plt.close(fig)
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_figure_in_an_unknown_format_leaves_nothing(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    try:
        with pytest.raises(ValueError):
            files.save_figure(fig, tmp_path / "p.xyz")
    finally:
        plt.close(fig)
    assert list(tmp_path.iterdir()) == []


def test_a_device_is_written_to_not_replaced(tmp_path: Path) -> None:
    devnull = Path("/dev/null")
    if not devnull.exists():
        pytest.skip("no /dev/null here")
    files.write_bytes(devnull, b"discarded")
    assert devnull.exists() and not devnull.is_file()
