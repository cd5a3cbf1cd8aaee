"""The explorer's own sentences in the reader's language: API answers per request, the page's
scripts (narration, labels, numbers with decimal commas) and offline lessons in pt-BR.

The browser tests use the server and Chromium of ``test_web_browser``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import test_web_browser as base
from chainrule.i18n import use_language
from test_web_browser import TIMEOUT_MS, expect, ready

browser = base.browser
server_url = base.server_url

ORIGIN = "http://testserver"
POST = {"Origin": ORIGIN, "Content-Type": "application/json"}


def _keys(x: Any) -> Any:
    """The shape of a JSON value: its keys, recursively, without the human texts."""
    if isinstance(x, dict):
        return {k: _keys(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_keys(v) for v in x]
    return type(x).__name__


# ---------------------------------------------------------------- API sentences per request


def test_diagnose_answers_in_the_request_language(client: Any) -> None:
    body = {"depth": 6, "activation": "sigmoid"}
    pt = client.post("/api/diagnose", json=body,
                     headers={**POST, "Accept-Language": "pt-BR,pt;q=0.9"}).json()
    en = client.post("/api/diagnose", json=body,
                     headers={**POST, "Accept-Language": "en-US,en;q=0.9"}).json()
    # Keys, identifiers and numbers are the interface: identical in both languages.
    assert _keys(pt) == _keys(en)
    assert pt["verdict"] == en["verdict"] == "vanishing"
    assert [f["rule"] for f in pt["findings"]] == [f["rule"] for f in en["findings"]]
    assert [f["severity"] for f in pt["findings"]] == [f["severity"] for f in en["findings"]]
    assert [s["flags"] for s in pt["suggestions"]] == [s["flags"] for s in en["suggestions"]]
    assert pt["findings"][0]["numbers"] == en["findings"][0]["numbers"]
    # The sentences are not.
    assert en["findings"][0]["message"].startswith("Layer 1 learns 1/1.04e+04 as fast")
    assert pt["findings"][0]["message"].startswith("A camada 1 aprende 1/1,04e+04 da velocidade")
    assert "camada" in pt["suggestions"][0]["why"]
    assert "layer" in en["suggestions"][0]["why"]


def test_query_and_cookie_choose_the_answer_language(client: Any) -> None:
    circuit = {"expression": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4}}
    rule = client.post("/api/circuit?lang=pt-BR", json=circuit,
                       headers={**POST, "Accept-Language": "en"}).json()["gates"][0]["rule"]
    assert rule == "a soma distribui: cada entrada recebe o gradiente de cima sem mudança"
    client.cookies.set("chainrule_lang", "pt-BR")
    try:
        answer = client.post("/api/circuit", json=circuit,
                             headers={**POST, "Accept-Language": "en"}).json()
    finally:
        client.cookies.clear()
    assert answer["gates"][0]["rule"] == rule
    assert answer["practice"]["questions"][0]["prompt"] == (
        "a porta × #4 devolve a #2: ∂f/∂#2 por este fio = ?")
    english = client.post("/api/circuit", json=circuit, headers=POST).json()
    assert english["gates"][0]["rule"].startswith("add distributes")


def test_errors_follow_the_request_language(client: Any) -> None:
    headers = {**POST, "Accept-Language": "pt-BR"}
    answer = client.post("/api/vanishing", json={"depth": 0}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["error"] == "depth deve estar entre 1 e 30, recebido 0"
    answer = client.post("/api/diagnose", json={"weight_scale": 1000.5}, headers=headers)
    assert answer.json()["error"] == "weight_scale deve estar entre 0,01 e 10, recebido 1000,5"
    answer = client.post("/api/circuit", json={"expression": "(x+", "at": {}}, headers=headers)
    assert answer.json()["error"].startswith("a expressão termina cedo demais")
    assert client.get("/api/nothing", headers=headers).json()["error"] == (
        "não existe essa página nem esse endpoint")
    english = client.post("/api/vanishing", json={"depth": 0}, headers=POST)
    assert english.json()["error"] == "depth must be between 1 and 30, got 0"


def test_the_language_of_one_request_does_not_leak_into_the_next(client: Any) -> None:
    from chainrule.i18n import language

    client.post("/api/diagnose", json={"depth": 3}, headers={**POST, "Accept-Language": "pt-BR"})
    assert language() == "en"
    answer = client.post("/api/diagnose", json={"depth": 3}, headers=POST).json()
    assert all(ch not in json.dumps(answer["findings"]) for ch in "ãçõ")


def test_worker_runs_each_job_in_its_submitters_context() -> None:
    import asyncio

    from chainrule.i18n import _, language
    from chainrule.web.worker import Worker

    worker = Worker(4)

    async def ask(tag: str) -> tuple[str, str]:
        with use_language(tag):
            return await worker.run(lambda: (language(), _("no data")))

    async def both() -> list[tuple[str, str]]:
        return list(await asyncio.gather(ask("pt-BR"), ask("en"), ask("pt-BR")))

    try:
        assert asyncio.run(both()) == [("pt_BR", "sem dados"), ("en", "no data"),
                                       ("pt_BR", "sem dados")]
    finally:
        worker.shutdown()


# ---------------------------------------------------------------- the scripts' texts


def test_script_texts_are_extracted_and_translated() -> None:
    from chainrule.i18n_catalog import read, script_texts

    texts = {text for text, _path, _line in script_texts()}
    narration = ("Step {step} of {n}: the {symbol} gate ({gate}) takes the upstream gradient "
                 "{upstream}, multiplies it by its local gradient ∂{gate}/∂{input} = {local} "
                 "and sends {contribution} back to {input}:")
    assert narration in texts
    assert "press Start to train" in texts
    catalog = read("pt_BR")
    message = catalog.get(narration)
    assert message is not None and "gradiente local" in message.string
    # The same placeholders in both languages (a translation may reorder them).
    for text in texts:
        found = catalog.get(text)
        assert found is not None and found.string, text
        assert sorted(re.findall(r"\{\w+\}", text)) == sorted(
            re.findall(r"\{\w+\}", found.string)), text


def test_scripts_write_no_bare_english_sentence() -> None:
    """A text the scripts write is a t() text, a number or a formula: a new English sentence
    written as a plain string literal (outside t()) is caught here."""
    from chainrule.i18n_catalog import script_texts

    texts = [text for text, _path, _line in script_texts()]
    static = Path(__file__).resolve().parents[1] / "src" / "chainrule" / "web" / "static" / "js"
    sentence = re.compile(r'(?<![\w.])(["`])([A-Za-z][a-z]+(?: [a-z]+){2,}[^"`]*)\1')
    for path in static.glob("*.js"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("// ")[0]
            if code.lstrip().startswith("*"):  # doc comments
                continue
            for m in sentence.finditer(code):
                # Pieces of a t("..." + "...") text are part of a catalog text.
                assert any(m.group(2) in text for text in texts), (
                    f"{path.name}:{number}: {m.group(2)!r} needs t()")


def test_practice_questions_and_quiz_in_portuguese() -> None:
    from click.testing import CliRunner

    from chainrule.cli import main

    answers = "-4\n-4\n5\n-4\n-4,0\n-4\n"
    result = CliRunner().invoke(main, ["--lang", "pt-BR", "circuit", "(x+y)*z", "--at", "x=-2",
                                       "y=5", "z=-4", "--quiz"], input=answers)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Propagação (só os valores; os gradientes, você é quem encontra):" in out
    assert "[1/4] a porta × #4 devolve a #2: ∂f/∂#2 por este fio = ?" in out
    assert "certo: #2 recebe -4 por este fio." in out
    # Two wrong answers to z's wire: the rule of the gate, then the chain rule with numbers.
    assert "errado: a multiplicação troca suas entradas" in out
    assert "errado: ∂f/∂z = de cima × local = 1 × 3 (a regra da cadeia)." in out
    assert "Pronto: 3 de 4 certas na primeira tentativa." in out
    for english in ("right:", "wrong", "Forward pass", "along this wire"):
        assert english not in out


# ---------------------------------------------------------------- offline lessons


def _export(tmp_path: Path, *args: str) -> Path:
    from click.testing import CliRunner

    from chainrule.cli import main

    path = tmp_path / "lesson.html"
    result = CliRunner().invoke(main, [*args, "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _inline(html: str, node: str) -> Any:
    m = re.search(rf'<script type="application/json" id="{node}">(.*?)</script>', html, re.S)
    assert m is not None, node
    return json.loads(m.group(1))


def test_lesson_in_portuguese_carries_its_words(tmp_path: Path) -> None:
    html = _export(tmp_path, "--lang", "pt-BR", "export", "circuit", "(x+y)*z",
                   "--at", "x=-2", "y=5", "z=-4").read_text(encoding="utf-8")
    assert '<html lang="pt-BR">' in html
    words = _inline(html, "lesson-i18n")
    assert words["tag"] == "pt-BR" and list(words["languages"]) == ["pt-BR"]
    assert words["messages"]["Circuit"] == "Circuito"
    assert words["messages"]["(now {total})."] == "(agora {total})."
    assert words["messages"]["good"] == "bom"  # verdict words the scripts look up
    # Only what the page can show: a command's help stays out.
    assert "Show this message and exit." not in words["messages"]
    answer = _inline(html, "lesson-data")["answers"]["/api/circuit"]
    assert answer["gates"][0]["rule"].startswith("a soma distribui")
    assert "/static/i18n.js" not in html and 'fetch(`/api/i18n' in html


def test_lesson_in_english_has_no_translations(tmp_path: Path) -> None:
    html = _export(tmp_path, "export", "circuit", "(x+y)*z", "--at", "x=-2", "y=5",
                   "z=-4").read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert _inline(html, "lesson-i18n")["messages"] == {}


# ---------------------------------------------------------------- in the browser


@pytest.fixture
def pt_page(browser: Any, server_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server_url, locale="pt-BR")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
        assert errors == [], errors
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_circuit_view_in_portuguese_then_english_and_back(pt_page: Any) -> None:
    page = pt_page
    page.goto("/#expr=(x%2By)*z&at=x:-2,y:5,z:-4")
    ready(page)
    expect(page.locator("html")).to_have_attribute("lang", "pt-BR")
    expect(page.locator("#tab-circuit")).to_have_text("Circuito")
    expect(page.locator("#step-next")).to_have_text("Passo ▶")
    expect(page.locator("#step-play")).to_have_text("▶ Reproduzir")
    # A decimal comma typed in pt-BR is read as a decimal point.
    page.locator("#var-z").fill("-0,5")
    expect(page.locator("#output")).to_have_text("-1,5")
    expect(page.locator("#grad-x")).to_have_text("-0,5")
    expect(page.locator("#grad-z")).to_have_text("3")
    expect(page.locator("#grad-table tbody tr").first.locator("td").last).to_have_text("bom")
    # The address keeps plain numbers (a decimal comma would split its list).
    at = page.evaluate("new URLSearchParams(location.hash.slice(1)).get('at')")
    assert at == "x:-2,y:5,z:-0.5"
    text = page.locator("#step-text")
    expect(text).to_contain_text("A retropropagação levou 4 passos, um por fio.")
    page.click("#step-reset")
    expect(text).to_contain_text("Antes da retropropagação só se conhece o gradiente da saída")
    page.click("#step-next")
    expect(text).to_contain_text("Passo 1 de 4: a porta × (#4) recebe o gradiente de cima 1, "
                                 "multiplica-o pelo seu gradiente local ∂#4/∂#2 = -0,5 e "
                                 "devolve -0,5 a #2:")
    expect(page.locator("#step-formula")).to_contain_text("regra da cadeia: ∂f/∂#2 += 1 × (-0,5)")
    expect(page.locator("#step-rule")).to_contain_text("a multiplicação troca suas entradas")
    page.click("#step-next")
    expect(text).to_contain_text("Passo 2 de 4")
    page.click("#step-play")
    expect(page.locator("#step-play")).to_have_text("❚❚ Pausar")
    page.click("#step-play")
    expect(page.locator("#step-play")).to_have_text("▶ Reproduzir")
    for english in ("upstream gradient", "Step ", "the backward pass"):
        assert english not in text.inner_text()

    page.select_option("#lang-switch", "en")
    expect(page.locator("#tab-circuit")).to_have_text("Circuit")
    expect(page.locator("#output")).to_have_text("-1.5")
    expect(page.locator("#grad-x")).to_have_text("-0.5")
    page.click("#step-reset")
    page.click("#step-next")
    expect(text).to_contain_text("Step 1 of 4: the × gate (#4) takes the upstream gradient 1, "
                                 "multiplies it by its local gradient ∂#4/∂#2 = -0.5")
    expect(page.locator("#step-rule")).to_contain_text("multiply swaps its inputs")
    expect(page.locator("#step-next")).to_have_text("Step ▶")

    page.select_option("#lang-switch", "pt-BR")
    expect(page.locator("#tab-circuit")).to_have_text("Circuito")
    expect(text).to_contain_text("Passo 1 de 4: a porta ×")
    expect(page.locator("#step-rule")).to_contain_text("a multiplicação troca suas entradas")
    expect(page.locator("#output")).to_have_text("-1,5")


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_vanishing_and_practice_in_portuguese(pt_page: Any) -> None:
    page = pt_page
    page.goto("/#tab=vanishing&depth=6")
    ready(page)
    expect(page.locator("#verdict")).to_have_text("dissipação do gradiente")
    expect(page.locator("#evidence")).to_contain_text("problema: A camada 1 aprende")
    expect(page.locator("#norms-summary")).to_contain_text("primeira camada oculta")
    expect(page.locator("#chain-summary")).to_contain_text("fatores estão abaixo de 1/4")
    page.goto("/#practice=1&expr=(x%2By)*z&at=x:-2,y:5,z:-4")
    page.reload()
    ready(page)
    expect(page.locator("#practice-prompt")).to_have_text(
        "Pergunta 1 de 4: a porta × #4 devolve a #2: ∂f/∂#2 por este fio = ?")
    page.locator("#practice-answer").fill("-4,0")
    page.locator("#practice-answer").press("Enter")
    expect(page.locator("#practice-feedback")).to_have_text(
        "Certo: #2 recebe -4 por este fio (1 × -4).")
    page.locator("#practice-answer").fill("abc")
    page.locator("#practice-answer").press("Enter")
    expect(page.locator("#practice-feedback")).to_have_text(
        "Digite um número, por exemplo -4 ou 0,25.")


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_offline_lesson_in_portuguese_from_file(browser: Any, tmp_path: Path) -> None:
    path = _export(tmp_path, "--lang", "pt-BR", "export", "circuit", "(x+y)*z",
                   "--at", "x=-2", "y=5", "z=-0,5")
    for page in base.offline_page(browser, path, {}):
        ready(page)
        expect(page.locator("html")).to_have_attribute("lang", "pt-BR")
        expect(page.locator("#tab-circuit")).to_have_text("Circuito")
        expect(page.locator("#lesson-banner")).to_contain_text("uma aula offline feita com")
        expect(page.locator("#output")).to_have_text("-1,5")
        expect(page.locator("#step-next")).to_have_text("Passo ▶")
        page.click("#step-reset")
        page.click("#step-next")
        expect(page.locator("#step-text")).to_contain_text(
            "Passo 1 de 4: a porta × (#4) recebe o gradiente de cima 1")
        expect(page.locator("#step-rule")).to_contain_text("a multiplicação troca suas entradas")
        assert page.locator("#lang-switch").count() == 0  # one language per lesson
