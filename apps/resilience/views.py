"""Disaster-recovery pages, in the console and (for a tenant's own groups) the portal: protection groups
with RPO bars against the target and a form to protect by tag, a group with its members and plans (dry
run, run), a plan run with its steps live, and backups. Same selectors and services as the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.clouds.models import CloudPlatform, Region
from apps.core.errors import ApplicationError, InvalidInput, NotFound
from apps.core.pages import LIST_LIMIT, error_fields, posted
from apps.core.scoping import authorize, restrict
from apps.organizations.models import Organization
from apps.resilience import selectors, services
from apps.resilience.models import PlanRun, ProtectionGroup
from apps.resilience.statemachine import KINDS, allowed
from apps.resources.models import Resource

PLAN_LABELS = {"drill": "Drill", "switchover": "Switchover", "failover": "Failover", "switchback": "Switchback",
               "failback": "Failback"}


def _surface(request: HttpRequest) -> dict[str, str]:
    portal = request.resolver_match.namespace == "resilience-portal" if request.resolver_match else False
    return {"surface": "portal" if portal else "console", "base": "portal/base.html" if portal else
            "console/base.html", "ns": "resilience-portal" if portal else "resilience"}


def rpo_bar(rpo: float | None, target: int) -> dict[str, Any]:
    """Width (per cent of twice the target, so the target sits in the middle) and colour of an RPO bar."""
    if rpo is None:
        return {"width": 100, "color": "bg-secondary", "label": "no recovery point"}
    ratio = rpo / max(1, target)
    color = "bg-green" if ratio <= 0.5 else "bg-yellow" if ratio <= 1 else "bg-red"
    return {"width": max(2, min(100, round(ratio * 50))), "color": color, "label": f"{rpo:.0f} s"}


def _platforms(request: HttpRequest, orgs: list[Organization]) -> list[CloudPlatform]:
    """Platforms the user may read, and those where the organizations they see have resources."""
    readable = set(restrict(CloudPlatform.objects.all(), request.user, "clouds:platform:read")
                   .values_list("pk", flat=True)[:LIST_LIMIT])
    used = set(Resource.objects.filter(organization__in=orgs).values_list("platform_id", flat=True).distinct()[:100])
    return list(CloudPlatform.objects.filter(pk__in=readable | used).order_by("name"))


@login_required
def groups(request: HttpRequest) -> HttpResponse:
    ctx = _surface(request)
    orgs = list(restrict(Organization.objects.all(), request.user, "resilience:group:write").order_by("path")[:200])
    error: ApplicationError | None = None
    if request.method == "POST":
        try:
            group = _create(request, orgs)
            return redirect(reverse(f"{ctx['ns']}:group", args=[group.pk]))
        except ApplicationError as exc:
            error = exc
    rows = list(selectors.with_live_rpo(selectors.group_list(actor=request.user)).order_by("name")[:LIST_LIMIT])
    for g in rows:
        g.rpo_seconds = selectors.group_live_rpo(g)
        g.rpo_breached = selectors.group_live_breached(g, g.rpo_seconds)
        g.bar = rpo_bar(g.rpo_seconds, g.target_rpo_seconds)  # type: ignore[attr-defined]
        g.member_count = g.members.filter(state="joined").count()  # type: ignore[attr-defined]
    platforms = _platforms(request, orgs) if orgs else []
    regions = sorted(set(Region.objects.filter(platform__in=platforms).values_list("region_id", flat=True)))
    return render(request, "resilience/groups.html", {
        **ctx, "rows": rows, "orgs": orgs, "platforms": platforms, "regions": regions, "error": error,
        "fields": error_fields(error), "form": request.POST if error else {}},
        status=error.status if error else 200)


def _create(request: HttpRequest, orgs: list[Organization]) -> ProtectionGroup:
    org = next((o for o in orgs if str(o.pk) == posted(request, "organization")), None)
    if org is None:
        raise InvalidInput("Choose an organization.", detail={"organization": ["required"]})
    platforms = {str(p.pk): p for p in _platforms(request, [org])}
    primary = platforms.get(posted(request, "primary_platform"))
    secondary = platforms.get(posted(request, "secondary_platform") or posted(request, "primary_platform"))
    try:
        rpo = int(posted(request, "target_rpo_seconds") or 60)
        rto = int(posted(request, "target_rto_seconds") or 600)
    except ValueError:
        raise InvalidInput("Targets are whole seconds.", detail={"target_rpo_seconds": ["whole seconds"]}) from None
    group = services.group_create(
        actor=request.user, organization=org, name=posted(request, "name"), selection="tag",
        tag_key=posted(request, "tag_key"), tag_value=posted(request, "tag_value"),
        primary_platform=primary, primary_region=posted(request, "primary_region"),
        primary_zone=posted(request, "primary_zone"), secondary_platform=secondary,
        secondary_region=posted(request, "secondary_region"), secondary_zone=posted(request, "secondary_zone"),
        target_rpo_seconds=rpo, target_rto_seconds=rto, auto_join=request.POST.get("auto_join") == "on")
    return group


@login_required
def group_detail(request: HttpRequest, pk: str) -> HttpResponse:
    ctx = _surface(request)
    try:
        group = selectors.group_get(actor=request.user, pk=pk)
    except NotFound:
        raise Http404 from None
    group.rpo_seconds = selectors.group_live_rpo(group)
    group.rpo_breached = selectors.group_live_breached(group, group.rpo_seconds)
    members = list(group.members.select_related("resource").order_by("state", "resource_type", "name"))
    for m in members:
        m.live_rpo = selectors.live_rpo(m)  # type: ignore[attr-defined]
        m.bar = rpo_bar(m.live_rpo, group.target_rpo_seconds)  # type: ignore[attr-defined]
    runs = list(selectors.run_list(actor=request.user).filter(group=group)[:20])
    may_run = authorize(request.user, "resilience:plan:run", group)
    permitted = allowed(group.state)
    kinds = [{"kind": k, "label": PLAN_LABELS[k], "allowed": k in permitted} for k in KINDS]
    return render(request, "resilience/group.html", {
        **ctx, "group": group, "members": members, "runs": runs, "may_run": may_run, "kinds": kinds,
        "bar": rpo_bar(group.rpo_seconds, group.target_rpo_seconds),
        "active": next((r for r in runs if r.status in PlanRun.ACTIVE), None)})


@login_required
def run_detail(request: HttpRequest, pk: str) -> HttpResponse:
    ctx = _surface(request)
    run = selectors.run_list(actor=request.user).filter(pk=pk).first()
    if run is None:
        raise Http404
    steps = list(run.steps.select_related("operation").order_by("seq"))
    batches: dict[int, list[Any]] = {}
    for step in steps:
        batches.setdefault(step.batch, []).append(step)
    return render(request, "resilience/run.html", {
        **ctx, "run": run, "group": run.group, "batches": sorted(batches.items()),
        "may_approve": authorize(request.user, "resilience:plan:approve", run.group),
        "rpo_bar": rpo_bar(run.measured_rpo_seconds, run.group.target_rpo_seconds)})


@login_required
def backups(request: HttpRequest) -> HttpResponse:
    ctx = _surface(request)
    return render(request, "resilience/backups.html", {
        **ctx, "vaults": list(selectors.vault_list(actor=request.user)[:LIST_LIMIT]),
        "plans": list(selectors.backup_plan_list(actor=request.user)[:LIST_LIMIT]),
        "jobs": list(selectors.backup_job_list(actor=request.user).select_related("operation")[:50])})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The DR dashboard is a dashboard of the dashboards app (uid ``disaster-recovery``), fed by the widget
    queries registered here; until it exists, the groups page."""
    from apps.dashboards.models import Dashboard

    board = restrict(Dashboard.objects.filter(pk=DASHBOARD_UID), request.user, "dashboards:dashboard:read").first()
    if board is None:
        return redirect(reverse("resilience:groups"))
    return redirect(reverse("dashboards:view", args=[board.pk]))


DASHBOARD_UID = "disaster-recovery"
