"""Each request answered in its reader's language.

:class:`RequestLanguage` runs every HTTP request under :func:`chainrule.i18n.use_language` with
the language :func:`chainrule.web.i18n_api.choose` picks (``?lang=``, the ``chainrule_lang``
cookie, ``Accept-Language``), so the human sentences of an answer (findings, suggestions, gate
rules, errors) are in that language while its JSON keys and identifiers stay English. The
choice lives in a context variable: concurrent requests never see each other's language, and
work handed to a thread (Starlette's thread pool, :class:`chainrule.web.worker.Worker`) carries
it along in a copy of the request's context.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from chainrule.i18n import use_language
from chainrule.web.i18n_api import COOKIE, choose

__all__ = ["RequestLanguage", "request_language"]


def request_language(scope: Scope) -> str:
    """The language of the request ``scope`` describes (``"en"`` when nothing says)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1")
               for k, v in scope.get("headers") or ()}
    query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
    cookie = None
    if "cookie" in headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers["cookie"])
        except CookieError:
            pass  # a malformed cookie header says nothing about the language
        if COOKIE in jar:
            cookie = jar[COOKIE].value
    return choose(query, cookie, headers.get("accept-language"))


class RequestLanguage:
    """ASGI middleware: the rest of the app runs in the request's language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with use_language(request_language(scope)):
            await self.app(scope, receive, send)
