"""Writes of billing: price books and rules, discounts, bills (rate, finalize, adjust), budgets,
and the hourly pass that meters, rates open months and checks budgets."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.billing import metering, rating
from apps.billing.models import (
    Bill,
    BillAdjustment,
    BillingProfile,
    BillingTagSet,
    BillLine,
    Budget,
    BudgetCrossing,
    Charge,
    Dimension,
    Discount,
    PriceBook,
    PriceRule,
    UsageRecord,
)
from apps.core.errors import Conflict, InvalidInput, Refused
from apps.core.events import emit
from apps.core.scoping import require
from apps.organizations.models import Organization

logger = logging.getLogger(__name__)
DEFAULT_THRESHOLDS = [50, 80, 100]
MAX_MONEY = Decimal("1e12")


def topic_of(organization_id: Any) -> str:
    return f"billing:{organization_id}"


# -- parsing ------------------------------------------------------------------------------------------

def _decimal(value: Any, field: str, errors: dict[str, list[str]], *, minimum: Decimal | None = Decimal(0),
             maximum: Decimal = MAX_MONEY) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        errors[field] = ["a decimal number"]
        return Decimal(0)
    if not number.is_finite() or (minimum is not None and number < minimum) or abs(number) > maximum:
        errors[field] = [f"a number from {minimum if minimum is not None else -maximum} to {maximum}"]
        return Decimal(0)
    return number


def _tiers(value: Any, errors: dict[str, list[str]]) -> list[dict[str, str | None]]:
    if value in (None, []):
        return []
    if not isinstance(value, list) or len(value) > 20:
        errors["tiers"] = ["a list of at most 20 {up_to, unit_price} steps"]
        return []
    clean: list[dict[str, str | None]] = []
    below = Decimal(0)
    for n, step in enumerate(value):
        if not isinstance(step, dict) or "unit_price" not in step:
            errors["tiers"] = [f"step {n + 1}: an object with up_to and unit_price"]
            return []
        price = _decimal(step["unit_price"], "tiers", errors)
        top = step.get("up_to")
        last = n == len(value) - 1
        if top is None:
            if not last:
                errors["tiers"] = ["only the last step may be open (up_to null)"]
                return []
        else:
            top_d = _decimal(top, "tiers", errors)
            if top_d <= below:
                errors["tiers"] = ["up_to must increase from step to step"]
                return []
            below = top_d
        if "tiers" in errors:
            return []
        clean.append({"up_to": None if top is None else str(Decimal(str(top))), "unit_price": str(price)})
    if clean and clean[-1]["up_to"] is not None:
        errors["tiers"] = ["the last step must be open (up_to null)"]
    return clean


def _date(value: Any, field: str, errors: dict[str, list[str]]) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors[field] = ["a date (YYYY-MM-DD)"]
        return None


def _raise(errors: dict[str, list[str]], what: str) -> None:
    if errors:
        raise InvalidInput(f"The {what} is not valid; see detail.", detail=errors)


# -- billing profile ---------------------------------------------------------------------------------

def profile_set(*, actor: Any, organization: Organization, time_zone: str) -> BillingProfile:
    """An organization's months are counted in ``time_zone`` (an IANA name) from the next rating on."""
    require(actor, "billing:bill:write", organization)
    if not isinstance(time_zone, str) or metering.zone_of(time_zone).key != time_zone:
        raise InvalidInput("Unknown time zone.", detail={"time_zone": ["an IANA time zone such as Europe/Berlin"]})
    profile, _ = BillingProfile.objects.update_or_create(organization=organization,
                                                          defaults={"time_zone": time_zone})
    return profile


def zone_for(organization_id: Any) -> str:
    return BillingProfile.objects.filter(organization_id=organization_id).values_list(
        "time_zone", flat=True).first() or "UTC"


# -- price books and rules ------------------------------------------------------------------------------

@transaction.atomic
def price_book_create(*, actor: Any, organization: Organization, name: str, currency: str, minor_unit: int = 2,
                      is_active: bool = False) -> PriceBook:
    require(actor, "billing:pricebook:write", organization)
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 128:
        errors["name"] = ["1 to 128 characters"]
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        errors["currency"] = ["a three-letter ISO 4217 code such as CNY"]
    if not isinstance(minor_unit, int) or isinstance(minor_unit, bool) or not 0 <= minor_unit <= 4:
        errors["minor_unit"] = ["0 to 4 digits"]
    _raise(errors, "price book")
    book = PriceBook.objects.create(organization=organization, name=name.strip(), currency=currency,
                                    minor_unit=minor_unit)
    if is_active:
        _activate(book)
    emit(organization, topic_of(organization.pk), {"event": "price_book_created", "id": book.pk, "name": book.name})
    return book


