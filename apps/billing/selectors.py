"""Reads of billing: scoped lists, one object (missing and not visible are the same ``NotFound``),
"explain this line", a parent's roll-up and cost analysis over the daily charges."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncMonth
from django.utils import timezone

from apps.billing import rating
from apps.billing.metering import zone_of
from apps.billing.models import (
    Bill,
    BillAdjustment,
    BillingProfile,
    BillLine,
    Budget,
    BudgetCrossing,
    Charge,
    Discount,
    PriceBook,
    PriceRule,
    UsageInterval,
    UsageRecord,
)
from apps.core.errors import InvalidInput, NotFound
from apps.core.scoping import restrict
from apps.organizations.models import Organization

BILL_READ = "billing:bill:read"
COST_READ = "billing:cost:read"
PRICEBOOK_READ = "billing:pricebook:read"
BUDGET_READ = "billing:budget:read"
USAGE_READ = "billing:usage:read"


def _get(queryset: QuerySet, pk: Any, what: str) -> Any:
    try:
        row = queryset.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        row = None
    if row is None:
        raise NotFound(f"{what} not found.")
    return row


def bill_list(*, actor: Any) -> QuerySet[Bill]:
    return restrict(Bill.objects.all(), actor, BILL_READ)


def bill_get(*, actor: Any, bill_id: Any) -> Bill:
    return _get(bill_list(actor=actor), bill_id, "Bill")


def bill_lines(*, bill: Bill, project_id: Any = None) -> QuerySet[BillLine]:
    # Usage lines first, the discount last.
    lines = BillLine.objects.filter(bill=bill).select_related("project", "rule").order_by(
        "-kind", "service", "resource_type", "dimension", "sku", "project__name", "id")
    return lines.filter(project_id=project_id) if project_id else lines


def line_get(*, actor: Any, line_id: Any) -> BillLine:
    return _get(restrict(BillLine.objects.select_related("bill", "rule", "project"), actor, BILL_READ), line_id,
                "Bill line")


def adjustment_list(*, bill: Bill) -> QuerySet[BillAdjustment]:
    return BillAdjustment.objects.filter(bill=bill).select_related("actor")


def price_book_list(*, actor: Any) -> QuerySet[PriceBook]:
    return restrict(PriceBook.objects.all(), actor, PRICEBOOK_READ)


def price_book_get(*, actor: Any, book_id: Any) -> PriceBook:
    return _get(price_book_list(actor=actor), book_id, "Price book")


def price_rule_list(*, actor: Any) -> QuerySet[PriceRule]:
    return restrict(PriceRule.objects.select_related("price_book", "platform", "organization"), actor, PRICEBOOK_READ)


def price_rule_get(*, actor: Any, rule_id: Any) -> PriceRule:
    return _get(price_rule_list(actor=actor), rule_id, "Price rule")


def discount_list(*, actor: Any) -> QuerySet[Discount]:
    return restrict(Discount.objects.select_related("organization"), actor, PRICEBOOK_READ)


def budget_list(*, actor: Any) -> QuerySet[Budget]:
    return restrict(Budget.objects.select_related("organization", "project"), actor, BUDGET_READ)


def budget_get(*, actor: Any, budget_id: Any) -> Budget:
    return _get(budget_list(actor=actor), budget_id, "Budget")


def crossing_list(*, actor: Any) -> QuerySet[BudgetCrossing]:
    return restrict(BudgetCrossing.objects.select_related("budget", "budget__project"), actor, BUDGET_READ)


def interval_list(*, actor: Any) -> QuerySet[UsageInterval]:
    return restrict(UsageInterval.objects.all(), actor, USAGE_READ)


# -- explain ---------------------------------------------------------------------------------------------

def line_explain(*, line: BillLine) -> dict[str, Any]:
    """The rule behind a line and the usage intervals it priced, each with the seconds and the
    quantity it contributed in the bill's month (the same matching as rating)."""
    bill = line.bill
    first, following, _, _ = rating.month_bounds(bill.period, bill.time_zone)
    result: dict[str, Any] = {"line": line, "rule": line.rule, "intervals": [], "month_hours": str(
        rating.month_hours(bill.period, bill.time_zone))}
    if line.kind != BillLine.Kind.USAGE or line.rule is None:
        return result
    rule = line.rule
    matcher = rating.RuleMatcher(bill.price_book, bill.organization.ancestor_ids)
    groups = [g for g in rating.usage_groups(organization_id=bill.organization_id, first=first, following=following,
                                             extra=("interval_id",))
              if g["type"] == rule.resource_type and str(g["project_id"] or "") == str(line.project_id or "")]
    per_interval: dict[Any, dict[str, Decimal]] = defaultdict(lambda: {"seconds": Decimal(0), "quantity": Decimal(0)})
    for group in groups:
        if matcher.rule_for(group, rule.dimension) is None or matcher.rule_for(group, rule.dimension).pk != rule.pk:
            continue
        entry = per_interval[group["interval_id"]]
        entry["seconds"] += Decimal(group["sec"])
        entry["quantity"] += rating.dimension_quantity(group, rule.dimension)
    intervals = {i.pk: i for i in UsageInterval.objects.filter(pk__in=list(per_interval))}
    rows = []
    for pk, entry in per_interval.items():
        interval = intervals.get(pk)
        if interval is None:
            continue
        rows.append({"interval": interval, "seconds": int(entry["seconds"]),
                     "quantity": entry["quantity"].quantize(rating.QUANTITY)})
    rows.sort(key=lambda r: (r["interval"].resource_id, r["interval"].start_s))
    result["intervals"] = rows
    return result


