"""Rating: the usage records of an organization's month, priced by the active price book.

The records are aggregated by the database (one ``GROUP BY`` over the month: project, day,
platform, region, type, SKU, state), so the work in Python grows with the number of groups
(projects x days x kinds of resource), never with the number of records. Each group's dimensions are
priced by the most specific rule that matches it; a line is a rule's quantity in one project for
the month, priced through the rule's tiers, plus its fixed part, rounded to the currency's minor
unit (half up). The organization's discount is one more line. All arithmetic is ``Decimal``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, Sum

from apps.billing.metering import HOUR, zone_of
from apps.billing.models import Dimension, Discount, PriceBook, PriceRule, UsageInterval, UsageRecord

QUANTITY = Decimal("0.000001")
GIB_MIB = 1024
# What each dimension sums, as a multiple of seconds, and its unit on a bill line.
DIMENSIONS: dict[str, tuple[str, Decimal, str]] = {
    Dimension.HOURS: ("sec", Decimal(HOUR), "hour"),
    Dimension.VCPU_HOURS: ("vcpu_sec", Decimal(HOUR), "vCPU-hour"),
    Dimension.MEMORY_GIB_HOURS: ("mem_sec", Decimal(HOUR * GIB_MIB), "GiB-hour"),
    Dimension.STORAGE_GIB_HOURS: ("sto_sec", Decimal(HOUR), "GiB-hour"),
    Dimension.BANDWIDTH_MBPS_HOURS: ("bw_sec", Decimal(HOUR), "Mbps-hour"),
}
MONTH_UNITS = {"hour": "month", "vCPU-hour": "vCPU-month", "GiB-hour": "GiB-month", "Mbps-hour": "Mbps-month"}
# The service is the type's first word, so it is not a key of its own. The tag set only splits a
# line's daily charges (cost by tag), never the line.
GROUP_FIELDS = ("project_id", "day", "platform_id", "region", "type", "sku", "state", "tag_set_id")
SUMS = {"sec": Sum("seconds"), "vcpu_sec": Sum(F("vcpu") * F("seconds")),
        "mem_sec": Sum(F("memory_mib") * F("seconds")), "sto_sec": Sum(F("storage_gib") * F("seconds")),
        "bw_sec": Sum(F("bandwidth_mbps") * F("seconds"))}


def month_bounds(period: dt.date, zone: str) -> tuple[dt.date, dt.date, int, int]:
    """First day, first day of the next month, and their starts in epoch seconds in ``zone``."""
    first = period.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    tz = zone_of(zone)
    start = int(dt.datetime.combine(first, dt.time(), tz).timestamp())
    end = int(dt.datetime.combine(following, dt.time(), tz).timestamp())
    return first, following, start, end


def month_hours(period: dt.date, zone: str) -> Decimal:
    """Hours in the month where it is counted: 743 or 745 in a month with a daylight-saving change."""
    _, _, start, end = month_bounds(period, zone)
    return Decimal(end - start) / Decimal(HOUR)


def round_money(value: Decimal, quantum: Decimal) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def active_price_book() -> PriceBook | None:
    return PriceBook.objects.filter(is_active=True).order_by("-created_at", "-id").first()


def usage_groups(*, organization_id: Any, first: dt.date, following: dt.date, extra: Iterable[str] = ()
                 ) -> list[dict[str, Any]]:
    """The month's usage of an organization, summed by the database per group."""
    return list(
        UsageRecord.objects.filter(organization_id=organization_id, day__gte=first, day__lt=following)
        .values(*GROUP_FIELDS, *extra).order_by().annotate(**SUMS)
    )


def book_rules(book: PriceBook, organization_ids: Iterable[Any]) -> list[PriceRule]:
    """The rules of ``book`` for everyone or for one of ``organization_ids``, oldest first."""
    return list(PriceRule.objects.filter(price_book=book).filter(
        Q(organization__isnull=True) | Q(organization_id__in=list(organization_ids))).order_by("created_at", "id"))


