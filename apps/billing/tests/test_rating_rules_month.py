"""Rating's rules, continued: a month rated from the usage stored in the database (only the
organization's own records of that month, summed per group), rules handed in by the caller, a rule
that does not fit a group never hiding one that does, the cache of answers per platform, rounding of a
line's quantity and average price half up, lines without a project first, and the ties of creation
time in price books, rules and discounts broken the same way every time."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from apps.billing import rating
from apps.billing.models import Discount, PriceBook, PriceRule, UsageInterval, UsageRecord
from apps.billing.tests.factories import price_book, rule
from apps.billing.tests.test_rating_rules import DAY, group
from apps.resources.tests.factories import resource
from tests import factories as f

pytestmark = pytest.mark.django_db
D = Decimal


def usage(platform, org, *, days, seconds=3600, vcpu=2, project=None):
    """One running instance of ``org`` with ``seconds`` of usage recorded on each of ``days``."""
    vm = resource(platform, organization=org, project=project)
    interval = UsageInterval.objects.create(resource=vm, organization=org, project=project, platform=platform,
                                            region="cn-hangzhou", service="ecs", type="ecs.instance",
                                            sku="ecs.g6.large", state="running", vcpu=vcpu, start_s=0, end_s=1)
    for n, day in enumerate(days):
        UsageRecord.objects.create(interval=interval, resource=vm, organization=org, project=project,
                                   platform=platform, region="cn-hangzhou", service="ecs", type="ecs.instance",
                                   sku="ecs.g6.large", state="running", vcpu=vcpu, hour_s=n * 3600, day=day,
                                   seconds=seconds)
    return interval


# -- the month's usage read from the database ----------------------------------------------------------

def test_a_month_rated_without_given_groups_prices_only_its_organizations_records_of_that_month(people, platform):
    hq, other = people["hq"], people["other"]
    book = price_book(hq)
    hourly = rule(book, "ecs.instance", "hours", "1")
    usage(platform, hq, days=[dt.date(2026, 3, 1), dt.date(2026, 3, 31)], seconds=3600)
    usage(platform, hq, days=[dt.date(2026, 2, 28), dt.date(2026, 4, 1)], seconds=7200)
    usage(platform, other, days=[DAY], seconds=36000)
    [line] = rating.rate_month(organization=hq, period=DAY, zone="UTC", book=book)
    assert (line.rule, line.quantity, line.amount) == (hourly, D(2), D("2.00"))
    [line] = rating.rate_month(organization=other, period=DAY, zone="UTC", book=book)
    assert line.quantity == D(10)
    assert rating.rate_month(organization=hq, period=dt.date(2026, 5, 1), zone="UTC", book=book) == []


def test_the_groups_of_a_month_are_summed_per_organization_for_those_asked_or_all(people, platform):
    hq, other = people["hq"], people["other"]
    usage(platform, hq, days=[DAY, DAY], seconds=1800, vcpu=4)
    usage(platform, other, days=[DAY], seconds=600)
    usage(platform, other, days=[dt.date(2026, 4, 1)], seconds=600)
    everyone = rating.month_groups(period=DAY)
    assert set(everyone) == {hq.pk, other.pk}
    [mine] = everyone[hq.pk]
    assert (mine["organization_id"], mine["day"], mine["platform_id"], mine["type"], mine["sku"]) == (
        hq.pk, DAY, platform.pk, "ecs.instance", "ecs.g6.large")
    assert (mine["sec"], mine["vcpu_sec"]) == (3600, 4 * 3600)
    assert [g["sec"] for g in everyone[other.pk]] == [600]
    asked = rating.month_groups(period=DAY, organization_ids=[other.pk])
    assert set(asked) == {other.pk}
    assert [g["organization_id"] for g in asked[other.pk]] == [other.pk]
    nobody = rating.month_groups(period=DAY, organization_ids=[])
    assert dict(nobody) == {}
    assert nobody[hq.pk] == []


def test_a_bills_explained_usage_is_its_organizations_own_of_that_month(people, platform):
    hq, other = people["hq"], people["other"]
    usage(platform, hq, days=[dt.date(2026, 3, 1), dt.date(2026, 3, 31)], seconds=3600)
    usage(platform, hq, days=[dt.date(2026, 2, 28), dt.date(2026, 4, 1)], seconds=7200)
    usage(platform, other, days=[DAY], seconds=600)
    groups = rating.usage_groups(organization_id=hq.pk, first=dt.date(2026, 3, 1), following=dt.date(2026, 4, 1))
    assert sorted((g["day"], g["sec"]) for g in groups) == [(dt.date(2026, 3, 1), 3600), (dt.date(2026, 3, 31), 3600)]


# -- rules handed in, rules that do not fit -------------------------------------------------------------

def test_a_month_is_priced_by_the_rules_the_caller_read_for_it(people, platform):
    hq = people["hq"]
    book = price_book(hq)
    cheap = rule(book, "ecs.instance", "hours", "1")
    rule(book, "ecs.instance", "hours", "2")
    [line] = rating.rate_month(organization=hq, period=DAY, zone="UTC", book=book, groups=[group(platform)],
                               rules=[cheap])
    assert (line.rule, line.amount) == (cheap, D("2.00"))


@pytest.mark.parametrize("older", [{"sku": "ecs.c6.xlarge"}, {"region": "cn-beijing"}, {"platform": "other"},
                                   {"valid_to": dt.date(2026, 3, 1)}])
def test_an_older_rule_that_does_not_fit_the_group_never_hides_a_newer_one_that_does(people, platform, older):
    book = price_book(people["hq"])
    if older.get("platform") == "other":
        older = {"platform": f.platform(people["hq"], name="Other")}
    rule(book, "ecs.instance", "hours", "9", **older)
    fits = rule(book, "ecs.instance", "hours", "1")
    assert rating.RuleMatcher(book, people["hq"].ancestor_ids).rule_for(group(platform), "hours") == fits


def test_the_same_usage_on_another_platform_is_priced_by_that_platforms_rule(people, platform):
    book = price_book(people["hq"])
    other_platform = f.platform(people["hq"], name="Other")
    here = rule(book, "ecs.instance", "hours", "1", platform=platform)
    there = rule(book, "ecs.instance", "hours", "2", platform=other_platform)
    matcher = rating.RuleMatcher(book, people["hq"].ancestor_ids)
    assert matcher.rule_for(group(platform), "hours") == here
    assert matcher.rule_for(group(other_platform), "hours") == there


def test_a_dimension_with_no_usage_does_not_stop_the_groups_other_dimensions_being_priced(people, platform):
    book = price_book(people["hq"])
    rule(book, "ecs.instance", "vcpu_hours", "1")
    hourly = rule(book, "ecs.instance", "hours", "1")
    lines = rating.rate_month(organization=people["hq"], period=DAY, zone="UTC", book=book,
                              groups=[group(platform, sec=7200, vcpu_sec=0)])
    assert [(x.rule, x.quantity) for x in lines] == [(hourly, D(2))]


# -- rounding and order of a month's lines ---------------------------------------------------------------

def test_a_lines_quantity_rounds_half_up_to_the_millionth(people, platform):
    book = price_book(people["hq"])
    rule(book, "ecs.instance", "memory_gib_hours", "1000")
    # 1,152 MiB-seconds are 0.0003125 GiB-hours: half a millionth past 0.000312.
    [line] = rating.rate_month(organization=people["hq"], period=DAY, zone="UTC", book=book,
                               groups=[group(platform, mem_sec=1152)])
    assert (line.quantity, line.amount) == (D("0.000313"), D("0.31"))


def test_a_tiered_lines_average_price_rounds_half_up_to_the_millionth(people, platform):
    book = price_book(people["hq"])
    rule(book, "ecs.instance", "hours", "0", tiers=[{"up_to": "1", "unit_price": "1"},
                                                    {"up_to": None, "unit_price": "0.000001"}])
    [line] = rating.rate_month(organization=people["hq"], period=DAY, zone="UTC", book=book,
                               groups=[group(platform, sec=7200)])
    assert (line.quantity, line.unit_price, line.amount) == (D(2), D("0.500001"), D("1.00"))


def test_rules_given_without_a_book_round_their_lines_to_the_cent(people, platform):
    given = rule(price_book(people["hq"]), "ecs.instance", "hours", "0.3333")
    [line] = rating.rate_month(organization=people["hq"], period=DAY, zone="UTC", book=None,
                               groups=[group(platform, sec=3 * 3600)], rules=[given])
    assert line.amount == D("1.00")


def test_a_rules_line_without_a_project_comes_before_its_lines_of_projects(people, platform):
    book = price_book(people["hq"])
    hourly = rule(book, "ecs.instance", "hours", "1")
    first_id, last_id = uuid.UUID(int=1), uuid.UUID(int=2**128 - 1)
    lines = rating.rate_month(organization=people["hq"], period=DAY, zone="UTC", book=book,
                              groups=[group(platform, project_id=last_id), group(platform, project_id=None),
                                      group(platform, project_id=first_id)])
    assert [(x.rule, x.project_id) for x in lines] == [(hourly, None), (hourly, first_id), (hourly, last_id)]


# -- ties of creation time -------------------------------------------------------------------------------

def test_of_active_price_books_the_newest_is_used_and_a_tie_goes_to_the_greatest_id(people):
    hq = people["hq"]

    def book(pk):
        return PriceBook.objects.create(id=pk, organization=hq, name=pk, currency="CNY", is_active=True)

    older, newer = book("pbk-55555555555555555555"), book("pbk-00000000000000000000")
    assert rating.active_price_book() == newer
    # Made in the same instant: the greatest id, neither the first nor the last one made.
    greatest = book("pbk-ffffffffffffffffffff")
    book("pbk-88888888888888888888")
    PriceBook.objects.update(created_at=older.created_at)
    assert rating.active_price_book() == greatest


def test_book_rules_made_at_the_same_moment_come_in_id_order(people):
    book = price_book(people["hq"])
    second = rule(book, "ecs.instance", "hours", "2", id="prc-ffffffffffffffffffff")
    first = rule(book, "ecs.instance", "hours", "1", id="prc-00000000000000000000")
    PriceRule.objects.filter(pk=first.pk).update(created_at=second.created_at)
    assert rating.book_rules(book, []) == [first, second]


def test_the_newest_discount_wins_and_a_tie_goes_to_the_greatest_id(people):
    hq = people["hq"]
    first, following = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
    older = Discount.objects.create(id="dsc-55555555555555555555", organization=hq, percent=5)
    Discount.objects.create(id="dsc-00000000000000000000", organization=hq, percent=7)
    assert rating.discount_percent(hq.pk, first, following) == D(7)
    # Made in the same instant: the greatest id, neither the first nor the last one made.
    Discount.objects.create(id="dsc-ffffffffffffffffffff", organization=hq, percent=9)
    Discount.objects.create(id="dsc-88888888888888888888", organization=hq, percent=3)
    Discount.objects.update(created_at=older.created_at)
    assert rating.discount_percent(hq.pk, first, following) == D(9)
