"""The service lifecycle in Chromium on the distributed stack (daphne, a Celery worker process, PostgreSQL,
Redis) against cloudsim in its own process: a tenant requests two instances from the portal, an approver
approves them in the console, the tenant watches both reach Running with live progress, stops one,
resizes it and releases both; the cloud's state matches the console's at every stage."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import screenshot, sign_in, wait_until
from tests.integration.test_lifecycle_chaos import Sim, estate

PASSWORD = "lifecycle-pass-1234"
LONG = 90_000


@pytest.fixture
def slow_sim(tmp_path):
    server = Sim(tmp_path / "cloudsim.log", provision_seconds=3)
    yield server
    server.stop()


def enter(page, base: str, username: str) -> None:
    try:
        sign_in(page, base, username, PASSWORD)
    except Exception:
        screenshot(page, f"lifecycle-signin-{username}")
        raise AssertionError(f"{username} could not sign in: {page.url}\n{page.inner_text('body')[:2000]}") from None


def cloud_instances(sim: Sim, prefix: str) -> dict[str, dict]:
    return {i["InstanceId"]: i for i in sim.instances() if i.get("InstanceName", "").startswith(prefix)}


def row(page, name: str):
    return page.locator(f"tr[data-name='{name}']")


def act(page, name: str, action: str) -> None:
    """Click ``action`` on the row and wait until it follows the operation that click started."""
    before = row(page, name).get_attribute("data-op") or ""
    row(page, name).locator(f"[data-action={action}]").click()
    wait_until(
        page, "([name, before]) => { const r = document.querySelector(`tr[data-name='${name}']`);"
        " return r && r.dataset.op && r.dataset.op !== before; }", arg=[name, before], timeout=30000)


def wait_op(page, name: str, timeout: int = LONG) -> None:
    """Until the operation the row follows has finished; it must have succeeded."""
    page.wait_for_selector(f"tr[data-name='{name}'][data-status=succeeded], tr[data-name='{name}'][data-status=failed]",
                           timeout=timeout)
    assert row(page, name).get_attribute("data-status") == "succeeded", row(page, name).inner_text()


@pytest.mark.django_db(transaction=True)
def test_a_tenant_requests_watches_operates_and_releases_two_instances(distributed_stack, browser, slow_sim):
    from apps.provisioning.models import ProvisioningRequest
    from apps.resources.models import Resource

    world = estate(slow_sim, "browser", auto_approve=False)
    base = distributed_stack.url
    tenant_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    approver_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        tenant, approver = tenant_ctx.new_page(), approver_ctx.new_page()
        tenant.on("dialog", lambda dialog: dialog.accept())

        # The tenant requests two instances from the catalog.
        enter(tenant, base, "browser-tenant")
        tenant.goto(f"{base}/portal/provisioning/")
        screenshot(tenant, "lifecycle-01-catalog")
        tenant.click("[data-testid=request-ecs-browser-cloudsim]")
        tenant.wait_for_selector("#req-form")
        tenant.fill("#f-name", "shop")
        tenant.fill("#f-count", "2")
        tenant.select_option("#f-zone", "cn-hangzhou-a")
        tenant.select_option("#f-type", "ecs.g6.large")
        tenant.fill("#f-tags", "team=shop, env=test")
        tenant.fill("#f-reason", "spring sale")
        screenshot(tenant, "lifecycle-02-request-form")
        tenant.click("#req-submit")
        tenant.wait_for_url("**/portal/provisioning/requests/*/", timeout=15000)
        req = ProvisioningRequest.objects.get(project=world["project"])
        assert req.status == "pending" and req.count == 2
        tenant.wait_for_selector("#live:not(.offline)", timeout=15000)
        screenshot(tenant, "lifecycle-03-request-pending")
        assert not cloud_instances(slow_sim, "shop"), "nothing reaches the cloud before the approval"

        # The approver approves it in the console.
        enter(approver, base, "browser-approver")
        approver.goto(f"{base}/console/provisioning/approvals/")
        approver.wait_for_selector(f"tr[data-request='{req.pk}']")
        screenshot(approver, "lifecycle-04-approval-queue")
        approver.fill(f"tr[data-request='{req.pk}'] [data-role=comment]", "within budget")
        approver.click(f"[data-testid=approve-{req.pk}]")
        approver.wait_for_selector(f"tr[data-request='{req.pk}']", state="detached", timeout=15000)

        # The tenant's page picks the approval up by itself and follows both creates live.
        tenant.wait_for_selector("[data-testid=instance-row] >> nth=1", timeout=30000)
        tenant.wait_for_selector("[data-testid=instance-row][data-status=running]", timeout=LONG)
        screenshot(tenant, "lifecycle-05-provisioning")
        wait_until(tenant, "document.querySelectorAll('[data-testid=instance-row][data-status=succeeded]')"
                           ".length === 2", timeout=LONG)
        tenant.wait_for_selector("[data-testid=request-status] :text('completed')", timeout=30000)
        screenshot(tenant, "lifecycle-06-running")
        events = tenant.evaluate("window.opEvents")
        progress = {e["progress"] for e in events if e["status"] == "running"}
        assert any(0 < p < 100 for p in progress), events
        assert sum(e["status"] == "succeeded" for e in events) >= 2
        cloud = cloud_instances(slow_sim, "shop")
        assert len(cloud) == 2 and {i["Status"] for i in cloud.values()} == {"Running"}, cloud

        # My resources: stop one, resize it, release both.
        tenant.goto(f"{base}/portal/provisioning/resources/")
        names = sorted(tenant.locator("tr[data-resource]").evaluate_all("rows => rows.map(r => r.dataset.name)"))
        assert len(names) == 2, names
        first, second = names
        screenshot(tenant, "lifecycle-07-my-resources")
        act(tenant, first, "stop")
        wait_op(tenant, first)
        tenant.wait_for_selector(f"tr[data-name='{first}'] [data-role=status]:text('stopped')", timeout=30000)
        screenshot(tenant, "lifecycle-08-stopped")

        row(tenant, first).locator("[data-role=resize-to]").select_option("ecs.g6.xlarge")
        act(tenant, first, "resize")
        wait_op(tenant, first)
        tenant.wait_for_selector(f"tr[data-name='{first}'] [data-role=itype]:text('ecs.g6.xlarge')", timeout=30000)
        screenshot(tenant, "lifecycle-09-resized")

        rows = {r.name: r for r in Resource.objects.filter(project=world["project"], type="ecs.instance")}
        cloud = cloud_instances(slow_sim, "shop")
        for name, resource in rows.items():
            on_cloud = cloud[resource.external_id]
            assert on_cloud["Status"].lower() == resource.status, (name, on_cloud["Status"], resource.status)
            assert on_cloud["InstanceType"] == resource.spec["instance_type"], (name, on_cloud["InstanceType"])
        assert rows[first].status == "stopped" and rows[first].spec["instance_type"] == "ecs.g6.xlarge"
        assert rows[second].status == "running" and rows[second].spec["instance_type"] == "ecs.g6.large"

        for name in (first, second):
            act(tenant, name, "release")
        for name in (first, second):
            wait_op(tenant, name)
            tenant.wait_for_selector(f"tr[data-name='{name}'][data-released='1']", timeout=30000)
        screenshot(tenant, "lifecycle-10-released")

        # The end: nothing left on the cloud, nothing live in the console, and the changes recorded.
        deadline = time.monotonic() + 30
        while cloud_instances(slow_sim, "shop") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert cloud_instances(slow_sim, "shop") == {}
        assert not Resource.objects.filter(project=world["project"], type="ecs.instance", deleted=False).exists()
        approver.goto(f"{base}/console/provisioning/changes/")
        screenshot(approver, "lifecycle-11-change-records")
        text = approver.locator("main, body").first.inner_text()
        for action in ("create", "stop", "resize", "release"):
            assert action in text, action
    finally:
        tenant_ctx.close()
        approver_ctx.close()
