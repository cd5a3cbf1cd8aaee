"""The web explorer in a real browser: Playwright driving Debian's Chromium.

The server runs in a thread of this process (uvicorn on 127.0.0.1, a free port); each test opens
a fresh page. Screenshots of every panel go to ``test-artifacts/`` for a person to look at.
Skipped, with the reason, when Playwright or Chromium is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainrule.web.server import create_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHROMIUM = os.environ.get("CHAINRULE_CHROMIUM", "/usr/bin/chromium")
# These flags let Debian's Chromium start headless in a container with no network at all.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT_MS = 15_000


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="explorer-under-test")
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the explorer did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install playwright)")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        if found is None:
            pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
        executable = found
    else:
        executable = CHROMIUM
    from playwright.sync_api import expect as _expect

    _expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server_url)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if _unexpected(msg) else None)
    requests: list[str] = []
    pg.on("request", lambda req: requests.append(req.url))
    try:
        yield pg
        assert errors == [], errors
        outside = [u for u in requests if not u.startswith(server_url)]
        assert outside == [], f"the page asked for something elsewhere: {outside}"
    finally:
        context.close()


def _unexpected(msg: Any) -> bool:
    # A 4xx answer is logged by the browser; the tests provoke those on purpose.
    expected = "Failed to load resource: the server responded with a status of 4"
    return bool(msg.type == "error" and not msg.text.startswith(expected))


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def ready(page: Any) -> None:
    expect(page.locator("body")).to_have_attribute("data-ready", "1")


def set_range(page: Any, selector: str, value: int | float) -> None:
    page.locator(selector).fill(str(value))


# ---------------------------------------------------------------- circuit panel


def offline_page(browser: Any, path: Any, size: dict[str, Any]) -> Iterator[Any]:
    """A lesson opened from file:// with every other request refused; after the caller's
    checks: no page errors, and nothing asked for but the file."""
    context = browser.new_context(**size)
    context.set_default_timeout(TIMEOUT_MS)
    url = path.as_uri()
    asked: list[str] = []

    def only_the_file(route: Any) -> None:
        asked.append(route.request.url)
        if route.request.url.split("#")[0] == url:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_the_file)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: asked.append(req.url))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(url)
        yield page
        assert errors == [], errors
        assert url in asked  # the requests were watched
        others = {u for u in asked if u.split("#")[0] != url and not u.startswith("data:")}
        assert others == set(), f"the lesson asked for: {others}"
    finally:
        context.close()


def test_typed_expression_gives_cs231n_gradients(page: Any) -> None:
    page.goto("/#expr=a*b&at=a:1,b:2")
    ready(page)
    expect(page.locator("#output")).to_have_text("2")
    expr = page.locator("#expr")
    expr.fill("")
    expr.press_sequentially("(x+y)*z", delay=20)
    for name, value in (("x", "-2"), ("y", "5"), ("z", "-4")):
        box = page.locator(f"#var-{name}")
        box.fill(value)
    expect(page.locator("#output")).to_have_text("-12")
    expect(page.locator("#grad-x")).to_have_text("-4")
    expect(page.locator("#grad-y")).to_have_text("-4")
    expect(page.locator("#grad-z")).to_have_text("3")
    expect(page.locator("#grad-table tbody tr")).to_have_count(3)
    for row in page.locator("#grad-table tbody tr").all():
        expect(row.locator("td").last).to_have_text("good")
    # The picture is the server's Graphviz layout, with values and gradients on the wires.
    svg = page.locator("#circuit-svg svg")
    expect(svg).to_be_visible()
    texts = svg.locator("text").all_text_contents()
    assert "-12" in texts and "3" in texts and "×" in texts
    assert "expr=%28x%2By%29*z" in page.url and "x%3A-2" in page.url
    shot(page, "circuit")


def test_step_through_the_backward_pass(page: Any) -> None:
    page.goto("/")
    ready(page)
    page.locator("[data-example=simple]").click()
    expect(page.locator("#panel-circuit")).to_have_attribute("data-ready", "1")
    expect(page.locator("#step-count")).to_have_text("4 / 4")
    page.locator("#step-reset").click()
    expect(page.locator("#step-count")).to_have_text("0 / 4")
    expect(page.locator("#step-text")).to_contain_text("∂f/∂f = 1")
    gradients = page.locator("#circuit-svg g.node text.pending")
    expect(gradients).to_have_count(4)  # no wire knows its gradient yet

    page.locator("#step-next").click()
    expect(page.locator("#step-count")).to_have_text("1 / 4")
    gate = page.locator("#circuit-svg g.node.current-gate")
    expect(gate).to_have_count(1)
    expect(gate.locator("title")).to_have_text("n4")  # the multiply gate goes first
    expect(page.locator("#step-text")).to_contain_text("×")
    expect(page.locator("#step-text .plus-eq")).to_have_text("#2.grad += -4")
    expect(gradients).to_have_count(3)

    for k in (2, 3, 4):
        page.locator("#step-next").click()
        expect(page.locator("#step-count")).to_have_text(f"{k} / 4")
    expect(page.locator("#circuit-svg g.node.current-gate title")).to_have_text("n2")
    expect(page.locator("#step-text")).to_contain_text("last step")
    expect(gradients).to_have_count(0)

    set_range(page, "#step-slider", 2)
    expect(page.locator("#step-count")).to_have_text("2 / 4")
    page.locator("#step-back").click()
    expect(page.locator("#step-count")).to_have_text("1 / 4")
    shot(page, "circuit-step")

    # The step is in the URL: a reload shows the same view.
    assert "step=1" in page.url
    page.reload()
    ready(page)
    expect(page.locator("#panel-circuit")).to_have_attribute("data-ready", "1")
    expect(page.locator("#step-count")).to_have_text("1 / 4")
    expect(page.locator("#circuit-svg g.node.current-gate title")).to_have_text("n4")


def test_fan_out_accumulates(page: Any) -> None:
    page.goto("/")
    ready(page)
    page.locator("[data-example=fanout]").click()
    expect(page.locator("#panel-circuit")).to_have_attribute("data-ready", "1")
    expect(page.locator("#output")).to_have_text("-3")
    expect(page.locator("#grad-x")).to_have_text("-1")
    expect(page.locator("#fanout-text")).to_contain_text("x feeds 2 wires")
    page.locator("#step-reset").click()
    badges = page.locator("#circuit-svg .fanout-mark")
    seen = []
    for _ in range(4):
        page.locator("#step-next").click()
        seen.append(badges.count())
    assert seen.count(1) == 2  # x's two wires, each one a +=
    shot(page, "circuit-fanout")


def test_bad_expression_shows_the_error_inline(page: Any) -> None:
    page.goto("/")
    ready(page)
    expr = page.locator("#expr")
    expr.fill("(x+y")
    error = page.locator("#expr-error")
    expect(error).to_be_visible()
    expect(page.locator("#expr-message")).to_contain_text("never closed")
    expect(page.locator("#expr-caret")).to_have_text("(x+y\n^")
    expect(expr).to_have_class(re.compile("invalid"))
    expect(page.locator("#output")).to_have_text("?")

    expr.fill("x ^ 2")
    expect(page.locator("#expr-message")).to_contain_text("use ** for powers")
    expect(page.locator("#expr-caret")).to_have_text("x ^ 2\n  ^")
    shot(page, "circuit-error")

    expr.fill("x ** 2")
    expect(error).to_be_hidden()
    expect(page.locator("#grad-x")).to_have_text("-4")  # x kept its value, -2


def test_evaluation_error_points_at_the_gate(page: Any) -> None:
    page.goto("/#expr=1%2Blog(x)&at=x:-1")
    ready(page)
    expect(page.locator("#expr-error")).to_be_visible()
    expect(page.locator("#expr-caret")).to_have_text("1+log(x)\n  ^")
    page.locator("#var-x").fill("2")
    expect(page.locator("#expr-error")).to_be_hidden()
    expect(page.locator("#grad-x")).to_have_text("0.5")


# ---------------------------------------------------------------- vanishing panel


def _norms(page: Any, activation: str, init: str, depth: int) -> tuple[float, float]:
    chart = page.locator("#norms-chart")
    expect(chart).to_have_attribute("data-depth", str(depth))
    expect(chart).to_have_attribute("data-activation", activation)
    expect(chart).to_have_attribute("data-init", init)
    expect(page.locator("#panel-vanishing")).to_have_attribute("data-ready", "1")
    first = float(chart.get_attribute("data-first"))
    last = float(chart.get_attribute("data-last"))
    return first, last


def test_vanishing_slider_sigmoid_then_relu_he(page: Any) -> None:
    page.goto("/")
    ready(page)
    page.locator("#tab-vanishing").click()
    expect(page.locator("#panel-vanishing")).to_be_visible()
    page.locator("#activation").select_option("sigmoid")
    page.locator("#init").select_option("nielsen")
    set_range(page, "#depth", 25)
    expect(page.locator("#depth-out")).to_have_text("25")
    first, last = _norms(page, "sigmoid", "nielsen", 25)
    assert first < last * 1e-6, (first, last)  # many orders of magnitude
    expect(page.locator("#norms-chart rect.bar")).to_have_count(25)
    expect(page.locator("#norms-summary")).to_contain_text("orders of magnitude smaller")
    expect(page.locator("#chain-chart line.quarter")).to_have_count(1)
    expect(page.locator("#chain-chart rect.bar")).to_have_count(25)
    expect(page.locator("#verdict")).to_have_text("vanishing")
    expect(page.locator("#suggestions li").first).to_contain_text("relu")
    assert "depth=25" in page.url and "tab=vanishing" in page.url
    shot(page, "vanishing-sigmoid")

    page.locator("#activation").select_option("relu")
    page.locator("#init").select_option("he")
    first, last = _norms(page, "relu", "he", 25)
    assert last / 100 < first < last * 100, (first, last)
    expect(page.locator("#verdict")).not_to_have_text("vanishing")
    shot(page, "vanishing-relu-he")

    page.reload()
    ready(page)
    expect(page.locator("#panel-vanishing")).to_be_visible()
    _norms(page, "relu", "he", 25)


# ---------------------------------------------------------------- training view


def test_training_curves_grow_live_and_stop(page: Any) -> None:
    page.goto("/#tab=training")
    ready(page)
    panel = page.locator("#panel-training")
    expect(panel).to_be_visible()
    # The longest run allowed on the whole sample: it must still be going when looked at.
    page.locator("#train-examples").fill("4000")
    page.locator("#train-epochs").fill("10")
    page.locator("#train-start").click()
    expect(panel).to_have_attribute("data-state", "running")
    expect(page.locator("#train-start")).to_be_disabled()
    page.wait_for_function(
        "() => Number(document.querySelector('#panel-training').dataset.points) >= 15")
    expect(page.locator("#train-chart path.series")).to_have_count(3)
    shot(page, "training")
    page.locator("#train-stop").click()
    expect(panel).to_have_attribute("data-state", "stopped")
    expect(page.locator("#train-start")).to_be_enabled()
    expect(page.locator("#train-status")).to_contain_text("stopped")


def test_training_limit_error_is_shown(page: Any) -> None:
    page.goto("/#tab=training")
    ready(page)
    page.locator("#train-epochs").fill("99")
    page.locator("#train-start").click()
    expect(page.locator("#train-error")).to_contain_text("epochs must be between 1 and 10")


# ---------------------------------------------------------------- a hostile page elsewhere

HOSTILE_PAGE = """<!doctype html><html><body>
<form id="f" method="post" enctype="text/plain" target="sink" action="{target}/api/train">
<input name='{{"depth": 2, "epochs": 10, "examples": 4000, "batch": 1, "x": "' value='"}}'>
</form><iframe name="sink"></iframe>
<script>
(async () => {{
  const body = JSON.stringify({{depth: 2, epochs: 10, examples: 4000, batch: 1}});
  const out = {{}};
  try {{
    await fetch("{target}/api/train", {{method: "POST", mode: "no-cors", body,
                                        headers: {{"Content-Type": "text/plain"}}}});
    out.simple = "sent";
  }} catch (e) {{ out.simple = "failed"; }}
  try {{
    const r = await fetch("{target}/api/train", {{method: "POST", body,
                                                headers: {{"Content-Type": "application/json"}}}});
    out.json = "read " + r.status;
  }} catch (e) {{ out.json = "blocked"; }}
  try {{
    const r = await fetch("{target}/api/meta");
    out.read = "read " + (await r.text()).length;
  }} catch (e) {{ out.read = "blocked"; }}
  document.getElementById("f").submit();
  document.body.dataset.done = JSON.stringify(out);
}})();
</script></body></html>"""


@pytest.fixture
def hostile_url(server_url: str) -> Iterator[str]:
    """Another origin on this computer (another port) serving a page that attacks the explorer."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    html = HOSTILE_PAGE.format(target=server_url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="hostile-page")
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        thread.join(10)
        httpd.server_close()


