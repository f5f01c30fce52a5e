"""Quota pages: the console's usage tree per organization with limit editing and the queue of
requests for more; the portal's "what I may still create" per project with the form to ask for
more. Same selectors and services as the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.clouds.models import CloudPlatform
from apps.core.errors import ApplicationError, InvalidInput
from apps.core.pages import error_fields, is_uuid, posted
from apps.core.scoping import restrict
from apps.organizations.models import Organization, Project
from apps.quotas import selectors, services
from apps.quotas.dimensions import dimensions


def _int(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a whole number.", detail={field: ["a whole number"]}) from None


def _flatten(node: dict[str, Any], out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tree as rows in display order: each organization, then its projects, then its children."""
    out.append(node)
    for project in node["projects"]:
        out.append({**project, "depth": node["depth"] + 1, "organization_id": node["id"]})
    for child in node["children"]:
        _flatten(child, out)
    return out


def _bar(row: dict[str, Any]) -> dict[str, Any]:
    row["bar"] = "bg-red" if row["used"] >= row["limit"] else ("bg-orange" if row["warning"] else "bg-green")
    row["width"] = min(row["percent"], 100)
    return row


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    orgs = list(restrict(Organization.objects.all(), request.user, "quotas:limit:read").order_by("path")[:500])
    chosen = request.GET.get("organization") or request.POST.get("organization_view") or ""
    current = next((o for o in orgs if str(o.pk) == chosen), None) or (orgs[0] if orgs else None)
    error: ApplicationError | None = None
    notice = ""
    if request.method == "POST" and current is not None:
        try:
            notice = _post(request)
        except ApplicationError as exc:
            error = exc
    rows: list[dict[str, Any]] = []
    if current is not None:
        rows = _flatten(selectors.usage_tree(actor=request.user, organization=current), [])
        for row in rows:
            row["indent"] = row["depth"] - current.depth
            for lim in row["limits"]:
                _bar(lim)
    for o in orgs:
        o.indented = "\u00a0\u00a0" * o.depth + o.name  # type: ignore[attr-defined]
    nodes = [o for o in orgs if current is not None and o.path.startswith(current.path)]
    projects = Project.objects.filter(organization__in=nodes).select_related("organization").order_by("name")[:500]
    queue = selectors.approval_queue(actor=request.user)
    recent = selectors.request_list(actor=request.user).exclude(status="pending")[:20]
    platforms = restrict(CloudPlatform.objects.all(), request.user, "clouds:platform:read").order_by("name")[:100]
    return render(request, "quotas/overview.html", {
        "orgs": orgs, "current": current, "rows": rows, "dimensions": dimensions(), "nodes": nodes,
        "projects": projects, "platforms": platforms, "queue": queue, "recent": recent, "error": error,
        "fields": error_fields(error), "notice": notice, "form": request.POST if error else {}},
        status=error.status if error else 200)


def _post(request: HttpRequest) -> str:
    action = posted(request, "action")
    if action in ("grant", "deny"):
        row = selectors.request_get(actor=request.user, request_id=posted(request, "request"))
        services.quota_request_decide(actor=request.user, quota_request=row, verdict=action,
                                      comment=posted(request, "comment"))
        return f"Request {row.id} {'granted' if action == 'grant' else 'denied'}."
    node = posted(request, "node")
    org_id, _, project_id = node.partition(":")
    if not is_uuid(org_id):
        raise InvalidInput("Choose an organization or project.", detail={"node": ["required"]})
    org = restrict(Organization.objects.filter(pk=org_id), request.user, "quotas:limit:read").first()
    if org is None:
        raise InvalidInput("Choose an organization or project.", detail={"node": ["not found"]})
    project = Project.objects.filter(pk=project_id, organization=org).first() if is_uuid(project_id) else None
    platform = None
    if posted(request, "platform"):
        platform = restrict(CloudPlatform.objects.filter(pk=posted(request, "platform")), request.user,
                            "clouds:platform:read").first() if is_uuid(posted(request, "platform")) else None
        if platform is None:
            raise InvalidInput("Choose a platform.", detail={"platform": ["not found"]})
    factor = posted(request, "overcommit_factor") or "1"
    lim = services.limit_set(
        actor=request.user, organization=org, project=project, platform=platform, region=posted(request, "region"),
        dimension=posted(request, "dimension"), limit=_int(posted(request, "limit"), "limit"),
        warning_percent=_int(posted(request, "warning_percent") or "80", "warning_percent"),
        overcommit=request.POST.get("overcommit") == "on", overcommit_factor=factor,
        force=request.POST.get("force") == "on", reason=posted(request, "reason"))
    where = project.name if project else org.name
    return f"{where}: {dimensions().get(lim.dimension, lim.dimension)} limited to {lim.limit}."


def _my_projects(request: HttpRequest) -> list[Project]:
    return list(restrict(Project.objects.select_related("organization"), request.user, "ecs:instance:create")
                .order_by("name", "id")[:50])


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    projects = []
    for project in _my_projects(request):
        rows = [_bar({**r, "percent": (r["used"] * 100 // r["limit"]) if r["limit"] else 100})
                for r in selectors.headroom(project=project)]
        projects.append({"project": project, "rows": rows})
    error = None
    if request.GET.get("error"):
        error = request.GET.get("error", "")[:300]
    asked = {k: request.GET.get(k, "") for k in ("organization", "project", "dimension", "requested_limit")}
    return render(request, "quotas/mine.html", {
        "projects": projects, "requests": selectors.request_list(actor=request.user)
        .filter(requester_id=request.user.pk)[:50], "dimensions": dimensions(), "asked": asked, "error": error})


@login_required
@require_POST
def ask(request: HttpRequest) -> HttpResponse:
    """Ask for more: for the limit that binds (an organization's, or the project's own)."""
    org = Organization.objects.filter(pk=posted(request, "organization")).first() \
        if is_uuid(posted(request, "organization")) else None
    project = Project.objects.filter(pk=posted(request, "project"), organization=org).first() \
        if org is not None and is_uuid(posted(request, "project")) else None
    try:
        if org is None:
            raise InvalidInput("Choose where to ask.", detail={"organization": ["not found"]})
        services.quota_request_create(actor=request.user, organization=org, project=project,
                                      dimension=posted(request, "dimension"),
                                      requested_limit=_int(posted(request, "requested_limit"), "requested_limit"),
                                      reason=posted(request, "reason"))
    except ApplicationError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in error_fields(exc).items())
        return redirect(reverse("quotas-portal:mine") + "?" + _query(error=f"{exc.message} {detail}".strip()))
    return redirect(reverse("quotas-portal:mine") + "?" + _query(asked="1"))


def _query(**kw: str) -> str:
    from urllib.parse import urlencode

    return urlencode(kw)
