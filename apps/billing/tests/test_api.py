"""Billing's API: a finalized bill survives every route, refusals change nothing, other
organizations' bills are not found, budgets announce each crossing once, the estimate is filled."""

from __future__ import annotations

import re
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from openpyxl import load_workbook

from apps.billing import metering, services
from apps.billing.models import Bill, BillAdjustment, BillLine, BudgetCrossing, Charge, PriceRule
from apps.billing.tests.factories import at, instance, price_book, rule
from apps.billing.tests.test_bills_hand_computed import meter
from apps.provisioning import hooks
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
GROUP_RE = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")


@pytest.fixture
def billed(people, platform):
    """HQ's April: 10 hours of a 2-vCPU instance at 1.00 per vCPU-hour = 20.00, rated."""
    hq = people["hq"]
    book = price_book(hq)
    rule(book, "ecs.instance", "vcpu_hours", "1")
    vm = instance(platform, hq, project=f.project(hq, name="Web"), since=at("2026-04-01 00:00"))
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-04-01 00:00"))
    vm.deleted, vm.deleted_at = True, at("2026-04-01 10:00")
    vm.save()
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-04-02 00:00"))
    meter("2026-04-01 00:00", "2026-05-01 00:00", "2026-05-01 00:00")
    bill = services.bill_rate(actor=None, organization=hq, period="2026-04", now=at("2026-05-01"))
    return {"hq": hq, "book": book, "bill": bill, "root": people["root"]}


def billing_routes() -> list[tuple[str, URLPattern]]:
    def walk(patterns, prefix):
        for p in patterns:
            piece = p.pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + piece)
            else:
                yield prefix + piece, p

    return [(r, p) for r, p in walk(get_resolver().url_patterns, "") if r.startswith("api/v1/billing/")]


def snapshot(bill: Bill) -> Any:
    return (list(Bill.objects.filter(pk=bill.pk).values()), list(BillLine.objects.filter(bill=bill).values()),
            list(Charge.objects.filter(bill=bill).values()))


def test_a_finalized_bill_is_not_changed_by_any_api_route(billed):
    bill = services.bill_finalize(actor=None, bill=billed["bill"])
    line = bill.lines.first()
    before = snapshot(bill)
    client = api_as(billed["root"])
    ids = {"pk": bill.pk, "line": line.pk}
    body = {"organization": str(billed["hq"].pk), "period": "2026-04", "amount": "-1.00", "reason": "goodwill",
            "unit_price": "9", "time_zone": "Asia/Tokyo"}
    routes = billing_routes()
    assert any("finalize" in r for r, _ in routes) and any("rate" in r for r, _ in routes)
    answers = {}
    for route, _ in routes:
        url = "/" + GROUP_RE.sub(lambda m: str(ids.get(m.group("name"), bill.pk)), route).replace("\\.", ".")
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(url, body, format="json")
            answers[(url, method)] = response.status_code
            assert response.status_code < 500, (url, method, response.content)
    assert snapshot(bill) == before
    # The one write a finalized bill takes is an adjustment beside it; rating its month again is refused.
    assert answers[(f"/api/v1/billing/bills/{bill.pk}/adjustments/", "post")] == 201
    assert answers[("/api/v1/billing/bills/rate/", "post")] == 409
    assert answers[(f"/api/v1/billing/bills/{bill.pk}/finalize/", "post")] == 409
    assert list(BillAdjustment.objects.filter(bill=bill).values_list("amount", flat=True)) == [Decimal("-1.00")]


def test_bill_detail_lines_and_explain_show_the_usage_and_rule(billed):
    client = api_as(billed["root"])
    bill = billed["bill"]
    detail = client.get(f"/api/v1/billing/bills/{bill.pk}/").json()
    assert detail["total"] == "20.000000"
    [line] = detail["lines"]
    assert (line["quantity"], line["unit"], line["amount"]) == ("20.000000", "vCPU-hour", "20.000000")
    explained = client.get(f"/api/v1/billing/bills/{bill.pk}/lines/{line['id']}/explain/").json()
    assert explained["rule"]["id"] == line["rule"]
    [interval] = explained["intervals"]
    assert interval["seconds"] == 36000 and interval["quantity"] == "20.000000"
    assert interval["interval"]["started_at"] == "2026-04-01T00:00:00Z"
    assert interval["interval"]["ended_at"] == "2026-04-01T10:00:00Z"


