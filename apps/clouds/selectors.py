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


def service_of(type_name: str, resource_type: str) -> str:
    """The catalog service a collected type belongs to: its listing's service, else the type's prefix."""
    from apps.clouds.adapters.extensions import listing

    found = listing(type_name, resource_type)
    return found.service if found is not None else resource_type.split(".", 1)[0]


def disabled_services(platform: CloudPlatform) -> set[str]:
    """The services switched off on the platform (not collected)."""
    from apps.clouds.models import PlatformService

    return set(PlatformService.objects.filter(platform=platform, enabled=False).values_list("service_id", flat=True))


def platform_collected_types(platform: CloudPlatform) -> list[str]:
    """The resource types a sync of the platform collects: its adapter's, less those of switched-off services."""
    from apps.clouds.adapters import adapter_class

    off = disabled_services(platform)
    return [t for t in adapter_class(platform.type).capabilities.resource_types
            if service_of(platform.type, t) not in off]


def platform_service_states(platform: CloudPlatform) -> list[dict[str, Any]]:
    """Per service of the platform's adapter: its name, the types collected and those that can be requested
    (created through the console), and whether it is switched on."""
    from apps.clouds.adapters import adapter_class
    from apps.clouds.catalog import type_name

    caps = adapter_class(platform.type).capabilities
    off = disabled_services(platform)
    names = dict(CloudService.objects.values_list("code", "name"))
    rows: dict[str, dict[str, Any]] = {}
    for code in caps.services:
        rows[code] = {"code": code, "name": caps.display_names.get(code) or names.get(code, code),
                      "collected": [], "requestable": [], "enabled": code not in off}
    for t in caps.resource_types:
        row = rows.setdefault(service_of(platform.type, t), {
            "code": service_of(platform.type, t), "name": names.get(service_of(platform.type, t), t),
            "collected": [], "requestable": [], "enabled": service_of(platform.type, t) not in off})
        row["collected"].append({"code": t, "name": type_name(t)})
        if "create" in caps.operations.get(t, ()):
            row["requestable"].append({"code": t, "name": type_name(t)})
    return sorted(rows.values(), key=lambda r: r["name"].lower())
