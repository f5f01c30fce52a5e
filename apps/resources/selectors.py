"""Reads of the inventory: resources through ``restrict``, their relations, and usage statistics."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet, Sum

from apps.core.errors import InvalidInput, NotFound
from apps.core.scoping import restrict
from apps.resources.models import Resource, ResourceRelation

READ = "resources:resource:read"
USAGE_DIMENSIONS = {
    "platform": "platform_id", "region": "region", "zone": "zone", "service": "service", "type": "type",
    "status": "status", "organization": "organization_id", "project": "project_id",
}


def resource_list(*, actor: Any, action: str = READ) -> QuerySet:
    return restrict(Resource.objects.all(), actor, action)


def resource_get(*, actor: Any, resource_id: Any) -> Resource:
    try:
        row = resource_list(actor=actor).select_related("platform").filter(pk=resource_id).first()
    except (ValueError, TypeError, ValidationError):
        row = None
    if row is None:
        raise NotFound("Resource not found.")
    return row


def resource_topic_org(user: Any, key: str) -> str | None:
    row = resource_list(actor=user).filter(pk=key).values_list("organization_id", flat=True)
    if not row.exists():
        return None
    org_id = row.first()
    return str(org_id) if org_id else ""


def resource_relations(*, actor: Any, resource: Resource) -> dict[str, list[dict[str, Any]]]:
    """Edges out of and into ``resource``; the other end is shown only when the actor may read it."""
    outgoing = list(ResourceRelation.objects.filter(source=resource))
    incoming = list(ResourceRelation.objects.filter(platform_id=resource.platform_id, target_type=resource.type,
                                                    target_external_id=resource.external_id).select_related("source"))
    wanted = {(r.target_type, r.target_external_id) for r in outgoing}
    targets: dict[tuple[str, str], Resource] = {}
    if wanted:
        rows = resource_list(actor=actor).filter(platform_id=resource.platform_id,
                                                 external_id__in=[e for _t, e in wanted])
        targets = {(r.type, r.external_id): r for r in rows.only("id", "type", "external_id", "name", "status",
                                                                 "deleted")}
    visible_sources = set(resource_list(actor=actor).filter(pk__in=[r.source_id for r in incoming])
                          .values_list("id", flat=True)) if incoming else set()

    def card(row: Resource | None, type_: str, external_id: str) -> dict[str, Any]:
        return {"type": type_, "external_id": external_id, "id": row.id if row else None,
                "name": row.name if row else "", "status": row.status if row else "",
                "deleted": row.deleted if row else None}

    return {
        "outgoing": [{"kind": r.kind, **card(targets.get((r.target_type, r.target_external_id)), r.target_type,
                                             r.target_external_id)} for r in outgoing],
        "incoming": [{"kind": r.kind, **card(r.source, r.source.type, r.source.external_id)}
                     for r in incoming if r.source_id in visible_sources],
    }


def usage(*, queryset: QuerySet, group_by: list[str]) -> list[dict[str, Any]]:
    """Counts and capacity in use (vCPU, memory, storage) of live resources, grouped by ``group_by``."""
    unknown = [g for g in group_by if g not in USAGE_DIMENSIONS]
    if unknown or not group_by or len(group_by) > 3:
        raise InvalidInput("group_by takes 1 to 3 of: " + ", ".join(USAGE_DIMENSIONS),
                           detail={"group_by": unknown or ["1 to 3 dimensions"]})
    columns = [USAGE_DIMENSIONS[g] for g in group_by]
    rows = (queryset.filter(deleted=False).values(*columns)
            .annotate(count=Count("id"), vcpu=Sum("vcpu"), memory_mib=Sum("memory_mib"),
                      storage_gib=Sum("storage_gib"))
            .order_by("-count", *columns)[:1000])
    out = []
    for row in rows:
        item = {g: (str(row[c]) if row[c] is not None else None) for g, c in zip(group_by, columns, strict=True)}
        item.update({"count": row["count"], "vcpu": row["vcpu"] or 0, "memory_mib": row["memory_mib"] or 0,
                     "storage_gib": row["storage_gib"] or 0})
        out.append(item)
    _label(out, group_by)
    return out


def _label(rows: list[dict[str, Any]], group_by: list[str]) -> None:
    from apps.clouds.models import CloudPlatform
    from apps.organizations.models import Organization, Project

    for dim, model in (("platform", CloudPlatform), ("organization", Organization), ("project", Project)):
        if dim not in group_by:
            continue
        ids = {r[dim] for r in rows if r[dim]}
        names = {str(pk): name for pk, name in model.objects.filter(pk__in=ids).values_list("pk", "name")}
        for r in rows:
            r[f"{dim}_name"] = names.get(r[dim], "(unassigned)" if r[dim] is None else "")
