"""The notebooks in docs/notebooks run from top to bottom and their own checks pass.

Each code cell is executed in order in one namespace, as a kernel would run them (nbformat and
nbclient are not needed for that); a cell that raises fails the test with the cell's number.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "docs" / "notebooks").glob(
    "*.ipynb"))


def test_both_notebooks_are_there() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"cs231n-circuits.ipynb", "nielsen-chapter5.ipynb"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    namespace: dict[str, object] = {"__name__": "__main__"}
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert cells
    for number, cell in enumerate(cells, 1):
        source = "".join(cell["source"])
        assert not cell.get("outputs"), f"{path.name}: cell {number} is committed with outputs"
        try:
            exec(compile(source, f"{path.name}[{number}]", "exec"), namespace)
        except Exception as exc:  # the cell's own message, with which cell it was
            pytest.fail(f"{path.name}, code cell {number}: {type(exc).__name__}: {exc}")
    assert "Traceback" not in capsys.readouterr().err
