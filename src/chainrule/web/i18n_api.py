"""The explorer's words: the same gettext catalogs as the command line, served as JSON.

``GET /api/i18n?lang=pt-BR`` answers ``{"lang", "tag", "languages", "messages"}`` where
``messages`` maps each English text to its translation (empty for English, the source). The
language is, first found: ``?lang=``, the ``chainrule_lang`` cookie the page's switch sets, the
``Accept-Language`` header (by quality), then English.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chainrule.i18n import LANGUAGES, catalog, normalize

COOKIE = "chainrule_lang"


def accepted(header: str | None) -> list[str]:
    """The languages of an ``Accept-Language`` header we have, best first (``q`` order)."""
    ranked: list[tuple[float, int, str]] = []
    for k, part in enumerate((header or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = normalize(tag.strip()) if tag.strip() != "*" else None
        if lang is not None and q > 0.0:
            ranked.append((-q, k, lang))
    seen: list[str] = []
    for _q, _k, lang in sorted(ranked):
        if lang not in seen:
            seen.append(lang)
    return seen


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language of a request (see the module docstring); unknown values are skipped."""
    for tag in (query, cookie):
        lang = normalize(tag) if tag else None
        if lang is not None:
            return lang
    found = accepted(accept_language)
    return found[0] if found else "en"


@lru_cache(maxsize=len(LANGUAGES))
def messages(lang: str) -> dict[str, Any]:
    """English text → translation (a list of forms for plurals) of ``lang``'s catalog."""
    translations = catalog(lang)
    if translations is None:
        return {}
    out: dict[str, Any] = {}
    # gettext's parsed .mo: msgid -> text, and (msgid, n) -> plural form n.
    for key, value in translations._catalog.items():
        if isinstance(key, tuple):  # (msgid, plural index): plural forms in order
            msgid, index = key
            if not msgid:
                continue
            forms = out.setdefault(msgid, [])
            if isinstance(forms, list):
                forms.extend([""] * (index + 1 - len(forms)))
                forms[index] = value
        elif key and value:
            out[key] = value
    return out


def payload(query: str | None, cookie: str | None, accept_language: str | None
            ) -> dict[str, Any]:
    lang = choose(query, cookie, accept_language)
    return {
        "lang": lang,
        "tag": lang.replace("_", "-"),
        "languages": {code.replace("_", "-"): name for code, name in LANGUAGES.items()},
        "messages": messages(lang),
    }
