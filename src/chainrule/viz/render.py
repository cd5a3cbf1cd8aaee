"""DOT text → SVG or PNG, with the ``graphviz-pure`` program (pip-installed) or a system ``dot``.

``graphviz-pure`` is a dependency of chainrule, so pictures work on machines (and CI runners)
without a Graphviz package; a ``dot`` on ``PATH`` is the fallback. Both are run as a subprocess
with the DOT text on stdin and a timeout, so a bad graph cannot hang the caller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from functools import lru_cache

from chainrule.errors import ChainruleError
from chainrule.i18n import _

__all__ = ["RenderError", "find_renderer", "render", "render_dot", "svg_inline"]

FORMATS = ("svg", "png")
TIMEOUT = 30.0  # seconds; a 1,000-node circuit lays out in well under one


class RenderError(ChainruleError, RuntimeError):
    """No Graphviz program was found, or it failed on the DOT text."""


@lru_cache(maxsize=1)
def find_renderer() -> str | None:
    """Path of ``graphviz-pure`` (next to this Python first, then on PATH), else of ``dot``."""
    exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    beside = os.path.join(sysconfig.get_path("scripts"), exe)
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which("graphviz-pure") or shutil.which("dot")


def render(dot: str, fmt: str = "svg") -> bytes:
    """Lay out ``dot`` and return the picture's bytes (``fmt``: ``"svg"`` or ``"png"``)."""
    if fmt not in FORMATS:
        raise RenderError(_(
            "cannot render {fmt!r}: the formats are {value0}").format(
                fmt=fmt, value0=', '.join(FORMATS)))
    program = find_renderer()
    if program is None:
        raise RenderError(
            _(
            "no Graphviz renderer found: install the graphviz-pure wheel (pip install "
            "graphviz-pure) or put Graphviz's dot on PATH"))
    try:
        done = subprocess.run(
            [program, f"-T{fmt}"], input=dot.encode(), capture_output=True,
            timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(_(
            "{value0} took more than {TIMEOUT:g} s").format(
                value0=os.path.basename(program), TIMEOUT=TIMEOUT)) from None
    except OSError as exc:
        raise RenderError(_("cannot run {program}: {exc}").format(
                program=program, exc=exc)) from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {done.returncode}"
        raise RenderError(_("{value0} failed: {detail}").format(
                value0=os.path.basename(program), detail=detail))
    return done.stdout


def render_dot(dot: str, fmt: str = "svg") -> bytes:
    """:func:`render`, looked up at call time (so tests can replace :func:`find_renderer`)."""
    return render(dot, fmt)


def svg_inline(svg: str) -> str:
    """An SVG document without its XML prolog and doctype, ready to embed in HTML."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
