"""Builders of quota objects for tests."""

from __future__ import annotations

from typing import Any

from apps.organizations.models import Project
from apps.quotas import services
from apps.quotas.models import QuotaRequest


def isolation_objects(org: Any) -> list[Any]:
    """A limit on ``org``, a reservation in one of its projects and a request for more."""
    project = Project.objects.create(organization=org, name=f"quota-{org.pk.hex[:8]}")
    limit = services.limit_set(actor=None, organization=org, dimension="ecs.instance", limit=10)
    reservation = services.quota_reserve(organization=org, project=project, resource_type="ecs.instance",
                                         amounts={"count": 1})

    request = QuotaRequest.objects.create(organization=org, project=project, dimension="ecs.instance",
                                          current_limit=10, requested_limit=20, reason="isolation")
    return [limit, reservation, request]
