"""Offline lessons: the explorer's page as ONE self-contained HTML file.

``chainrule export circuit|chain|vanishing|diagnose ... -o lesson.html`` computes the answers
the live page would ask the server for — with the server's own functions, so the numbers are
the same — and writes them into a copy of the page together with its style sheet and its
scripts. The file opens from ``file://`` with no network: the page's API calls are answered
from the embedded data, the inputs are fixed, and the step-through and practice mode work as
on the live page.

The page's ES modules cannot be imported from ``file://`` (browsers refuse module scripts
there), so :func:`bundle` joins them into one classic script: each module becomes a function
whose ``export``\\ ed names it returns, and each ``import { a, b } from "./m.js"`` becomes a
``const { a, b } =`` of that module's result (``"../i18n.js"``, the page's words, is joined the
same way). No build tool, no dependency.

A lesson is written in the active language (``chainrule --lang pt-BR export ...``): the answers
are computed under it, and the catalog entries the page and its scripts use are inlined (as
``<script id="lesson-i18n">``), so ``i18n.js`` shows the page translated without a fetch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from chainrule.errors import ChainruleError
from chainrule.i18n import _
from chainrule.web.server import STATIC_DIR

__all__ = ["KINDS", "LessonError", "bundle", "lesson_html"]

KINDS = ("circuit", "chain", "vanishing", "diagnose")
"""What a lesson can show: a circuit, or a part of the vanishing panel (all of it for vanishing)."""

_IMPORT = re.compile(r'^import \{([^}]*)\}\s+from "\.\.?/([\w-]+)\.js";[ \t]*$', re.M)
_EXPORT = re.compile(r"^export (?:async )?(?:function\*? |const |class |let )([A-Za-z_$][\w$]*)",
                     re.M)


class LessonError(ChainruleError):
    """The page or its modules are not in a shape a lesson can be made from."""


def _source(name: str) -> str:
    """A module's text: the explorer's modules in ``static/js``, the page's words in ``static``."""
    path = STATIC_DIR / "js" / f"{name}.js"
    if not path.exists():
        path = STATIC_DIR / f"{name}.js"
    return path.read_text(encoding="utf-8")


def _modules(entry: str) -> list[str]:
    """The modules ``entry`` needs, each after the ones it imports (depth first)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            # untranslated: about the explorer's own scripts, for whoever changes them
            raise LessonError(f"the page's modules import each other in a cycle at {name}.js")
        visiting.add(name)
        source = _source(name)
        for _form, dep in _IMPORT.findall(source):
            visit(dep)
        visiting.discard(name)
        order.append(name)

    visit(entry)
    return order


def bundle(entry: str = "main") -> str:
    """The page's ES modules, from ``entry`` down, as one classic script (see module doc)."""
    parts = ['"use strict";', "const __modules = {};"]
    for name in _modules(entry):
        source = _source(name)
        exported = _EXPORT.findall(source)

        def imported(m: re.Match[str]) -> str:
            names = ", ".join(n.strip().replace(" as ", ": ")
                              for n in m.group(1).split(",") if n.strip())
            return f'const {{ {names} }} = __modules["{m.group(2)}"];'

        body = _IMPORT.sub(imported, source)
        body = re.sub(r"^export (?=(?:async )?(?:function|const|class|let) )", "", body,
                      flags=re.M)
        # A module may also re-export what it imported (`export { a, b };`).
        body, reexported = _reexports(body)
        exported += [n for n in reexported if n not in exported]
        if re.search(r"^\s*(?:import|export)\b", body, re.M):
            # untranslated: about the explorer's own scripts, for whoever changes them
            raise LessonError(f"{name}.js uses an import or export form a lesson cannot join "
                              '(use `import { a } from "./m.js";` and `export function`)')
        parts.append(f'__modules["{name}"] = (() => {{\n{body}\n'
                     f"return {{ {', '.join(exported)} }};\n}})();")
    return "\n".join(parts)


_REEXPORT = re.compile(r"^export \{([^}]*)\};[ \t]*$", re.M)


def _reexports(body: str) -> tuple[str, list[str]]:
    names: list[str] = []
    for m in _REEXPORT.finditer(body):
        names += [n.strip() for n in m.group(1).split(",") if n.strip()]
    return _REEXPORT.sub("", body), names


def page_words(page: str, scripts: str) -> dict[str, Any]:
    """The active language's catalog entries that ``page`` and ``scripts`` use, in the shape
    of ``GET /api/i18n`` (empty ``messages`` in English)."""
    from chainrule.i18n import language
    from chainrule.i18n_catalog import page_texts, script_texts
    from chainrule.web.i18n_api import payload

    data = payload(language(), None, None)
    # Words the server's answers carry as identifiers (verdicts, severities) are looked up
    # by the scripts with t(word): keep every catalog entry the page's text could need.
    wanted = set(page_texts(page)) | {text for text, _path, _line in script_texts()}
    messages = data["messages"]
    data["messages"] = {k: v for k, v in messages.items()
                        if k in wanted or (len(k) < 40 and k in scripts + page)}
    data["languages"] = {data["tag"]: data["languages"][data["tag"]]}
    return data


def _script_json(data: Any) -> str:
    """JSON that can sit inside a <script> element (no "</" to end it early)."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False).replace("</", "<\\/")


def lesson_html(kind: str, answers: Mapping[str, Any], state: Mapping[str, str],
                title: str) -> str:
    """The page with its style, scripts and ``answers`` (API path → JSON answer) inline.

    ``state`` holds the page's inputs (the keys of its URL: ``expr``, ``at``, ``depth``, …);
    ``title`` names the lesson in the browser's tab and its heading.
    """
    if kind not in KINDS:
        raise LessonError(_("unknown lesson {kind!r}; choose one of: {choices}").format(
            kind=kind, choices=", ".join(KINDS)))
    from html import escape

    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    style = (STATIC_DIR / "style.css").read_text(encoding="utf-8")
    icon = (STATIC_DIR / "favicon.svg").read_text(encoding="utf-8")
    from urllib.parse import quote

    data = {"kind": kind, "answers": dict(answers), "state": dict(state), "title": title}
    script = bundle()
    words = page_words(page, script + json.dumps(data, ensure_ascii=False))
    replacements = {
        '<link rel="stylesheet" href="/static/style.css">': f"<style>\n{style}</style>",
        '<script type="module" src="/static/js/main.js"></script>': "",
        # The page's words come inline (lesson-i18n below) with the bundle, not from a server.
        '<script type="module" src="/static/i18n.js"></script>': "",
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">':
            f'<link rel="icon" href="data:image/svg+xml,{quote(icon)}" type="image/svg+xml">',
        "<title>chainrule explorer</title>": f"<title>{escape(title)} · chainrule</title>",
        '<html lang="en">': f'<html lang="{words["tag"]}">',
        "</body>": (f'<script type="application/json" id="lesson-data">{_script_json(data)}'
                    f'</script>\n<script type="application/json" id="lesson-i18n">'
                    f"{_script_json(words)}</script>\n<script>\n{script}\n</script>\n</body>"),
    }
    for old, new in replacements.items():
        if old not in page:
            # untranslated: about the explorer's own page, for whoever changes it
            raise LessonError(f"the page has no {old!r} to replace; update chainrule.web.lesson")
        page = page.replace(old, new)
    return page
