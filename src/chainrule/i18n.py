"""Words and numbers in the reader's language: gettext catalogs read with Babel.

English is the source language: every human sentence is written in English inside ``_()``
(or ``N_()`` where the text must stay English until shown, like the op catalogue's gate rules)
and looked up in ``locale/<lang>/LC_MESSAGES/chainrule.mo`` when another language is active.
JSON keys, op names and identifiers never go through here.

The language is, first found: :func:`set_language` (``chainrule --lang pt-BR``), the
``CHAINRULE_LANG`` variable, then ``LC_ALL``, ``LC_MESSAGES`` and ``LANG``. Babel is imported on
the first lookup in a language other than English, never by ``import chainrule``.

Numbers shown to people go through :func:`number` (decimal comma in pt-BR); where one number
is expected from a person, :func:`parse_number` reads it the same way and refuses input whose
reading depends on the convention (``1.000``: one, or one thousand?) with both readings named.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any

__all__ = [
    "LANGUAGES", "AmbiguousNumber", "N_", "_", "expression_numbers", "language", "lazy_gettext",
    "ngettext", "number", "parse_number", "set_language", "use_language",
]

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "chainrule"
LANGUAGES = {"en": "English", "pt_BR": "Português (Brasil)"}
"""The languages with a complete catalog (English is the source)."""

_ENV_ORDER = ("CHAINRULE_LANG", "LC_ALL", "LC_MESSAGES", "LANG")

# set_language's choice (None: read the environment). A context variable, so that concurrent
# requests of a server can each answer in their own language.
_chosen: ContextVar[str | None] = ContextVar("chainrule_language", default=None)
_catalogs: dict[str, Any] = {}  # language -> babel.support.Translations


def normalize(tag: str | None) -> str | None:
    """``"pt-BR"``, ``"pt_BR.UTF-8"``, ``"pt"``, ``"PT-br"`` → ``"pt_BR"``; ``"en_US"`` → ``"en"``;
    ``"C"``/``"POSIX"``/empty → ``None`` (no preference); a language we lack → ``None``."""
    if not tag:
        return None
    base = tag.split(".")[0].split("@")[0].replace("-", "_").strip()
    if not base or base.upper() in ("C", "POSIX"):
        return None
    lang, _sep, region = base.partition("_")
    lang = lang.lower()
    if lang == "en":
        return "en"
    if lang == "pt":
        # Portugal's Portuguese reads the Brazilian catalog far better than English.
        return "pt_BR"
    candidate = f"{lang}_{region.upper()}" if region else lang
    return candidate if candidate in LANGUAGES else None


def set_language(tag: str | None) -> str:
    """Choose the language (``None``: follow the environment again); returns the active one.

    Raises ``ValueError`` naming the known languages when ``tag`` is none of them.
    """
    if tag is None:
        _chosen.set(None)
        return language()
    lang = normalize(tag)
    if lang is None:
        known = ", ".join(name.replace("_", "-") for name in LANGUAGES)
        raise ValueError(_("unknown language {tag!r}; choose one of {known}").format(
            tag=tag, known=known))
    _chosen.set(lang)
    return lang


def chosen() -> str | None:
    """The language :func:`set_language` chose, or ``None`` when the environment decides."""
    return _chosen.get()


def language() -> str:
    """The active language code (``"en"`` or ``"pt_BR"``)."""
    lang = _chosen.get()
    if lang is not None:
        return lang
    for var in _ENV_ORDER:
        value = os.environ.get(var)
        if value:
            # LANGUAGE-style lists ("pt_BR:en") take their first entry.
            lang = normalize(value.split(":")[0])
            if lang is not None:
                return lang
            if var == "CHAINRULE_LANG":
                continue
            return "en"
    return "en"


class use_language:  # noqa: N801 - reads as a statement: ``with use_language("pt-BR"):``
    """Context manager: one language for a block (tests, a web request), then the old one."""

    def __init__(self, tag: str | None) -> None:
        self.tag = tag
        self._saved: str | None = None

    def __enter__(self) -> str:
        self._saved = _chosen.get()
        return set_language(self.tag)

    def __exit__(self, *exc: object) -> None:
        _chosen.set(self._saved)


def catalog(lang: str | None = None) -> Any:
    """The ``babel.support.Translations`` of ``lang`` (default: active), or ``None`` for English."""
    lang = lang or language()
    if lang == "en":
        return None
    found = _catalogs.get(lang)
    if found is None:
        from babel.support import Translations

        found = Translations.load(str(LOCALE_DIR), [lang], DOMAIN)
        _catalogs[lang] = found
    return found


def _(message: str) -> str:
    """``message`` in the active language (itself in English, or when no translation exists)."""
    translations = catalog()
    if translations is None:
        return message
    result: str = translations.gettext(message)
    return result


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a sentence for ``n`` things, in the active language."""
    translations = catalog()
    if translations is None:
        return singular if n == 1 else plural
    result: str = translations.ngettext(singular, plural, n)
    return result


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it now (translate where it is shown)."""
    return message


class LazyString:
    """A message translated each time it is turned into text (for texts defined at import time)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __str__(self) -> str:
        return _(self.message)

    def __repr__(self) -> str:
        return f"lazy_gettext({self.message!r})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self.message)

    def __getattr__(self, name: str) -> Any:
        return getattr(str(self), name)


