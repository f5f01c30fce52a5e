"""What a platform's region offers to a provisioning form: instance types, disk categories, database
and cache classes, load balancer specs and zones from the catalog discovered by the clouds app and
the engines the adapter publishes (no cloud call), and images, VPCs, vSwitches and security groups
read from the cloud and cached for a minute."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache

from apps.clouds.adapters import adapter_class, adapter_for
from apps.clouds.models import CloudPlatform, Flavor, Region, Zone

CACHE_SECONDS = 60
FILL_WAIT = 5.0  # seconds a reader waits for another one listing the same offers


def catalog_offers(platform: CloudPlatform, region: str) -> dict[str, Any]:
    """Regions, zones, instance types and disk categories known for ``platform`` (database only)."""
    regions = list(Region.objects.filter(platform=platform, enabled=True).values_list("region_id", flat=True))
    zones = list(Zone.objects.filter(region__platform=platform, region__region_id=region)
                 .values_list("zone_id", flat=True))
    flavors = Flavor.objects.filter(platform=platform, region=region)
    types = [{"code": f.code, "vcpu": f.vcpu or 0, "memory_mib": f.memory_mib or 0,
              "family": (f.attributes or {}).get("family") or ""}
             for f in flavors if f.kind == Flavor.Kind.INSTANCE_TYPE]
    disks = [{"code": f.code, "zones": (f.attributes or {}).get("zones") or []}
             for f in flavors if f.kind == Flavor.Kind.DISK_CATEGORY]
    classes = [{"code": f.code, "vcpu": f.vcpu or 0, "memory_mib": f.memory_mib or 0}
               for f in flavors if f.kind == Flavor.Kind.RDS_CLASS]
    caches = [{"code": f.code, "memory_mib": f.memory_mib or 0} for f in flavors if f.kind == Flavor.Kind.REDIS_CLASS]
    slb = [{"code": f.code} for f in flavors if f.kind == Flavor.Kind.SLB_SPEC]
    published = adapter_class(platform.type).engines
    engines = {rtype: [{"engine": e, "versions": list(v)} for e, v in table.items()]
               for rtype, table in published.items()}
    return {"regions": regions, "zones": zones, "instance_types": types, "disk_categories": disks,
            "rds_classes": classes, "redis_classes": caches, "slb_specs": slb, "engines": engines}


def _images(adapter: Any, region: str) -> list[dict[str, Any]]:
    return [{"id": i.image_id, "name": i.name, "os": i.os_name} for i in adapter.images(region)]


def cloud_offers(platform: CloudPlatform, region: str) -> dict[str, Any]:
    """Images, vSwitches (with zone and VPC) and security groups (with VPC) of the region.

    One reader at a time lists them when they are not cached: readers that come together (ten requests
    submitted at once) wait up to ``FILL_WAIT`` seconds for its answer instead of each listing the region
    (four calls each), and list it themselves if it does not come (a reader that failed lets the next one
    try at once)."""
    key = f"provisioning:offers:{platform.pk}:{platform.updated_at.timestamp() if platform.updated_at else 0}:{region}"
    deadline = time.monotonic() + FILL_WAIT
    while True:
        found = cache.get(key)
        if found is not None:
            return found
        filling = cache.add(f"{key}:filling", 1, FILL_WAIT)
        if filling or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    try:
        return _list_offers(platform, region, key)
    finally:
        if filling:
            cache.delete(f"{key}:filling")


def _list_offers(platform: CloudPlatform, region: str, key: str) -> dict[str, Any]:
    adapter = adapter_for(platform, region=region)
    vswitches = [{"id": v.external_id, "name": v.name, "zone": v.zone, "vpc_id": v.vpc_id,
                  "cidr_block": v.spec.get("cidr_block", "")}
                 for v in adapter.iter_resources("vpc.vswitch", region) if v.status in ("available", "")]
    groups = [{"id": g.external_id, "name": g.name, "vpc_id": g.vpc_id}
              for g in adapter.iter_resources("ecs.security_group", region)]
    vpcs = [{"id": v.external_id, "name": v.name, "cidr_block": v.spec.get("cidr_block", "")}
            for v in adapter.iter_resources("vpc.vpc", region) if v.status in ("available", "")]
    offers = {"images": _images(adapter, region), "vswitches": vswitches, "security_groups": groups, "vpcs": vpcs}
    cache.set(key, offers, CACHE_SECONDS)
    return offers
