"""Who may change anything: only the explorer's own page, and only with a JSON body.

A web page on another site can make the user's browser send requests to a local server. Two
rules, checked here once for every request that is not a plain read (GET, HEAD), before the
body is read or any work starts:

* **Same origin.** A browser names the page that makes a request in its ``Origin`` header. A
  request that names any origin other than the server's own (scheme, host and port, as the
  ``Host`` header gives them) is refused with 403, ``Origin: null`` (sandboxed frames, files)
  included. A request without ``Origin`` comes from a program, not from a page (browsers send it
  on every cross-origin POST), and is let through unless ``Sec-Fetch-Site`` says it is
  cross-site.
* **JSON only.** The body must be declared ``Content-Type: application/json`` (415 otherwise).
  HTML forms and ``text/plain`` "simple" requests, which a browser sends cross-site without
  asking, can therefore never reach an endpoint; a cross-origin JSON request needs a CORS
  preflight, which this server never grants.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from chainrule.i18n import _

__all__ = ["SameOriginJson"]

READS = frozenset({"GET", "HEAD"})
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, without the scheme's default port."""
    origin = origin.strip().lower().rstrip("/")
    scheme, sep, rest = origin.partition("://")
    if not sep:
        return origin
    default = DEFAULT_PORTS.get(scheme)
    if default and rest.endswith(f":{default}") and not rest.endswith("]"):
        rest = rest[: -len(default) - 1]
    return f"{scheme}://{rest}"


class SameOriginJson:
    """ASGI middleware: refuse state-changing requests from other origins or without JSON.

    ``trusted_origins``: further origins whose pages may call the API (e.g. the public address
    of a reverse proxy in front of the server).
    """

    def __init__(self, app: ASGIApp, trusted_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = frozenset(normalize_origin(o) for o in trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self.refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message, kind = refusal
        body = json.dumps({"error": message, "kind": kind}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def refusal(self, scope: Scope, headers: Headers) -> tuple[int, str, str] | None:
        """``(status, message, kind)`` when the request must be refused, else ``None``."""
        origin = headers.get("origin")
        own = normalize_origin(f"{scope.get('scheme', 'http')}://{headers.get('host', '')}")
        if origin is not None:
            if normalize_origin(origin) not in {own, *self.trusted}:
                return (403, _("cross-origin request refused: the page at {origin} is not "
                               "this explorer ({own}); only the explorer's own page may call its "
                               "API").format(origin=origin[:100], own=own), "origin")
        elif headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return 403, _("cross-site request refused: only the explorer's own page may call its "
                          "API"), "origin"
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            shown = media_type or "none"
            return (415, _("{method} requests must send Content-Type: application/json "
                           "(got {shown})").format(method=scope["method"], shown=shown[:100]),
                    "content-type")
        return None
