"""Cloud platforms' dashboard queries (contract: ``apps.core.widgets``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from apps.clouds.models import CloudPlatform
from apps.core.widgets import QueryScope, WidgetQuery, categories_of, register_query

READ = "clouds:platform:read"


def platforms_by_health(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    rows = (scope.restrict(CloudPlatform.objects.filter(is_active=True), READ)
            .values("health").annotate(n=Count("id")).order_by())
    return categories_of(rows, "health")


def platforms_healthy(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    """Healthy active platforms of those whose health was checked; ``unknown`` counts, apart, the
    platforms never checked yet, which are not down and must not lower the gauge as if they were."""
    rows = (scope.restrict(CloudPlatform.objects.filter(is_active=True), READ)
            .values("health").annotate(n=Count("id")).order_by())
    counts = {row["health"]: row["n"] for row in rows}
    unknown = counts.pop(CloudPlatform.Health.UNKNOWN, 0)
    return {"value": counts.get(CloudPlatform.Health.HEALTHY, 0), "total": sum(counts.values()), "unknown": unknown}


def platforms_table(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    rows = scope.restrict(CloudPlatform.objects.filter(is_active=True), READ).order_by("name").values_list(
        "name", "type", "default_region", "health", "last_synced_at")[:50]
    return {"columns": ["Platform", "Type", "Region", "Health", "Last sync"],
            "rows": [[n, t, r, h, s.strftime("%Y-%m-%d %H:%M") if s else "never"] for n, t, r, h, s in rows]}


def register() -> None:
    topics = ("sync",)
    for query in (
        WidgetQuery("clouds.platforms_by_health", "Cloud platforms by health", "categories", platforms_by_health,
                    topics=topics, permission=READ),
        WidgetQuery("clouds.platforms_healthy", "Healthy cloud platforms", "value", platforms_healthy,
                    topics=topics, permission=READ),
        WidgetQuery("clouds.platforms", "Cloud platforms", "table", platforms_table, topics=topics,
                    permission=READ),
    ):
        register_query(query)
