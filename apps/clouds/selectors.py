"""Reads of the clouds app: platforms through ``restrict``, the shared catalog to every signed-in user."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from apps.clouds.models import CloudPlatform, CloudService, ResourceType, ServiceCategory
from apps.core.errors import NotFound
from apps.core.scoping import restrict

READ = "clouds:platform:read"


def platform_list(*, actor: Any, action: str = READ):
    return restrict(CloudPlatform.objects.select_related("organization"), actor, action)


def platform_get(*, actor: Any, platform_id: Any, action: str = READ) -> CloudPlatform:
    """One platform the actor may read; missing and invisible look the same (404)."""
    try:
        platform = platform_list(actor=actor, action=action).filter(pk=platform_id).first()
    except (ValueError, TypeError, ValidationError):
        platform = None
    if platform is None:
        raise NotFound("Cloud platform not found.")
    return platform


def platform_topic_org(user: Any, key: str) -> str | None:
    org_id = platform_list(actor=user).filter(pk=key).values_list("organization_id", flat=True).first()
    return str(org_id) if org_id else None


def catalog_tree() -> list[dict[str, Any]]:
    """Categories with their services and resource types, in three queries."""
    services: dict[str, list[dict[str, Any]]] = {}
    types: dict[str, list[dict[str, Any]]] = {}
    for t in ResourceType.objects.order_by("code"):
        types.setdefault(t.service_id, []).append({"code": t.code, "name": t.name, "collected": t.collected})
    for s in CloudService.objects.order_by("code"):
        services.setdefault(s.category_id, []).append({"code": s.code, "name": s.name, "api_code": s.api_code,
                                                       "billable": s.billable, "resource_types": types.get(s.code, [])})
    return [{"code": c.code, "name": c.name, "services": services.get(c.code, [])}
            for c in ServiceCategory.objects.all()]
