"""The explorer in a classroom: phone widths, links that restore the view, stale results,
the chain chart per activation, practice mode. Real Chromium through Playwright (the fixtures
of ``test_web_browser``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import test_web_browser as base
from test_web_browser import TIMEOUT_MS, expect, ready, shot

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
    controls = page.locator(f"#panel-{tab} button:visible, #panel-{tab} input:visible, "
                            f"#panel-{tab} select:visible, .tabs button")
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
