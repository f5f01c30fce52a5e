"""Bulk creation of resources for scale tests (control endpoint ``POST /_cloudsim/bulk``)."""

from __future__ import annotations

from typing import Any

from ..store import Store
from . import ecs, oss


def create(store: Store, kind: str, count: int, data: dict[str, Any]) -> list[str]:
    region_id = store.check_region(data.get("region_id") or store.regions[0])
    zone_id = store.check_zone(region_id, data.get("zone_id") or store.zones(region_id)[0])
    tags = {str(k): str(v) for k, v in (data.get("tags") or {}).items()}
    if kind == "ecs_instance":
        status = data.get("status", "Running")
        if status not in ("Running", "Stopped"):
            raise ValueError("status must be Running or Stopped")
        return ecs.bulk_instances(store, count=count, region_id=region_id, zone_id=zone_id, status=status,
                                  type_id=data.get("instance_type", "ecs.g6.large"), image_id=data.get("image_id"),
                                  name_prefix=data.get("name_prefix", "bulk"), tags=tags)
    if kind == "bucket":
        return oss.bulk_buckets(store, count=min(count, 100_000), region_id=region_id,
                                name_prefix=str(data.get("name_prefix", "bulk")), acl=str(data.get("acl", "private")),
                                storage_class=str(data.get("storage_class", "Standard")))
    raise ValueError(f"bulk creation of {kind!r} is not supported")
