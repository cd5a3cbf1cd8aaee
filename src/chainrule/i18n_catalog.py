"""Keeping the message catalogs whole: extraction, merging and compiling with Babel's API.

Used by ``scripts/catalog.py`` (``extract`` then ``compile``) and by the tests that fail when an
English text has no translation or a compiled catalog is older than its ``.po``. At run time
only ``chainrule export`` reads it (:func:`page_texts` and :func:`script_texts`, to pick the
catalog entries a lesson carries); ``import chainrule`` never does.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from chainrule.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

PACKAGE_DIR = Path(__file__).parent
KEYWORDS = {"_": None, "N_": None, "lazy_gettext": None, "ngettext": (1, 2)}
# click's modules whose messages a chainrule user sees (usage lines, option errors).
CLICK_MODULES = ("core.py", "decorators.py", "exceptions.py", "formatting.py", "parser.py",
                 "termui.py", "types.py", "utils.py")


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def _from_dir(directory: Path, keep: Iterable[str] | None = None) -> Iterable[
        tuple[str | tuple[str, ...], str]]:
    wanted = None if keep is None else set(keep)
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(directory), keywords=KEYWORDS):
        if wanted is not None and Path(filename).name not in wanted:
            continue
        yield message, f"{filename}:{lineno}"


PAGE = PACKAGE_DIR / "web" / "static" / "index.html"
# The page's scripts write their sentences as t("English text") (web/static/i18n.js's t).
SCRIPT_METHODS = [("static/**.js", "javascript")]
SCRIPT_OPTIONS = {"static/**.js": {"parse_template_string": "0"}}


def script_texts() -> list[tuple[str, str, int]]:
    """The texts of the explorer's scripts, ``t("...")`` with a literal: (text, file, line)."""
    found = []
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(PACKAGE_DIR / "web"), method_map=SCRIPT_METHODS, options_map=SCRIPT_OPTIONS,
            keywords={"t": None}):
        if isinstance(message, str) and message:
            found.append((message, f"chainrule/web/{filename}", lineno))
    return found
# Attributes people read (tooltips, placeholders, screen readers); the page's i18n.js
# translates the same ones.
PAGE_ATTRIBUTES = ("title", "placeholder", "aria-label")


def page_texts(html: str) -> list[str]:
    """The English texts of the explorer's page: each text node and readable attribute, with
    runs of white space made one space (as ``web/static/i18n.js`` looks them up)."""
    from html.parser import HTMLParser

    found: list[str] = []

    def keep(text: str) -> None:
        text = " ".join(text.split())
        # Symbols, numbers and formulas alone (|◀, 0 / 0, f =, ‖∂C/∂b‖) are not words.
        if sum(ch.isalpha() for ch in text) >= 2 and text not in found:
            found.append(text)

    class Page(HTMLParser):
        skip = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in ("script", "style"):
                self.skip += 1
            for name, value in attrs:
                if name in PAGE_ATTRIBUTES and value:
                    keep(value)

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style"):
                self.skip -= 1

        def handle_data(self, data: str) -> None:
            if not self.skip:
                keep(data)

    Page().feed(html)
    return found


def extract() -> Catalog:
    """Every English text the user can see: ``_()``/``N_()``/``ngettext`` calls in the package,
    the help of every command and option, click's own messages, the explorer page's texts and
    its scripts' ``t()`` texts."""
    import click

    from chainrule.cli import COMMANDS, main
    from chainrule.commands._help import command_texts

    template = Catalog(project="chainrule", domain=DOMAIN)
    for message, where in _from_dir(PACKAGE_DIR):
        path, _sep, line = where.rpartition(":")
        template.add(message, locations=[(f"chainrule/{path}", int(line))])
    for name in COMMANDS:
        command = main.get_command(click.Context(main), name)
        if command is None:
            continue
        for text in command_texts(command):
            template.add(text, locations=[(f"chainrule command {name}", 0)], flags=["help"])
    for text in command_texts(main):
        template.add(text, locations=[("chainrule", 0)], flags=["help"])
    for text in page_texts(PAGE.read_text(encoding="utf-8")):
        template.add(text, locations=[("chainrule/web/static/index.html", 0)], flags=["page"])
    for text, script, lineno in script_texts():
        template.add(text, locations=[(script, lineno)], flags=["page"])
    click_dir = Path(click.__file__).parent
    for message, where in _from_dir(click_dir, CLICK_MODULES):
        path, _sep, line = where.rpartition(":")
        template.add(message, locations=[(f"click/{path}", int(line))])
    return template


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def keys(message: object) -> str | tuple[str, ...]:
    return message if isinstance(message, str) else tuple(message)  # type: ignore[arg-type]


def untranslated(lang: str, template: Catalog | None = None) -> list[str]:
    """English texts of ``template`` (default: :func:`extract`) that ``lang``'s catalog lacks,
    leaves empty or marks fuzzy."""
    template = template or extract()
    catalog = read(lang)
    missing = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id)
        strings: list[str] = [] if found is None else (
            [found.string] if isinstance(found.string, str) else list(found.string or ()))
        if found is None or found.fuzzy or not all(strings) or not strings:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def compiled(lang: str) -> bytes:
    """``lang``'s ``.mo`` as compiled from its ``.po`` now (deterministic bytes)."""
    buffer = io.BytesIO()
    write_mo(buffer, read(lang), use_fuzzy=False)
    return buffer.getvalue()


def compile_all() -> list[Path]:
    written = []
    for lang in LANGUAGES:
        if lang == "en":
            continue
        path = mo_path(lang)
        path.write_bytes(compiled(lang))
        written.append(path)
    return written


def update(lang: str, template: Catalog | None = None) -> Catalog:
    """``lang``'s ``.po`` merged with the template: new texts added empty, vanished ones dropped
    (kept as obsolete), translations kept."""
    template = template or extract()
    path = po_path(lang)
    if path.exists():
        catalog = read(lang)
    else:
        catalog = Catalog(locale=lang, domain=DOMAIN, project="chainrule")
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    from chainrule import __version__

    catalog.version = __version__
    catalog.copyright_holder = "the chainrule authors"
    catalog.msgid_bugs_address = ""
    catalog.last_translator = "chainrule"
    catalog.language_team = LANGUAGES.get(lang, lang)
    catalog.fuzzy = False
    catalog.header_comment = (
        f"# {LANGUAGES.get(lang, lang)} translations of chainrule.\n"
        "# English is the source language; docs/pt-BR/glossario.md fixes the terms.\n"
        "# This file is distributed under the same license as the chainrule project.")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, sort_output=False, include_previous=False)
    return catalog
