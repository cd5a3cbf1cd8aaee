"""The package's promises: a light import, a working CLI entry point."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from chainrule.cli import main


def test_import_chainrule_stays_light() -> None:
    code = (
        "import sys, chainrule; heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'matplotlib', 'click', 'rich', 'starlette', 'uvicorn', 'graphviz_pure', 'dask', "
        "'torch', 'scipy'}); print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_lists_commands_and_runs_the_demo() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "demo" in result.output
    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "-12" in result.output and "differences: passed" in result.output


def test_unknown_command_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code != 0 and "No such command" in result.output
