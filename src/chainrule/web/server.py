"""The web explorer's server: a Starlette app with a small JSON API and the static page.

``create_app()`` builds the app; ``chainrule serve`` runs it with uvicorn. Every answer is the
dict the CLI prints with ``--json`` (``chainrule circuit --json --steps --check``, the lab's
``vanishing``, ``chain`` and ``diagnose``), computed by the same functions, plus what only a
page needs (the SVG of the circuit, the edge each backward step travels).

Endpoints (all JSON; errors are ``{"error": message, ...}`` with a 4xx status):

=========================  =====================================================================
``GET  /``                 the page (``static/index.html``); ``/static/*`` its CSS and JS
``GET  /api/meta``         version, limits, examples, activations, init schemes, preprocessings
``GET  /api/examples``     the named circuits: ``{name: {expression, at, about}}``
``GET  /api/i18n``         the page's words (gettext catalog): ``?lang=``, cookie, Accept-Language
``POST /api/parse``        ``{expression}`` → ``{expression, variables}`` or the error with caret
``POST /api/circuit``      ``{expression | example | exercise, at}`` → ``circuit --json --steps
                           --check`` plus ``fanout``, ``gates``, ``variables``, ``svg`` and the
                           ``practice`` questions (:mod:`chainrule.practice`)
``POST /api/vanishing``    ``{depth, width, activation, init, weight_scale, preprocess}`` →
                           per-hidden-layer gradient norms (``chainrule.lab.flow``)
``POST /api/chain``        ``{depth, activation, init, weight_scale, seed}`` → the chain
                           network's factors w·σ'(z) (``chainrule.lab.chain``)
``POST /api/diagnose``     same settings as vanishing → verdict, evidence, suggestions
``POST /api/path``         same settings and ``layer`` → one path back to that hidden layer as
                           a circuit (``/api/circuit``'s answer plus ``path``)
``POST /api/train``        start the one training job; ``GET /api/train?since=N`` its progress;
                           ``POST /api/train/stop`` asks it to stop
=========================  =====================================================================

Nothing a request sends is evaluated as code: expressions go through :mod:`chainrule.expr`'s own
tokenizer and parser, numbers through ``float`` on JSON values, names are checked against fixed
lists. Every size that costs time is bounded by :class:`Limits`. Every POST must come from the
explorer's own page and carry JSON (:mod:`chainrule.web.security`). Long computations go
through a bounded worker (:mod:`chainrule.web.worker`) and get 503 "busy" when it is full, so
cheap requests are answered at once; training is a service (:mod:`chainrule.web.training`)
with one run at a time. Each request runs in its reader's language
(:mod:`chainrule.web.language`): the sentences of an answer are translated, its keys never.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chainrule.errors import ChainruleError
from chainrule.i18n import _
from chainrule.i18n import number as i18n_number
from chainrule.web.inputs import ACTIVATIONS, LOSSES, PREPROCESSINGS, ApiError, Limits
from chainrule.web.inputs import choice as _choice
from chainrule.web.inputs import integer as _integer
from chainrule.web.inputs import number as _number
from chainrule.web.inputs import real as _real
from chainrule.web.language import RequestLanguage
from chainrule.web.security import SameOriginJson
from chainrule.web.worker import Busy, Worker

__all__ = ["ACTIVATIONS", "LOSSES", "PREPROCESSINGS", "ApiError", "Limits", "STATIC_DIR",
           "create_app"]

STATIC_DIR = Path(__file__).parent / "static"

# ---------------------------------------------------------------- JSON in and out


def _finite(x: Any) -> Any:
    """``x`` with every non-finite float replaced by ``None`` (JSON has no NaN or Infinity)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(_finite(data), status_code=status)


async def _body(request: Request, limits: Limits) -> dict[str, Any]:
    """The request's JSON object, read at most ``limits.max_body`` bytes far."""
    import json

    declared = request.headers.get("content-length")
    too_large = _("the request body is larger than {n} bytes").format(
        n=i18n_number(limits.max_body, ","))
    if declared is not None:
        try:
            if int(declared) > limits.max_body:
                raise ApiError(413, too_large)
        except ValueError:
            raise ApiError(400, _("the Content-Length header is not a number")) from None
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limits.max_body:
            raise ApiError(413, too_large)
    if not raw:
        return {}
    try:
        data = json.loads(bytes(raw))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, _("the request body is not JSON: {problem}").format(
            problem=exc)) from None
    except RecursionError:
        raise ApiError(400, _("the request body is nested too deeply")) from None
    if not isinstance(data, dict):
        raise ApiError(400, _("the request body must be a JSON object"))
    return data


