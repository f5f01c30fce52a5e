"""Reads of the core app."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.core.errors import InvalidInput, NotFound
from apps.core.models import Operation
from apps.core.scoping import authorize, require, restrict


def organization_list(*, actor: Any, action: str) -> QuerySet:
    """Organizations in which ``actor`` may perform ``action``, through the one scoping path.

    Core knows the organization model only as the target of its tenant column."""
    model = Operation._meta.get_field("organization").related_model
    return restrict(model._default_manager.all(), actor, action)


def operation_organization(*, actor: Any, organization_id: Any = None):
    """The organization an operation is started in: the one asked for, or the first the actor may
    follow operations in; 403 when the actor may read there but not start work."""
    orgs = organization_list(actor=actor, action="core:operation:read")
    org = orgs.filter(pk=organization_id).first() if organization_id else orgs.order_by("path").first()
    if org is None:
        raise InvalidInput("Choose an organization you belong to.", detail={"organization": ["not found"]})
    require(actor, "core:operation:write", Operation(organization=org))
    return org


def operation_list(*, actor: Any, filters: dict[str, Any] | None = None):
    qs = Operation.objects.restrict(actor, "core:operation:read").select_related("actor")
    filters = filters or {}
    for field in ("kind", "status", "target_type", "target_id"):
        if filters.get(field):
            qs = qs.filter(**{field: filters[field]})
    return qs


def operation_get(*, actor: Any, operation_id: str) -> Operation:
    """One operation the actor may read; missing and invisible look the same (404)."""
    op = operation_list(actor=actor).filter(pk=operation_id).first()
    if op is None:
        raise NotFound("Operation not found.")
    return op


def operation_topic_org(user: Any, key: str) -> str | None:
    org_id = (
        Operation.objects.restrict(user, "core:operation:read").filter(pk=key)
        .values_list("organization_id", flat=True).first()
    )
    return str(org_id) if org_id else None


def activity_topic_org(user: Any, key: str) -> str | None:
    """``activity:platform`` is every organization's operations (platform-wide readers only);
    ``activity:<organization id>`` is one organization's."""
    from uuid import UUID

    from apps.core.realtime import PLATFORM

    if key == PLATFORM:
        return PLATFORM if getattr(user, "is_superuser", False) else None
    try:
        org_id = UUID(key)
    except ValueError:
        return None
    if not authorize(user, "core:operation:read", Operation(organization_id=org_id)):
        return None
    return str(org_id)


def activity_topics_for(user: Any, limit: int = 100) -> list[str]:
    """The activity topics that together cover every operation ``user`` may follow."""
    if getattr(user, "is_superuser", False):
        return ["activity:platform"]
    org_ids = organization_list(actor=user, action="core:operation:read").values_list("id", flat=True)
    return [f"activity:{org_id}" for org_id in sorted(map(str, org_ids))[:limit]]


def operation_summary(*, actor: Any) -> dict[str, Any]:
    """Counts for the home pages and wall screens: running now, finished today, hourly outcomes."""
    from datetime import timedelta

    from django.db.models import Count
    from django.db.models.functions import TruncHour
    from django.utils import timezone

    now = timezone.now()
    ops = operation_list(actor=actor)
    running = ops.filter(status__in=[Operation.Status.PENDING, Operation.Status.RUNNING]).count()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    finished_today = ops.filter(finished_at__gte=day_start).count()
    since = (now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    rows = (
        ops.filter(finished_at__gte=since).annotate(hour=TruncHour("finished_at"))
        .values("hour", "status").annotate(n=Count("id")).order_by()
    )
    hours = [since + timedelta(hours=i) for i in range(24)]
    succeeded = dict.fromkeys(hours, 0)
    failed = dict.fromkeys(hours, 0)
    for row in rows:
        target = succeeded if row["status"] == Operation.Status.SUCCEEDED else failed
        if row["hour"] in target:
            target[row["hour"]] += row["n"]
    return {
        "running_count": running,
        "finished_today": finished_today,
        "hourly": {
            "labels": [h.strftime("%H:00") for h in hours],
            "succeeded": list(succeeded.values()),
            "failed": list(failed.values()),
        },
    }
