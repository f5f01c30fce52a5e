"""Portal pages (catalog -> request form -> timeline with live progress; my resources with actions)
and console pages (approval queue, change records, schedules, topology). Pages read through the
same selectors as the API; every action is an API call made by the page's script."""

from __future__ import annotations

import json
from dataclasses import replace

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.clouds.adapters.base import CloudCallError
from apps.clouds.models import CloudPlatform
from apps.core.pages import searched
from apps.core.pagination import Page, page_of
from apps.organizations.models import Project
from apps.provisioning import offers, requests, selectors
from apps.resources.selectors import resource_list

# The catalog names a few of the projects each cloud serves you; the request form searches them all.
CATALOG_PROJECTS = 6


def _active_platforms():
    return CloudPlatform.objects.filter(is_active=True).select_related("organization")


@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    platforms = []
    for platform in _active_platforms()[:100]:
        named = list(selectors.project_choices(actor=request.user, platform=platform)
                     .order_by("name", "id")[:CATALOG_PROJECTS + 1])
        if named:
            platforms.append((platform, named[:CATALOG_PROJECTS], len(named) > CATALOG_PROJECTS))
    return render(request, "provisioning/catalog.html", {"platforms": platforms})


def _project_options(request: HttpRequest, platform: CloudPlatform) -> Page:
    """A page of the projects the request form offers on ``platform``, searched by ``?q=``."""
    projects = selectors.project_choices(actor=request.user, platform=platform)
    q = searched(request)
    if q:
        projects = projects.filter(Q(name__icontains=q) | Q(organization__name__icontains=q))
    page = page_of(projects, request, ("name", "id"))
    return replace(page, rows=[(p.pk, f"{p.name} ({p.organization.name})") for p in page.rows])


def _usable_platform(request: HttpRequest, platform_id: str) -> CloudPlatform:
    """An active platform serving at least one project the user may provision in, else 404."""
    platform = _active_platforms().filter(pk=platform_id).first()
    if platform is None or not selectors.project_choices(actor=request.user, platform=platform).exists():
        raise Http404
    return platform


@login_required
def request_form_projects(request: HttpRequest, platform_id: str) -> HttpResponse:
    """The options of the request form's project picker, as the user types."""
    options = _project_options(request, _usable_platform(request, platform_id))
    return render(request, "partials/picker_options.html", {"options": options})


@login_required
def request_form(request: HttpRequest, platform_id: str) -> HttpResponse:
    platform = _usable_platform(request, platform_id)
    projects = _project_options(request, platform)
    region = request.GET.get("region") or platform.default_region
    form = offers.catalog_offers(platform, region)
    error = ""
    try:
        form.update(offers.cloud_offers(platform, region))
    except CloudCallError as exc:
        error = f"The cloud cannot be reached ({exc.code}); the form is incomplete."
        form.update(images=[], vswitches=[], security_groups=[])
    return render(request, "provisioning/request_form.html", {
        "platform": platform, "region": region, "form": form, "projects": projects, "error": error,
        "form_json": json.dumps({"vswitches": form["vswitches"], "security_groups": form["security_groups"]})})


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.request_list(actor=request.user).select_related("project", "platform", "requester")[:100]
    return render(request, "provisioning/requests.html", {"rows": rows})


@login_required
def request_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    row = selectors.request_get(actor=request.user, request_id=request_id)
    changes = list(row.changes.select_related("operation", "resource").order_by("name"))
    return render(request, "provisioning/request_detail.html", {
        "r": row, "changes": changes, "events": row.events.select_related("actor"),
        "can_decide": requests.eligible(request.user, row)})


@login_required
def my_resources(request: HttpRequest) -> HttpResponse:
    rows = resource_list(actor=request.user).filter(type="ecs.instance", deleted=False, project__isnull=False) \
        .select_related("platform")[:200]
    types = sorted({(f["code"], f["vcpu"], f["memory_mib"]) for r in rows[:1] for f in
                    offers.catalog_offers(r.platform, r.region)["instance_types"]})
    return render(request, "provisioning/my_resources.html", {"rows": rows, "types": types})


@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    rows = list(selectors.approval_queue(actor=request.user).select_related("project", "platform", "requester")[:100])
    for row in rows:
        row.can_decide = requests.eligible(request.user, row)
    recent = selectors.request_list(actor=request.user).exclude(status="pending").select_related(
        "project", "requester")[:20]
    return render(request, "provisioning/approvals.html", {"rows": rows, "recent": recent})


@login_required
def changes(request: HttpRequest) -> HttpResponse:
    rows = selectors.change_list(actor=request.user).select_related("actor", "operation")[:200]
    return render(request, "provisioning/changes.html", {"rows": rows})


@login_required
def schedules(request: HttpRequest) -> HttpResponse:
    rows = selectors.schedule_list(actor=request.user).select_related("resource", "created_by")[:200]
    return render(request, "provisioning/schedules.html", {"rows": rows})


@login_required
def topology(request: HttpRequest) -> HttpResponse:
    projects = Project.objects.filter(pk__in=resource_list(actor=request.user).filter(deleted=False)
                                      .values("project_id")).order_by("name")[:200]
    return render(request, "provisioning/topology.html", {
        "projects": projects, "resource": request.GET.get("resource", ""), "project": request.GET.get("project", "")})
