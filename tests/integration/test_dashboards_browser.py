"""Dashboards in a real browser: build one in the editor by drag and drop, save, reload, export and
import it; a wall screen opened with a display token follows a data change, says when it lost the
server and when its data is stale, comes back after daphne restarts, and fills 1080p and 4K screens
without scrollbars. Screenshots go to test-artifacts/screenshots/dashboards-*.png."""

from __future__ import annotations

import json
import sys
import time

import pytest

from devtools.services import free_port, wait_for_port
from tests.integration.conftest import _spawn, _stop, _wait_http, screenshot, sign_in, wait_until

HOSTILE = '<img src=x onerror="window.__xss=1">'
NO_SCROLLBARS = ("document.documentElement.scrollHeight <= window.innerHeight && "
                 "document.documentElement.scrollWidth <= window.innerWidth")


def _drag(page, source: str, target: str, dx: int = 0, dy: int = 0) -> None:
    """Drag with the mouse the way a person does (gridstack follows mouse events, in steps)."""
    box = page.locator(source).first.bounding_box()
    goal = page.locator(target).first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    tx, ty = goal["x"] + 60 + dx, goal["y"] + 40 + dy
    for i in range(1, 16):
        page.mouse.move(box["x"] + (tx - box["x"]) * i / 15, box["y"] + (ty - box["y"]) * i / 15)
        page.wait_for_timeout(20)
    page.mouse.up()


def test_a_dashboard_is_built_by_drag_and_drop_saved_reloaded_exported_and_imported(embedded_server, page):
    base = embedded_server.url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, "admin", "unimanager-admin")
    page.goto(f"{base}/console/dashboards/")
    # The predefined dashboards are there on first start.
    for uid in ("resources", "network", "operations", "organization", "security"):
        assert page.locator(f"[data-testid=dashboards] tr[data-uid='{uid}']").count() == 1, uid
    screenshot(page, "dashboards-list")

    page.fill("#n-title", "Built in the browser " + HOSTILE)
    page.click("[data-testid=new-dashboard] button[type=submit]")
    page.wait_for_url("**/edit/")
    page.wait_for_selector("#editor-grid.grid-stack")

    # Two widgets dragged in from the palette; the first bound to the inventory count.
    _drag(page, "[data-testid=palette-stat]", "#editor-grid")
    wait_until(page, "document.querySelectorAll('#editor-grid .grid-stack-item[data-widget]').length === 1")
    page.fill("[data-testid=w-title]", "Resources " + HOSTILE)
    page.select_option("[data-testid=w-query]", "resources.count")
    _drag(page, "[data-testid=palette-pie]", "#editor-grid", dx=500)
    wait_until(page, "document.querySelectorAll('#editor-grid .grid-stack-item[data-widget]').length === 2")
    page.select_option("[data-testid=w-query]", "resources.by")
    pie = "#editor-grid .grid-stack-item[data-widget^='pie']"
    assert int(page.get_attribute(pie, "gs-x")) >= 8 and int(page.get_attribute(pie, "gs-y")) <= 2, \
        "the widget lands where it was dropped"
    # Move the first widget down a few rows by dragging it.
    first = "#editor-grid .grid-stack-item[data-widget^='stat'] .grid-stack-item-content"
    _drag(page, first, "#editor-grid", dy=200)
    # Both preview live data before anything is saved.
    page.wait_for_selector("#editor-grid [data-widget^='pie'] canvas")
    wait_until(page, "/^[0-9]+$/.test((document.querySelector("
                     "\"#editor-grid [data-widget^='stat'] [data-testid=stat-value]\") || {}).textContent || '')")
    screenshot(page, "dashboards-editor")

    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=editor-ok]:not(.d-none)")
    assert "version 2" in page.inner_text("[data-testid=editor-ok]")
    uid = page.url.rstrip("/").split("/")[-2]

    page.reload()
    wait_until(page, "document.querySelectorAll('#editor-grid .grid-stack-item[data-widget]').length === 2")
    stat_y = page.get_attribute("#editor-grid .grid-stack-item[data-widget^='stat']", "gs-y")
    assert stat_y is not None and int(stat_y) > 0, "the widget's new place was saved"
    wait_until(page, "document.querySelectorAll('#versions [data-version]').length === 2")

    with page.expect_download() as download:
        page.click("[data-testid=export]")
    exported = json.loads(open(download.value.path()).read())
    assert exported["uid"] == uid
    assert sorted(w["query"]["name"] for w in exported["widgets"]) == ["resources.by", "resources.count"]

    exported["uid"] = f"{uid}-copy"
    exported["title"] = "Imported copy"
    page.goto(f"{base}/console/dashboards/")
    page.set_input_files("[data-testid=import-file]", files=[{
        "name": "dashboard.json", "mimeType": "application/json", "buffer": json.dumps(exported).encode()}])
    page.wait_for_url(f"**/console/dashboards/{uid}-copy/")
    page.wait_for_selector("[data-widget] [data-testid=stat-value]")
    wait_until(page, "document.querySelector('[data-testid=board-status]').textContent === 'live'")
    screenshot(page, "dashboards-imported")
    assert page.evaluate("typeof window.__xss") == "undefined"

    page.goto(f"{base}/console/dashboards/resources/")
    page.wait_for_selector("[data-widget='by-type'] canvas")
    wait_until(page, "document.querySelectorAll('[data-testid=stat-value]').length >= 2")
    screenshot(page, "dashboards-resources")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert not errors, errors