def test_another_organizations_bill_is_not_found(billed):
    other = f.org("Elsewhere")
    admin = f.user("elsewhere-admin", other)
    f.grant(f.predefined("billing_administrator"), admin, other)
    client = api_as(admin)
    bill = billed["bill"]
    assert client.get(f"/api/v1/billing/bills/{bill.pk}/").status_code == 404
    assert client.post(f"/api/v1/billing/bills/{bill.pk}/finalize/").status_code == 404
    assert client.get("/api/v1/billing/bills/").json()["results"] == []
    refused = client.post("/api/v1/billing/bills/rate/", {"organization": str(billed["hq"].pk), "period": "2026-04"},
                          format="json")
    assert refused.status_code == 400 and "organization" in refused.json()["detail"]
    assert Bill.objects.get(pk=bill.pk).status == "draft"


@pytest.mark.parametrize("body,field", [
    ({"resource_type": "ecs.nothing", "dimension": "hours", "unit_price": "1"}, "resource_type"),
    ({"resource_type": "ecs.instance", "dimension": "parsecs", "unit_price": "1"}, "dimension"),
    ({"resource_type": "ecs.instance", "dimension": "hours", "unit_price": "-1"}, "unit_price"),
    ({"resource_type": "ecs.instance", "dimension": "hours", "unit_price": "1",
      "tiers": [{"up_to": "10", "unit_price": "1"}]}, "tiers"),
    ({"resource_type": "ecs.instance", "dimension": "hours", "unit_price": "1",
      "tiers": [{"up_to": "10", "unit_price": "1"}, {"up_to": "5", "unit_price": "1"},
                {"up_to": None, "unit_price": "1"}]}, "tiers"),
    ({"resource_type": "ecs.instance", "dimension": "hours", "unit_price": "1", "valid_from": "2026-05-01",
      "valid_to": "2026-04-01"}, "valid_to"),
])
def test_a_bad_rule_is_refused_naming_the_field_and_nothing_is_written(billed, body, field):
    client = api_as(billed["root"])
    count = PriceRule.objects.count()
    response = client.post("/api/v1/billing/price-rules/", {"price_book": billed["book"].pk, **body}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]
    assert PriceRule.objects.count() == count


def test_an_adjustment_on_a_draft_or_in_fractions_of_a_cent_is_refused(billed):
    client = api_as(billed["root"])
    bill = billed["bill"]
    url = f"/api/v1/billing/bills/{bill.pk}/adjustments/"
    assert client.post(url, {"amount": "-1", "reason": "x"}, format="json").status_code == 409
    services.bill_finalize(actor=None, bill=bill)
    assert client.post(url, {"amount": "-1.005", "reason": "x"}, format="json").status_code == 400
    assert client.post(url, {"amount": "-1", "reason": ""}, format="json").status_code == 400
    assert not BillAdjustment.objects.exists()


def test_each_budget_threshold_crossing_is_announced_once(billed, monkeypatch):
    announced = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload, **kw: announced.append((topic, payload)))
    hq = billed["hq"]
    services.budget_create(actor=None, organization=hq, name="April", amount="30", thresholds=[50, 80, 100])
    # 20.00 spent of 30.00 at month end: actual and forecast (the month is over) both pass 50% only.
    services.bill_rate(actor=None, organization=hq, period="2026-04", now=at("2026-05-01"))
    services.bill_rate(actor=None, organization=hq, period="2026-04", now=at("2026-05-01"))
    crossings = [(p["basis"], p["threshold"]) for t, p in announced if p.get("event") == "budget_crossed"]
    assert sorted(crossings) == [("actual", 50), ("forecast", 50)]
    assert all(t == f"billing:{hq.pk}" for t, p in announced if p.get("event") == "budget_crossed")
    assert BudgetCrossing.objects.count() == 2


