"""The inventory's dashboard queries (contract: ``apps.core.widgets``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery

from apps.clouds.models import CloudPlatform
from apps.core.widgets import QueryParam, QueryScope, WidgetQuery, categories_of, register_query
from apps.resources.models import Resource, SyncRun

READ = "resources:resource:read"
TYPES = ("any", "ecs.instance", "ecs.disk", "ecs.security_group", "vpc.vpc", "vpc.vswitch", "eip.eip",
         "slb.instance", "rds.instance", "redis.instance", "oss.bucket")
GROUPS = {"type": "type", "status": "status", "region": "region", "platform": "platform__name",
          "service": "service", "zone": "zone"}
TYPE = QueryParam("choice", "any", TYPES, label="Resource type")


def live_resources(scope: QueryScope):
    """Live (not deleted) resources the scope sees. A wall screen's organizations also see the
    unassigned resources of the cloud platforms they own, as the platform's owner does in the console."""
    live = Resource.objects.filter(deleted=False)
    if scope.actor is None and scope.organization_ids is not None:
        ids = scope.organization_ids
        return live.filter(Q(organization_id__in=ids) | Q(organization__isnull=True, platform__organization_id__in=ids))
    return scope.restrict(live, READ)


def _of_type(qs, params: dict[str, Any]):
    return qs if params.get("type", "any") == "any" else qs.filter(type=params["type"])


# Collection stores statuses normalized (``apps.clouds.adapters.base.normal_status``: an EIP bound to
# something is ``in_use``). ``inuse`` was offered before and stays accepted in saved dashboards.
STATUSES = ("any", "running", "stopped", "available", "in_use", "active", "inuse")
STATUS_ALIASES = {"inuse": "in_use"}


def resource_count(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    qs = _of_type(live_resources(scope), params)
    if params["status"] != "any":
        status = STATUS_ALIASES.get(params["status"], params["status"])
        return {"value": qs.filter(status__iexact=status).count(), "total": qs.count()}
    return {"value": qs.count(), "total": None}


def resources_by(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    column = GROUPS[params["group_by"]]
    rows = _of_type(live_resources(scope), params).values(column).annotate(n=Count("id")).order_by()
    return categories_of(rows, column, limit=params["limit"])


def network_summary(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    names = {"vpc.vpc": "VPCs", "vpc.vswitch": "vSwitches", "eip.eip": "EIPs", "slb.instance": "SLBs",
             "ecs.security_group": "Security groups"}
    rows = (live_resources(scope).filter(type__in=list(names)).values("type").annotate(n=Count("id")).order_by())
    counts = {r["type"]: r["n"] for r in rows}
    return {"categories": [{"name": label, "value": counts.get(t, 0)} for t, label in names.items()]}


def resources_recent(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    rows = _of_type(live_resources(scope), params).order_by("-last_changed_at", "-id").values_list(
        "name", "type", "region", "status", "last_changed_at")[: params["limit"]]
    return {"columns": ["Name", "Type", "Region", "Status", "Changed"],
            "rows": [[n, t, r, s, c.strftime("%Y-%m-%d %H:%M")] for n, t, r, s, c in rows]}


PLATFORM_READ = "clouds:platform:read"


def platforms_healthy(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    """Active platforms that answered the last time anyone asked, of the active platforms whose state
    is known; ``unknown`` counts, apart, those nobody has checked or collected yet.

    The newest evidence decides: a connection check (healthy, or degraded/unreachable) or a finished
    collection (succeeded: the platform answered; failed: it did not). A platform never checked by
    hand is healthy once its first collection succeeded, as the demo platform is right after its
    first start. A platform with no evidence yet is neither up nor down: counted in ``total`` it
    would lower the gauge as a platform that is down does."""
    last = SyncRun.objects.filter(platform=OuterRef("pk"), finished_at__isnull=False).order_by("-finished_at", "-pk")
    rows = (scope.restrict(CloudPlatform.objects.filter(is_active=True), PLATFORM_READ)
            .annotate(sync_status=Subquery(last.values("status")[:1]), sync_at=Subquery(last.values("finished_at")[:1]))
            .values_list("health", "health_checked_at", "sync_status", "sync_at"))
    known = healthy = unknown = 0
    for health, checked_at, sync_status, sync_at in rows:
        checked = health != CloudPlatform.Health.UNKNOWN and checked_at is not None
        if sync_at is not None and (not checked or sync_at >= checked_at):
            healthy += sync_status == SyncRun.Status.SUCCEEDED
        elif checked:
            healthy += health == CloudPlatform.Health.HEALTHY
        else:
            unknown += 1
            continue
        known += 1
    return {"value": healthy, "total": known, "unknown": unknown}


def register() -> None:
    topics = ("resource", "sync")
    limit = QueryParam("int", 10, low=1, high=50, label="Rows")
    for query in (
        WidgetQuery("resources.count", "Resources", "value", resource_count,
                    {"type": TYPE, "status": QueryParam("choice", "any", STATUSES, label="Status")},
                    topics=topics, permission=READ),
        WidgetQuery("resources.by", "Resources grouped", "categories", resources_by,
                    {"group_by": QueryParam("choice", "type", tuple(GROUPS), label="Group by"), "type": TYPE,
                     "limit": limit}, topics=topics, permission=READ),
        WidgetQuery("resources.network", "Network resources (VPC, EIP, SLB ...)", "categories", network_summary,
                    topics=topics, permission=READ),
        WidgetQuery("resources.recent", "Recently changed resources", "table", resources_recent,
                    {"type": TYPE, "limit": limit}, topics=topics, permission=READ),
        WidgetQuery("resources.platforms_healthy", "Healthy cloud platforms (last check or collection)", "value",
                    platforms_healthy, topics=("sync",), permission=PLATFORM_READ,
                    description="A platform counts as healthy when the newest of its connection check and its "
                                "last finished collection says it answered; platforms not checked or "
                                "collected yet are counted apart (unknown), not as down."),
    ):
        register_query(query)
