"""Console pages of monitoring and alerts. They read through the same selectors as the API; every
change is an API call made by the page's script, and the alert list and the header badge follow the
alert topics over the websocket."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.alerts import metrics, selectors, templating
from apps.alerts.models import Alert, AlertRule, ContactPoint, MessageTemplate
from apps.core.scoping import restrict
from apps.organizations.models import Organization


def _orgs(request: HttpRequest, action: str):
    return restrict(Organization.objects.all(), request.user, action).order_by("name").only("id", "name")[:200]


@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    return render(request, "alerts/alerts.html", {
        "silence_orgs": _orgs(request, "alerts:silence:write"), "states": Alert.State.choices})


@login_required
def alert_detail(request: HttpRequest, alert_id: str) -> HttpResponse:
    alert = selectors.alert_get(actor=request.user, alert_id=alert_id)
    history = alert.history.select_related("actor").order_by("-at", "-id")[:200]
    return render(request, "alerts/alert_detail.html", {"a": alert, "history": history})


@login_required
def rules(request: HttpRequest) -> HttpResponse:
    rows = (selectors.rule_list(actor=request.user)
            .annotate(firing_count=Count("alerts", filter=Q(alerts__state=Alert.State.FIRING)))
            .order_by("-created_at")[:500])
    return render(request, "alerts/rules.html", {
        "rows": rows, "orgs": _orgs(request, "alerts:rule:write"), "catalog": metrics.metric_catalog(),
        "metrics": sorted(metrics.known_metrics()), "event_types": AlertRule.EventType.choices,
        "collect_seconds": metrics.COLLECT_SECONDS})


@login_required
def silences(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = selectors.silence_list(actor=request.user).select_related("created_by").order_by("-created_at")[:500]
    return render(request, "alerts/silences.html", {"rows": rows, "now": now,
                                                    "orgs": _orgs(request, "alerts:silence:write")})


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    return render(request, "alerts/notifications.html", {
        "contact_points": selectors.contact_point_list(actor=request.user).order_by("name")[:200],
        "routes": selectors.route_list(actor=request.user).prefetch_related("contact_points")[:200],
        "templates": selectors.template_list(actor=request.user)[:200],
        "deliveries": selectors.delivery_list(actor=request.user).select_related("contact_point")
        .order_by("-created_at")[:50],
        "orgs": _orgs(request, "alerts:contact:write"), "kinds": ContactPoint.Kind.choices,
        "event_types": MessageTemplate.EventType.choices, "default_subject": templating.DEFAULT_SUBJECT,
        "default_body": templating.DEFAULT_BODY})


@login_required
def inspections(request: HttpRequest) -> HttpResponse:
    from apps.alerts.inspections import CHECKS

    runs = list(selectors.inspection_list(actor=request.user).select_related("organization")[:20])
    latest: dict = {}
    for run in runs:
        latest.setdefault(run.organization_id, run)
    return render(request, "alerts/inspections.html", {
        "latest": list(latest.values()), "runs": runs, "checks": CHECKS,
        "orgs": _orgs(request, "alerts:inspection:run")})


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    rows = selectors.inbox_list(actor=request.user)[:200]
    return render(request, "alerts/inbox.html", {"rows": rows})
