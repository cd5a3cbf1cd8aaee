"""The explorer in a classroom: phone widths, links that restore the view, stale results,
the chain chart per activation, practice mode. Real Chromium through Playwright (the fixtures
of ``test_web_browser``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import test_web_browser as base
from test_web_browser import TIMEOUT_MS, expect, ready, set_range, shot

# The same server and browser as the explorer's other browser tests.
browser = base.browser
server_url = base.server_url

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
TABS = ("circuit", "vanishing", "training")


def _open(browser: Any, server_url: str, **options: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=server_url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
        assert errors == [], errors
    finally:
        context.close()


@pytest.fixture
def phone(browser: Any, server_url: str) -> Iterator[Any]:
    yield from _open(browser, server_url, **PHONE)


@pytest.fixture
def desktop(browser: Any, server_url: str) -> Iterator[Any]:
    yield from _open(browser, server_url, **DESKTOP)


def no_sideways_scroll(page: Any, width: int) -> None:
    scroll, inner = page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
    # On a phone the layout viewport grows to fit what overflows, so innerWidth is checked too.
    assert inner == width, (scroll, inner)
    assert scroll <= inner, (scroll, inner)


def here(page: Any) -> str:
    # page.url follows history.replaceState a moment late; the page's own location does not.
    return str(page.evaluate("location.href"))


# ---------------------------------------------------------------- phone and desktop widths


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("tab", TABS)
def test_every_tab_fits_the_screen(request: Any, size: str, tab: str) -> None:
    page = request.getfixturevalue(size)
    width = (PHONE if size == "phone" else DESKTOP)["viewport"]["width"]
    page.goto(f"/#tab={tab}")
    ready(page)
    expect(page.locator(f"#panel-{tab}")).to_be_visible()
    if tab == "vanishing":
        expect(page.locator("#panel-vanishing")).to_have_attribute("data-ready", "1")
        expect(page.locator("#verdict")).not_to_be_empty()
    no_sideways_scroll(page, width)
    # Every control of the tab is on screen, none cut off at the right edge.
    # A checkbox is reached through its label, which is the target a finger hits.
    controls = page.locator(f"#panel-{tab} button:visible, "
                            f"#panel-{tab} input:not([type=checkbox]):visible, "
                            f"#panel-{tab} select:visible, #panel-{tab} label.switch:visible, "
                            ".tabs button")
    assert controls.count() >= 3
    for box in (c.bounding_box() for c in controls.all()):
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
        if size == "phone":
            assert box["height"] >= 32, box  # big enough for a finger
    shot(page, f"{size}-{tab}")


def test_phone_circuit_steps_by_touch(phone: Any) -> None:
    phone.goto("/")
    ready(phone)
    expect(phone.locator("#step-count")).to_have_text("4 / 4")
    phone.locator("#step-reset").tap()
    phone.locator("#step-next").tap()
    expect(phone.locator("#step-count")).to_have_text("1 / 4")
    expect(phone.locator("#step-text .plus-eq")).to_have_text("#2.grad += -4")
    no_sideways_scroll(phone, 390)


# ---------------------------------------------------------------- links that restore the view


def test_circuit_link_round_trip(desktop: Any, browser: Any, server_url: str) -> None:
    page = desktop
    page.goto("/")
    ready(page)
    page.locator("#expr").fill("x*y + max(x, y)")
    expect(page.locator("#var-y")).to_be_visible()
    page.locator("#var-x").fill("3")
    page.locator("#var-y").fill("-2")
    expect(page.locator("#output")).to_have_text("-3")
    page.locator("#step-reset").click()
    page.locator("#step-next").click()
    page.locator("#step-next").click()
    expect(page.locator("#step-count")).to_have_text("2 / 6")
    link = here(page)
    for other in _open(browser, server_url, **PHONE):
        other.goto(link)
        ready(other)
        expect(other.locator("#expr")).to_have_value("x*y + max(x, y)")
        expect(other.locator("#var-x")).to_have_value("3")
        expect(other.locator("#var-y")).to_have_value("-2")
        expect(other.locator("#output")).to_have_text("-3")
        expect(other.locator("#step-count")).to_have_text("2 / 6")
        expect(other.locator("#grad-x")).to_have_text("-1")  # y + [x > y] = -2 + 1


def test_vanishing_link_round_trip(desktop: Any, browser: Any, server_url: str) -> None:
    page = desktop
    page.goto("/#tab=vanishing")
    ready(page)
    set_range(page, "#depth", 7)
    set_range(page, "#width", 20)
    page.locator("#activation").select_option("tanh")
    page.locator("#init").select_option("xavier")
    set_range(page, "#weight-scale", 1.5)
    page.locator("#preprocess").select_option("standardize")
    chart = page.locator("#norms-chart")
    expect(chart).to_have_attribute("data-activation", "tanh")
    expect(chart).to_have_attribute("data-depth", "7")
    expect(page.locator("#panel-vanishing")).to_have_attribute("data-ready", "1")
    expect(page.locator("#vanishing-results")).to_have_attribute("data-stale", "0")
    first = chart.get_attribute("data-first")
    link = here(page)
    for other in _open(browser, server_url, **DESKTOP):
        other.goto(link)
        ready(other)
        expect(other.locator("#panel-vanishing")).to_be_visible()
        for sel, value in (("#depth", "7"), ("#width", "20"), ("#activation", "tanh"),
                           ("#init", "xavier"), ("#weight-scale", "1.5"),
                           ("#preprocess", "standardize")):
            expect(other.locator(sel)).to_have_value(value)
        expect(other.locator("#norms-chart")).to_have_attribute("data-depth", "7")
        expect(other.locator("#norms-chart")).to_have_attribute("data-first", first)


def test_training_link_round_trip(desktop: Any, browser: Any, server_url: str) -> None:
    page = desktop
    page.goto("/#tab=training")
    ready(page)
    set_range(page, "#train-depth", 2)
    set_range(page, "#train-width", 45)
    page.locator("#train-activation").select_option("relu")
    page.locator("#train-init").select_option("he")
    page.locator("#train-loss").select_option("quadratic")
    page.locator("#train-lr").fill("0.25")
    page.locator("#train-epochs").fill("4")
    page.locator("#train-examples").fill("1500")
    assert "t-lr=0.25" in here(page) and "t-examples=1500" in here(page), here(page)
    link = here(page)
    for other in _open(browser, server_url, **PHONE):
        other.goto(link)
        ready(other)
        expect(other.locator("#panel-training")).to_be_visible()
        for sel, value in (("#train-depth", "2"), ("#train-width", "45"),
                           ("#train-activation", "relu"), ("#train-init", "he"),
                           ("#train-loss", "quadratic"), ("#train-lr", "0.25"),
                           ("#train-epochs", "4"), ("#train-examples", "1500")):
            expect(other.locator(sel)).to_have_value(value)
        expect(other.locator("#train-depth-out")).to_have_text("2")


def test_training_defaults_come_from_the_server(desktop: Any) -> None:
    from chainrule.web.training import DEFAULTS

    desktop.goto("/#tab=training")
    ready(desktop)
    expect(desktop.locator("#train-lr")).to_have_value(str(DEFAULTS["lr"]).removesuffix(".0"))
    expect(desktop.locator("#train-loss")).to_have_value(DEFAULTS["loss"])
    expect(desktop.locator("#train-epochs")).to_have_value(str(DEFAULTS["epochs"]))
    expect(desktop.locator("#train-examples")).to_have_value(str(DEFAULTS["examples"]))


# ---------------------------------------------------------------- honest state


def test_circuit_results_are_marked_stale_while_inputs_are_invalid(desktop: Any) -> None:
    page = desktop
    page.goto("/")
    ready(page)
    results = page.locator("#circuit-results")
    expect(results).to_have_attribute("data-stale", "0")
    page.locator("#var-x").fill("-2e")
    expect(results).to_have_attribute("data-stale", "1")
    expect(results.locator(".stale-note")).to_be_visible()
    expect(results.locator(".stale-note")).to_contain_text("previous inputs")
    expect(page.locator("#output")).to_have_text("-12")  # still the old answer, marked
    page.locator("#var-x").fill("-3")
    expect(results).to_have_attribute("data-stale", "0")
    expect(results.locator(".stale-note")).to_be_hidden()
    expect(page.locator("#output")).to_have_text("-8")


def test_vanishing_results_are_stale_until_recomputed(desktop: Any) -> None:
    page = desktop
    page.goto("/#tab=vanishing")
    ready(page)
    results = page.locator("#vanishing-results")
    expect(results).to_have_attribute("data-stale", "0")
    # Change a control and look in the same task: the recomputation has not been sent yet.
    marked = page.evaluate("""() => {
        const d = document.querySelector('#depth');
        d.value = '9'; d.dispatchEvent(new Event('input'));
        return document.querySelector('#vanishing-results').dataset.stale;
    }""")
    assert marked == "1"
    expect(page.locator("#norms-chart")).to_have_attribute("data-depth", "9")
    expect(results).to_have_attribute("data-stale", "0")


def test_training_results_of_other_settings_are_stale(desktop: Any) -> None:
    page = desktop
    page.goto("/#tab=training&t-epochs=1&t-examples=100&t-depth=1&t-width=10")
    ready(page)
    page.locator("#train-start").click()
    panel = page.locator("#panel-training")
    expect(panel).to_have_attribute("data-state", "done", timeout=60_000)
    results = page.locator("#train-results")
    expect(results).to_have_attribute("data-stale", "0")
    page.locator("#train-lr").fill("0.05")
    expect(results).to_have_attribute("data-stale", "1")
    expect(results.locator(".stale-note")).to_contain_text("press Start")
    from chainrule.web.training import DEFAULTS

    page.locator("#train-lr").fill(f"{DEFAULTS['lr']:g}")
    expect(results).to_have_attribute("data-stale", "0")


# ---------------------------------------------------------------- the chain chart


@pytest.mark.parametrize(("activation", "top", "label"), [
    ("sigmoid", 0.25, "1/4 = max σ'"), ("tanh", 1.0, "1 = max tanh'"),
    ("relu", 1.0, "1 = max relu'"), ("leaky_relu", 1.0, "1 = max leaky_relu'"),
])
def test_chain_chart_follows_the_activation(desktop: Any, activation: str, top: float,
                                            label: str) -> None:
    from chainrule.lab import chain as lab_chain
    from chainrule.web.lab import chain_for

    page = desktop
    page.goto(f"/#tab=vanishing&depth=6&act={activation}&init=nielsen")
    ready(page)
    chart = page.locator("#chain-chart")
    expect(chart).to_have_attribute("data-activation", activation)
    expect(page.locator("#panel-vanishing")).to_have_attribute("data-ready", "1")
    assert float(chart.get_attribute("data-max-slope")) == top
    expect(chart.locator(".quarter-label")).to_have_text(label)
    expected = chain_for(lab_chain, 6, activation, "nielsen", 1.0, 0)
    bars = {int(b.get_attribute("data-index")): float(b.get_attribute("data-value"))
            for b in chart.locator("rect.bar").all()}
    # Every nonzero factor is drawn, with the value w·φ'(z) of the chosen activation.
    want = {i: abs(layer["factor"]) for i, layer in enumerate(expected["layers"])
            if layer["factor"] != 0}
    assert bars == pytest.approx(want)
    phi = "σ" if activation == "sigmoid" else activation
    expect(page.locator("#chain-subtitle")).to_contain_text(f"|w·{phi}'(z)|")
    shot(page, f"chain-{activation}")


# ---------------------------------------------------------------- practice mode


def _answer(page: Any, text: str) -> None:
    page.locator("#practice-answer").fill(text)
    page.locator("#practice-check").click()


def test_practice_right_and_wrong_answers(desktop: Any) -> None:
    page = desktop
    page.goto("/?exercise=1#expr=(x%2By)*z&at=x:-2,y:5,z:-4")
    ready(page)
    practice = page.locator("#practice")
    expect(practice).to_be_visible()
    expect(page.locator("#practice-toggle")).to_be_checked()
    # The gradients are hidden: every wire shows "?", the table and the step-through are gone.
    expect(page.locator("#circuit-svg g.node text.pending")).to_have_count(4)
    expect(page.locator("#grad-card")).to_be_hidden()
    expect(page.locator("#step-text")).to_be_hidden()
    expect(page.locator("#circuit-svg g.node.current-gate title")).to_have_text("n4")
    expect(page.locator("#practice-prompt")).to_contain_text("Question 1 of 4")

    # A wrong answer: marked wrong, the rule named, the answer (-4) not given.
    _answer(page, "4")
    expect(practice).to_have_attribute("data-result", "wrong")
    feedback = page.locator("#practice-feedback")
    expect(feedback).to_contain_text("multiply swaps its inputs")
    assert "-4" not in feedback.inner_text()
    expect(practice).to_have_attribute("data-question", "0")
    shot(page, "practice-wrong")

    _answer(page, "-4")
    expect(practice).to_have_attribute("data-result", "right")
    expect(feedback).to_contain_text("Right")
    expect(practice).to_have_attribute("data-question", "1")
    expect(page.locator("#circuit-svg g.node text.pending")).to_have_count(3)
    _answer(page, "3")   # z gets q = 3
    _answer(page, "-4")  # x gets the add gate's upstream unchanged
    expect(practice).to_have_attribute("data-question", "3")
    _answer(page, "-4.0")
    expect(practice).to_have_attribute("data-done", "1")
    expect(page.locator("#practice-prompt")).to_contain_text("all 4 gradients")
    expect(page.locator("#grad-card")).to_be_visible()
    expect(page.locator("#circuit-svg g.node text.pending")).to_have_count(0)
    shot(page, "practice-done")
    # Switched off, it stays off after a reload, although the link says ?exercise=1.
    page.locator("#practice-toggle").uncheck()
    page.reload()
    ready(page)
    expect(page.locator("#practice")).to_be_hidden()
    expect(page.locator("#practice-toggle")).not_to_be_checked()


def test_practice_hints_climb_then_reveal(desktop: Any) -> None:
    page = desktop
    page.goto("/#expr=(x%2By)*z&at=x:-2,y:5,z:-4")
    ready(page)
    expect(page.locator("#practice")).to_be_hidden()
    page.locator("#practice-toggle").check()
    assert "practice=1" in here(page)
    practice = page.locator("#practice")
    feedback = page.locator("#practice-feedback")
    _answer(page, "-4")
    _answer(page, "1")  # z's gradient is q = 3
    expect(feedback).to_contain_text("multiply swaps its inputs")
    assert "3" not in feedback.inner_text()  # the local gradient here is the answer: hidden
    _answer(page, "2")
    expect(feedback).to_contain_text("upstream × local = 1 × 3")
    _answer(page, "2")
    expect(feedback).to_contain_text("The answer is 3")
    expect(practice).to_have_attribute("data-question", "2")  # revealed, moved on
    page.locator("#practice-toggle").uncheck()
    expect(page.locator("#grad-card")).to_be_visible()
    expect(page.locator("#step-count")).to_have_text("4 / 4")


def test_practice_new_exercise_comes_from_the_seeded_generator(desktop: Any) -> None:
    page = desktop
    page.goto("/?exercise=1")
    ready(page)
    page.evaluate("() => { Math.random = () => 0.000075; }")  # seed 7
    page.locator("#practice-new").click()
    from chainrule.practice import random_exercise

    expression, _ = random_exercise(7)
    expect(page.locator("#expr")).to_have_value(expression)
    expect(page.locator("#practice-prompt")).to_contain_text("Question 1 of")


# ---------------------------------------------------------------- offline lessons


def _export(tmp_path: Any, *args: str) -> Any:
    from click.testing import CliRunner

    from chainrule.cli import main

    path = tmp_path / "lesson.html"
    result = CliRunner().invoke(main, ["export", *args, "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_offline_circuit_lesson_steps_and_practises(browser: Any, tmp_path: Any) -> None:
    from chainrule.web.server import Limits, circuit_payload

    path = _export(tmp_path, "circuit", "(x+y)*z", "--at", "x=-2", "y=5", "z=-4")
    live = circuit_payload({"expression": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4}},
                           Limits())
    html = path.read_text()
    assert "<script src" not in html and 'rel="stylesheet"' not in html
    for page in base.offline_page(browser, path, PHONE):
        ready(page)
        expect(page.locator("#lesson-banner")).to_contain_text("offline lesson")
        expect(page.locator("#tab-vanishing")).to_be_hidden()
        expect(page.locator("#output")).to_have_text("-12")
        for name in ("x", "y", "z"):
            value = live["gradients"][name]
            expect(page.locator(f"#grad-{name}")).to_have_text(f"{value:g}")
        expect(page.locator("#expr")).to_have_js_property("readOnly", True)
        # The same step-through as the live page.
        page.locator("#step-reset").tap()
        expect(page.locator("#step-count")).to_have_text("0 / 4")
        page.locator("#step-next").tap()
        expect(page.locator("#step-text .plus-eq")).to_have_text("#2.grad += -4")
        expect(page.locator("#circuit-svg g.node.current-gate title")).to_have_text("n4")
        no_sideways_scroll(page, 390)
        # Practice works offline too.
        page.locator("#practice-toggle").check()
        _answer(page, "1")
        expect(page.locator("#practice")).to_have_attribute("data-result", "wrong")
        expect(page.locator("#practice-feedback")).to_contain_text("multiply swaps its inputs")
        _answer(page, "-4")
        expect(page.locator("#practice")).to_have_attribute("data-result", "right")
        shot(page, "lesson-circuit")


def test_offline_practice_lesson_opens_in_practice_mode(browser: Any, tmp_path: Any) -> None:
    path = _export(tmp_path, "circuit", "--exercise", "3", "--practice")
    from chainrule.practice import random_exercise

    expression, _ = random_exercise(3)
    for page in base.offline_page(browser, path, DESKTOP):
        ready(page)
        expect(page.locator("#expr")).to_have_value(expression)
        expect(page.locator("#practice")).to_be_visible()
        expect(page.locator("#grad-card")).to_be_hidden()


@pytest.mark.parametrize("kind", ["vanishing", "chain", "diagnose"])
def test_offline_network_lessons(browser: Any, tmp_path: Any, kind: str) -> None:
    from chainrule.lab import chain as lab_chain
    from chainrule.web.lab import chain_for
    from chainrule.web.server import Limits, vanishing_payload

    path = _export(tmp_path, kind, "--depth", "8", "--activation", "tanh", "--init", "xavier")
    for page in base.offline_page(browser, path, DESKTOP):
        ready(page)
        expect(page.locator("#panel-vanishing")).to_be_visible()
        expect(page.locator("#panel-vanishing")).to_have_attribute("data-ready", "1")
        expect(page.locator("#lesson-banner")).to_be_visible()
        expect(page.locator("#depth")).to_be_disabled()
        expect(page.locator("#activation")).to_have_value("tanh")
        expect(page.locator("#vanishing-error")).to_be_hidden()
        norms, chain, doctor = (page.locator(s) for s in ("#norms-card", "#chain-card",
                                                           "#diagnosis"))
        if kind == "vanishing":
            live = vanishing_payload({"depth": 8, "activation": "tanh", "init": "xavier"},
                                     Limits())
            expect(page.locator("#norms-chart")).to_have_attribute(
                "data-first", repr(live["norms"][0]).removesuffix(".0"))
        if kind in ("vanishing", "chain"):
            expected = chain_for(lab_chain, 8, "tanh", "xavier", 1.0, 0)
            expect(page.locator("#chain-chart")).to_have_attribute("data-activation", "tanh")
            text = page.locator("#chain-product").inner_text()
            assert float(text) == pytest.approx(abs(expected["product"]), rel=1e-3)
        if kind in ("vanishing", "diagnose"):
            expect(page.locator("#verdict")).not_to_be_empty()
            expect(page.locator("#evidence li").first).to_be_visible()
        expect(norms).to_be_visible() if kind == "vanishing" else expect(norms).to_be_hidden()
        expect(chain).to_be_visible() if kind != "diagnose" else expect(chain).to_be_hidden()
        expect(doctor).to_be_visible() if kind != "chain" else expect(doctor).to_be_hidden()
        shot(page, f"lesson-{kind}")


# ---------------------------------------------------------------- formulas and the animation


def test_step_shows_the_formula_with_numbers(desktop: Any) -> None:
    page = desktop
    page.goto("/#expr=sigmoid(w*x)&at=w:2,x:-1")
    ready(page)
    page.locator("#step-reset").click()
    page.locator("#step-next").click()
    formula = page.locator("#step-formula")
    expect(formula).to_contain_text("∂σ(a)/∂a = out·(1 − out) = 0.1192·(1 − 0.1192) = 0.105")
    expect(formula).to_contain_text("∂f/∂#2 += 1 × 0.105 = 0.105")
    page.locator("#step-next").click()
    expect(formula).to_contain_text("∂(a·b)/∂a = b = -1")
    expect(formula).to_contain_text("+= 0.105 × (-1) = -0.105")


def test_play_animates_the_backward_pass_wire_by_wire(desktop: Any) -> None:
    page = desktop
    page.goto("/")
    ready(page)
    expect(page.locator("#step-count")).to_have_text("4 / 4")
    page.locator("#step-play").click()
    expect(page.locator("#step-play")).to_have_attribute("aria-pressed", "true")
    seen = set()
    for k in (1, 2, 3, 4):
        expect(page.locator("#step-count")).to_have_text(f"{k} / 4")
        seen.add(page.locator("#circuit-svg g.node.current-gate title").text_content())
    assert seen == {"n4", "n2"}  # the multiply gate, then the add gate
    expect(page.locator("#step-play")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#circuit-svg g.edge.current-wire path").first).to_have_css(
        "animation-name", "backflow")


# ---------------------------------------------------------------- a backward path


def test_click_a_layer_to_see_one_backward_path_as_a_circuit(desktop: Any) -> None:
    from chainrule.lab import flow
    from chainrule.web.lab import path_for

    page = desktop
    page.goto("/#tab=vanishing&depth=4&width=10")
    ready(page)
    expect(page.locator("#norms-chart rect.bar")).to_have_count(4)
    expect(page.locator("#path-card")).to_be_hidden()
    page.locator("#norms-chart rect.bar[data-index='1']").click()
    card = page.locator("#path-card")
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-layer", "2")
    expect(page.locator("#path-svg svg")).to_be_visible()
    expect(page.locator("#norms-chart rect.bar.chosen")).to_have_count(1)
    settings = {"sizes": [784, 10, 10, 10, 10, 10], "activation": "sigmoid", "init": "nielsen",
                "seed": 0, "weight_scale": 1.0, "preprocess": "scale"}
    want = path_for(flow, settings, 2)
    assert float(card.get_attribute("data-product")) == pytest.approx(want["product"])
    texts = page.locator("#path-svg svg text").all_text_contents()
    assert {"s2", "w3", "s3", "d"} <= set(texts)
    assert "path=2" in here(page)
    shot(page, "vanishing-path")
    page.reload()
    ready(page)
    expect(page.locator("#path-card")).to_have_attribute("data-layer", "2")


def test_a_value_typed_while_the_expression_is_read_is_kept(desktop: Any) -> None:
    page = desktop
    page.goto("/")
    ready(page)
    # The new expression is still being read when x changes (its old input is still there).
    page.evaluate("""() => {
        const e = document.querySelector('#expr');
        e.value = 'x*y'; e.dispatchEvent(new Event('input'));
        const x = document.querySelector('#var-x');
        x.value = '3'; x.dispatchEvent(new Event('input'));
    }""")
    expect(page.locator("#output")).to_have_text("15")
    expect(page.locator("#var-z")).to_have_count(0)
    expect(page.locator("#circuit-results")).to_have_attribute("data-stale", "0")
