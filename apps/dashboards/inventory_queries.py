"""Map and topology queries over the inventory (contract: ``apps.core.widgets``).

They are named ``resources.*`` because they read the inventory: saved dashboards keep working if the
inventory app takes them over. Both read resources only through ``live_resources`` (the viewer's
``restrict``, or a wall screen's organizations), so a map or a topology never shows a resource the
same viewer could not list.

``resources.places``: resources per region, each region at its longitude and latitude when the
region id (or its prefix, for Apsara Stack regions such as ``cn-qingdao-env17-d01``) is known;
unknown regions have no position and are drawn in a row below the map.

``resources.topology``: the inventory's relations (an instance in a vSwitch, a vSwitch in a VPC, an
EIP bound to an instance ...) between resources the viewer sees, as nodes and links; a relation to
a resource the viewer cannot see is left out with it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from apps.core.widgets import QueryParam, QueryScope, WidgetQuery, register_query
from apps.resources.models import ResourceRelation
from apps.resources.widget_queries import TYPE, live_resources

READ = "resources:resource:read"
TOPICS = ("resource", "sync")

# Longitude, latitude of the data centres behind well-known region ids (Alibaba Cloud and AWS).
REGION_PLACES: dict[str, tuple[float, float]] = {
    "cn-hangzhou": (120.15, 30.28), "cn-shanghai": (121.47, 31.23), "cn-beijing": (116.40, 39.90),
    "cn-shenzhen": (114.06, 22.54), "cn-qingdao": (120.38, 36.07), "cn-zhangjiakou": (114.88, 40.82),
    "cn-huhehaote": (111.75, 40.84), "cn-wulanchabu": (113.13, 41.03), "cn-chengdu": (104.07, 30.67),
    "cn-heyuan": (114.70, 23.74), "cn-guangzhou": (113.26, 23.13), "cn-nanjing": (118.80, 32.06),
    "cn-fuzhou": (119.30, 26.08), "cn-wuhan": (114.31, 30.59), "cn-hongkong": (114.17, 22.32),
    "ap-northeast-1": (139.69, 35.69), "ap-northeast-2": (126.98, 37.57), "ap-northeast-3": (135.50, 34.69),
    "ap-southeast-1": (103.85, 1.29), "ap-southeast-2": (151.21, -33.87), "ap-southeast-3": (101.69, 3.14),
    "ap-southeast-5": (106.85, -6.21), "ap-southeast-6": (120.98, 14.60), "ap-southeast-7": (100.50, 13.76),
    "ap-south-1": (72.88, 19.08), "ap-east-1": (114.17, 22.32),
    "us-east-1": (-77.49, 39.04), "us-east-2": (-82.99, 39.96), "us-west-1": (-121.89, 37.34),
    "us-west-2": (-119.70, 45.84), "ca-central-1": (-73.57, 45.50), "sa-east-1": (-46.63, -23.55),
    "eu-central-1": (8.68, 50.11), "eu-west-1": (-6.26, 53.35), "eu-west-2": (-0.13, 51.51),
    "eu-west-3": (2.35, 48.86), "eu-north-1": (18.07, 59.33), "eu-south-1": (9.19, 45.46),
    "me-east-1": (55.27, 25.20), "me-central-1": (54.37, 24.45), "me-south-1": (50.59, 26.23),
    "af-south-1": (18.42, -33.92), "il-central-1": (34.78, 32.09),
}
TOPOLOGY_FOCUS = {
    "network": ("vpc.vpc", "vpc.vswitch", "ecs.instance", "ecs.security_group", "eip.eip", "slb.instance",
                "rds.instance", "redis.instance"),
    "all": (),
}


def place_of(region: str) -> tuple[float, float] | None:
    """Where ``region`` is: its own entry, or that of the longest known id it starts with."""
    if region in REGION_PLACES:
        return REGION_PLACES[region]
    best = max((known for known in REGION_PLACES if region.startswith(known + "-")), key=len, default=None)
    return REGION_PLACES[best] if best else None


def resources_places(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    qs = live_resources(scope)
    if params["type"] != "any":
        qs = qs.filter(type=params["type"])
    rows = qs.values("region").annotate(n=Count("id")).order_by("-n", "region")[:100]
    places = []
    for row in rows:
        where = place_of(row["region"] or "")
        places.append({"name": row["region"] or "(none)", "lon": where[0] if where else None,
                       "lat": where[1] if where else None, "value": row["n"]})
    return {"places": places}


def resources_topology(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    visible = live_resources(scope)
    types = TOPOLOGY_FOCUS[params["focus"]]
    if types:
        visible = visible.filter(type__in=types)
    limit = params["limit"]
    edges = list(ResourceRelation.objects.filter(source__in=visible.values("pk"))
                 .values_list("source_id", "platform_id", "kind", "target_type", "target_external_id")
                 .order_by("source_id", "kind", "target_external_id")[: limit * 4])
    wanted = {e[4] for e in edges}
    targets = {(p, t, x): pk for pk, p, t, x in visible.filter(external_id__in=wanted)
               .values_list("pk", "platform_id", "type", "external_id")}
    links, used = [], []
    for source, platform, kind, target_type, external in edges:
        target = targets.get((platform, target_type, external))
        if target is None or target == source:
            continue
        for node in (source, target):
            if node not in used:
                used.append(node)
        links.append({"source": source, "target": target, "name": kind})
    keep = set(used[:limit])
    links = [link for link in links if link["source"] in keep and link["target"] in keep]
    rows = visible.filter(pk__in=keep).values_list("pk", "name", "type", "status")
    nodes = [{"id": pk, "name": name or pk, "group": kind, "status": status} for pk, name, kind, status in rows]
    nodes.sort(key=lambda n: (n["group"], n["name"], n["id"]))
    return {"nodes": nodes, "links": links, "groups": sorted({n["group"] for n in nodes})}


def register() -> None:
    for query in (
        WidgetQuery("resources.places", "Resources on a map (by region)", "places", resources_places,
                    {"type": TYPE}, topics=TOPICS, permission=READ),
        WidgetQuery("resources.topology", "Resource topology (relations)", "graph", resources_topology,
                    {"focus": QueryParam("choice", "network", tuple(TOPOLOGY_FOCUS), label="Resources"),
                     "limit": QueryParam("int", 60, low=5, high=200, label="Most resources")},
                    topics=TOPICS, permission=READ),
    ):
        register_query(query)