def lazy_gettext(message: str) -> LazyString:
    """``message``, translated when it is shown rather than when the module loads."""
    return LazyString(message)


# ---------------------------------------------------------------- numbers


def _symbols(lang: str) -> tuple[str, str]:
    """Decimal and group symbols of ``lang`` from Babel's locale data (English: ``.`` and ``,``)."""
    if lang == "en":
        return ".", ","
    from babel.numbers import get_decimal_symbol, get_group_symbol

    return get_decimal_symbol(lang), get_group_symbol(lang)


def number(x: float | int, spec: str = ".4g") -> str:
    """``x`` formatted by the Python format ``spec``, with the active language's decimal and
    group symbols (``number(1.5)`` is ``1,5`` in pt-BR; ``number(12345, ",")`` is ``12.345``).

    The spec decides digits and notation, so each language shows the same precision.
    """
    text = format(x, spec)
    lang = language()
    if lang == "en":
        return text
    decimal, group = _symbols(lang)
    return text.translate({ord("."): decimal, ord(","): group})


class AmbiguousNumber(ValueError):
    """Input that is a number in one convention and another number (or a list) in the other."""


_THOUSANDS_DOT = re.compile(r"^[+-]?[1-9]\d{0,2}(\.\d{3})+$")
_THOUSANDS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2}(,\d{3})+$")
_GROUPED_DECIMAL_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2}(\.\d{3})+,\d+$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+([eE][+-]?\d+)?$")


def parse_number(text: str) -> float:
    """One number typed by a person, read in the active language's convention.

    In pt-BR ``1,5`` is 1.5 and ``1.5`` is 1.5 too (a point never groups digits on a command
    line), but ``1.000`` could be one or one thousand and is refused. In English ``1,5`` is
    refused with both readings (1.5 with a decimal comma, or a list of 1 and 5). Raises
    ``ValueError`` (``AmbiguousNumber`` for those cases) with a message for people.
    """
    s = str(text).strip()
    lang = language()
    if lang == "pt_BR":
        if _THOUSANDS_DOT.match(s):
            whole = s.replace(".", "")
            raise AmbiguousNumber(_(
                "{text!r} is ambiguous: with a decimal point it is {point}, with a thousands "
                "separator it is {whole}; write {comma} or {whole}"
            ).format(text=s, point=number(float(s), "g"), whole=whole,
                     comma=s.replace(".", ",")))
        if _GROUPED_DECIMAL_COMMA.match(s):
            s = s.replace(".", "")
        if s.count(",") == 1 and "." not in s:
            s = s.replace(",", ".")
    elif "," in s:
        if _DECIMAL_COMMA.match(s) or _THOUSANDS_COMMA.match(s):
            point = s.replace(",", ".")
            raise AmbiguousNumber(_(
                "{text!r} is not one number in English: with a decimal comma it is {point}, "
                "or it is a list ({items}); write {point}, or choose --lang pt-BR to read "
                "decimal commas"
            ).format(text=s, point=point, items=", ".join(s.split(","))))
    try:
        return float(s)
    except ValueError:
        raise ValueError(_("{text!r} is not a number").format(text=str(text))) from None


_DECIMAL_COMMA_IN_TEXT = re.compile(r"(?<=\d),(?=\d)")


def expression_numbers(text: str) -> str:
    """An expression typed in the active language, with its decimal commas made points.

    In pt-BR ``1,5*x`` means 1.5·x. A comma between two digits is a decimal comma unless it
    could also separate the arguments of a call with no other separator (``max(1,5)``: the
    number 1,5, or the numbers 1 and 5?), which is refused with both readings. Other languages
    get ``text`` back unchanged.
    """
    if language() != "pt_BR" or "," not in text:
        return text
    calls: list[tuple[bool, list[int], list[int]]] = []  # (is a call, decimal commas, others)
    decimal: set[int] = set()
    for i, ch in enumerate(text):
        if ch == "(":
            before = text[:i].rstrip()
            calls.append((bool(before) and (before[-1].isalnum() or before[-1] == "_"), [], []))
        elif ch == ")" and calls:
            is_call, commas, others = calls.pop()
            if is_call and commas and not others:
                k = commas[0]
                left = re.search(r"\d+$", text[:k])
                right = re.match(r"\d+", text[k + 1:])
                a = left.group() if left else ""
                b = right.group() if right else ""
                raise AmbiguousNumber(_(
                    "in {text!r}, {a},{b} is either the number {a},{b} or the two arguments {a} "
                    "and {b}: write {a}.{b} for the number, or {a}, {b} (with a space) for two "
                    "arguments").format(text=text, a=a, b=b))
            decimal.update(commas)
        elif ch == ",":
            is_decimal = _DECIMAL_COMMA_IN_TEXT.match(text, i) is not None
            if calls:
                (calls[-1][1] if is_decimal else calls[-1][2]).append(i)
            elif is_decimal:
                decimal.add(i)
    for _call, commas, _others in calls:  # unclosed parentheses: the parser will say so
        decimal.update(commas)
    return "".join("." if i in decimal else ch for i, ch in enumerate(text))
