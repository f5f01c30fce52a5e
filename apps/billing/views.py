"""Console pages of billing: cost analysis, bills (a bill, explain a line), price books and
budgets. Same selectors and services as the API; a refused action shows the service's words."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.billing import metering, selectors, services
from apps.billing.models import Bill, Dimension
from apps.core.errors import ApplicationError, NotFound
from apps.core.pages import error_fields, posted
from apps.core.pagination import page_of
from apps.core.scoping import authorize
from apps.organizations.selectors import organization_choices, organization_get, project_get, project_list


def _money(value: Any) -> str:
    return f"{Decimal(value):.2f}"


@login_required
def costs(request: HttpRequest) -> HttpResponse:
    error = ""
    try:
        filters = selectors.cost_filters(request.GET)
    except ApplicationError as exc:
        error, filters = exc.message, selectors.cost_filters({})
    rows = selectors.cost_rows(actor=request.user, **filters)
    daily = selectors.cost_rows(actor=request.user, **{**filters, "group_by": "day"})
    # The trend stacks the five largest groups by day; the rest is "other".
    top_keys = [r["key"] for r in rows[:5]] if filters["group_by"] not in ("day", "month") else []
    series: dict[str, dict[str, str]] = {}
    if top_keys:
        qs, column = selectors.cost_charges(actor=request.user, **filters)
        missing = selectors.NO_VALUE.get(filters["group_by"], "(none)")
        for r in qs.values("day", column).order_by().annotate(amount=Sum("amount")):
            key = r[column] or missing
            key = key if key in top_keys else "other"
            day = r["day"].isoformat()
            bucket = series.setdefault(key, {})
            bucket[day] = _money(Decimal(bucket.get(day, "0")) + r["amount"])
    top_projects = selectors.cost_rows(actor=request.user, **{**filters, "group_by": "project"})[:10]
    summary = selectors.cost_summary(actor=request.user)
    chart = {
        "days": [d["key"] for d in daily], "daily": [_money(d["amount"]) for d in daily],
        "series": [{"name": k, "data": [v.get(d["key"], "0") for d in daily]} for k, v in series.items()],
        "breakdown": [{"name": r["key"], "value": _money(r["amount"])} for r in rows[:12]],
        "forecast": _money(summary["forecast"]), "currency": summary["currency"],
    }
    total = sum((r["amount"] for r in rows), Decimal(0))
    query = request.GET.urlencode()
    return render(request, "billing/costs.html", {
        "filters": filters, "rows": rows, "total": total, "summary": summary, "chart": chart, "error": error,
        "groups": list(selectors.GROUPS), "top_projects": top_projects, "query": query,
        "tag_keys": selectors.cost_tag_keys(actor=request.user, start=filters["start"], end=filters["end"]),
        "group_label": f"tag {filters['tag_key']}" if filters["group_by"] == "tag" else filters["group_by"],
        "export_url": f"{reverse('billing-cost-export')}?{query}",
    })


@login_required
def bills(request: HttpRequest) -> HttpResponse:
    qs = selectors.bill_list(actor=request.user).select_related("organization")
    status = request.GET.get("status", "")
    if status in Bill.Status.values:
        qs = qs.filter(status=status)
    page = page_of(qs, request, ("-created_at", "-id"))
    return render(request, "billing/bills.html", {"page": page, "status": status})


def _bill_context(request: HttpRequest, bill: Bill, error: str = "") -> dict[str, Any]:
    lines = list(selectors.bill_lines(bill=bill))
    by_project: dict[str, Decimal] = {}
    for line in lines:
        if line.kind == "usage":
            name = line.project.name if line.project else "(no project)"
            by_project[name] = by_project.get(name, Decimal(0)) + line.amount
    adjustments = list(selectors.adjustment_list(bill=bill))
    has_children = bill.organization.children.exists()
    return {
        "bill": bill, "lines": lines, "adjustments": adjustments, "error": error,
        "by_project": sorted(by_project.items(), key=lambda kv: -kv[1]),
        "adjusted_total": bill.total + sum((a.amount for a in adjustments), Decimal(0)),
        "can_write": authorize(request.user, "billing:bill:write", bill),
        "rollup": selectors.bill_rollup(actor=request.user, organization=bill.organization, period=bill.period)
        if has_children else None,
    }


@login_required
def bill_detail(request: HttpRequest, bill_id: str) -> HttpResponse:
    bill = selectors.bill_get(actor=request.user, bill_id=bill_id)
    return render(request, "billing/bill_detail.html", _bill_context(request, bill))


@login_required
@require_POST
def bill_action(request: HttpRequest, bill_id: str) -> HttpResponse:
    bill = selectors.bill_get(actor=request.user, bill_id=bill_id)
    verb = posted(request, "action")
    try:
        if verb == "finalize":
            services.bill_finalize(actor=request.user, bill=bill)
        elif verb == "rate":
            services.bill_rate(actor=request.user, organization=bill.organization, period=bill.period)
        elif verb == "adjust":
            services.bill_adjust(actor=request.user, bill=bill, amount=posted(request, "amount"),
                                 reason=posted(request, "reason"))
        else:
            raise NotFound()
    except ApplicationError as exc:
        bill.refresh_from_db()
        return render(request, "billing/bill_detail.html", _bill_context(request, bill, exc.message),
                      status=exc.status)
    return redirect("billing:bill", bill_id=bill.pk)


@login_required
def line_explain(request: HttpRequest, bill_id: str, line_id: str) -> HttpResponse:
    bill = selectors.bill_get(actor=request.user, bill_id=bill_id)
    line = selectors.line_get(actor=request.user, line_id=line_id)
    if line.bill_id != bill.pk:
        raise NotFound("Bill line not found.")
    explained = selectors.line_explain(line=line)
    zone = bill.time_zone
    rows = [{"interval": r["interval"], "seconds": r["seconds"], "quantity": r["quantity"],
             "start": selectors.local_time(r["interval"].start_s, zone),
             "end": selectors.local_time(r["interval"].end_s, zone), "hours": Decimal(r["seconds"]) / 3600}
            for r in explained["intervals"]]
    total_quantity = sum((r["quantity"] for r in rows), Decimal(0))
    return render(request, "billing/explain.html", {"bill": bill, "line": line, "rule": explained["rule"],
                                                    "rows": rows, "month_hours": explained["month_hours"],
                                                    "total_quantity": total_quantity})


def _rule_form_data(request: HttpRequest) -> dict[str, Any]:
    data: dict[str, Any] = {k: posted(request, k) for k in (
        "resource_type", "dimension", "sku", "region", "unit", "unit_price", "fixed_amount", "valid_from",
        "valid_to", "description")}
    data["bill_stopped"] = request.POST.get("bill_stopped") == "on"
    data["fixed_amount"] = data["fixed_amount"] or "0"
    data["unit"] = data["unit"] or "hour"
    tiers_text = posted(request, "tiers")
    if tiers_text:
        # "100:0.5, :0.4" -- up_to:price steps, the last one open.
        steps = []
        for part in tiers_text.split(","):
            top, _, price = part.strip().partition(":")
            steps.append({"up_to": top.strip() or None, "unit_price": price.strip()})
        data["tiers"] = steps
    return data


@login_required
def price_books(request: HttpRequest) -> HttpResponse:
    books = list(selectors.price_book_list(actor=request.user).select_related("organization")[:100])
    chosen = request.GET.get("book") or request.POST.get("book") or next(
        (b.pk for b in books if b.is_active), books[0].pk if books else None)
    book = next((b for b in books if b.pk == chosen), None)
    error, fields, status = "", {}, 200
    if request.method == "POST" and book is not None:
        try:
            services.price_rule_create(actor=request.user, book=book, data=_rule_form_data(request))
            return redirect(f"{reverse('billing:price-books')}?book={book.pk}")
        except ApplicationError as exc:
            error, fields, status = exc.message, error_fields(exc), exc.status
    rules = list(selectors.price_rule_list(actor=request.user).filter(price_book=book)) if book else []
    discounts = list(selectors.discount_list(actor=request.user)[:100])
    return render(request, "billing/price_books.html", {
        "books": books, "book": book, "rules": rules, "discounts": discounts, "error": error, "fields": fields,
        "types": metering.METERED_TYPES, "dimensions": Dimension.choices, "form": request.POST,
        "can_write": book is not None and authorize(request.user, "billing:pricebook:write", book)}, status=status)


@login_required
def budgets(request: HttpRequest) -> HttpResponse:
    error, fields, status = "", {}, 200
    if request.method == "POST":
        try:
            org = organization_get(actor=request.user, organization_id=posted(request, "organization") or None)
            project = None
            if posted(request, "project"):
                project = project_get(actor=request.user, project_id=posted(request, "project"))
            marks = [int(t) for t in posted(request, "thresholds").replace(" ", "").split(",") if t.isdigit()]
            services.budget_create(actor=request.user, organization=org, project=project, name=posted(request, "name"),
                                   amount=posted(request, "amount"), thresholds=marks or None)
            return redirect("billing:budgets")
        except ApplicationError as exc:
            error, fields, status = exc.message, error_fields(exc), exc.status
    today = dt.date.today()
    period = today.replace(day=1)
    rows = []
    for budget in selectors.budget_list(actor=request.user)[:200]:
        bill = Bill.objects.filter(organization_id=budget.organization_id, period=period).first()
        zone = bill.time_zone if bill else services.zone_for(budget.organization_id)
        actual = services.spend_of(bill, budget.project_id)
        forecast = services.forecast_of(actual, services.elapsed_fraction(period, zone, timezone.now()))
        rows.append({"budget": budget, "actual": actual, "forecast": forecast,
                     "actual_pct": min(100, int(actual * 100 / budget.amount)),
                     "forecast_pct": min(100, int(forecast * 100 / budget.amount))})
    crossings = list(selectors.crossing_list(actor=request.user)[:50])
    topics = sorted({f"billing:{r['budget'].organization_id}" for r in rows})
    return render(request, "billing/budgets.html", {
        "rows": rows, "crossings": crossings, "period": period, "topics": topics, "error": error, "fields": fields,
        "form": request.POST,
        "organizations": organization_choices(actor=request.user, action="billing:budget:write"),
        "projects": list(project_list(actor=request.user).order_by("organization__name", "name")[:200]),
    }, status=status)


@login_required
def portal_costs(request: HttpRequest) -> HttpResponse:
    """The tenant's view: this month so far, the forecast, spend by project and the bills of the
    organizations the person may read."""
    filters = selectors.cost_filters({"group_by": "project"})
    return render(request, "billing/portal_costs.html", {
        "summary": selectors.cost_summary(actor=request.user),
        "projects": selectors.cost_rows(actor=request.user, **filters)[:20],
        "bills": list(selectors.bill_list(actor=request.user).select_related("organization")[:24]),
    })