@pytest.fixture
def own_daphne(distributed_stack, tmp_path):
    """A daphne of this test's own (the stack's must keep serving others), restartable on one port."""
    port = free_port()
    env = dict(distributed_stack.env)
    cmd = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "unimanager.asgi:application"]
    state = {"processes": []}

    def start() -> None:
        log = tmp_path / f"daphne-{len(state['processes'])}.log"
        process = _spawn(cmd, env, log)
        state["processes"].append(process)
        wait_for_port(port, timeout=60)
        _wait_http(f"http://127.0.0.1:{port}/healthz", 60, [process], distributed_stack)

    def stop() -> None:
        _stop(state["processes"])
        state["processes"].clear()

    start()
    yield {"url": f"http://127.0.0.1:{port}", "start": start, "stop": stop}
    stop()


@pytest.mark.django_db(transaction=True)
def test_a_wall_screen_follows_data_survives_a_restart_flags_staleness_and_fits_1080p_and_4k(own_daphne, browser):
    from django.db import transaction

    from apps.core.events import emit
    from apps.dashboards import predefined, services
    from apps.security import services as security
    from tests import factories as f

    org = f.org("Wall Org")
    platform = f.platform(org, name="wall-cloud")
    for status in ("running", "running", "stopped"):
        f.resource(platform, organization=org, status=status)
    doc = predefined.template("resources")
    doc.update(uid="wall-test", title="Wall " + HOSTILE, refresh=0, stale_after=12)
    services.dashboard_create(actor=None, organization=org, document=doc)
    _token, raw = security.display_token_create(actor=None, organization=org, name="Lobby", dashboards=["wall-test"])
    base = own_daphne["url"]

    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        page.goto(f"{base}/screens/signin/")
        page.fill("#id_token", raw)
        page.click("button[type=submit]")
        page.wait_for_url("**/screens/")
        page.goto(f"{base}/screens/d/wall-test/")
        total = "[data-widget='total'] [data-testid=stat-value]"
        wait_until(page, f"(document.querySelector(\"{total}\") || {{}}).textContent === '3'")
        wait_until(page, "document.getElementById('screen-live').textContent === 'live'")
        page.wait_for_selector("[data-widget='by-type'] canvas")
        assert page.locator("button, input, select, a.btn").count() == 0, "kiosk mode shows no controls"
        assert page.evaluate(NO_SCROLLBARS)
        screenshot(page, "dashboards-wall-1080p")

        # A change in the data reaches the screen by itself.
        def change() -> float:
            with transaction.atomic():
                row = f.resource(platform, organization=org)
                emit(org, row.topic, {"event": "resource_changed", "id": row.id, "status": row.status})
            return time.monotonic()

        # The server pushes the new values: the screen draws them without reading its data address.
        reads: list[str] = []
        page.on("request", lambda r: reads.append(r.url) if "/data/" in r.url else None)
        changed_at = change()
        wait_until(page, f"document.querySelector(\"{total}\").textContent === '4'", timeout=10000)
        print(f"wall screen updated {time.monotonic() - changed_at:.3f} s after the change (incl. polling)")
        assert reads == [], reads

        # The server goes away: the screen says so unmistakably, then recovers when it is back.
        own_daphne["stop"]()
        page.wait_for_selector("[data-testid=screen-banner].bad", timeout=20000)
        assert "Connection to the server lost" in page.inner_text("[data-testid=screen-banner]")
        page.wait_for_timeout(300)  # the grid gives the banner its room
        assert page.evaluate(NO_SCROLLBARS), "the banner must not push the dashboard off the screen"
        screenshot(page, "dashboards-wall-disconnected")
        own_daphne["start"]()
        wait_until(page, "document.getElementById('screen-live').textContent === 'live'", timeout=30000)
        change()
        wait_until(page, f"document.querySelector(\"{total}\").textContent === '5'", timeout=10000)
        wait_until(page, "document.getElementById('screen-banner').classList.contains('d-none')", timeout=10000)

        # No news for longer than stale_after: the widgets and the banner say the values may be old.
        page.wait_for_selector("[data-widget='total'].um-stale", timeout=30000)
        page.wait_for_selector("[data-testid=screen-banner].warn", timeout=5000)
        assert "stale" in page.inner_text("[data-widget='total'] [data-testid=widget-age]")
        assert page.evaluate(NO_SCROLLBARS)
        screenshot(page, "dashboards-wall-stale")
        assert page.evaluate("typeof window.__xss") == "undefined"

        # Editing the dashboard reloads the screen with the new version.
        from apps.dashboards.models import Dashboard

        edited = dict(Dashboard.objects.get(pk="wall-test").document, title="Lobby wall, edited")
        with page.expect_navigation(timeout=15000), transaction.atomic():
            services.dashboard_save(actor=None, dashboard=Dashboard.objects.get(pk="wall-test"), document=edited)
        page.wait_for_load_state("load")
        wait_until(page, "document.getElementById('screen-title').textContent === 'Lobby wall, edited'")
    finally:
        context.close()

    context = browser.new_context(viewport={"width": 3840, "height": 2160})
    try:
        page = context.new_page()
        page.goto(f"{base}/screens/signin/")
        page.fill("#id_token", raw)
        page.click("button[type=submit]")
        page.wait_for_url("**/screens/")
        page.goto(f"{base}/screens/d/wall-test/")
        page.wait_for_selector("[data-widget='by-type'] canvas")
        wait_until(page, f"(document.querySelector(\"{total}\") || {{}}).textContent === '5'")
        assert page.evaluate(NO_SCROLLBARS)
        # The grid fills the screen: its last row ends near the bottom edge.
        bottom = page.evaluate("Math.max(...[...document.querySelectorAll('.um-widget')]"
                               ".map(e => e.getBoundingClientRect().bottom))")
        assert 2160 - 80 < bottom <= 2160, bottom
        screenshot(page, "dashboards-wall-4k")
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_a_read_answered_after_a_pushed_value_does_not_draw_older_data(own_daphne, browser):
    """After a reconnect the screen reads every widget again; a value the server pushes while that read
    is on its way is newer than the read's answer, which must not draw over it."""
    from django.db import transaction

    from apps.core.events import emit
    from apps.dashboards import predefined, services
    from apps.security import services as security
    from tests import factories as f

    org = f.org("Race Org")
    platform = f.platform(org, name="race-cloud")
    for _ in range(3):
        f.resource(platform, organization=org, status="running")
    doc = predefined.template("resources")
    doc.update(uid="wall-race", title="Race", refresh=0)
    services.dashboard_create(actor=None, organization=org, document=doc)
    _token, raw = security.display_token_create(actor=None, organization=org, name="Race", dashboards=["wall-race"])
    base = own_daphne["url"]
    total = "[data-widget='total'] [data-testid=stat-value]"

    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        page.goto(f"{base}/screens/signin/")
        page.fill("#id_token", raw)
        page.click("button[type=submit]")
        page.wait_for_url("**/screens/")
        page.goto(f"{base}/screens/d/wall-race/")
        wait_until(page, f"(document.querySelector(\"{total}\") || {{}}).textContent === '3'")
        wait_until(page, "document.getElementById('screen-live').textContent === 'live'")

        # From now on each read is answered by the server at once but handed to the page only later.
        held: list = []

        def hold(route) -> None:
            held.append((route, route.fetch()))

        page.route("**/screens/d/wall-race/data/**", hold)
        page.evaluate("Unimanager.realtime().socket.close()")  # the reconnect reads everything again
        deadline = time.monotonic() + 10
        while not held:
            assert time.monotonic() < deadline, "the reconnected screen did not read its widgets again"
            page.wait_for_timeout(50)
        wait_until(page, "document.getElementById('screen-live').textContent === 'live'")

        # A resource appears: its value is pushed and drawn while the read (which saw 3) is on its way.
        with transaction.atomic():
            row = f.resource(platform, organization=org)
            emit(org, row.topic, {"event": "resource_changed", "id": row.id, "status": row.status})
        wait_until(page, f"document.querySelector(\"{total}\").textContent === '4'", timeout=10000)

        route, answer = held.pop(0)
        assert b'"value": 3' in answer.body() or b'"value":3' in answer.body(), answer.body()[:400]
        with page.expect_event("requestfinished"):
            route.fulfill(response=answer)
        page.wait_for_timeout(200)  # the answer is parsed and handed to the board
        assert page.inner_text(total) == "4", "an answer older than the pushed value was drawn over it"
    finally:
        context.close()