def test_forecast_crossing_comes_before_the_actual_one(people, platform, monkeypatch):
    hq = people["hq"]
    book = price_book(hq)
    rule(book, "ecs.instance", "hours", "1")
    vm = instance(platform, hq, since=at("2026-06-01 00:00"))
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-06-01 00:00"))
    meter("2026-06-01 00:00", "2026-06-11 00:00", "2026-06-11 00:00")
    services.budget_create(actor=None, organization=hq, name="June", amount="600", thresholds=[100])
    # 10 of 30 days: 240.00 actual, forecast 720.00 -> only the forecast passes 100% of 600.
    services.bill_rate(actor=None, organization=hq, period="2026-06", now=at("2026-06-11 00:00"))
    assert list(BudgetCrossing.objects.values_list("basis", "threshold", "spend")) == [
        ("forecast", 100, Decimal("720.00"))]


def test_the_price_estimator_fills_the_request_estimate(billed, platform):
    rule(billed["book"], "ecs.instance", "memory_gib_hours", "0.25")
    rule(billed["book"], "ecs.disk", "storage_gib_hours", "0.001", sku="cloud_essd")
    estimate = hooks.price_estimate(platform=platform, region="cn-hangzhou", resource_type="ecs.instance",
                                    spec={"instance_type": "ecs.g6.large", "vcpu": 2, "memory_mib": 8192,
                                          "system_disk_category": "cloud_essd", "system_disk_gib": 40}, count=2)
    # per instance: 2 vCPU x 1 + 8 GiB x 0.25 + 40 GiB x 0.001 = 4.04 per hour; two: 8.08; x 730 = 5898.40
    assert estimate == {"currency": "CNY", "hourly": "8.0800", "monthly": "5898.40"}


def test_cost_analysis_groups_spend_and_refuses_bad_parameters(billed):
    client = api_as(billed["root"])
    rows = client.get("/api/v1/billing/costs/", {"group_by": "project", "start": "2026-04-01",
                                                 "end": "2026-05-01"}).json()["results"]
    assert rows == [{"key": "Web", "amount": "20.00"}]
    days = client.get("/api/v1/billing/costs/", {"group_by": "day", "start": "2026-04-01",
                                                 "end": "2026-05-01"}).json()["results"]
    assert days == [{"key": "2026-04-01", "amount": "20.00"}]
    assert client.get("/api/v1/billing/costs/", {"group_by": "nope"}).status_code == 400
    assert client.get("/api/v1/billing/costs/", {"start": "2026-05-01", "end": "2026-04-01"}).status_code == 400
    export = client.get("/api/v1/billing/costs/export/", {"group_by": "service", "start": "2026-04-01",
                                                          "end": "2026-05-01"})
    assert export.status_code == 200 and export.content.decode().splitlines() == ["service,amount", "ecs,20.00"]
    workbook = client.get("/api/v1/billing/costs/export/", {"group_by": "service", "start": "2026-04-01",
                                                            "end": "2026-05-01", "file": "xlsx"})
    assert workbook.status_code == 200 and workbook["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(BytesIO(workbook.content)).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["service", "amount"], ["ecs", 20]]
    assert client.get("/api/v1/billing/costs/export/", {"file": "pdf"}).status_code == 400


def test_a_rule_for_one_platform_names_it_by_its_id(billed, platform):
    client = api_as(billed["root"])
    body = {"price_book": billed["book"].pk, "resource_type": "ecs.instance", "dimension": "hours",
            "unit_price": "2", "platform": platform.pk, "region": "cn-hangzhou"}
    response = client.post("/api/v1/billing/price-rules/", body, format="json")
    assert response.status_code == 201, response.content
    assert PriceRule.objects.get(pk=response.json()["id"]).platform_id == platform.pk
    unknown = client.post("/api/v1/billing/price-rules/", {**body, "platform": "cp-00000000000000000000"},
                          format="json")
    assert unknown.status_code == 400 and "platform" in unknown.json()["detail"]
