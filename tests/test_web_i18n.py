"""The explorer's words: GET /api/i18n serves the gettext catalogs as JSON, and the page shows
itself in the language of Accept-Language, ?lang= or its remembered switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chainrule.web.i18n_api import accepted, choose
from chainrule.web.server import create_app

STATIC = Path(__file__).resolve().parents[1] / "src" / "chainrule" / "web" / "static"


def test_accept_language_by_quality() -> None:
    assert accepted("en-US,en;q=0.9,pt-BR;q=0.95") == ["en", "pt_BR"]
    assert accepted("de-DE, pt;q=0.5, *;q=0.1") == ["pt_BR"]
    assert accepted("pt-BR;q=0, en") == ["en"]
    assert accepted("") == [] and accepted(None) == []
    assert choose("pt-BR", "en", "en") == "pt_BR"  # ?lang= first
    assert choose(None, "pt-BR", "en") == "pt_BR"  # then the remembered switch
    assert choose("xx", None, "pt-BR,en;q=0.5") == "pt_BR"  # unknown values are skipped
    assert choose(None, None, "fr-FR") == "en"


def test_catalog_follows_accept_language(client: Any) -> None:
    r = client.get("/api/i18n", headers={"Accept-Language": "pt-BR,pt;q=0.9,en;q=0.8"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    data = r.json()
    assert data["lang"] == "pt_BR" and data["tag"] == "pt-BR"
    assert data["languages"] == {"en": "English", "pt-BR": "Português (Brasil)"}
    words = data["messages"]
    assert words["Circuit"] == "Circuito" and words["gate"] == "porta"
    assert words["Vanishing gradients"] == "Dissipação do gradiente"
    assert words["{count} more node"][:2] == ["mais {count} nó", "mais {count} nós"]
    assert "" not in words


def test_query_and_cookie_choose_the_language(client: Any) -> None:
    r = client.get("/api/i18n?lang=en", headers={"Accept-Language": "pt-BR"})
    assert r.json()["lang"] == "en" and r.json()["messages"] == {}
    client.cookies.set("chainrule_lang", "pt-BR")
    assert client.get("/api/i18n", headers={"Accept-Language": "en"}).json()["lang"] == "pt_BR"
    client.cookies.clear()
    assert client.get("/api/i18n").json()["lang"] == "en"


def test_page_loads_the_i18n_module() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert '<script type="module" src="/static/i18n.js"></script>' in html
    js = (STATIC / "i18n.js").read_text(encoding="utf-8")
    assert "/api/i18n" in js and "Accept-Language" in js


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_page_in_portuguese_and_back(tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    import os
    import shutil
    import socket
    import threading
    import time

    import uvicorn
    from playwright.sync_api import expect, sync_playwright

    chromium = os.environ.get("CHAINRULE_CHROMIUM", "/usr/bin/chromium")
    if not os.path.isfile(chromium):
        found = shutil.which("chromium")
        if found is None:
            pytest.skip("no Chromium (apt-get install chromium)")
        chromium = found
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=args)
            try:
                context = browser.new_context(locale="pt-BR",
                                              base_url=f"http://127.0.0.1:{port}")
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto("/")
                expect(page.locator("#tab-circuit")).to_have_text("Circuito", timeout=15_000)
                expect(page.locator("#tab-vanishing")).to_have_text("Dissipação do gradiente")
                expect(page.locator("html")).to_have_attribute("lang", "pt-BR")
                assert page.locator("#step-back").get_attribute("title") == "um passo para trás"
                page.select_option("#lang-switch", "en")
                expect(page.locator("#tab-circuit")).to_have_text("Circuit")
                page.reload()  # the choice is remembered over Accept-Language
                expect(page.locator("#lang-switch")).to_have_value("en", timeout=15_000)
                expect(page.locator("#tab-circuit")).to_have_text("Circuit")
                page.goto("/?lang=pt-BR")
                expect(page.locator("#tab-training")).to_have_text("Treino", timeout=15_000)
                assert not errors, errors
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
