"""Reads of quotas through ``restrict``: limits, the usage tree, what a project may still create,
reservations and quota requests. A missing and an invisible object are the same ``NotFound``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from apps.core.errors import NotFound
from apps.core.scoping import authorize, restrict
from apps.organizations.models import Organization, Project
from apps.provisioning.requests import APPROVE
from apps.quotas import approvals
from apps.quotas.dimensions import dimensions
from apps.quotas.models import QuotaLimit, QuotaRequest, Reservation

READ = "quotas:limit:read"


def limit_list(*, actor: Any) -> QuerySet[QuotaLimit]:
    return restrict(QuotaLimit.objects.select_related("organization", "project", "platform"), actor, READ)


def _get(qs: QuerySet, pk: Any) -> Any:
    try:
        return qs.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        return None


def limit_get(*, actor: Any, limit_id: Any) -> QuotaLimit:
    row = _get(limit_list(actor=actor), limit_id)
    if row is None:
        raise NotFound("Limit not found.")
    return row


def reservation_list(*, actor: Any) -> QuerySet[Reservation]:
    return restrict(Reservation.objects.select_related("organization", "project"), actor, "quotas:reservation:read")


def request_list(*, actor: Any) -> QuerySet[QuotaRequest]:
    """Requests the actor may read or approve, and their own."""
    visible = restrict(QuotaRequest.objects.all(), actor, "quotas:request:read").values("pk")
    approvable = restrict(QuotaRequest.objects.all(), actor, APPROVE).values("pk")
    mine = Q(requester_id=actor.pk) if getattr(actor, "is_authenticated", False) else Q(pk__in=[])
    return QuotaRequest.objects.select_related("organization", "project", "requester", "decided_by", "platform") \
        .filter(Q(pk__in=visible) | Q(pk__in=approvable) | mine)


def request_get(*, actor: Any, request_id: Any) -> QuotaRequest:
    row = _get(request_list(actor=actor), request_id)
    if row is None:
        raise NotFound("Quota request not found.")
    return row


def approval_queue(*, actor: Any, limit: int = 100) -> list[QuotaRequest]:
    """Waiting requests whose current level ``actor`` may decide now, oldest first."""
    candidates = restrict(QuotaRequest.objects.select_related("organization", "project", "requester", "policy"), actor,
                          APPROVE).filter(status=QuotaRequest.Status.PENDING).order_by("created_at", "id")
    out = []
    for row in candidates[:500]:
        if approvals.eligible(actor, row):
            row.waiting_for = approvals.waiting_for(row)
            out.append(row)
            if len(out) >= limit:
                break
    return out


def _row(lim: QuotaLimit) -> dict[str, Any]:
    return {"id": str(lim.pk), "dimension": lim.dimension, "dimension_name": dimensions().get(lim.dimension, ""),
            "platform": str(lim.platform_id) if lim.platform_id else None, "region": lim.region,
            "limit": lim.limit, "committed": lim.committed, "reserved": lim.reserved, "used": lim.used,
            "free": lim.free, "percent": lim.percent, "warning_percent": lim.warning_percent, "warning": lim.warning,
            "overcommit": lim.overcommit, "overcommit_factor": str(lim.overcommit_factor)}


def usage_tree(*, actor: Any, organization: Organization) -> dict[str, Any]:
    """``organization`` and everything below it that the actor may see, each node with its limits
    (limit, committed, reserved, used, free, warning) and its projects."""
    orgs = list(restrict(Organization.objects.filter(path__startswith=organization.path), actor,
                         "organizations:organization:read").order_by("path"))
    if not any(o.pk == organization.pk for o in orgs):
        orgs.insert(0, organization)
    ids = [o.pk for o in orgs]
    limits = list(limit_list(actor=actor).filter(organization_id__in=ids).order_by("dimension", "scope_key"))
    projects = list(Project.objects.filter(organization_id__in=ids).order_by("name", "id"))
    by_node: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for lim in limits:
        by_node.setdefault((lim.organization_id, lim.project_id), []).append(_row(lim))
    nodes: dict[Any, dict[str, Any]] = {}
    for org in orgs:
        nodes[org.pk] = {"kind": "organization", "id": str(org.pk), "name": org.name, "depth": org.depth,
                         "limits": by_node.get((org.pk, None), []), "projects": [], "children": []}
    for project in projects:
        nodes[project.organization_id]["projects"].append({
            "kind": "project", "id": str(project.pk), "name": project.name,
            "limits": by_node.get((project.organization_id, project.pk), [])})
    root = nodes[organization.pk]
    for org in orgs:
        if org.pk != organization.pk and org.parent_id in nodes:
            nodes[org.parent_id]["children"].append(nodes[org.pk])
    return root


def may_see_headroom(actor: Any, project: Project) -> bool:
    return authorize(actor, READ, QuotaLimit(organization_id=project.organization_id, project=project)) or \
        authorize(actor, "ecs:instance:create", project)


def headroom(*, project: Project, platform_id: Any = None, region: str = "") -> list[dict[str, Any]]:
    """What ``project`` may still create per dimension: the smallest free amount over every limit
    covering it from the root down, with the limit that binds."""
    org = project.organization
    ancestors = [p for p in org.path.split("/") if p]
    limits = QuotaLimit.objects.select_related("organization", "project") \
        .filter(organization_id__in=ancestors).filter(Q(project__isnull=True) | Q(project_id=project.pk)) \
        .filter(Q(platform__isnull=True) | Q(platform_id=platform_id)).filter(Q(region="") | Q(region=region or "")) \
        .order_by("depth", "id")
    best: dict[str, QuotaLimit] = {}
    for lim in limits:
        if lim.dimension not in best or lim.limit - lim.used < best[lim.dimension].limit - best[lim.dimension].used:
            best[lim.dimension] = lim
    names = dimensions()
    return [{"dimension": dim, "dimension_name": names.get(dim, dim), "limit": lim.limit, "used": lim.used,
             "free": max(lim.limit - lim.used, 0), "warning": lim.warning,
             "bound_by": lim.project.name if lim.project_id else lim.organization.name,
             "bound_by_organization": str(lim.organization_id),
             "bound_by_project": str(lim.project_id) if lim.project_id else None}
            for dim, lim in sorted(best.items())]


def quota_topic_org(user: Any, key: str) -> str | None:
    """``quota:<organization id>``: followed by whoever may read that organization's limits."""
    try:
        org = Organization.objects.filter(pk=key).first()
    except (ValueError, ValidationError):
        return None
    if org is None or not authorize(user, READ, QuotaLimit(organization=org)):
        return None
    return str(org.pk)
