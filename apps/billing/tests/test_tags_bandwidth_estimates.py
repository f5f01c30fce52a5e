"""Cost by tag (any tag key, worked out by hand), EIP bandwidth priced per Mbps-hour from the EIP's
spec, and the request estimate of every type the adapters create."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook

from apps.billing import metering, services
from apps.billing.models import BillingTagSet, BillLine, Charge, UsageInterval
from apps.billing.tests.factories import at, instance, price_book, rule
from apps.billing.tests.test_bills_hand_computed import change, meter
from apps.provisioning import hooks
from apps.resources.tests.factories import resource
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
APRIL = {"start": "2026-04-01", "end": "2026-05-01"}


def released(vm, when: str) -> None:
    vm.deleted, vm.deleted_at = True, at(when)
    vm.save()
    metering.meter_reconcile(resource_ids=[vm.pk], now=at(when))


@pytest.fixture
def tagged(people, platform):
    """HQ's April at 1.00 per instance-hour: a shop instance for 10 hours, a data instance for 4 hours
    that is re-tagged to the shop after 2 of them, and an untagged one for 3 hours."""
    hq = people["hq"]
    book = price_book(hq)
    rule(book, "ecs.instance", "hours", "1")
    shop = instance(platform, hq, since=at("2026-04-01 00:00"), tags={"team": "shop", "env": "prod"})
    data = instance(platform, hq, since=at("2026-04-01 00:00"), tags={"team": "data"})
    bare = instance(platform, hq, since=at("2026-04-01 00:00"))
    metering.meter_reconcile(resource_ids=[shop.pk, data.pk, bare.pk], now=at("2026-04-01 00:00"))
    change(data, "2026-04-01 02:00", tags={"team": "shop"})
    released(bare, "2026-04-01 03:00")
    released(data, "2026-04-01 04:00")
    released(shop, "2026-04-01 10:00")
    meter("2026-04-01 00:00", "2026-05-01 00:00", "2026-05-01 00:00")
    bill = services.bill_rate(actor=None, organization=hq, period="2026-04", now=at("2026-05-01"))
    return {"hq": hq, "root": people["root"], "bill": bill, "data": data}


def test_a_tag_change_closes_the_interval_and_the_bill_line_stays_one(tagged):
    intervals = UsageInterval.objects.filter(resource=tagged["data"]).order_by("start_s")
    assert [(i.tag_set.tags if i.tag_set else {}) for i in intervals] == [{"team": "data"}, {"team": "shop"}]
    assert intervals[0].end_s == intervals[1].start_s == metering.epoch(at("2026-04-01 02:00"))
    # 10 + 4 + 3 instance-hours at 1.00 on one line; the tags split only the daily charges.
    assert list(BillLine.objects.filter(bill=tagged["bill"]).values_list("quantity", "amount")) == [
        (Decimal("17.000000"), Decimal("17.000000"))]
    assert BillingTagSet.objects.count() == 3  # shop+prod, data, shop


def test_cost_by_a_tag_key_sums_each_value_and_counts_resources_without_it_as_untagged(tagged):
    client = api_as(tagged["root"])
    by_team = client.get("/api/v1/billing/costs/", {"group_by": "tag", "tag_key": "team", **APRIL})
    # shop: 10 h + the data instance's last 2 h = 12.00; data: 2.00; untagged: 3.00
    assert by_team.status_code == 200
    assert by_team.json()["results"] == [{"key": "shop", "amount": "12.00"}, {"key": "(untagged)", "amount": "3.00"},
                                         {"key": "data", "amount": "2.00"}]
    by_env = client.get("/api/v1/billing/costs/", {"group_by": "tag", "tag_key": "env", **APRIL}).json()["results"]
    assert by_env == [{"key": "prod", "amount": "10.00"}, {"key": "(untagged)", "amount": "7.00"}]
    assert sum(Charge.objects.filter(bill=tagged["bill"]).values_list("amount", flat=True)) == Decimal(17)


def test_grouping_by_tag_without_a_key_is_refused_naming_the_field(tagged):
    client = api_as(tagged["root"])
    for params in ({"group_by": "tag"}, {"group_by": "tag", "tag_key": "  "},
                   {"group_by": "tag", "tag_key": "k" * 129}):
        response = client.get("/api/v1/billing/costs/", {**params, **APRIL})
        assert response.status_code == 400, params
        assert "tag_key" in response.json()["detail"]
        assert client.get("/api/v1/billing/costs/export/", {**params, **APRIL}).status_code == 400


def test_cost_by_tag_exports_csv_and_excel_with_the_key_in_the_header(tagged):
    client = api_as(tagged["root"])
    export = client.get("/api/v1/billing/costs/export/", {"group_by": "tag", "tag_key": "team", **APRIL})
    assert export.status_code == 200
    assert list(csv.reader(io.StringIO(export.content.decode()))) == [
        ["tag:team", "amount"], ["shop", "12.00"], ["(untagged)", "3.00"], ["data", "2.00"]]
    workbook = client.get("/api/v1/billing/costs/export/", {"group_by": "tag", "tag_key": "team", "file": "xlsx",
                                                            **APRIL})
    sheet = load_workbook(BytesIO(workbook.content)).active
    assert [[c.value for c in row] for row in sheet.iter_rows()][:2] == [["tag:team", "amount"], ["shop", 12]]


def test_a_tag_value_that_looks_like_a_formula_is_exported_as_text(people, platform):
    hq = people["hq"]
    rule(price_book(hq), "ecs.instance", "hours", "1")
    vm = instance(platform, hq, since=at("2026-04-01 00:00"), tags={"team": "=HYPERLINK(\"http://x\")"})
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-04-01 00:00"))
    released(vm, "2026-04-01 01:00")
    meter("2026-04-01 00:00", "2026-05-01 00:00", "2026-05-01 00:00")
    services.bill_rate(actor=None, organization=hq, period="2026-04", now=at("2026-05-01"))
    client = api_as(people["root"])
    export = client.get("/api/v1/billing/costs/export/", {"group_by": "tag", "tag_key": "team", **APRIL})
    assert list(csv.reader(io.StringIO(export.content.decode())))[1] == ["'=HYPERLINK(\"http://x\")", "1.00"]
    workbook = client.get("/api/v1/billing/costs/export/", {"group_by": "tag", "tag_key": "team", "file": "xlsx",
                                                            **APRIL})
    cell = load_workbook(BytesIO(workbook.content)).active["A2"]
    assert cell.data_type == "s" and cell.value.startswith("'=")


def test_another_organizations_billing_administrator_sees_none_of_the_tagged_spend(tagged):
    other = f.org("Elsewhere")
    admin = f.user("elsewhere-admin", other)
    f.grant(f.predefined("billing_administrator"), admin, other)
    client = api_as(admin)
    rows = client.get("/api/v1/billing/costs/", {"group_by": "tag", "tag_key": "team", **APRIL})
    assert rows.status_code == 200 and rows.json()["results"] == []
    export = client.get("/api/v1/billing/costs/export/", {"group_by": "tag", "tag_key": "team", **APRIL})
    assert export.content.decode().splitlines() == ["tag:team,amount"]


def test_the_cost_page_groups_by_a_tag_and_offers_the_keys(tagged):
    from apps.billing.tests.test_pages import signed_in

    page = signed_in(tagged["root"]).get("/console/billing/", {"group_by": "tag", "tag_key": "team", **APRIL})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Spend by tag team" in body and '<option value="env">' in body and '<option value="team">' in body
    assert "12.00" in body and "(untagged)" in body


# -- EIP bandwidth ---------------------------------------------------------------------------------------

def test_an_eip_is_priced_per_mbps_hour_from_its_spec_and_a_bandwidth_change_splits_it(people, platform):
    hq = people["hq"]
    book = price_book(hq)
    rule(book, "eip.eip", "hours", "0.03")
    rule(book, "eip.eip", "bandwidth_mbps_hours", "0.025")
    eip = resource(platform, organization=hq, type="eip.eip", spec={"bandwidth_mbps": 5, "ip_address": "1.2.3.4"},
                   first_seen_at=at("2026-04-01 00:00"), last_changed_at=at("2026-04-01 00:00"))
    metering.meter_reconcile(resource_ids=[eip.pk], now=at("2026-04-01 00:00"))
    change(eip, "2026-04-01 06:30", spec={"bandwidth_mbps": "20", "ip_address": "1.2.3.4"})
    released(eip, "2026-04-01 10:00")
    meter("2026-04-01 00:00", "2026-05-01 00:00", "2026-05-01 00:00")
    assert list(UsageInterval.objects.filter(resource=eip).values_list("bandwidth_mbps", flat=True)) == [5, 20]
    bill = services.bill_rate(actor=None, organization=hq, period="2026-04", now=at("2026-05-01"))
    lines = {line.dimension: line for line in BillLine.objects.filter(bill=bill)}
    # 5 Mbps x 6.5 h + 20 Mbps x 3.5 h = 32.5 + 70 = 102.5 Mbps-hours x 0.025 = 2.5625 -> 2.56
    assert (lines["bandwidth_mbps_hours"].quantity, lines["bandwidth_mbps_hours"].unit) == (
        Decimal("102.500000"), "Mbps-hour")
    assert lines["bandwidth_mbps_hours"].amount == Decimal("2.56")
    # 10 hours x 0.03 = 0.30
    assert lines["hours"].amount == Decimal("0.30")
    assert bill.total == Decimal("2.86")


def test_a_monthly_bandwidth_price_is_charged_by_the_share_of_the_month(people, platform):
    hq = people["hq"]
    rule(price_book(hq), "eip.eip", "bandwidth_mbps_hours", "30", unit="month")
    eip = resource(platform, organization=hq, type="eip.eip", spec={"bandwidth_mbps": 10},
                   first_seen_at=at("2026-04-01 00:00"), last_changed_at=at("2026-04-01 00:00"))
    metering.meter_reconcile(resource_ids=[eip.pk], now=at("2026-04-01 00:00"))
    released(eip, "2026-04-04 00:00")
    meter("2026-04-01 00:00", "2026-05-01 00:00", "2026-05-01 00:00")
    bill = services.bill_rate(actor=None, organization=hq, period="2026-04", now=at("2026-05-01"))
    line = BillLine.objects.get(bill=bill)
    # 10 Mbps for 72 of April's 720 hours = 1 Mbps-month x 30 = 30.00
    assert (line.quantity, line.unit, line.amount) == (Decimal("1.000000"), "Mbps-month", Decimal("30.00"))


@pytest.mark.parametrize("value, expected", [(5, 5), ("12", 12), (7.9, 7), (None, 0), ("fast", 0), (-3, 0)])
def test_bandwidth_from_a_spec_is_a_whole_number_and_nonsense_meters_nothing(value, expected):
    assert metering.whole_number(value) == expected


# -- estimates of every created type -------------------------------------------------------------------------

@pytest.fixture
def book(people):
    book = price_book(people["hq"])
    rule(book, "ecs.disk", "storage_gib_hours", "0.001", sku="cloud_essd")
    rule(book, "ecs.disk", "storage_gib_hours", "0.0005")
    rule(book, "eip.eip", "hours", "0.03")
    rule(book, "eip.eip", "bandwidth_mbps_hours", "0.025")
    rule(book, "slb.instance", "hours", "0.08")
    rule(book, "slb.instance", "hours", "0.2", sku="slb.s3.medium")
    rule(book, "rds.instance", "hours", "0.9", sku="rds.mysql.s2.large")
    rule(book, "rds.instance", "storage_gib_hours", "0.0012")
    rule(book, "redis.instance", "hours", "0.35", sku="redis.master.small.default")
    rule(book, "redis.instance", "memory_gib_hours", "0.1")
    rule(book, "oss.bucket", "hours", "0.01", sku="IA")
    rule(book, "oss.bucket", "storage_gib_hours", "0.00017")
    rule(book, "nat.nat_gateway", "hours", "0.4", sku="Small")
    return book


def estimate(platform, resource_type, spec, count=1):
    return hooks.price_estimate(platform=platform, region="cn-hangzhou", resource_type=resource_type, spec=spec,
                                count=count)


@pytest.mark.parametrize("resource_type, spec, count, hourly, monthly", [
    # 100 GiB x 0.001 (ESSD) = 0.10 per hour; two disks 0.20; x 730 = 146.00
    ("ecs.disk", {"category": "cloud_essd", "size_gib": 100, "zone": "cn-hangzhou-a"}, 2, "0.2000", "146.00"),
    # another category: 100 GiB x 0.0005 = 0.05; x 730 = 36.50
    ("ecs.disk", {"category": "cloud_efficiency", "size_gib": 100}, 1, "0.0500", "36.50"),
    # 0.03 + 10 Mbps x 0.025 = 0.28; x 730 = 204.40
    ("eip.eip", {"bandwidth_mbps": 10}, 1, "0.2800", "204.40"),
    # the create's default bandwidth, 5 Mbps: 0.03 + 0.125 = 0.155; x 730 = 113.15
    ("eip.eip", {}, 1, "0.1550", "113.15"),
    # the spec's own rule wins over the general one: 0.2 x 730 = 146.00
    ("slb.instance", {"spec": "slb.s3.medium", "address_type": "intranet"}, 1, "0.2000", "146.00"),
    ("slb.instance", {"spec": "slb.s1.small"}, 1, "0.0800", "58.40"),
    # 0.9 + 50 GiB x 0.0012 = 0.96; x 730 = 700.80
    ("rds.instance", {"class": "rds.mysql.s2.large", "storage_gib": 50, "engine": "MySQL"}, 1, "0.9600", "700.80"),
    # 0.35 + 1 GiB x 0.1 = 0.45; x 730 = 328.50
    ("redis.instance", {"class": "redis.master.small.default", "capacity_mib": 1024}, 1, "0.4500", "328.50"),
    # a new bucket stores nothing: only its hourly rule, 0.01 x 730 = 7.30
    ("oss.bucket", {"name": "b", "storage_class": "IA"}, 1, "0.0100", "7.30"),
    ("nat.nat_gateway", {"spec": "Small", "vpc_id": "vpc-1"}, 1, "0.4000", "292.00"),
    # provisioning's request specs name the SKU db_class, cache_class and nat_spec, and fill the
    # class's memory: 0.35 + 2 GiB x 0.1 = 0.55; x 730 = 401.50
    ("rds.instance", {"db_class": "rds.mysql.s2.large", "storage_gib": 20, "vcpu": 2, "memory_mib": 4096}, 2,
     "1.8480", "1349.04"),
    ("redis.instance", {"cache_class": "redis.master.small.default", "memory_mib": 2048}, 1, "0.5500", "401.50"),
    ("nat.nat_gateway", {"nat_spec": "Small", "vpc_id": "vpc-1", "vswitch_id": "vsw-1"}, 1, "0.4000", "292.00"),
])
def test_every_created_type_gets_an_estimate_from_its_rules(book, platform, resource_type, spec, count, hourly,
                                                           monthly):
    assert estimate(platform, resource_type, spec, count) == {"currency": "CNY", "hourly": hourly,
                                                              "monthly": monthly}


def test_a_type_no_rule_prices_gets_no_estimate(book, platform):
    assert estimate(platform, "oss.bucket", {"storage_class": "Standard"}) == {}
    assert estimate(platform, "nat.nat_gateway", {"spec": "Large"}) == {}
    assert estimate(platform, "vpc.vpc", {"cidr_block": "10.0.0.0/8"}) == {}