def test_a_page_from_another_origin_cannot_start_training(
        browser: Any, server_url: str, hostile_url: str) -> None:
    import httpx

    before = httpx.get(f"{server_url}/api/train", timeout=10).json()
    context = browser.new_context()
    try:
        pg = context.new_page()
        answers: list[tuple[str, int]] = []
        pg.on("response", lambda r: answers.append((r.request.method, r.status))
              if r.url.startswith(f"{server_url}/api/train") else None)
        pg.goto(hostile_url)
        pg.wait_for_selector("body[data-done]")
        # the form's navigation in the frame
        deadline = time.monotonic() + 10
        while sum(1 for m, _ in answers if m == "POST") < 2 and time.monotonic() < deadline:
            pg.wait_for_timeout(50)
        import json

        out = json.loads(pg.locator("body").get_attribute("data-done") or "{}")
    finally:
        context.close()
    after = httpx.get(f"{server_url}/api/train", timeout=10).json()
    assert after["run"] == before["run"], "a cross-site request started a training run"
    assert after["state"] not in ("starting", "running")
    # The browser sent the simple request and the form; the server refused both.
    assert [s for m, s in answers if m == "POST"] == [403, 403], answers
    # The JSON request needs a preflight, which is never granted; nothing can be read back.
    assert out == {"simple": "sent", "json": "blocked", "read": "blocked"}, out