class RuleMatcher:
    """Picks, for a group of usage and a dimension, the most specific valid rule of a price book
    (organization, then platform, region and SKU; a newer rule wins a tie)."""

    def __init__(self, book: PriceBook | None, organization_ids: list[str],
                 rules: list[PriceRule] | None = None):
        """``rules``: the book's rules already read (``book_rules``), when several organizations are
        rated at once; otherwise they are read here."""
        self.org_rank = {o: n + 1 for n, o in enumerate(organization_ids)}  # deeper ancestor ranks higher
        self.rules: dict[tuple[str, str], list[PriceRule]] = defaultdict(list)
        if book is not None and rules is None:
            rules = book_rules(book, organization_ids)
        for rule in rules or ():
            if rule.organization_id is None or str(rule.organization_id) in self.org_rank:
                self.rules[(rule.resource_type, rule.dimension)].append(rule)
        self.cache: dict[tuple, PriceRule | None] = {}

    def dimensions(self, resource_type: str) -> list[str]:
        return [d for (t, d) in self.rules if t == resource_type]

    def rule_for(self, group: dict[str, Any], dimension: str) -> PriceRule | None:
        key = (group["type"], dimension, group["sku"], str(group["platform_id"]), group["region"], group["day"],
               group["state"])
        if key in self.cache:
            return self.cache[key]
        best, best_score = None, None
        for rule in self.rules.get((group["type"], dimension), ()):
            if rule.sku and rule.sku != group["sku"]:
                continue
            if rule.platform_id and str(rule.platform_id) != str(group["platform_id"]):
                continue
            if rule.region and rule.region != group["region"]:
                continue
            if (rule.valid_from and group["day"] < rule.valid_from) or (rule.valid_to and group["day"] > rule.valid_to):
                continue
            score = (self.org_rank.get(str(rule.organization_id), 0) if rule.organization_id else 0,
                     bool(rule.platform_id), bool(rule.region), bool(rule.sku))
            if best_score is None or score >= best_score:
                best, best_score = rule, score
        if best is not None and group["state"] == "stopped" and not best.bill_stopped:
            best = None
        self.cache[key] = best
        return best


def dimension_quantity(group: dict[str, Any], dimension: str) -> Decimal:
    column, divisor, _ = DIMENSIONS[dimension]
    return Decimal(group[column] or 0) / divisor


def tiered(rule: PriceRule, quantity: Decimal) -> tuple[Decimal, list[dict[str, str]]]:
    """The variable amount of ``quantity`` under ``rule`` (unrounded) and how it fell into tiers."""
    if not rule.tiers:
        return quantity * rule.unit_price, []
    amount, below, steps = Decimal(0), Decimal(0), []
    for tier in rule.tiers:
        top = Decimal(str(tier["up_to"])) if tier.get("up_to") is not None else None
        price = Decimal(str(tier["unit_price"]))
        portion = (min(quantity, top) if top is not None else quantity) - below
        if portion > 0:
            amount += portion * price
            steps.append({"from": str(below), "to": str(top) if top is not None else None, "quantity": str(portion),
                          "unit_price": str(price), "amount": str(portion * price)})
        if top is None or quantity <= top:
            break
        below = top
    return amount, steps


@dataclass
class RatedLine:
    project_id: Any
    rule: PriceRule
    quantity: Decimal
    unit: str
    unit_price: Decimal
    fixed_amount: Decimal
    amount: Decimal
    tiers: list[dict[str, str]]
    charges: dict[tuple, Decimal]  # (day, platform, region, service, type, tag set) -> exact dimension quantity


def discount_percent(organization_id: Any, first: dt.date, following: dt.date) -> Decimal:
    return discount_percents([organization_id], first, following).get(organization_id, Decimal(0))


def discount_percents(organization_ids: Iterable[Any], first: dt.date, following: dt.date) -> dict[Any, Decimal]:
    """Each organization's discount valid for the whole month (the newest when several are)."""
    last = following - dt.timedelta(days=1)
    rows = (Discount.objects.filter(organization_id__in=list(organization_ids))
            .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=first))
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=last)).order_by("created_at", "id")
            .values_list("organization_id", "percent"))
    return dict(rows)  # the newest last, so it wins


MONTH_GROUPS_SQL = """
SELECT i.organization_id, i.project_id, r.day, i.platform_id, i.region, i.type, i.sku, i.state, i.tag_set_id,
       SUM(r.sec), SUM(i.vcpu * r.sec), SUM(i.memory_mib * r.sec), SUM(i.storage_gib * r.sec),
       SUM(i.bandwidth_mbps * r.sec)
FROM (SELECT interval_id, day, SUM(seconds) AS sec FROM billing_usagerecord
      WHERE day >= %s AND day < %s AND organization_id IS NOT NULL{organizations}
      GROUP BY interval_id, day) r
JOIN billing_usageinterval i ON i.id = r.interval_id
GROUP BY i.organization_id, i.project_id, r.day, i.platform_id, i.region, i.type, i.sku, i.state, i.tag_set_id
"""


