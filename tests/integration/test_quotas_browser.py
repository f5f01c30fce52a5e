"""Quotas in Chromium on the distributed stack: a tenant's request that does not fit is refused in the
form before it is sent (with the numbers; the server refuses it too), the tenant asks for more from
the portal, an approver grants it in the console, and the same request now goes through."""

from __future__ import annotations

import pytest

from tests.integration.conftest import screenshot, sign_in, wait_until
from tests.integration.test_lifecycle_chaos import Sim, estate

PASSWORD = "lifecycle-pass-1234"


@pytest.fixture
def sim(tmp_path):
    server = Sim(tmp_path / "cloudsim.log", provision_seconds=0.2)
    yield server
    server.stop()


def fill_request(page, count: int) -> None:
    page.fill("#f-name", "shop")
    page.select_option("#f-zone", "cn-hangzhou-a")
    page.select_option("#f-type", "ecs.g6.large")
    page.fill("#f-count", str(count))
    page.dispatch_event("#f-count", "change")


@pytest.mark.django_db(transaction=True)
def test_a_refused_tenant_asks_for_more_an_approver_grants_and_the_request_goes_through(distributed_stack, browser,
                                                                                        sim):
    from apps.provisioning.models import ProvisioningRequest
    from apps.quotas import services
    from apps.quotas.models import QuotaLimit, QuotaRequest
    from tests import factories as f

    world = estate(sim, "quota")
    f.grant(f.role("quotas:*", "organizations:organization:read", "menu:console:quotas", key="quota_granter"),
            world["approver"], world["org"])
    services.limit_set(actor=None, organization=world["org"], project=world["project"], dimension="ecs.instance",
                       limit=1)
    base = distributed_stack.url
    tenant_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    approver_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        tenant, approver = tenant_ctx.new_page(), approver_ctx.new_page()
        sign_in(tenant, base, "quota-tenant", PASSWORD)

        # Two instances do not fit a limit of one: the form says so, with the numbers, before sending.
        tenant.goto(f"{base}/portal/provisioning/")
        tenant.click("[data-testid=request-ecs-quota-cloudsim]")
        tenant.wait_for_selector("#req-form")
        fill_request(tenant, 2)
        tenant.wait_for_selector("[data-testid=req-quota]:not(.d-none)", timeout=15000)
        text = tenant.inner_text("[data-testid=req-quota]")
        assert "needs 2, 1 free of 1" in text and "1 short" in text, text
        assert tenant.is_disabled("#req-submit")
        screenshot(tenant, "quotas-01-refused-in-form")
        # The server refuses it as well, naming the limit (the form is only a courtesy).
        refused = tenant.evaluate("""async (body) => { try { await Unimanager.api('POST',
            '/api/v1/provisioning/requests/', body); return null; } catch (e) { return e.body; } }""", {
            "project": str(world["project"].pk), "platform": str(world["platform"].pk), "region": "cn-hangzhou",
            "count": 2, "spec": {"instance_type": "ecs.g6.large", "image_id": "centos_7_9_x64_20G_alibase_20230919.vhd",
                                 "zone": "cn-hangzhou-a", "vswitch_id": world["vswitch"],
                                 "security_group_id": world["security_group"], "name": "shop"}})
        assert refused["code"] == "quota_exceeded" and refused["detail"]["shortfall"] == 1, refused
        assert not ProvisioningRequest.objects.filter(project=world["project"]).exists()

        # The tenant asks for more from the portal, the form filled in from the refusal.
        tenant.click("[data-testid=ask-more]")
        tenant.wait_for_url("**/portal/quotas/?*", timeout=15000)
        tenant.wait_for_selector("[data-testid=ask-form]")
        assert tenant.input_value("[data-testid=ask-limit]") == "2"
        tenant.fill("[data-testid=ask-reason]", "spring sale needs a second web server")
        screenshot(tenant, "quotas-02-ask-for-more")
        tenant.click("[data-testid=ask-submit]")
        tenant.wait_for_selector("[data-testid=ask-sent]")
        screenshot(tenant, "quotas-03-asked")
        asked = QuotaRequest.objects.get(project=world["project"])
        assert (asked.status, asked.requested_limit, asked.dimension) == ("pending", 2, "ecs.instance")

        # The approver grants it in the console.
        sign_in(approver, base, "quota-approver", PASSWORD)
        approver.goto(f"{base}/console/quotas/?organization={world['org'].pk}")
        approver.wait_for_selector(f"[data-testid=grant-{asked.pk}]")
        screenshot(approver, "quotas-04-console-before-grant")
        approver.click(f"[data-testid=grant-{asked.pk}]")
        approver.wait_for_selector("[data-testid=quota-notice]")
        screenshot(approver, "quotas-05-console-granted")
        assert QuotaLimit.objects.get(project=world["project"]).limit == 2

        # The same request now fits and goes through.
        tenant.goto(f"{base}/portal/provisioning/")
        tenant.click("[data-testid=request-ecs-quota-cloudsim]")
        tenant.wait_for_selector("#req-form")
        fill_request(tenant, 2)
        wait_until(tenant, "() => !document.getElementById('req-submit').disabled", timeout=15000)
        assert tenant.is_hidden("[data-testid=req-quota]")
        screenshot(tenant, "quotas-06-fits")
        tenant.click("#req-submit")
        tenant.wait_for_url("**/portal/provisioning/requests/*/", timeout=15000)
        screenshot(tenant, "quotas-07-request-accepted")
        req = ProvisioningRequest.objects.get(project=world["project"])
        assert req.count == 2 and req.quota_reservation
        assert QuotaLimit.objects.get(project=world["project"]).used == 2
        tenant.goto(f"{base}/portal/quotas/")
        tenant.wait_for_selector("[data-testid=my-request-granted]")
        screenshot(tenant, "quotas-08-portal-after")
    finally:
        tenant_ctx.close()
        approver_ctx.close()
