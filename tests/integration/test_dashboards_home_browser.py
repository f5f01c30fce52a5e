"""The home of each role in a real browser: the console's overview and the portal's home show the
dashboards set for the person's role (live widgets), an administrator sets them on the homes page;
the network dashboard draws its map and topology; and the embedded demo moves on its own.
Screenshots go to test-artifacts/screenshots/dashboards-home-*.png."""

from __future__ import annotations

import time

from tests.integration.conftest import screenshot, sign_in, wait_until

DRAWN = "document.querySelectorAll('[data-testid=home-dashboards] .um-widget-age').length > 0 && " \
        "[...document.querySelectorAll('[data-testid=home-dashboards] .um-widget-age')]" \
        ".every((e) => e.textContent.includes('updated'))"


def test_the_console_overview_and_the_portal_home_show_the_dashboards_of_the_persons_role(embedded_server, browser):
    base = embedded_server.url
    errors: list[str] = []
    admin = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = admin.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, base, "admin", "unimanager-admin")
        page.goto(f"{base}/console/")
        tabs = page.locator("[data-testid=home-tab]")
        assert tabs.all_inner_texts()[:3] == ["Resources", "Operations", "Alerting"]
        wait_until(page, DRAWN)
        wait_until(page, "document.querySelector('#board-status').textContent === 'live'")
        screenshot(page, "dashboards-home-console")
        tabs.nth(1).click()
        page.wait_for_url("**/console/?board=operations")
        wait_until(page, DRAWN)

        page.click("[data-testid=home-manage]")
        page.wait_for_url("**/console/dashboards/homes/")
        assert page.locator("[data-testid=home-rows] tbody tr").count() >= 5
        screenshot(page, "dashboards-home-homes")

        page.goto(f"{base}/console/dashboards/network/")
        wait_until(page, "!!document.querySelector('[data-widget=topology] canvas') && "
                         "!!document.querySelector('[data-widget=vpc-region] canvas')")
        wait_until(page, "document.querySelector('[data-widget=topology] .um-widget-age')"
                         ".textContent.includes('updated')")
        screenshot(page, "dashboards-home-network")
    finally:
        admin.close()

    portal = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = portal.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, base, "operator", "demo-operator-2024")
        page.goto(f"{base}/portal/")
        assert page.locator("[data-testid=home-tab]").all_inner_texts() == ["Resources", "Operations"]
        wait_until(page, DRAWN)
        screenshot(page, "dashboards-home-portal")
    finally:
        portal.close()
    assert not errors, errors


def test_the_embedded_demo_changes_on_its_own_within_a_minute(embedded_server, browser):
    base = embedded_server.url
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, base, "admin", "unimanager-admin")

        def instances() -> dict[str, tuple[str, str]]:
            body = page.evaluate("""async () => (await (await fetch(
                '/api/v1/resources/resources/?type=ecs.instance&page_size=200',
                {headers: {Accept: 'application/json'}})).json())""")
            return {r["id"]: (r["status"], r["last_changed_at"]) for r in body["results"]}

        deadline = time.monotonic() + 120
        first = instances()
        while not first and time.monotonic() < deadline:  # the first collection may still be running
            time.sleep(2)
            first = instances()
        assert first, "the demo region was never collected"
        changed: dict[str, tuple[str, str]] = {}
        while time.monotonic() < deadline:
            now = instances()
            changed = {k: v for k, v in now.items() if k in first and v != first[k]}
            if changed:
                break
            time.sleep(3)
        assert changed, "no demo instance changed within two minutes"
        statuses = [s for s, _ in instances().values()]
        assert sum(s.lower() == "running" for s in statuses) >= len(statuses) / 2 - 1
    finally:
        context.close()