def _error_response(exc: ApiError) -> JSONResponse:
    return _json({"error": exc.message, **exc.extra}, exc.status)


# ---------------------------------------------------------------- circuits


def _expression(text: Any, limits: Limits) -> Any:
    from chainrule.expr import parse

    if not isinstance(text, str):
        raise ApiError(400, _("expression must be a string"))
    if len(text) > limits.max_expression:
        raise ApiError(
            422, _("the expression is {n} characters long; the limit here is {limit}").format(
                n=i18n_number(len(text), ","), limit=i18n_number(limits.max_expression, ",")),
            kind="limit", position=limits.max_expression)
    expr = parse(text, max_length=limits.max_expression, max_nodes=limits.max_terms,
                 max_depth=limits.max_nesting)
    if len(expr.variables) > limits.max_variables:
        raise ApiError(422, _("the expression has {n} variables; the limit here is {limit}")
                       .format(n=len(expr.variables), limit=limits.max_variables), kind="limit")
    return expr


def _located(exc: Any, kind: str, status: int = 400) -> ApiError:
    """A parse or evaluation error with its position and the two caret lines."""
    from chainrule.expr import caret_lines

    line, mark = caret_lines(exc.text, exc.position)
    return ApiError(status, exc.message, kind=kind, position=exc.position,
                    expression=exc.text, caret=f"{line}\n{mark}")


def parse_payload(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """``POST /api/parse``: the variables of an expression, in order of first appearance."""
    from chainrule.expr import ParseError

    text = body.get("expression")
    try:
        expr = _expression(text, limits)
    except ParseError as exc:
        raise _located(exc, "parse") from None
    return {"expression": expr.text, "variables": list(expr.variables)}


@lru_cache(maxsize=64)
def _svg(dot: str) -> str:
    from chainrule.viz import render_dot
    from chainrule.viz.render import svg_inline

    return svg_inline(render_dot(dot, "svg").decode())


def circuit_payload(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """``POST /api/circuit``: ``chainrule circuit --json --steps --check`` and the picture."""
    from chainrule import circuit as circuits
    from chainrule.expr import BindingError, EvaluationError, ParseError
    from chainrule.formulas import step_formula
    from chainrule.practice import practice_json
    from chainrule.viz import RenderError, to_dot

    at = body.get("at", {})
    if not isinstance(at, dict):
        raise ApiError(400, _("at must be an object of variable values, e.g. {example}").format(
            example='{"x": -2}'))
    if len(at) > limits.max_variables:
        raise ApiError(422, _("at gives {n} values; the limit here is {limit}").format(
            n=len(at), limit=limits.max_variables), kind="limit")
    values = {str(k): _number(v, _("the value of {name}").format(name=k)) for k, v in at.items()}
    name = body.get("example")
    about = ""
    text: Any
    if body.get("exercise") is not None:
        from chainrule.practice import random_exercise

        seed = _integer(body, "exercise", 0, 0, 2**31 - 1)
        text, drawn = random_exercise(seed)
        values = {**drawn, **values}
        about = _("practice exercise {seed}").format(seed=seed)
    elif name is not None:
        try:
            ex = circuits.example(str(name))
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0]), kind="example") from None
        text, about = ex.expression, ex.about
        values = {**ex.at, **values}
    else:
        text = body.get("expression")
    try:
        expr = _expression(text, limits)
        c = circuits.run(expr, values)
    except ParseError as exc:
        raise _located(exc, "parse") from None
    except EvaluationError as exc:
        raise _located(exc, "evaluation") from None
    except BindingError as exc:
        raise ApiError(400, str(exc), kind="binding") from None

    data: dict[str, Any] = c.to_json()
    edge_of: dict[tuple[int, int], int] = {}
    seen: dict[int, int] = {}
    for k, e in enumerate(data["edges"]):
        index = seen.get(e["target"], 0)
        seen[e["target"]] = index + 1
        edge_of[(e["target"], index)] = k
    data["steps"] = [{**s, "edge": edge_of.get((s["gate"], s["index"])),
                      "formula": step_formula(c, s)} for s in c.steps()]
    data["check"] = c.check()
    data["fanout"] = c.fanout()
    data["gates"] = c.gates()
    data["variables"] = list(expr.variables)
    data["at"] = dict(c.values)
    data["about"] = about
    data["names"] = [c.name(n["id"]) for n in data["nodes"]]
    data["practice"] = practice_json(c)
    try:
        data["svg"] = _svg(to_dot(c.graph, max_nodes=limits.max_drawn, title=expr.text))
        data["svg_error"] = None
    except RenderError as exc:
        data["svg"], data["svg_error"] = None, str(exc)
    return data