# -- roll-up ---------------------------------------------------------------------------------------------

def bill_rollup(*, actor: Any, organization: Organization, period: dt.date) -> dict[str, Any]:
    """A parent's month: its own bill and those of every organization below it that the actor may
    read, with the sum (adjustments included)."""
    bills = list(bill_list(actor=actor).filter(organization__path__startswith=organization.path, period=period)
                 .select_related("organization").order_by("organization__path"))
    adjustments: dict[Any, Decimal] = defaultdict(Decimal)
    for bill_id, amount in BillAdjustment.objects.filter(bill__in=bills).values_list("bill_id", "amount"):
        adjustments[bill_id] += amount
    rows = [{"bill": b, "organization": b.organization, "total": b.total + adjustments[b.pk]} for b in bills]
    currencies = {b.currency for b in bills}
    return {"organization": organization, "period": period, "rows": rows,
            "currency": currencies.pop() if len(currencies) == 1 else "",
            "total": sum((r["total"] for r in rows), Decimal(0))}


# -- cost analysis ---------------------------------------------------------------------------------------

GROUPS = {
    "service": "service", "type": "resource_type", "platform": "platform__name", "region": "region",
    "organization": "organization__name", "project": "project__name", "tag": "tag_value", "day": "day",
    "month": "month",
}


NO_VALUE = {"project": "(no project)", "organization": "(unassigned)", "tag": "(untagged)"}
TAG_KEY_MAX = 128


def charge_list(*, actor: Any) -> QuerySet[Charge]:
    return restrict(Charge.objects.all(), actor, COST_READ)


