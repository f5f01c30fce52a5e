"""Demo data of disaster recovery: the Web shop (the simulated region's instances tagged ``team=shop``
and their disks) protected from cn-hangzhou to cn-shanghai, replication running
with a lag of some seconds so its RPO moves, and the DR dashboard. The group is made after the first
collection of the simulated platform (the inventory must know the disks): ``after_collection`` is
subscribed to the platform's ``sync`` topic from ``apps.py``; a drill of it finishes in well under a
minute."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from apps.core.demo import register_demo

logger = logging.getLogger(__name__)
GROUP_NAME = "Web shop"
LAG_SECONDS = 20


def dashboard_document() -> dict[str, Any]:
    def w(wid: str, kind: str, title: str, x: int, y: int, width: int, h: int, query: str,
          params: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
        return {"id": wid, "type": kind, "title": title, "gridPos": {"x": x, "y": y, "w": width, "h": h},
                "query": {"name": query, "params": params or {}}, "options": options}

    from apps.resilience.views import DASHBOARD_UID

    return {"uid": DASHBOARD_UID, "title": "Disaster recovery", "refresh": 10, "stale_after": 60,
            "description": "RPO of every protection group against its target, sync-latency satisfaction, drills "
                           "and recoveries over time, the running plan's steps and the RTO of the last runs.",
            "variables": [{"name": "organization", "value": None}],
            "widgets": [
                w("satisfaction", "gauge", "Groups within their RPO target", 0, 0, 6, 6,
                  "resilience.rpo_satisfaction", unit="%"),
                w("rpo", "bar", "RPO per group against its target (s)", 6, 0, 18, 6, "resilience.rpo_by_group"),
                w("runs", "line", "Drills and recoveries per day", 0, 6, 12, 7, "resilience.runs_over_time"),
                w("steps", "table", "The running plan's steps", 12, 6, 12, 7, "resilience.running_steps"),
                w("rto", "table", "RTO of the last runs", 0, 13, 24, 6, "resilience.rto_last_runs", {"limit": 8}),
            ]}


@register_demo(order=950)
def seed_dr_dashboard() -> None:
    from apps.dashboards import services
    from apps.dashboards.models import Dashboard
    from apps.organizations.models import Organization
    from apps.resilience.views import DASHBOARD_UID

    hq = Organization.objects.filter(parent=None).order_by("created_at").first()
    if hq is None or Dashboard.objects.filter(pk=DASHBOARD_UID).exists():
        return
    services.dashboard_create(actor=None, organization=hq, document=dashboard_document(), message="predefined")


def after_collection(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    """Once the simulated platform is collected, protect the Web shop (once)."""
    if payload.get("event") != "sync_finished":
        return
    try:
        protect_web_shop(topic.split(":", 1)[1])
    except Exception:  # noqa: BLE001 - the demo must never break a collection
        logger.exception("could not make the demo protection group")


def protect_web_shop(platform_id: str) -> Any:
    from apps.clouds.demo import SIM_ENDPOINT, SIM_NAME
    from apps.clouds.models import CloudPlatform
    from apps.organizations.models import Project
    from apps.resilience import services
    from apps.resilience.models import ProtectionGroup
    from apps.resources.models import Resource

    platform = CloudPlatform.objects.filter(pk=platform_id, name=SIM_NAME).first()
    if platform is None or ProtectionGroup.objects.filter(name=GROUP_NAME).exists():
        return None
    project = Project.objects.filter(name="Web shop", organization__name="East IT Department") \
        .select_related("organization").first()
    if project is None:
        return None
    shop = Resource.objects.filter(platform=platform, region="cn-hangzhou", deleted=False, tags__team="shop",
                                   type="ecs.instance")
    instance_ids = set(shop.values_list("external_id", flat=True))
    disks = [d for d in Resource.objects.filter(platform=platform, region="cn-hangzhou", deleted=False,
                                                type="ecs.disk") if (d.spec or {}).get("instance_id") in instance_ids]
    members = [*shop, *disks]
    if not disks:
        return None
    # The application's disks and database belong to the Web shop, like its instances.
    Resource.objects.filter(pk__in=[r.pk for r in members]).update(
        organization=project.organization, project=project, assigned_by="manual")
    members = list(Resource.objects.filter(pk__in=[r.pk for r in members]))
    _lag(SIM_ENDPOINT)
    zone = disks[0].zone
    return services.group_create(
        actor=None, organization=project.organization, project=project, name=GROUP_NAME,
        description="The Web shop's instances and disks, replicated to cn-shanghai.",
        selection="explicit", resources=members, primary_platform=platform, primary_region="cn-hangzhou",
        primary_zone=zone, secondary_platform=platform, secondary_region="cn-shanghai",
        secondary_zone="cn-shanghai-a", target_rpo_seconds=60, target_rto_seconds=300)


def _lag(endpoint: str) -> None:
    """The simulated region replicates with a lag of some seconds, as a real link would."""
    request = urllib.request.Request(f"http://{endpoint}/_cloudsim/replication",
                                     data=json.dumps({"lag_seconds": LAG_SECONDS}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=5).read()
    except OSError:
        logger.warning("cloudsim at %s did not take the replication lag", endpoint)