def examples_payload() -> dict[str, Any]:
    from chainrule.circuit import EXAMPLES

    return {name: {"expression": ex.expression, "at": ex.at, "about": ex.about}
            for name, ex in EXAMPLES.items()}


def meta_payload(limits: Limits) -> dict[str, Any]:
    """``GET /api/meta``: version, limits, examples and the names the page offers."""
    from chainrule import __version__
    from chainrule.web.training import DEFAULTS as TRAINING_DEFAULTS

    return {
        "version": __version__,
        "limits": limits.to_json(),
        "examples": examples_payload(),
        "activations": list(ACTIVATIONS),
        "inits": list(_inits()),
        "preprocessings": list(PREPROCESSINGS),
        "losses": list(LOSSES),
        "training": TRAINING_DEFAULTS,
        "lab": {m: importlib.util.find_spec(f"chainrule.lab.{m}") is not None
                for m in ("flow", "chain", "diagnosis")}
        if importlib.util.find_spec("chainrule.lab") is not None
        else {"flow": False, "chain": False, "diagnosis": False},
    }


# ---------------------------------------------------------------- the lab


def _lab(module: str) -> Any:
    """``chainrule.lab.<module>``, or a 503 saying the lab is not part of this install."""
    try:
        return importlib.import_module(f"chainrule.lab.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("chainrule.lab"):
            raise ApiError(503, _("{module} is not available in this installation").format(
                module=f"chainrule.lab.{module}")) from None
        raise


def _inits() -> tuple[str, ...]:
    from chainrule.nn.init import INITS

    return tuple(INITS)


def _network_settings(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    depth = _integer(body, "depth", 5, 1, limits.max_depth)
    width = _integer(body, "width", 30, 1, limits.max_width)
    return {
        "sizes": [784, *([width] * depth), 10],
        "activation": _choice(body, "activation", "sigmoid", ACTIVATIONS),
        "init": _choice(body, "init", "nielsen", _inits()),
        "weight_scale": _real(body, "weight_scale", 1.0, 0.01, limits.max_weight_scale),
        "preprocess": _choice(body, "preprocess", "scale", PREPROCESSINGS),
        "samples": _integer(body, "samples", 100, 1, limits.max_samples),
        "seed": _integer(body, "seed", 0, 0, 2**31 - 1),
    }


def vanishing_payload(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """``POST /api/vanishing``: ``chainrule vanishing --json`` (per-hidden-layer norms)."""
    s = _network_settings(body, limits)
    flow = _lab("flow")
    result: dict[str, Any] = flow.layer_norms_for(
        s["sizes"], s["activation"], s["init"], weight_scale=s["weight_scale"],
        preprocess=s["preprocess"], samples=s["samples"], seed=s["seed"])
    return {"settings": s, **result}


def chain_payload(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """``POST /api/chain``: a chain of one-neuron layers and its factors w·σ'(z)."""
    from chainrule.web.lab import chain_for

    depth = _integer(body, "depth", 5, 1, limits.max_depth)
    activation = _choice(body, "activation", "sigmoid", ACTIVATIONS)
    init = _choice(body, "init", "nielsen", _inits())
    scale = _real(body, "weight_scale", 1.0, 0.01, limits.max_weight_scale)
    seed = _integer(body, "seed", 0, 0, 2**31 - 1)
    return chain_for(_lab("chain"), depth, activation, init, scale, seed)


def path_payload(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """``POST /api/path``: one path of the backward pass back to hidden ``layer``, as a circuit."""
    from dataclasses import replace

    from chainrule.web.lab import path_for

    s = _network_settings(body, limits)
    hidden = len(s["sizes"]) - 2
    layer = _integer(body, "layer", 1, 1, hidden)
    path = path_for(_lab("flow"), s, layer)
    # The path's product has two factors per layer: more than a typed expression may hold.
    roomy = replace(limits, max_expression=40 * (hidden + 2), max_variables=2 * hidden + 4,
                    max_terms=6 * (hidden + 2))
    return {**circuit_payload({"expression": path["expression"], "at": path["values"]}, roomy),
            "path": path}


def diagnose_payload(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """``POST /api/diagnose``: the verdict on a freshly initialised network of these settings."""
    from chainrule.web.lab import diagnose_for

    s = _network_settings(body, limits)
    lr = _real(body, "lr", 0.1, 1e-6, 100.0)
    return diagnose_for(_lab("diagnosis"), s, lr)


# ---------------------------------------------------------------- the app

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class _SecurityHeaders:
    """ASGI middleware: the page loads nothing from elsewhere; say so, so a browser enforces it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = _CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                if api:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)



def create_app(
    limits: Limits | None = None,
    *,
    allowed_hosts: list[str] | None = None,
    trusted_origins: Iterable[str] = (),
    data_loader: Callable[[], Any] | None = None,
) -> Starlette:
    """The explorer as an ASGI app.

    ``allowed_hosts``: Host header values accepted (``chainrule serve`` passes the loopback
    names when it binds to loopback, which stops other web sites from reaching it through DNS
    rebinding); ``None`` accepts any. ``trusted_origins``: origins other than the server's own
    whose pages may POST (see :mod:`chainrule.web.security`). ``data_loader`` returns the
    training data set (default: the embedded MNIST sample).
    """
    from chainrule.web.training import Busy as TrainingBusy
    from chainrule.web.training import TrainingJobs

    limits = limits or Limits()
    jobs = TrainingJobs(limits, data_loader)
    worker = Worker(limits.max_queue, name="chainrule-compute")

    def sync(fn: Callable[[Mapping[str, Any], Limits], dict[str, Any]], *, long: bool = False
             ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint computing ``fn(body, limits)``: cheap ones at once in the thread pool,
        ``long`` ones through the bounded worker."""
        async def endpoint(request: Request) -> Response:
            body = await _body(request, limits)
            if long:
                return _json(await worker.run(fn, body, limits))
            return _json(await run_in_threadpool(fn, body, limits))
        return endpoint

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    async def meta(request: Request) -> Response:
        return _json(meta_payload(limits))

    async def examples(request: Request) -> Response:
        return _json(examples_payload())

    async def words(request: Request) -> Response:
        from chainrule.web import i18n_api

        return _json(i18n_api.payload(request.query_params.get("lang"),
                                      request.cookies.get(i18n_api.COOKIE),
                                      request.headers.get("accept-language")))

    async def train_start(request: Request) -> Response:
        body = await _body(request, limits)
        try:
            status = await run_in_threadpool(jobs.start, body)
        except TrainingBusy as exc:
            raise ApiError(409, str(exc)) from None
        return _json(status, 202)

    async def train_status(request: Request) -> Response:
        since = _integer(request.query_params, "since", 0, 0, 10**9)
        return _json(jobs.status(since))

    async def train_stop(request: Request) -> Response:
        await _body(request, limits)
        return _json(jobs.stop())

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error_response(exc)

    async def busy_error(request: Request, exc: Exception) -> Response:
        response = _json({"error": str(exc), "kind": "busy"}, 503)
        response.headers["Retry-After"] = "1"
        return response

    async def library_error(request: Request, exc: Exception) -> Response:
        # Anything the library refuses (unknown init name, impossible setting) is the
        # request's fault: the library's own message says what to change.
        return _json({"error": str(exc), "kind": type(exc).__name__}, 400)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: _("no such page or endpoint"), 405: _("method not allowed")}.get(
            exc.status_code, str(exc.detail))
        return _json({"error": message}, exc.status_code)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(jobs.shutdown)
            await run_in_threadpool(worker.shutdown)

    routes = [
        Route("/", index),
        Route("/api/meta", meta),
        Route("/api/examples", examples),
        Route("/api/i18n", words),
        Route("/api/parse", sync(parse_payload), methods=["POST"]),
        Route("/api/circuit", sync(circuit_payload), methods=["POST"]),
        Route("/api/vanishing", sync(vanishing_payload, long=True), methods=["POST"]),
        Route("/api/chain", sync(chain_payload), methods=["POST"]),
        Route("/api/diagnose", sync(diagnose_payload, long=True), methods=["POST"]),
        Route("/api/path", sync(path_payload), methods=["POST"]),
        Route("/api/train", train_start, methods=["POST"]),
        Route("/api/train", train_status, methods=["GET"]),
        Route("/api/train/stop", train_stop, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    # Outermost after the headers: error answers are in the reader's language too.
    middleware = [Middleware(_SecurityHeaders), Middleware(RequestLanguage)]
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    # Inside the Host check, before any body is read: see chainrule.web.security.
    middleware.append(Middleware(SameOriginJson, trusted_origins=tuple(trusted_origins)))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            ApiError: api_error,
            Busy: busy_error,
            ChainruleError: library_error,
            HTTPException: http_error,
        },
        lifespan=lifespan,
    )

    app.state.limits = limits
    app.state.jobs = jobs
    app.state.worker = worker
    return app