GROUPING_MEMORY = "64MB"


def month_groups(*, period: dt.date, organization_ids: Iterable[Any] | None = None) -> dict[Any, list[dict[str, Any]]]:
    """Every organization's usage groups of a month in one statement: records carry their local day,
    so one day range is each organization's own month whatever its time zone.

    A record copies its interval's owner and shape, so the records are first summed per interval
    and day (one integer per row), and the shape's multiples (vCPU-, GiB-, Mbps-seconds) are taken
    from the interval once per day instead of once per hour."""
    first = period.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    day_field = UsageRecord._meta.get_field("day")
    org_field = UsageRecord._meta.get_field("organization")
    params: list[Any] = [day_field.get_db_prep_value(first, connection), day_field.get_db_prep_value(following,
                                                                                                     connection)]
    organizations = ""
    if organization_ids is not None:
        ids = [org_field.get_db_prep_value(o, connection) for o in organization_ids]
        if not ids:
            return defaultdict(list)
        organizations = f" AND organization_id IN ({', '.join(['%s'] * len(ids))})"
        params += ids
    interval = UsageInterval._meta
    project_field, platform_field = interval.get_field("project"), interval.get_field("platform")
    out: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The per-interval-day sums (a few hundred thousand for 10,000 resources) fit in memory as
            # a hash instead of being sorted on disk; only for this transaction.
            cursor.execute(f"SET LOCAL work_mem = '{GROUPING_MEMORY}'")
        cursor.execute(MONTH_GROUPS_SQL.format(organizations=organizations), params)
        for org, project, day, platform, region, rtype, sku, state, tag_set, *sums in cursor.fetchall():
            org = org_field.to_python(org)
            group = {"organization_id": org, "project_id": project_field.to_python(project), "day":
                     day_field.to_python(day), "platform_id": platform_field.to_python(platform), "region": region,
                     "type": rtype, "sku": sku, "state": state, "tag_set_id": tag_set}
            group.update(zip(SUMS, sums, strict=True))
            out[org].append(group)
    return out


def rate_month(*, organization: Any, period: dt.date, zone: str, book: PriceBook | None,
               groups: list[dict[str, Any]] | None = None, rules: list[PriceRule] | None = None
               ) -> list[RatedLine]:
    """The priced lines of ``organization``'s month (no writes), from its usage groups (summed here
    unless the caller summed every organization's at once) and the book's rules (read here unless
    given)."""
    first, following, _, _ = month_bounds(period, zone)
    matcher = RuleMatcher(book, organization.ancestor_ids, rules)
    hours_in_month = month_hours(first, zone)
    per_line: dict[tuple[Any, str], dict[tuple, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    rules: dict[str, PriceRule] = {}
    if groups is None:
        groups = month_groups(period=first, organization_ids=[organization.pk]).get(organization.pk, [])
    for group in groups:
        for dimension in matcher.dimensions(group["type"]):
            rule = matcher.rule_for(group, dimension)
            if rule is None:
                continue
            quantity = dimension_quantity(group, dimension)
            if not quantity:
                continue
            rules[rule.pk] = rule
            where = (group["day"], group["platform_id"], group["region"], group["type"].split(".")[0], group["type"],
                     group["tag_set_id"])
            per_line[(group["project_id"], rule.pk)][where] += quantity
    lines = []
    for (project_id, rule_id), charges in per_line.items():
        rule = rules[rule_id]
        exact = sum(charges.values(), Decimal(0))
        unit = DIMENSIONS[rule.dimension][2]
        if rule.unit == PriceRule.Unit.MONTH:
            exact = exact / hours_in_month
            charges = {k: v / hours_in_month for k, v in charges.items()}
            unit = MONTH_UNITS[unit]
        quantity = exact.quantize(QUANTITY, rounding=ROUND_HALF_UP)
        variable, steps = tiered(rule, quantity)
        amount = round_money(variable + rule.fixed_amount, book.quantum if book else Decimal("0.01"))
        unit_price = rule.unit_price if not steps else (variable / quantity).quantize(QUANTITY, ROUND_HALF_UP)
        lines.append(RatedLine(project_id, rule, quantity, unit, unit_price, rule.fixed_amount, amount, steps,
                               dict(charges)))
    lines.sort(key=lambda x: (x.rule.service, x.rule.resource_type, x.rule.dimension, x.rule.sku,
                              str(x.project_id or ""), x.rule.pk))
    return lines


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def days_in(period: dt.date) -> int:
    return calendar.monthrange(period.year, period.month)[1]