def _activate(book: PriceBook) -> None:
    PriceBook.objects.filter(is_active=True).exclude(pk=book.pk).update(is_active=False)
    PriceBook.objects.filter(pk=book.pk).update(is_active=True)
    book.is_active = True


@transaction.atomic
def price_book_activate(*, actor: Any, book: PriceBook) -> PriceBook:
    """Rating uses this book from now on (open months are priced by it when next rated)."""
    require(actor, "billing:pricebook:write", book)
    _activate(book)
    emit(book.organization_id, topic_of(book.organization_id), {"event": "price_book_activated", "id": book.pk})
    return book


RULE_FIELDS = ("service", "resource_type", "dimension", "sku", "platform", "region", "organization", "unit",
               "unit_price", "tiers", "fixed_amount", "bill_stopped", "valid_from", "valid_to", "description")


def _rule_values(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    resource_type = data.get("resource_type")
    if not isinstance(resource_type, str) or resource_type not in metering.METERED_TYPES:
        errors["resource_type"] = [f"one of {', '.join(metering.METERED_TYPES)}"]
        resource_type = ""
    dimension = data.get("dimension")
    if dimension not in Dimension.values:
        errors["dimension"] = [f"one of {', '.join(Dimension.values)}"]
    unit = data.get("unit", PriceRule.Unit.HOUR)
    if unit not in PriceRule.Unit.values:
        errors["unit"] = ["hour or month"]
    for field, limit in (("sku", 64), ("region", 64), ("description", 255)):
        if not isinstance(data.get(field, ""), str) or len(data.get(field, "")) > limit:
            errors[field] = [f"text of at most {limit} characters"]
    bill_stopped = data.get("bill_stopped", True)
    if not isinstance(bill_stopped, bool):
        errors["bill_stopped"] = ["true or false"]
    values = {
        "service": resource_type.split(".")[0], "resource_type": resource_type, "dimension": dimension,
        "sku": data.get("sku", "") or "", "platform": data.get("platform"), "region": data.get("region", "") or "",
        "organization": data.get("organization"), "unit": unit,
        "unit_price": _decimal(data.get("unit_price"), "unit_price", errors),
        "tiers": _tiers(data.get("tiers"), errors),
        "fixed_amount": _decimal(data.get("fixed_amount", 0), "fixed_amount", errors),
        "bill_stopped": bill_stopped,
        "valid_from": _date(data.get("valid_from"), "valid_from", errors),
        "valid_to": _date(data.get("valid_to"), "valid_to", errors),
        "description": data.get("description", "") or "",
    }
    if values["valid_from"] and values["valid_to"] and values["valid_to"] < values["valid_from"]:
        errors["valid_to"] = ["on or after valid_from"]
    _raise(errors, "rule")
    return values


@transaction.atomic
def price_rule_create(*, actor: Any, book: PriceBook, data: dict[str, Any]) -> PriceRule:
    """A rule of ``book``; ``data`` holds the fields of ``PriceRule`` (platform and organization as
    objects the caller has looked up)."""
    require(actor, "billing:pricebook:write", book)
    rule = PriceRule.objects.create(price_book=book, **_rule_values(data))
    emit(book.organization_id, topic_of(book.organization_id), {"event": "price_rule_created", "id": rule.pk})
    return rule


@transaction.atomic
def price_rule_update(*, actor: Any, rule: PriceRule, data: dict[str, Any]) -> PriceRule:
    """Change a rule; months already finalized keep the prices they were billed at (their lines
    copy them), open months take the change when rated again."""
    require(actor, "billing:pricebook:write", rule.price_book)
    current = {f: getattr(rule, f) for f in RULE_FIELDS}
    values = _rule_values({**current, **data})
    for k, v in values.items():
        setattr(rule, k, v)
    rule.save()
    emit(rule.price_book.organization_id, topic_of(rule.price_book.organization_id),
         {"event": "price_rule_updated", "id": rule.pk})
    return rule


@transaction.atomic
def price_rule_delete(*, actor: Any, rule: PriceRule) -> None:
    require(actor, "billing:pricebook:write", rule.price_book)
    if BillLine.objects.filter(rule=rule, bill__status=Bill.Status.FINALIZED).exists():
        raise Conflict("A finalized bill was priced by this rule; end its validity instead.",
                       code="rule_in_use")
    BillLine.objects.filter(rule=rule).delete()
    org_id = rule.price_book.organization_id
    rule_id = rule.pk
    rule.delete()
    emit(org_id, topic_of(org_id), {"event": "price_rule_deleted", "id": rule_id})


@transaction.atomic
def discount_create(*, actor: Any, organization: Organization, percent: Any, valid_from: Any = None,
                    valid_to: Any = None, description: str = "") -> Discount:
    require(actor, "billing:pricebook:write", organization)
    errors: dict[str, list[str]] = {}
    pct = _decimal(percent, "percent", errors, maximum=Decimal(100))
    start = _date(valid_from, "valid_from", errors)
    end = _date(valid_to, "valid_to", errors)
    if not isinstance(description, str) or len(description) > 255:
        errors["description"] = ["at most 255 characters"]
    _raise(errors, "discount")
    row = Discount.objects.create(organization=organization, percent=pct, valid_from=start, valid_to=end,
                                  description=description)
    emit(organization, topic_of(organization.pk), {"event": "discount_created", "id": row.pk})
    return row


# -- bills ------------------------------------------------------------------------------------------------

def period_of(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value.replace(day=1)
    try:
        return dt.date.fromisoformat(f"{value}-01" if len(str(value)) == 7 else str(value)).replace(day=1)
    except (ValueError, TypeError):
        raise InvalidInput("period is a month (YYYY-MM).", detail={"period": ["a month such as 2026-10"]}) from None


def bill_rate(*, actor: Any, organization: Organization, period: Any, now: dt.datetime | None = None,
              groups: list[dict[str, Any]] | None = None) -> Bill:
    """Price ``organization``'s month from its usage records: a new draft, or the open draft's lines
    replaced. A finalized month is refused (409): correct it with an adjustment. ``groups``: the
    month's usage groups when the caller summed them already."""
    require(actor, "billing:bill:write", organization)
    month = period_of(period)
    book = rating.active_price_book()
    if book is None:
        raise Refused("No price book is active.", code="no_price_book")
    given = {organization.pk: groups} if groups is not None else None
    return _rate_bills(organizations=[organization], month=month, book=book, now=now, groups=given,
                       refuse_final=True)[0]


CHARGE_COLUMNS = ("bill", "line", "organization", "project", "day", "platform", "region", "service",
                  "resource_type", "tags", "quantity", "amount")


def _insert_charges(charges: list[tuple[Any, ...]]) -> None:
    """Write daily charges in one statement per batch: there are a few hundred per bill and building
    a model object for each cost more than rating itself."""
    if not charges:
        return
    fields = [Charge._meta.get_field(name) for name in CHARGE_COLUMNS]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (f"INSERT INTO {connection.ops.quote_name(Charge._meta.db_table)} ({columns}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    prepared = [[None if value is None else field.get_db_prep_save(value, connection)
                 for field, value in zip(fields, row, strict=True)] for row in charges]
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


def bills_rate(*, actor: Any, period: Any, organizations: list[Organization],
               now: dt.datetime | None = None) -> list[Bill]:
    """Rate the month of each of ``organizations`` (finalized months are left as they are) from one
    aggregate over the month's usage records, writing every bill in one transaction."""
    month = period_of(period)
    for organization in organizations:
        require(actor, "billing:bill:write", organization)
    book = rating.active_price_book()
    if book is None:
        raise Refused("No price book is active.", code="no_price_book")
    return _rate_bills(organizations=organizations, month=month, book=book, now=now, groups=None, refuse_final=False)


def _rate_bills(*, organizations: list[Organization], month: dt.date, book: PriceBook, now: dt.datetime | None,
                groups: dict[Any, list[dict[str, Any]]] | None, refuse_final: bool) -> list[Bill]:
    """Rate ``organizations``' month in one transaction with a fixed number of statements, however
    many organizations: their bills made or locked at once, one aggregate (unless ``groups`` are
    given), the book's rules and the discounts read once, old lines and charges removed, new lines,
    charges and totals written in bulk. A finalized bill is refused (``refuse_final``) or skipped."""
    now = now or timezone.now()
    organizations = list({o.pk: o for o in organizations}.values())
    ids = [o.pk for o in organizations]
    zones = dict(BillingProfile.objects.filter(organization_id__in=ids).values_list("organization_id", "time_zone"))
    with transaction.atomic():
        have = set(Bill.objects.filter(organization_id__in=ids, period=month).values_list("organization_id", flat=True))
        if len(have) < len(ids):
            # A concurrent rating may make the same month's bill first: its row is kept.
            Bill.objects.bulk_create([Bill(organization=o, period=month, time_zone=zones.get(o.pk) or "UTC",
                                           currency=book.currency, price_book=book)
                                      for o in organizations if o.pk not in have], ignore_conflicts=True)
        existing = {b.organization_id: b for b in Bill.objects.select_for_update().filter(
            organization_id__in=ids, period=month)}
        final = {org_id for org_id, b in existing.items() if b.is_final}
        if final and refuse_final:
            raise Conflict("This month's bill is finalized; add an adjustment instead.", code="bill_finalized")
        todo = [o for o in organizations if o.pk not in final]
        if not todo:
            return []
        bills = [existing[o.pk] for o in todo]
        if groups is None:
            groups = rating.month_groups(period=month, organization_ids=[o.pk for o in todo])
        ancestors = {a for o in todo for a in o.ancestor_ids}
        rules = rating.book_rules(book, ancestors)
        first, following, _, _ = rating.month_bounds(month, "UTC")  # local dates: the same in every zone
        discounts = rating.discount_percents([o.pk for o in todo], first, following)
        Charge.objects.filter(bill__in=bills).delete()
        BillLine.objects.filter(bill__in=bills).delete()
        rated = {o.pk: rating.rate_month(organization=o, period=month, zone=zones.get(o.pk) or "UTC", book=book,
                                         groups=groups.get(o.pk, []), rules=rules) for o in todo}
        tag_ids = {key[5] for lines in rated.values() for line in lines for key in line.charges if key[5] is not None}
        tags = dict(BillingTagSet.objects.filter(pk__in=tag_ids).values_list("id", "tags")) if tag_ids else {}
        rows: list[BillLine] = []
        charges: list[tuple[Any, ...]] = []
        for organization, bill in zip(todo, bills, strict=True):
            pct = discounts.get(organization.pk, Decimal(0))
            keep = Decimal(1) - pct / Decimal(100)
            subtotal = Decimal(0)
            for line in rated[organization.pk]:
                rule = line.rule
                row = BillLine(
                    bill=bill, kind=BillLine.Kind.USAGE, project_id=line.project_id, rule=rule, service=rule.service,
                    resource_type=rule.resource_type, dimension=rule.dimension, sku=rule.sku,
                    description=rule.description or f"{rule.resource_type} {rule.get_dimension_display()}"
                    + (f" ({rule.sku})" if rule.sku else ""),
                    quantity=line.quantity, unit=line.unit, unit_price=line.unit_price,
                    fixed_amount=line.fixed_amount, amount=line.amount, tiers=line.tiers)
                rows.append(row)
                subtotal += line.amount
                exact = sum(line.charges.values(), Decimal(0))
                for (day, platform_id, region, service, resource_type, tag_set_id), quantity in line.charges.items():
                    share = (line.amount * quantity / exact * keep) if exact else Decimal(0)
                    charges.append((bill.pk, row.pk, organization.pk, line.project_id, day, platform_id, region,
                                    service, resource_type, tags.get(tag_set_id) or {},
                                    quantity.quantize(rating.QUANTITY), share.quantize(rating.QUANTITY)))
            discount = -rating.round_money(subtotal * pct / Decimal(100), book.quantum) if pct else Decimal(0)
            if discount:
                rows.append(BillLine(bill=bill, kind=BillLine.Kind.DISCOUNT, description=f"Discount {pct.normalize()}%",
                                     quantity=Decimal(1), unit="bill", unit_price=discount, amount=discount))
            bill.subtotal, bill.discount, bill.total = subtotal, discount, subtotal + discount
            bill.currency, bill.price_book, bill.time_zone = book.currency, book, zones.get(organization.pk) or "UTC"
            bill.rated_at = now
        BillLine.objects.bulk_create(rows, batch_size=500)
        _insert_charges(charges)
        Bill.objects.bulk_update(bills, ["subtotal", "discount", "total", "currency", "price_book", "time_zone",
                                         "rated_at"], batch_size=500)
        for bill in bills:
            emit(bill.organization_id, topic_of(bill.organization_id), {
                "event": "bill_rated", "id": bill.pk, "period": f"{month:%Y-%m}", "total": str(bill.total)})
    with_budgets = set(Budget.objects.filter(organization_id__in=[o.pk for o in todo])
                       .values_list("organization_id", flat=True).distinct())
    for organization in todo:
        if organization.pk in with_budgets:
            budgets_check(organization=organization, period=month, now=now)
    return bills


@transaction.atomic
def bill_finalize(*, actor: Any, bill: Bill) -> Bill:
    """Freeze a draft: from now on neither the bill nor its lines change (the database refuses it)."""
    require(actor, "billing:bill:write", bill)
    locked = Bill.objects.select_for_update().get(pk=bill.pk)
    if locked.is_final:
        raise Conflict("The bill is already finalized.", code="bill_finalized")
    locked.status, locked.finalized_at = Bill.Status.FINALIZED, timezone.now()
    locked.finalized_by = actor if getattr(actor, "pk", None) else None
    locked.save(update_fields=["status", "finalized_at", "finalized_by"])
    emit(locked.organization_id, topic_of(locked.organization_id),
         {"event": "bill_finalized", "id": locked.pk, "period": f"{locked.period:%Y-%m}", "total": str(locked.total)})
    return locked


@transaction.atomic
def bill_adjust(*, actor: Any, bill: Bill, amount: Any, reason: str) -> BillAdjustment:
    """A credit (negative) or debit on a finalized bill; the bill's own lines stay as finalized."""
    require(actor, "billing:bill:write", bill)
    errors: dict[str, list[str]] = {}
    value = _decimal(amount, "amount", errors, minimum=None)
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= 500:
        errors["reason"] = ["1 to 500 characters"]
    _raise(errors, "adjustment")
    bill = Bill.objects.select_for_update(of=("self",)).select_related("price_book").get(pk=bill.pk)
    if not bill.is_final:
        raise Conflict("A draft bill is corrected by rating it again; adjust it once finalized.",
                       code="bill_not_finalized")
    quantum = bill.price_book.quantum if bill.price_book else Decimal("0.01")
    if value == 0 or value != rating.round_money(value, quantum):
        raise InvalidInput("The amount is not valid; see detail.",
                           detail={"amount": [f"a non-zero amount in whole {quantum} units"]})
    row = BillAdjustment.objects.create(bill=bill, amount=value, reason=reason.strip(),
                                        actor=actor if getattr(actor, "pk", None) else None)
    emit(bill.organization_id, topic_of(bill.organization_id),
         {"event": "bill_adjusted", "id": bill.pk, "adjustment": row.pk, "amount": str(value)})
    return row


# -- budgets --------------------------------------------------------------------------------------------

@transaction.atomic
def budget_create(*, actor: Any, organization: Organization, name: str, amount: Any, project: Any = None,
                  thresholds: Any = None) -> Budget:
    require(actor, "billing:budget:write", organization)
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 128:
        errors["name"] = ["1 to 128 characters"]
    value = _decimal(amount, "amount", errors)
    if "amount" not in errors and value <= 0:
        errors["amount"] = ["more than zero"]
    marks = DEFAULT_THRESHOLDS if thresholds is None else thresholds
    if (not isinstance(marks, list) or not 1 <= len(marks) <= 10
            or not all(isinstance(t, int) and not isinstance(t, bool) and 1 <= t <= 1000 for t in marks)):
        errors["thresholds"] = ["1 to 10 whole percentages from 1 to 1000"]
    if project is not None and project.organization_id != organization.pk:
        errors["project"] = ["must belong to the organization"]
    _raise(errors, "budget")
    budget = Budget.objects.create(organization=organization, project=project, name=name.strip(), amount=value,
                                   thresholds=sorted(set(marks)))
    emit(organization, topic_of(organization.pk), {"event": "budget_created", "id": budget.pk})
    return budget


@transaction.atomic
def budget_delete(*, actor: Any, budget: Budget) -> None:
    require(actor, "billing:budget:write", budget)
    org_id, budget_id = budget.organization_id, budget.pk
    budget.delete()
    emit(org_id, topic_of(org_id), {"event": "budget_deleted", "id": budget_id})


def spend_of(bill: Bill | None, project_id: Any = None) -> Decimal:
    """What a month cost so far: the bill's total, or its project's share (after the discount)."""
    if bill is None:
        return Decimal(0)
    if project_id is None:
        adjustments = sum(bill.adjustments.values_list("amount", flat=True), Decimal(0))
        return bill.total + adjustments
    return sum(Charge.objects.filter(bill=bill, project_id=project_id).values_list("amount", flat=True), Decimal(0))


def elapsed_fraction(period: dt.date, zone: str, now: dt.datetime) -> Decimal:
    _, _, start, end = rating.month_bounds(period, zone)
    at = min(max(int(now.timestamp()), start), end)
    return Decimal(at - start) / Decimal(end - start)


def forecast_of(spend: Decimal, fraction: Decimal) -> Decimal:
    """Month-end spend if the month goes on as it went: spend over the elapsed share."""
    if fraction <= 0:
        return spend
    return spend / fraction


def budgets_check(*, organization: Organization, period: dt.date, now: dt.datetime | None = None
                  ) -> list[BudgetCrossing]:
    """Record and announce (topic ``billing:<organization>``) each threshold of each budget that the
    month's actual or forecast spend reached for the first time this month."""
    now = now or timezone.now()
    bill = Bill.objects.filter(organization=organization, period=period).first()
    zone = bill.time_zone if bill else zone_for(organization.pk)
    fraction = elapsed_fraction(period, zone, now)
    crossed = []
    for budget in Budget.objects.filter(organization=organization):
        actual = spend_of(bill, budget.project_id)
        for basis, spend in (("actual", actual), ("forecast", forecast_of(actual, fraction))):
            for threshold in budget.thresholds:
                if spend < budget.amount * Decimal(threshold) / Decimal(100):
                    continue
                try:
                    with transaction.atomic():
                        row = BudgetCrossing.objects.create(budget=budget, period=period, threshold=threshold,
                                                            basis=basis, spend=spend.quantize(Decimal("0.01")))
                except IntegrityError:
                    continue  # announced before
                crossed.append(row)
                emit(organization, topic_of(organization.pk), {
                    "event": "budget_crossed", "budget": budget.pk, "name": budget.name, "basis": basis,
                    "threshold": threshold, "period": f"{period:%Y-%m}", "spend": str(row.spend),
                    "amount": str(budget.amount), "project": str(budget.project_id) if budget.project_id else None})
    return crossed


# -- the hourly pass ------------------------------------------------------------------------------------

def billing_hourly(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Meter what changed without an event, rebuild the usage records from the last metered hour
    (the one the previous pass saw only in part) up to now, and rate every organization's open
    month (then check budgets). Interval changes are dated at or after the previous pass (the
    inventory dates them when it sees them), so older hours are final; ``meter_period`` over an
    older span rebuilds them on demand."""
    now = now or timezone.now()
    counts = metering.meter_reconcile(now=now)
    last = UsageRecord.objects.order_by("-hour_s").values_list("hour_s", flat=True).first()
    if last is None:
        since = dt.datetime.combine(now.date().replace(day=1) - dt.timedelta(days=1), dt.time(), dt.UTC)
    else:
        since = dt.datetime.fromtimestamp(last - metering.HOUR, dt.UTC)
    counts["records"] = metering.meter_period(start=since, end=now, now=now)
    if rating.active_price_book() is None:
        return counts
    recent = (now - dt.timedelta(days=2)).date()
    org_ids = set(UsageRecord.objects.filter(day__gte=recent, organization_id__isnull=False)
                  .values_list("organization_id", flat=True).distinct())
    by_month: dict[dt.date, list[Organization]] = defaultdict(list)
    for org in Organization.objects.filter(pk__in=org_ids):
        tz = metering.zone_of(zone_for(org.pk))
        # Just after midnight on the first, the month that ended gets its last hours rated too.
        for moment in {now, now - dt.timedelta(hours=2)}:
            by_month[moment.astimezone(tz).date().replace(day=1)].append(org)
    by_month = {month: list(dict.fromkeys(orgs)) for month, orgs in by_month.items()}
    rated = sum(len(bills_rate(actor=None, period=month, organizations=orgs, now=now))
                for month, orgs in by_month.items())
    counts["rated"] = rated
    return counts