def _parse_day(value: Any, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{field} is a date (YYYY-MM-DD).", detail={field: ["a date (YYYY-MM-DD)"]}) from None


def cost_filters(params: Any, today: dt.date | None = None) -> dict[str, Any]:
    """The window and narrowing of a cost query from request parameters (default: the last 30 days,
    today included)."""
    today = today or timezone.localdate()
    start = _parse_day(params.get("start"), "start") or today - dt.timedelta(days=29)
    end = _parse_day(params.get("end"), "end") or today + dt.timedelta(days=1)
    if end <= start or (end - start).days > 800:
        raise InvalidInput("end must come after start, at most 800 days later.", detail={"end": ["after start"]})
    group = params.get("group_by") or "service"
    if group not in GROUPS:
        raise InvalidInput("Unknown grouping.", detail={"group_by": [f"one of {', '.join(GROUPS)}"]})
    tag_key = params.get("tag_key") or ""
    if group == "tag" and not (isinstance(tag_key, str) and tag_key.strip() and len(tag_key) <= TAG_KEY_MAX):
        raise InvalidInput("Grouping by tag needs the tag's key.",
                           detail={"tag_key": [f"a tag key of 1 to {TAG_KEY_MAX} characters"]})
    return {"start": start, "end": end, "group_by": group, "organization": params.get("organization") or None,
            "project": params.get("project") or None, "service": params.get("service") or None,
            "tag_key": tag_key.strip() if group == "tag" else ""}


def cost_charges(*, actor: Any, start: dt.date, end: dt.date, group_by: str, organization: Any = None,
                 project: Any = None, service: Any = None, tag_key: str = "") -> tuple[QuerySet[Charge], str]:
    """The visible charges of a cost query and the column its grouping reads (``tag_value``: the
    value of the tag ``tag_key`` on the charged resources; ``month``: the day's month)."""
    qs = charge_list(actor=actor).filter(day__gte=start, day__lt=end)
    try:
        if organization:
            qs = qs.filter(organization_id=organization)
        if project:
            qs = qs.filter(project_id=project)
    except (ValueError, ValidationError):
        raise InvalidInput("Unknown organization or project.", detail={"organization": ["not found"]}) from None
    if service:
        qs = qs.filter(service=service)
    if group_by == "month":
        qs = qs.annotate(month=TruncMonth("day"))
    elif group_by == "tag":
        qs = qs.annotate(tag_value=KeyTextTransform(tag_key, "tags"))
    return qs, GROUPS[group_by]


def cost_rows(*, actor: Any, start: dt.date, end: dt.date, group_by: str, organization: Any = None,
              project: Any = None, service: Any = None, tag_key: str = "", limit: int = 1000
              ) -> list[dict[str, Any]]:
    """Spend in ``[start, end)`` per value of ``group_by``, largest first (by date for day/month)."""
    qs, column = cost_charges(actor=actor, start=start, end=end, group_by=group_by, organization=organization,
                              project=project, service=service, tag_key=tag_key)
    rows = qs.values(column).order_by().annotate(amount=Sum("amount"), quantity=Sum("quantity"))
    missing = NO_VALUE.get(group_by, "(none)")
    out = [{"key": (r[column].isoformat() if isinstance(r[column], dt.date) else (r[column] or missing)),
            "amount": (r["amount"] or Decimal(0)).quantize(Decimal("0.01"))} for r in rows]
    if group_by in ("day", "month"):
        out.sort(key=lambda r: r["key"])
    else:
        out.sort(key=lambda r: (-r["amount"], r["key"]))
    return out[:limit]


def cost_tag_keys(*, actor: Any, start: dt.date, end: dt.date) -> list[str]:
    """The tag keys on the resources charged in ``[start, end)`` that the actor may see."""
    sets = (charge_list(actor=actor).filter(day__gte=start, day__lt=end).values_list("tags", flat=True)
            .order_by().distinct())
    return sorted({str(key) for tags in sets if isinstance(tags, dict) for key in tags})


def cost_summary(*, actor: Any, now: dt.datetime | None = None, organization: Any = None) -> dict[str, Any]:
    """Month to date, the forecast for the month and last month, over what the actor may read."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    qs = charge_list(actor=actor)
    if organization:
        qs = qs.filter(organization_id=organization)
    per_org = dict(qs.filter(day__gte=first, day__lt=following).values_list("organization_id").order_by()
                   .annotate(s=Sum("amount")).values_list("organization_id", "s"))
    mtd = sum(per_org.values(), Decimal(0))
    last = qs.filter(day__gte=previous, day__lt=first).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    # Each organization's month runs in its own time zone: its spend so far over its share of the month.
    zones = dict(BillingProfile.objects.filter(organization_id__in=list(per_org)).values_list(
        "organization_id", "time_zone"))
    forecast = Decimal(0)
    elapsed = Decimal(0)
    for org_id, amount in per_org.items():
        zone = zones.get(org_id, "UTC")
        _, _, start_s, end_s = rating.month_bounds(first, zone)
        fraction = Decimal(min(max(int(now.timestamp()), start_s), end_s) - start_s) / Decimal(end_s - start_s)
        forecast += amount / fraction if fraction > 0 else amount
        elapsed = max(elapsed, fraction)
    if not per_org:
        _, _, start_s, end_s = rating.month_bounds(first, timezone.get_current_timezone_name())
        elapsed = Decimal(min(max(int(now.timestamp()), start_s), end_s) - start_s) / Decimal(end_s - start_s)
    currency = (PriceBook.objects.filter(is_active=True).values_list("currency", flat=True).first() or "")
    q = Decimal("0.01")
    return {"month_to_date": mtd.quantize(q), "forecast": forecast.quantize(q), "last_month": last.quantize(q),
            "currency": currency, "month": f"{first:%Y-%m}", "elapsed": elapsed.quantize(Decimal("0.0001"))}


def usage_record_list(*, actor: Any) -> QuerySet[UsageRecord]:
    return restrict(UsageRecord.objects.all(), actor, USAGE_READ)


def local_time(epoch_s: int | None, zone: str) -> dt.datetime | None:
    if epoch_s is None:
        return None
    return dt.datetime.fromtimestamp(epoch_s, zone_of(zone))


def billing_topic_org(user: Any, key: str) -> str | None:
    """``billing:<organization id>``: followed by whoever may read that organization's budgets."""
    from apps.core.scoping import authorize

    try:
        org = Organization.objects.filter(pk=key).first()
    except (ValueError, ValidationError):
        return None
    if org is None or not authorize(user, BUDGET_READ, org):
        return None
    return str(org.pk)
