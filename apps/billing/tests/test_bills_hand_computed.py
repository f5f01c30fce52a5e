"""Bills checked against amounts worked out by hand (the arithmetic is in each test's comments)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.billing import metering, services
from apps.billing.models import Bill, BillingProfile, BillLine, Discount, UsageInterval, UsageRecord
from apps.billing.tests.factories import at, instance, price_book, rule
from apps.core.errors import Conflict
from apps.resources.models import Resource
from tests import factories as f

pytestmark = pytest.mark.django_db


def meter(start: str, end: str, now: str) -> None:
    metering.meter_period(start=at(start), end=at(end), now=at(now))


def change(resource: Resource, when: str, **fields) -> None:
    """The inventory records a change (as collection does), then metering hears of it."""
    for k, v in fields.items():
        setattr(resource, k, v)
    resource.last_changed_at = at(when)
    resource.save()
    metering.meter_reconcile(resource_ids=[resource.pk], now=at(when))


def amounts(bill) -> dict[tuple[str, str], Decimal]:
    return {(str(line.project.name if line.project else ""), line.dimension or line.kind): line.amount
            for line in BillLine.objects.filter(bill=bill).select_related("project")}


@pytest.fixture
def march(people, platform):
    """An instance of 2 vCPU / 4 GiB in project P1 from 1 March 00:00 UTC that is stopped at 10:30:15,
    started again resized to 4 vCPU / 8 GiB at 12:00:00, moved to project P2 at 00:20:00 on 2 March
    and released at 06:00:00."""
    hq = people["hq"]
    p1, p2 = f.project(hq, name="P1"), f.project(hq, name="P2")
    book = price_book(hq)
    rule(book, "ecs.instance", "vcpu_hours", "0.05", bill_stopped=False)
    rule(book, "ecs.instance", "memory_gib_hours", "0.01", bill_stopped=False)
    vm = instance(platform, hq, project=p1, since=at("2026-03-01 00:00:00"))
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-03-01 00:00:00"))
    change(vm, "2026-03-01 10:30:15", status="stopped")
    change(vm, "2026-03-01 12:00:00", status="running", vcpu=4, memory_mib=8192)
    vm.project = p2
    vm.save()  # an assignment: the inventory does not date it, metering takes the moment it hears of it
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-03-02 00:20:00"))
    vm.deleted, vm.deleted_at = True, at("2026-03-02 06:00:00")
    vm.save()
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-03-02 07:00:00"))
    meter("2026-03-01 00:00", "2026-04-01 00:00", "2026-04-01 00:00")
    return {"hq": hq, "book": book, "vm": vm, "p1": p1, "p2": p2}


def test_mid_hour_stop_resize_and_project_move_are_metered_to_the_second(march):
    bill = services.bill_rate(actor=None, organization=march["hq"], period="2026-03", now=at("2026-04-01 00:00"))
    # P1 running 2 vCPU 00:00:00-10:30:15 (37815 s), stopped (not billed) until 12:00:00, then 4 vCPU
    # 12:00:00-00:20:00 (44400 s): vCPU-h = (2*37815 + 4*44400)/3600 = 70.341667 -> x0.05 = 3.5171 -> 3.52
    # memory GiB-h = (4*37815 + 8*44400)/3600 = 140.683333 -> x0.01 = 1.4068 -> 1.41
    # P2 4 vCPU 00:20:00-06:00:00 (20400 s): 22.666667 vCPU-h -> 1.1333 -> 1.13; 45.333333 GiB-h -> 0.45
    assert amounts(bill) == {("P1", "vcpu_hours"): Decimal("3.52"), ("P1", "memory_gib_hours"): Decimal("1.41"),
                             ("P2", "vcpu_hours"): Decimal("1.13"), ("P2", "memory_gib_hours"): Decimal("0.45")}
    quantities = {(line.project.name, line.dimension): line.quantity for line in bill.lines.select_related("project")}
    assert quantities[("P1", "vcpu_hours")] == Decimal("70.341667")
    assert quantities[("P2", "memory_gib_hours")] == Decimal("45.333333")
    assert bill.total == Decimal("6.51")


def test_records_split_at_hour_boundaries_and_stop_inside_the_hour(march):
    hour = int(at("2026-03-01 10:00").timestamp())
    rows = sorted(UsageRecord.objects.filter(hour_s=hour).values_list("state", "seconds"))
    assert rows == [("running", 1815), ("stopped", 1785)]
    assert UsageRecord.objects.filter(resource=march["vm"]).values("hour_s").distinct().count() == 30


def test_tiers_price_the_months_quantity_by_steps(march):
    vcpu = march["book"].rules.get(dimension="vcpu_hours")
    vcpu.tiers = [{"up_to": "50", "unit_price": "0.05"}, {"up_to": None, "unit_price": "0.04"}]
    vcpu.save()
    bill = services.bill_rate(actor=None, organization=march["hq"], period="2026-03", now=at("2026-04-01 00:00"))
    # P1: 50 x 0.05 = 2.50 + 20.341667 x 0.04 = 0.81366668 -> 3.31366668 -> 3.31
    # P2: 22.666667 stays in the first step: 1.13
    assert amounts(bill)[("P1", "vcpu_hours")] == Decimal("3.31")
    assert amounts(bill)[("P2", "vcpu_hours")] == Decimal("1.13")


def test_re_rating_an_open_month_takes_the_changed_rule_and_a_finalized_month_is_refused(march):
    bill = services.bill_rate(actor=None, organization=march["hq"], period="2026-03", now=at("2026-04-01 00:00"))
    assert bill.total == Decimal("6.51")
    services.price_rule_update(actor=None, rule=march["book"].rules.get(dimension="memory_gib_hours"),
                               data={"unit_price": "0.02"})
    bill = services.bill_rate(actor=None, organization=march["hq"], period="2026-03", now=at("2026-04-01 00:00"))
    # memory: 140.683333 x 0.02 = 2.8137 -> 2.81 and 45.333333 x 0.02 = 0.9067 -> 0.91
    assert bill.total == Decimal("3.52") + Decimal("2.81") + Decimal("1.13") + Decimal("0.91")
    services.bill_finalize(actor=None, bill=bill)
    with pytest.raises(Conflict):
        services.bill_rate(actor=None, organization=march["hq"], period="2026-03", now=at("2026-04-01 00:00"))


def test_a_discount_is_its_own_line_rounded_to_the_cent(march):
    Discount.objects.create(organization=march["hq"], percent=Decimal("12.5"))
    bill = services.bill_rate(actor=None, organization=march["hq"], period="2026-03", now=at("2026-04-01 00:00"))
    # 6.51 x 12.5% = 0.81375 -> 0.81
    assert amounts(bill)[("", "discount")] == Decimal("-0.81")
    assert bill.subtotal == Decimal("6.51") and bill.total == Decimal("5.70")


def test_rounding_is_half_up_to_the_currency_minor_unit(people, platform):
    hq = people["hq"]
    book = price_book(hq)
    rule(book, "ecs.instance", "hours", "0.005")
    vm = instance(platform, hq, since=at("2026-05-01 00:00"))
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-05-01 00:00"))
    vm.deleted, vm.deleted_at = True, at("2026-05-01 01:00")
    vm.save()
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-05-01 01:00"))
    meter("2026-05-01 00:00", "2026-06-01 00:00", "2026-06-01 00:00")
    bill = services.bill_rate(actor=None, organization=hq, period="2026-05", now=at("2026-06-01"))
    assert bill.total == Decimal("0.01")  # 1 hour x 0.005 = 0.005, half up to 0.01
    yen = price_book(hq, currency="JPY", minor_unit=0)
    rule(yen, "ecs.instance", "hours", "12.5")
    bill = services.bill_rate(actor=None, organization=hq, period="2026-05", now=at("2026-06-01"))
    assert bill.currency == "JPY" and bill.total == Decimal("13")  # 12.5 yen, half up to 13


def test_a_month_with_a_daylight_saving_change_has_745_hours_in_its_time_zone(people, platform):
    hq = people["hq"]
    BillingProfile.objects.create(organization=hq, time_zone="Europe/Berlin")
    book = price_book(hq)
    rule(book, "ecs.instance", "hours", "0.10")
    rule(book, "ecs.instance", "vcpu_hours", "20", unit="month")
    vm = instance(platform, hq, since=at("2026-09-15 00:00"))
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-09-15 00:00"))
    meter("2026-09-15 00:00", "2026-11-15 00:00", "2026-11-15 00:00")
    bill = services.bill_rate(actor=None, organization=hq, period="2026-10", now=at("2026-11-15"))
    lines = {line.dimension: line for line in bill.lines.all()}
    # October in Berlin: 1 Oct 00:00 CEST (30 Sep 22:00 UTC) to 1 Nov 00:00 CET (31 Oct 23:00 UTC) = 745 h
    assert lines["hours"].quantity == Decimal("745") and lines["hours"].amount == Decimal("74.50")
    # 2 vCPU for the whole month = 2 vCPU-months x 20 = 40.00
    assert lines["vcpu_hours"].quantity == Decimal("2") and lines["vcpu_hours"].amount == Decimal("40.00")
    assert lines["vcpu_hours"].unit == "vCPU-month"
    assert bill.total == Decimal("114.50")


def test_a_parents_roll_up_sums_its_subtree(people, platform):
    from apps.billing import selectors

    hq = people["hq"]
    child = f.org("Child", parent=hq)
    book = price_book(hq)
    rule(book, "ecs.instance", "hours", "1")
    for org, hours in ((hq, 3), (child, 5)):
        vm = instance(platform, org, since=at("2026-07-01 00:00"))
        metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-07-01 00:00"))
        vm.deleted, vm.deleted_at = True, at(f"2026-07-01 0{hours}:00")
        vm.save()
        metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-07-02 00:00"))
    meter("2026-07-01 00:00", "2026-08-01 00:00", "2026-08-01 00:00")
    for org in (hq, child):
        services.bill_rate(actor=None, organization=org, period="2026-07", now=at("2026-08-01"))
    rollup = selectors.bill_rollup(actor=people["root"], organization=hq, period=dt.date(2026, 7, 1))
    assert [(r["organization"].name, r["total"]) for r in rollup["rows"]] == [("HQ", Decimal("3.00")),
                                                                              ("Child", Decimal("5.00"))]
    assert rollup["total"] == Decimal("8.00")
    child_only = selectors.bill_rollup(actor=people["root"], organization=child, period=dt.date(2026, 7, 1))
    assert child_only["total"] == Decimal("5.00")


def test_the_hourly_pass_meters_new_hours_and_rates_the_open_month(people, platform):
    hq = people["hq"]
    rule(price_book(hq), "ecs.instance", "vcpu_hours", "1")
    vm = instance(platform, hq, since=at("2026-08-03 08:00"))
    first = services.billing_hourly(now=at("2026-08-03 09:30"))
    assert first["opened"] == 1 and first["rated"] == 1
    bill = Bill.objects.get(organization=hq, period=dt.date(2026, 8, 1))
    assert bill.total == Decimal("3.00")  # 1.5 hours x 2 vCPU
    change(vm, "2026-08-03 10:15", status="stopped", vcpu=2)
    services.billing_hourly(now=at("2026-08-03 11:05"))
    bill.refresh_from_db()
    # 08:00-10:15 running: 2.25 hours x 2 vCPU = 4.50; the stopped time is billed too (bill_stopped)
    # 10:15-11:05: 50 minutes x 2 vCPU = 1.666667 -> total 6.166667 -> 6.17
    assert bill.total == Decimal("6.17")
    assert sorted(UsageRecord.objects.filter(resource=vm).values_list("hour_s", "seconds"))[-1] == (
        int(at("2026-08-03 11:00").timestamp()), 300)


def test_a_resource_gone_and_back_is_not_metered_while_it_was_gone(people, platform):
    hq = people["hq"]
    vm = instance(platform, hq, since=at("2026-09-01 00:00"))
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-09-01 00:00"))
    vm.deleted, vm.deleted_at, vm.last_changed_at = True, at("2026-09-01 02:00"), at("2026-09-01 02:00")
    vm.save()
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-09-01 02:10"))
    change(vm, "2026-09-01 05:30", deleted=False, deleted_at=None)
    spans = list(UsageInterval.objects.filter(resource=vm).order_by("start_s").values_list("start_s", "end_s"))
    assert spans == [(int(at("2026-09-01 00:00").timestamp()), int(at("2026-09-01 02:00").timestamp())),
                     (int(at("2026-09-01 05:30").timestamp()), None)]


def test_rating_every_organization_at_once_gives_each_the_bill_it_gets_alone(people, platform):
    hq, other = people["hq"], people["other"]
    BillingProfile.objects.create(organization=other, time_zone="Asia/Tokyo")
    rule(price_book(hq), "ecs.instance", "vcpu_hours", "0.5")
    for org in (hq, other):
        vm = instance(platform, org, since=at("2026-02-27 00:00"))
        metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-02-27 00:00"))
    meter("2026-02-26 00:00", "2026-03-02 00:00", "2026-03-02 00:00")
    together = {b.organization_id: b.total for b in services.bills_rate(
        actor=None, period="2026-02", organizations=[hq, other], now=at("2026-03-02"))}
    alone = {org.pk: services.bill_rate(actor=None, organization=org, period="2026-02", now=at("2026-03-02")).total
             for org in (hq, other)}
    # UTC: 27-28 Feb = 48 h x 2 vCPU x 0.5 = 48.00; Tokyo: from 27 Feb 09:00 local to 1 Mar 00:00 = 39 h -> 39.00
    assert together == alone == {hq.pk: Decimal("48.00"), other.pk: Decimal("39.00")}


def test_the_first_pass_of_a_month_also_rates_the_last_hours_of_the_month_before(people, platform):
    hq = people["hq"]
    rule(price_book(hq), "ecs.instance", "vcpu_hours", "1")
    instance(platform, hq, since=at("2026-08-31 22:00"))
    services.billing_hourly(now=at("2026-08-31 23:05"))
    services.billing_hourly(now=at("2026-09-01 00:30"))
    august = Bill.objects.get(organization=hq, period=dt.date(2026, 8, 1))
    september = Bill.objects.get(organization=hq, period=dt.date(2026, 9, 1))
    # August: 22:00-24:00 = 2 h x 2 vCPU = 4.00; September: 00:00-00:30 = 0.5 h x 2 vCPU = 1.00
    assert (august.total, september.total) == (Decimal("4.00"), Decimal("1.00"))
