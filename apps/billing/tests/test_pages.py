"""Billing's console pages show the same numbers as the API, and refuse what the services refuse."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.billing.models import Bill, Budget
from apps.billing.tests.test_api import billed  # noqa: F401 (fixture)
from tests import factories as f

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_cost_bill_explain_price_book_and_budget_pages_show_the_bill(billed):  # noqa: F811
    client = signed_in(billed["root"])
    bill = billed["bill"]
    Budget.objects.create(organization=billed["hq"], name="Team budget", amount=100, thresholds=[50])
    costs = client.get("/console/billing/", {"start": "2026-04-01", "end": "2026-05-01", "group_by": "project"})
    assert costs.status_code == 200 and b"Web" in costs.content and b"20.00" in costs.content
    detail = client.get(f"/console/billing/bills/{bill.pk}/")
    assert detail.status_code == 200 and b"20.00 CNY" in detail.content
    line = bill.lines.get()
    explain = client.get(f"/console/billing/bills/{bill.pk}/lines/{line.pk}/")
    assert explain.status_code == 200 and b"20.000000" in explain.content and b"still running" not in explain.content
    assert client.get("/console/billing/bills/").status_code == 200
    assert b"vCPU hours" in client.get("/console/billing/price-books/").content
    assert b"Team budget" in client.get("/console/billing/budgets/").content


def test_finalize_from_the_page_then_a_second_finalize_shows_the_refusal(billed):  # noqa: F811
    client = signed_in(billed["root"])
    bill = billed["bill"]
    url = f"/console/billing/bills/{bill.pk}/action/"
    assert client.post(url, {"action": "finalize"}).status_code == 302
    assert Bill.objects.get(pk=bill.pk).status == "finalized"
    again = client.post(url, {"action": "rate"})
    assert again.status_code == 409 and b"finalized" in again.content


def test_another_organizations_bill_page_is_not_found(billed):  # noqa: F811
    other = f.org("Elsewhere")
    admin = f.user("elsewhere-admin", other)
    f.grant(f.predefined("billing_administrator"), admin, other)
    client = signed_in(admin)
    bill = billed["bill"]
    assert client.get(f"/console/billing/bills/{bill.pk}/").status_code == 404
    assert client.post(f"/console/billing/bills/{bill.pk}/action/", {"action": "finalize"}).status_code == 404
    assert Bill.objects.get(pk=bill.pk).status == "draft"


def test_the_approval_queue_shows_the_requests_price_estimate(billed, platform):  # noqa: F811
    from apps.provisioning import hooks
    from apps.provisioning.models import ProvisioningRequest

    hq = billed["hq"]
    spec = {"instance_type": "ecs.g6.large", "vcpu": 2, "memory_mib": 8192, "zone": "cn-hangzhou-a"}
    estimate = hooks.price_estimate(platform=platform, region="cn-hangzhou", resource_type="ecs.instance",
                                    spec=spec, count=3)
    level = {"mode": "any", "roles": ["organization_administrator"], "users": []}
    request = ProvisioningRequest.objects.create(organization=hq, project=f.project(hq), platform=platform,
                                                 region="cn-hangzhou", spec=spec, count=3, levels=[level],
                                                 price_estimate=estimate)
    page = signed_in(billed["root"]).get("/console/provisioning/approvals/")
    # 3 instances x 2 vCPU x 1.00 per vCPU-hour = 6.00 per hour; x 730 hours = 4380.00 per month
    assert estimate == {"currency": "CNY", "hourly": "6.0000", "monthly": "4380.00"}
    assert page.status_code == 200
    assert f'data-testid="price-{request.pk}"'.encode() in page.content
    assert b"4380.00 CNY" in page.content


def test_the_portal_costs_page_shows_the_tenants_bills_only(billed):  # noqa: F811
    page = signed_in(billed["root"]).get("/portal/billing/")
    assert page.status_code == 200 and b"20.00 CNY" in page.content
    other = f.org("Elsewhere")
    stranger = f.user("stranger", other)
    page = signed_in(stranger).get("/portal/billing/")
    assert page.status_code == 200 and b"No bills you may see." in page.content


def test_a_budget_and_a_tiered_rule_are_added_from_the_pages_and_bad_input_writes_nothing(billed):  # noqa: F811
    from apps.billing.models import PriceRule

    client = signed_in(billed["root"])
    hq = billed["hq"]
    refused = client.post("/console/billing/budgets/", {"organization": str(hq.pk), "name": "Q", "amount": "-5"})
    assert refused.status_code == 400 and b"is-invalid" in refused.content and not Budget.objects.exists()
    added = client.post("/console/billing/budgets/", {"organization": str(hq.pk), "name": "Monthly", "amount": "500",
                                                      "thresholds": "50, 90"})
    assert added.status_code == 302
    assert list(Budget.objects.values_list("name", "amount", "thresholds")) == [("Monthly", 500, [50, 90])]
    book = billed["book"]
    count = PriceRule.objects.count()
    bad = client.post("/console/billing/price-books/", {"book": book.pk, "resource_type": "ecs.instance",
                                                        "dimension": "hours", "unit_price": "1", "tiers": "10:1"})
    assert bad.status_code == 400 and PriceRule.objects.count() == count
    good = client.post("/console/billing/price-books/", {"book": book.pk, "resource_type": "ecs.instance",
                                                         "dimension": "hours", "unit_price": "1",
                                                         "tiers": "10:1, :0.5", "bill_stopped": "on"})
    assert good.status_code == 302
    rule = PriceRule.objects.get(dimension="hours")
    assert rule.tiers == [{"up_to": "10", "unit_price": "1"}, {"up_to": None, "unit_price": "0.5"}]
    assert rule.bill_stopped
