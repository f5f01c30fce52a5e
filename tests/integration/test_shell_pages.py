"""The three surfaces and the sign-in page render as a styled product, in a real browser."""

from __future__ import annotations

import pytest

from tests.integration.conftest import screenshot, sign_in, wait_until


def test_signin_page_is_styled_and_refuses_a_wrong_password(embedded_server, page):
    page.goto(f"{embedded_server.url}/signin/")
    # Tabler's stylesheet is served from npm's package: the button gets the brand colour.
    color = page.eval_on_selector("button[type=submit]", "el => getComputedStyle(el).backgroundColor")
    assert color not in ("rgba(0, 0, 0, 0)", "rgb(239, 239, 239)", "rgb(240, 240, 240)"), color
    screenshot(page, "signin")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator("[data-testid=signin-error]").is_visible()


@pytest.mark.parametrize("path,name", [
    ("/console/", "console-home"),
    ("/portal/", "portal-home"),
    ("/screens/", "screens-home"),
])
def test_surface_home_renders(embedded_server, page, path, name):
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    sign_in(page, embedded_server.url, "admin", "unimanager-admin")
    page.goto(f"{embedded_server.url}{path}")
    page.wait_for_load_state("networkidle")
    screenshot(page, name)
    assert not failed, f"assets or calls failed: {failed}"
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Times" not in font
    if name == "screens-home":
        page.wait_for_selector("#screen-live:not(.offline)", timeout=10000)
        assert page.locator("#screen-chart canvas").count() == 1


def test_the_wall_screen_counts_operations_live(embedded_server, page):
    sign_in(page, embedded_server.url, "admin", "unimanager-admin")
    page.goto(f"{embedded_server.url}/screens/")
    page.wait_for_selector("#screen-live:not(.offline)", timeout=10000)
    wait_until(page, "window.Unimanager.realtime().handlers.size > 0")
    before = page.evaluate("window.echarts.getInstanceByDom(document.getElementById('screen-chart'))"
                           ".getOption().series[0].data.reduce((a, b) => a + b, 0)")
    # Another tab (here: the API from the same session) starts a diagnostic; the screen follows it.
    page.evaluate("""Unimanager.api("POST", "/api/v1/core/operations/diagnostics/", {steps: 2, interval: 0.2})""")
    wait_until(
        page, "window.echarts.getInstanceByDom(document.getElementById('screen-chart'))"
        f".getOption().series[0].data.reduce((a, b) => a + b, 0) === {before} + 1", timeout=30000)
    assert page.locator("#screen-running").inner_text() == "0"
    assert page.evaluate("window.screenActivity") >= 4  # created, two steps, succeeded
    page.wait_for_timeout(1200)  # let the bar's grow animation finish before the picture
    screenshot(page, "screens-live")


def test_every_console_menu_page_renders(embedded_server, page):
    """Walks the console menu as the platform administrator: every page answers 200, loads all its
    assets and gets a screenshot (test-artifacts/screenshots/console-menu-*.png)."""
    sign_in(page, embedded_server.url, "admin", "unimanager-admin")
    page.goto(f"{embedded_server.url}/console/")
    links = page.eval_on_selector_all("aside .nav-link[href]", "els => els.map(e => e.getAttribute('href'))")
    links = [href for href in dict.fromkeys(links) if href.startswith("/console/")]
    assert len(links) >= 2
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    for href in links:
        failed.clear()
        response = page.goto(f"{embedded_server.url}{href}")
        page.wait_for_load_state("networkidle")
        assert response.status == 200, href
        assert not failed, f"{href}: {failed}"
        assert page.locator(".page-title").count() == 1, f"{href} has no page title"
        screenshot(page, "console-menu-" + (href.strip("/").replace("/", "-") or "home"))
