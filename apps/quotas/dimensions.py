"""What a quota counts: one dimension per resource type of the catalog (how many), and for ECS
instances also their vCPUs, memory and system disk, taken from the instance type.

A request's amounts (``{"count", "vcpu", "memory_mib", "disk_gib"}``, totals over its count) become
per-instance units here; inventory rows become the same units, so the reconciler compares like
with like.
"""

from __future__ import annotations

from typing import Any

from apps.clouds.catalog import TYPE_NAMES

# Resource types whose number is a dimension (the catalog's named, provisionable types).
COUNTED = ("ecs.instance", "ecs.disk", "eip.eip", "slb.instance", "rds.instance", "redis.instance", "oss.bucket",
           "vpc.vpc", "nat.nat_gateway")
EXTRA = {"ecs.vcpu": "ECS vCPUs", "ecs.memory_gib": "ECS memory (GiB)", "ecs.disk_gib": "ECS system disks (GiB)"}


def dimensions() -> dict[str, str]:
    """Dimension code -> display name."""
    out = {code: f"{TYPE_NAMES.get(code, code)}s" for code in COUNTED}
    out.update(EXTRA)
    return dict(sorted(out.items()))


def is_dimension(code: Any) -> bool:
    return isinstance(code, str) and code in dimensions()


def _gib(mib: int) -> int:
    return -(-int(mib) // 1024)


def unit_of(resource_type: str, amounts: dict[str, int]) -> tuple[int, dict[str, int]]:
    """(count, per-unit dimensions) of a reservation's amounts."""
    count = int(amounts.get("count", 1))
    if count < 1:
        return 0, {}
    # A resize changes what an instance holds, not how many there are: it says ``instances: 0``.
    unit = {resource_type: int(amounts.get("instances", 1))} if resource_type in COUNTED else {}
    if resource_type == "ecs.instance":
        if amounts.get("vcpu"):
            unit["ecs.vcpu"] = int(amounts["vcpu"]) // count
        if amounts.get("memory_mib"):
            unit["ecs.memory_gib"] = _gib(int(amounts["memory_mib"]) // count)
        if amounts.get("disk_gib"):
            unit["ecs.disk_gib"] = int(amounts["disk_gib"]) // count
    return count, {k: v for k, v in unit.items() if v}


def resource_units(resource_type: str, vcpu: int, memory_mib: int, storage_gib: int) -> dict[str, int]:
    """The dimensions one inventory row counts for."""
    unit = {resource_type: 1} if resource_type in COUNTED else {}
    if resource_type == "ecs.instance":
        unit.update({"ecs.vcpu": vcpu, "ecs.memory_gib": _gib(memory_mib), "ecs.disk_gib": storage_gib})
    return {k: v for k, v in unit.items() if v}
