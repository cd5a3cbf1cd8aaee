"""The Portuguese tutorials show what the program prints: every ``console`` block is run.

A block is ``$ chainrule …`` followed by the expected output; ``⟨…⟩`` in a line stands for text
that changes from run to run (timings).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from chainrule.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "pt-BR"
_BLOCK = re.compile(r"```console\n\$ (chainrule [^\n]*)\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for m in _BLOCK.finditer(page.read_text(encoding="utf-8")):
            found.append((page.name, m.group(1), m.group(2)))
    return found


def _matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("⟨…⟩"))
    return re.fullmatch(pattern, actual) is not None


def test_the_tutorials_have_examples() -> None:
    pages = {page for page, _cmd, _out in _blocks()}
    assert {"circuitos.md", "dissipacao-do-gradiente.md"} <= pages


@pytest.mark.parametrize("page, command, expected", _blocks(),
                         ids=[f"{p}:{c[10:50]}" for p, c, _ in _blocks()])
def test_shown_output_is_what_the_program_prints(page: str, command: str,
                                                 expected: str) -> None:
    args = shlex.split(command)[1:]
    result = CliRunner().invoke(main, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    got = [line.rstrip() for line in result.output.rstrip("\n").splitlines()]
    want = expected.rstrip("\n").splitlines()
    assert len(got) == len(want), "\n".join(got)
    for g, w in zip(got, want, strict=True):
        assert _matches(w, g), f"{page}: expected {w!r}, got {g!r}"


def test_the_circuit_numbers_of_the_notes() -> None:
    text = (DOCS / "circuitos.md").read_text(encoding="utf-8")
    assert "(x+y)*z  =  -12" in text
    assert "gradientes: ∂f/∂x = -4  ∂f/∂y = -4  ∂f/∂z = 3" in text
