"""The demo's Kubernetes cluster, its node pools and the Log Service projects and logstores in a real browser,
as `make run` serves them: in the inventory after the first-start collection, a node pool's page naming its
cluster and ECS instances, and the service catalog listing both services for the simulated platform."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import screenshot, sign_in

pytestmark = pytest.mark.integration


def _rows(page, url: str, wanted: set[str], timeout: float = 90.0) -> str:
    """The resource table at ``url`` once it names every string of ``wanted`` (the first collection runs
    in the background at start); its text."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        text = page.locator("[data-testid=resources]").inner_text()
        if all(w in text for w in wanted):
            return text
        assert time.monotonic() < deadline, f"{url} did not show {wanted - {w for w in wanted if w in text}}"
        time.sleep(1)


def test_the_demo_inventory_shows_the_cluster_node_pools_projects_and_logstores(embedded_server, page):
    sign_in(page, embedded_server.url, "admin", "unimanager-admin")
    base = f"{embedded_server.url}/console/inventory/"
    ack = _rows(page, f"{base}?service=ack", {"shop-k8s", "web", "batch"})
    assert "ack.cluster" in ack and "ack.node_pool" in ack
    screenshot(page, "containers-inventory-ack")
    sls = _rows(page, f"{base}?service=sls", {"shop-logs", "audit-trail", "nginx-access", "console-signins"})
    assert "sls.project" in sls and "sls.logstore" in sls
    screenshot(page, "containers-inventory-sls")

    page.goto(f"{base}?type=ack.node_pool&q=web")
    page.locator("[data-testid=resources] a").filter(has_text="web").first.click()
    relations = page.locator("[data-testid=relations]").inner_text()
    assert "ack.cluster" in relations and relations.count("ecs.instance") == 2
    screenshot(page, "containers-node-pool")

    page.goto(f"{embedded_server.url}/console/clouds/catalog/")
    card = page.locator("[data-testid=platform-services] .card").filter(has_text="Apsara Stack (simulated)")
    assert "Node pool" in card.locator("tr[data-service=ack]").inner_text()
    assert "Logstore" in card.locator("tr[data-service=sls]").inner_text()
