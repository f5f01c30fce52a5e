"""Rating's rules one by one, through its public functions: which rule prices a group of usage (the
deepest organization's, then platform, region and SKU; a newer rule wins a tie; validity days; the
stopped state), what a dimension's quantity is, tiers, the month's bounds and hours where it is
counted, half-up rounding to the currency's minor unit, the month's discount, the active price book,
and the lines of a month built from its usage groups (per project and rule, monthly units, the fixed
part, zero usage and unpriced usage left out, their order)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.billing import rating
from apps.billing.models import Discount, PriceBook, PriceRule
from apps.billing.tests.factories import price_book, rule
from tests import factories as f

pytestmark = pytest.mark.django_db
D = Decimal
DAY = dt.date(2026, 3, 10)


def group(platform, **kw):
    values = {"project_id": None, "day": DAY, "platform_id": platform.pk, "region": "cn-hangzhou",
              "type": "ecs.instance", "sku": "ecs.g6.large", "state": "running", "tag_set_id": None,
              "sec": 7200, "vcpu_sec": 0, "mem_sec": 0, "sto_sec": 0, "bw_sec": 0}
    return {**values, **kw}


@pytest.fixture
def tree(people):
    east = f.org("East", people["hq"])
    return {"hq": people["hq"], "east": east, "east_it": f.org("East IT", east), "other": people["other"]}


# -- which rule prices a group -----------------------------------------------------------------------

def test_the_deepest_organizations_rule_wins_over_any_more_specific_generic_one(tree, platform):
    book = price_book(tree["hq"])
    generic = rule(book, "ecs.instance", "hours", "1", platform=platform, region="cn-hangzhou", sku="ecs.g6.large")
    for_hq = rule(book, "ecs.instance", "hours", "2", organization=tree["hq"])
    for_east = rule(book, "ecs.instance", "hours", "3", organization=tree["east"])
    g = group(platform)
    assert rating.RuleMatcher(book, tree["east_it"].ancestor_ids).rule_for(g, "hours") == for_east
    assert rating.RuleMatcher(book, tree["east"].ancestor_ids).rule_for(g, "hours") == for_east
    assert rating.RuleMatcher(book, tree["hq"].ancestor_ids).rule_for(g, "hours") == for_hq
    assert rating.RuleMatcher(book, tree["other"].ancestor_ids).rule_for(g, "hours") == generic


def test_a_rule_for_a_platform_beats_one_for_a_region_which_beats_one_for_a_sku(tree, platform):
    book = price_book(tree["hq"])
    plain = rule(book, "ecs.instance", "hours", "1")
    by_sku = rule(book, "ecs.instance", "hours", "2", sku="ecs.g6.large")
    by_region = rule(book, "ecs.instance", "hours", "3", region="cn-hangzhou")
    by_platform = rule(book, "ecs.instance", "hours", "4", platform=platform)
    other_platform = f.platform(tree["hq"], name="Other")

    def pick(**kw):
        return rating.RuleMatcher(book, tree["hq"].ancestor_ids).rule_for(group(platform, **kw), "hours")

    assert pick() == by_platform
    assert pick(platform_id=other_platform.pk) == by_region
    assert pick(platform_id=other_platform.pk, region="cn-beijing") == by_sku
    assert pick(platform_id=other_platform.pk, region="cn-beijing", sku="ecs.c6.xlarge") == plain


def test_of_two_equally_specific_rules_the_newer_wins(tree, platform):
    book = price_book(tree["hq"])
    rule(book, "ecs.instance", "hours", "1", region="cn-hangzhou")
    newer = rule(book, "ecs.instance", "hours", "2", region="cn-hangzhou")
    assert rating.RuleMatcher(book, tree["hq"].ancestor_ids).rule_for(group(platform), "hours") == newer


def test_a_rule_prices_only_the_days_it_is_valid_both_ends_included(tree, platform):
    book = price_book(tree["hq"])
    march = rule(book, "ecs.instance", "hours", "1", valid_from=dt.date(2026, 3, 5), valid_to=dt.date(2026, 3, 20))
    matcher = rating.RuleMatcher(book, tree["hq"].ancestor_ids)
    picked = {day: matcher.rule_for(group(platform, day=dt.date(2026, 3, day)), "hours") for day in (4, 5, 20, 21)}
    assert picked == {4: None, 5: march, 20: march, 21: None}


def test_a_stopped_resource_is_priced_only_by_a_rule_that_bills_stopped_time(tree, platform):
    book = price_book(tree["hq"])
    running_only = rule(book, "ecs.instance", "hours", "1", bill_stopped=False)
    always = rule(book, "ecs.instance", "vcpu_hours", "1")
    matcher = rating.RuleMatcher(book, tree["hq"].ancestor_ids)
    assert matcher.rule_for(group(platform), "hours") == running_only
    assert matcher.rule_for(group(platform, state="stopped"), "hours") is None
    assert matcher.rule_for(group(platform, state="stopped"), "vcpu_hours") == always


def test_each_question_is_answered_for_its_own_group_whatever_was_asked_before(tree, platform):
    book = price_book(tree["hq"])
    other_platform = f.platform(tree["hq"], name="Other")
    by_sku = rule(book, "ecs.instance", "hours", "1", sku="ecs.g6.large")
    by_platform = rule(book, "ecs.instance", "hours", "2", platform=other_platform, region="cn-beijing",
                       valid_to=dt.date(2026, 3, 15))
    disk = rule(book, "disk.volume", "hours", "3")
    matcher = rating.RuleMatcher(book, tree["hq"].ancestor_ids)
    assert matcher.rule_for(group(platform), "hours") == by_sku
    assert matcher.rule_for(group(platform, sku="ecs.c6.xlarge"), "hours") is None
    assert matcher.rule_for(group(other_platform, region="cn-beijing"), "hours") == by_platform
    assert matcher.rule_for(group(other_platform, region="cn-beijing", day=dt.date(2026, 3, 16)), "hours") == by_sku
    assert matcher.rule_for(group(other_platform, region="cn-hangzhou"), "hours") == by_sku
    assert matcher.rule_for(group(platform, type="disk.volume"), "hours") == disk
    assert matcher.rule_for(group(platform), "vcpu_hours") is None
    assert matcher.rule_for(group(platform, state="stopped"), "hours") == by_sku


def test_the_dimensions_priced_for_a_type_are_those_of_its_rules(tree, platform):
    book = price_book(tree["hq"])
    rule(book, "ecs.instance", "hours", "1")
    rule(book, "ecs.instance", "memory_gib_hours", "1")
    rule(book, "disk.volume", "storage_gib_hours", "1")
    rule(book, "ecs.instance", "vcpu_hours", "1", organization=tree["other"])
    assert sorted(rating.RuleMatcher(book, tree["hq"].ancestor_ids).dimensions("ecs.instance")) == [
        "hours", "memory_gib_hours"]
    assert sorted(rating.RuleMatcher(book, tree["other"].ancestor_ids).dimensions("ecs.instance")) == [
        "hours", "memory_gib_hours", "vcpu_hours"]
    assert rating.RuleMatcher(None, tree["hq"].ancestor_ids).dimensions("ecs.instance") == []


def test_rules_read_beforehand_are_used_as_given(tree, platform):
    book = price_book(tree["hq"])
    cheap = rule(book, "ecs.instance", "hours", "1")
    rule(book, "ecs.instance", "hours", "2")
    matcher = rating.RuleMatcher(book, tree["hq"].ancestor_ids, [cheap])
    assert matcher.rule_for(group(platform), "hours") == cheap
    assert rating.book_rules(book, [tree["hq"].pk])[0] == cheap


def test_the_book_rules_of_some_organizations_are_everyones_and_theirs_oldest_first(tree, platform):
    book = price_book(tree["hq"])
    first = rule(book, "ecs.instance", "hours", "1")
    east = rule(book, "ecs.instance", "hours", "2", organization=tree["east"])
    rule(book, "ecs.instance", "hours", "3", organization=tree["other"])
    rule(price_book(tree["hq"]), "ecs.instance", "hours", "4")
    assert rating.book_rules(book, [tree["east"].pk]) == [first, east]


# -- quantities, tiers, rounding -------------------------------------------------------------------

def test_each_dimension_is_its_seconds_turned_into_hours_of_its_unit():
    g = {"sec": 7200, "vcpu_sec": 4 * 3600, "mem_sec": 2048 * 1800, "sto_sec": 40 * 3600, "bw_sec": None}
    assert rating.dimension_quantity(g, "hours") == D(2)
    assert rating.dimension_quantity(g, "vcpu_hours") == D(4)
    assert rating.dimension_quantity(g, "memory_gib_hours") == D(1)
    assert rating.dimension_quantity(g, "storage_gib_hours") == D(40)
    assert rating.dimension_quantity(g, "bandwidth_mbps_hours") == D(0)


def _priced(unit_price="0.5", tiers=()):
    return PriceRule(unit_price=D(unit_price), tiers=list(tiers))


TIERS = [{"up_to": "100", "unit_price": "0.5"}, {"up_to": "300", "unit_price": "0.4"},
         {"up_to": None, "unit_price": "0.25"}]


def test_without_tiers_the_unit_price_prices_everything():
    assert rating.tiered(_priced("0.5"), D("150")) == (D("75.0"), [])


def test_tiers_price_each_step_of_the_quantity_at_its_own_price():
    amount, steps = rating.tiered(_priced(tiers=TIERS), D("350"))
    assert amount == D("50.0") + D("80.0") + D("12.50")
    assert steps == [
        {"from": "0", "to": "100", "quantity": "100", "unit_price": "0.5", "amount": "50.0"},
        {"from": "100", "to": "300", "quantity": "200", "unit_price": "0.4", "amount": "80.0"},
        {"from": "300", "to": None, "quantity": "50", "unit_price": "0.25", "amount": "12.50"}]


def test_a_quantity_ending_on_a_tiers_top_uses_no_further_tier():
    amount, steps = rating.tiered(_priced(tiers=TIERS), D("100"))
    assert (amount, [s["to"] for s in steps]) == (D("50.0"), ["100"])
    amount, steps = rating.tiered(_priced(tiers=TIERS), D("120"))
    assert (amount, [s["quantity"] for s in steps]) == (D("58.0"), ["100", "20"])


def test_no_quantity_falls_in_no_tier_and_a_last_bounded_tier_prices_up_to_its_top():
    assert rating.tiered(_priced(tiers=TIERS), D(0)) == (D(0), [])
    amount, steps = rating.tiered(_priced(tiers=TIERS[:1]), D("150"))
    assert (amount, len(steps)) == (D("50.0"), 1)


def test_money_rounds_half_up_to_the_currencys_minor_unit():
    assert rating.round_money(D("0.125"), D("0.01")) == D("0.13")
    assert rating.round_money(D("0.124999"), D("0.01")) == D("0.12")
    assert rating.round_money(D("2.5"), D("1")) == D("3")
    assert rating.round_money(D("-0.125"), D("0.01")) == D("-0.13")


# -- the month --------------------------------------------------------------------------------------

def test_a_month_is_bounded_by_midnights_in_its_time_zone():
    first, following, start, end = rating.month_bounds(dt.date(2026, 3, 17), "Asia/Shanghai")
    assert (first, following) == (dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    assert start == int(dt.datetime(2026, 2, 28, 16, tzinfo=dt.UTC).timestamp())
    assert end == int(dt.datetime(2026, 3, 31, 16, tzinfo=dt.UTC).timestamp())
    assert rating.month_bounds(dt.date(2026, 12, 31), "UTC")[:2] == (dt.date(2026, 12, 1), dt.date(2027, 1, 1))


def test_the_hours_of_a_month_are_counted_where_it_is_billed():
    assert rating.month_hours(dt.date(2026, 3, 1), "UTC") == D(744)
    assert rating.month_hours(dt.date(2026, 3, 1), "Europe/Berlin") == D(743)
    assert rating.month_hours(dt.date(2026, 10, 9), "Europe/Berlin") == D(745)
    assert rating.month_hours(dt.date(2024, 2, 1), "UTC") == D(696)
    assert (rating.month_of(dt.date(2024, 2, 29)), rating.days_in(dt.date(2024, 2, 9))) == (dt.date(2024, 2, 1), 29)


def test_the_months_discount_is_the_newest_valid_for_the_whole_month(tree):
    first, following = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
    hq, east, other = tree["hq"], tree["east"], tree["other"]
    Discount.objects.create(organization=hq, percent=5)
    Discount.objects.create(organization=hq, percent=7, valid_from=first, valid_to=dt.date(2026, 3, 31))
    Discount.objects.create(organization=hq, percent=50, valid_from=dt.date(2026, 3, 2))
    Discount.objects.create(organization=hq, percent=60, valid_to=dt.date(2026, 3, 30))
    Discount.objects.create(organization=east, percent=3, valid_to=dt.date(2026, 12, 31))
    Discount.objects.create(organization=other, percent=9, valid_from=dt.date(2026, 4, 1))
    assert rating.discount_percents([hq.pk, east.pk, other.pk], first, following) == {hq.pk: D(7), east.pk: D(3)}
    assert rating.discount_percent(hq.pk, first, following) == D(7)
    assert rating.discount_percent(other.pk, first, following) == D(0)


def test_the_active_price_book_is_the_newest_active_one(tree):
    assert rating.active_price_book() is None
    older = price_book(tree["hq"])
    newer = PriceBook.objects.create(organization=tree["hq"], name="newer", currency="CNY", is_active=True)
    PriceBook.objects.create(organization=tree["hq"], name="draft", currency="CNY", is_active=False)
    assert rating.active_price_book() == newer
    newer.is_active = False
    newer.save()
    assert rating.active_price_book() == older


# -- the lines of a month ----------------------------------------------------------------------------

def test_a_months_lines_are_per_project_and_rule_with_units_fixed_part_and_rounding(tree, platform):
    book = price_book(tree["hq"], currency="JPY", minor_unit=0)
    web, api = f.project(tree["hq"], name="web"), f.project(tree["hq"], name="api")
    hourly = rule(book, "ecs.instance", "hours", "0.5", fixed_amount=D("10"))
    monthly = rule(book, "ecs.instance", "vcpu_hours", "744", unit="month")
    disk = rule(book, "disk.volume", "storage_gib_hours", "0.001")
    rule(book, "oss.bucket", "hours", "1")
    groups = [group(platform, project_id=web.pk, sec=3 * 3600, vcpu_sec=2 * 744 * 3600),
              group(platform, project_id=web.pk, day=dt.date(2026, 3, 11), sec=3600, vcpu_sec=0),
              group(platform, project_id=api.pk, sec=5400),
              group(platform, type="disk.volume", sec=3600, sto_sec=100 * 3600),
              group(platform, type="oss.bucket", sec=0),
              group(platform, type="slb.instance", sec=3600)]
    lines = rating.rate_month(organization=tree["hq"], period=DAY, zone="UTC", book=book, groups=groups)
    got = [(x.rule, x.project_id, x.quantity, x.unit, x.unit_price, x.fixed_amount, x.amount) for x in lines]
    # Lines come by service, type, dimension, SKU, then project id (as text), then rule.
    hourly_lines = sorted([(hourly, api.pk, D("1.500000"), "hour", D("0.5"), D(10), D("11")),
                           (hourly, web.pk, D("4.000000"), "hour", D("0.5"), D(10), D("12"))],
                          key=lambda x: str(x[1]))
    assert got == [
        (disk, None, D("100.000000"), "GiB-hour", D("0.001"), D(0), D("0")),
        *hourly_lines,
        (monthly, web.pk, D("2.000000"), "vCPU-month", D(744), D(0), D("1488"))]
    web_hours = next(x for x in lines if x.rule == hourly and x.project_id == web.pk)
    assert web_hours.charges == {
        (DAY, platform.pk, "cn-hangzhou", "ecs", "ecs.instance", None): D(3),
        (dt.date(2026, 3, 11), platform.pk, "cn-hangzhou", "ecs", "ecs.instance", None): D(1)}
    web_vcpu = next(x for x in lines if x.rule == monthly)
    assert web_vcpu.charges == {(DAY, platform.pk, "cn-hangzhou", "ecs", "ecs.instance", None): D(2)}


def test_a_tiered_lines_unit_price_is_its_average_and_no_book_rounds_to_the_cent(tree, platform):
    book = price_book(tree["hq"])
    tiered = rule(book, "ecs.instance", "hours", "0", tiers=[{"up_to": "1", "unit_price": "1"},
                                                             {"up_to": None, "unit_price": "0.5"}])
    [line] = rating.rate_month(organization=tree["hq"], period=DAY, zone="UTC", book=book,
                               groups=[group(platform, sec=3 * 3600)])
    assert (line.rule, line.quantity, line.unit_price, line.amount) == (tiered, D(3), D("0.666667"), D("2.00"))
    assert [s["quantity"] for s in line.tiers] == ["1", "2.000000"]
    assert rating.rate_month(organization=tree["hq"], period=DAY, zone="UTC", book=None,
                             groups=[group(platform)]) == []
