"""The documentation site (mkdocs.yml, mkdocs-material) builds with --strict: no broken links,
no missing anchors, no page left out of the navigation by mistake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="pip install chainrule[docs] builds the site")
    pytest.importorskip("material", reason="pip install chainrule[docs] builds the site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    for page in ("index.html", "engine/index.html", "web/index.html", "notebooks/index.html"):
        assert (tmp_path / page).is_file(), page
    assert (tmp_path / "notebooks" / "cs231n-circuits.ipynb").is_file()
    assert "Practice" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_cli_reference_lists_every_command_and_option() -> None:
    from chainrule.cli_reference import commands

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    regenerate = "regenerate it: python -m chainrule.cli_reference > docs/cli.md"
    for full, command in commands():
        assert f"## `{full}`" in text, f"{full} is missing from docs/cli.md; {regenerate}"
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("--"):
                    assert flag in text, f"{full} {flag} is missing from docs/cli.md; {regenerate}"
