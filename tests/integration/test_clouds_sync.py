"""Inventory collection on real components: a browser presses "Sync now", a Celery worker process runs
the sync steps against cloudsim through the apsara adapter, PostgreSQL stores the inventory, and the
progress reaches the page live. Faults injected on the cloud: transient ones are retried by the
worker, a permanent one fails the sync with the cloud's message and leaves the inventory as it was."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.integration.conftest import screenshot, sign_in

PASSWORD = "clouds-pass-1234"
FAULTS = 5


@pytest.fixture(scope="module")
def cloud():
    from cloudsim.server import CloudSim

    sim = CloudSim(port=0, provision_seconds=0.05).start()
    yield sim
    sim.stop()


def control(sim, method: str, path: str, body=None):
    request = urllib.request.Request(f"http://{sim.endpoint}/_cloudsim{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def sync_in_browser(page, base_url: str, platform_id: str) -> list[dict]:
    page.goto(f"{base_url}/console/clouds/{platform_id}/")
    page.wait_for_selector("#sync-live:not(.offline)", timeout=15000)
    page.click("#sync-now")
    page.wait_for_selector("[data-testid=sync-status]:text-matches('succeeded|failed')", timeout=120000)
    return page.evaluate("window.syncEvents")


@pytest.mark.django_db(transaction=True)
def test_sync_now_collects_the_simulated_region_through_the_worker(distributed_stack, page, cloud):
    from apps.clouds.adapters import adapter_class
    from apps.clouds.simulated import seed_resources
    from apps.clouds.tests.factories import platform as make_platform
    from apps.organizations.models import Membership, Organization, User
    from apps.resources.models import Resource, SyncRun

    control(cloud, "POST", "/reset")
    made = seed_resources(cloud.endpoint, instances=4)
    org = Organization.objects.create(name="Clouds Org")
    user = User.objects.create_superuser(username="clouds-admin", password=PASSWORD, email="c@example.com")
    Membership.objects.create(user=user, organization=org)
    platform = make_platform(org, endpoint=cloud.endpoint, name="Integration region")

    sign_in(page, distributed_stack.url, "clouds-admin", PASSWORD)
    calls = control(cloud, "GET", "/stats")["calls"].get("DescribeVpcs", 0)
    events = sync_in_browser(page, distributed_stack.url, platform.pk)
    clean_calls = control(cloud, "GET", "/stats")["calls"]["DescribeVpcs"] - calls
    screenshot(page, "console-platform-sync-distributed")
    assert events[-1]["status"] == "succeeded", events[-1]
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and len(events) >= 3
    live = set(Resource.objects.filter(platform=platform, deleted=False).values_list("type", "external_id"))
    for resource_type, ids in made.items():
        assert {(resource_type, i) for i in ids} <= live

    # A transient fault is retried by the worker (countdown), the sync still succeeds. Five failures in a row
    # are more than the adapter's own tries of one call, so the sync can succeed only if the worker ran the
    # failing step again; every failed call is then made once more.
    assert FAULTS > adapter_class("apsara").retry_attempts
    stats = control(cloud, "GET", "/stats")
    errors, calls = stats["errors"].get("ServiceUnavailable", 0), stats["calls"]["DescribeVpcs"]
    control(cloud, "POST", "/faults", {"action": "DescribeVpcs", "error_rate": 1.0, "code": "ServiceUnavailable",
                                       "remaining": FAULTS})
    events = sync_in_browser(page, distributed_stack.url, platform.pk)
    assert events[-1]["status"] == "succeeded", events[-1]
    stats = control(cloud, "GET", "/stats")
    assert stats["errors"].get("ServiceUnavailable", 0) - errors == FAULTS, "the faults were not all injected"
    assert stats["calls"]["DescribeVpcs"] - calls == clean_calls + FAULTS, "a failed call was not made again"
    assert SyncRun.objects.filter(platform=platform, status="succeeded").count() == 2

    # A permanent fault fails the sync with the cloud's code and message; nothing is half-written.
    before = list(Resource.objects.filter(platform=platform).order_by("id").values_list("id", "content_hash",
                                                                                         "deleted"))
    from apps.clouds.simulated import sim_adapter

    sim_adapter(cloud.endpoint).delete("redis.instance", "cn-hangzhou", made["redis.instance"][0])
    control(cloud, "POST", "/faults", {"action": "DescribeDBInstances", "error_rate": 1.0, "code": "Forbidden.RAM",
                                       "status": 403, "message": "The user is not authorized to list databases."})
    events = sync_in_browser(page, distributed_stack.url, platform.pk)
    screenshot(page, "console-platform-sync-failed")
    assert events[-1]["status"] == "failed"
    assert "Forbidden.RAM" in events[-1]["error"] and "not authorized" in events[-1]["error"]
    assert page.locator("#sync-error").inner_text().startswith("Forbidden.RAM")
    after = list(Resource.objects.filter(platform=platform).order_by("id").values_list("id", "content_hash",
                                                                                        "deleted"))
    assert after == before
    control(cloud, "DELETE", "/faults")


def test_embedded_console_syncs_its_simulated_apsara_stack(embedded_server, page):
    """`make run`: the console starts cloudsim beside it and registers "Apsara Stack (simulated)"."""
    sign_in(page, embedded_server.url, "admin", "unimanager-admin")
    page.goto(f"{embedded_server.url}/console/clouds/")
    link = page.locator("[data-testid=platforms] a", has_text="Apsara Stack (simulated)")
    link.click()
    page.wait_for_url("**/console/clouds/cp-*/")
    deadline = time.monotonic() + 30
    events: list[dict] = []
    while time.monotonic() < deadline:
        events = sync_in_browser(page, embedded_server.url, page.url.rstrip("/").rsplit("/", 1)[1])
        if events and events[-1]["status"] == "succeeded":
            break
        time.sleep(1)
    assert events and events[-1]["status"] == "succeeded", events[-1:] or embedded_server.log_tail()
    screenshot(page, "console-platform-sync-embedded")
    page.goto(f"{embedded_server.url}/console/inventory/?type=ecs.instance")
    assert page.locator("[data-testid=resources] tbody tr").count() >= 6
    page.goto(f"{embedded_server.url}/console/inventory/usage/?group_by=platform,service")
    assert page.locator("[data-testid=usage] tbody tr").count() >= 5
    screenshot(page, "console-inventory-usage-embedded")
