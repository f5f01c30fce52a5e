"""The service catalog page in a real browser: per platform, the services collected and those that can be
requested, and a service switched off and on again by the platform administrator."""

from __future__ import annotations

import pytest

from tests.integration.conftest import screenshot, sign_in

pytestmark = pytest.mark.integration


def test_the_catalog_shows_each_platforms_services_and_switches_one(embedded_server, page):
    sign_in(page, embedded_server.url, "admin", "unimanager-admin")
    page.goto(f"{embedded_server.url}/console/clouds/catalog/")
    card = page.locator("[data-testid=platform-services] .card").filter(has_text="Apsara Stack (simulated)")
    assert card.count() == 1
    rows = card.locator("tr[data-service]")
    assert rows.count() >= 20
    mongo = card.locator("tr[data-service=mongodb]")
    assert "MongoDB instance" in mongo.inner_text()
    assert "RDS instance" in card.locator("tr[data-service=rds]").inner_text()
    screenshot(page, "clouds-catalog")
    kafka = card.locator("tr[data-service=kafka]")
    kafka.locator("[data-role=switch]").click()
    page.wait_for_load_state("load")
    kafka = page.locator("[data-testid=platform-services] tr[data-service=kafka]").first
    assert "Off" in kafka.inner_text() and "catalog-off" in (kafka.get_attribute("class") or "")
    assert page.locator(".alert-success").filter(has_text="no longer collected").count() == 1
    screenshot(page, "clouds-catalog-switched-off")
    kafka.locator("[data-role=switch]").click()
    page.wait_for_load_state("load")
    kafka = page.locator("[data-testid=platform-services] tr[data-service=kafka]").first
    assert "On" in kafka.inner_text() and "catalog-off" not in (kafka.get_attribute("class") or "")
