"""The price estimate of a provisioning request, from the active price book (installed into
``apps.provisioning.hooks`` from ``apps.py``): what the requested resources cost per hour running,
and per month of 730 hours, at the first tier of the platform-wide rules that would price them.

Every type metering bills is estimated from the parameters its create takes: an instance by its
type, vCPU, memory and system disk; a disk by its category and size; an EIP by its bandwidth; a load
balancer or NAT gateway by its spec; an RDS instance by its class and storage; a Redis instance by
its class and capacity; a bucket by its storage class (a new bucket stores nothing yet, so only its
hourly or fixed rules price it)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from apps.billing import rating
from apps.billing.metering import SKU_KEYS, whole_number
from apps.billing.models import Dimension, PriceRule

HOURS_PER_MONTH = Decimal(730)
# What a create uses when the request leaves it out (the adapters' defaults).
DEFAULT_EIP_MBPS = 5
# Request parameters that name a type's SKU when its collected spec key differs.
# (provisioning's request specs: ``db_class``, ``cache_class``, ``nat_spec``).
SKU_PARAMS = {"rds.instance": ("db_class",), "redis.instance": ("cache_class",), "nat.nat_gateway": ("nat_spec",)}
STORAGE_PARAMS = ("storage_gib", "size_gib", "disk_gib")


def _hourly_price(rule: PriceRule) -> Decimal:
    price = Decimal(str(rule.tiers[0]["unit_price"])) if rule.tiers else rule.unit_price
    return price / HOURS_PER_MONTH if rule.unit == PriceRule.Unit.MONTH else price


def _first(spec: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((spec[k] for k in keys if spec.get(k) not in (None, "")), None)


def quantities(resource_type: str, spec: dict[str, Any]) -> tuple[str, dict[str, Decimal]]:
    """The SKU and the hourly quantity of each dimension one resource of ``resource_type`` created
    with ``spec`` would be metered by."""
    sku = _first(spec, (SKU_KEYS.get(resource_type, ""), *SKU_PARAMS.get(resource_type, ()))) or ""
    memory_mib = whole_number(_first(spec, ("memory_mib", "capacity_mib")))
    bandwidth = whole_number(spec.get("bandwidth_mbps"))
    if resource_type == "eip.eip" and not bandwidth:
        bandwidth = DEFAULT_EIP_MBPS
    return str(sku), {
        Dimension.HOURS: Decimal(1),
        Dimension.VCPU_HOURS: Decimal(whole_number(spec.get("vcpu"))),
        Dimension.MEMORY_GIB_HOURS: Decimal(memory_mib) / 1024,
        Dimension.STORAGE_GIB_HOURS: Decimal(whole_number(_first(spec, STORAGE_PARAMS))),
        Dimension.BANDWIDTH_MBPS_HOURS: Decimal(bandwidth),
    }


def estimate(*, platform: Any, region: str, resource_type: str, spec: dict[str, Any], count: int) -> dict[str, Any]:
    book = rating.active_price_book()
    if book is None:
        return {}
    spec = spec if isinstance(spec, dict) else {}
    matcher = rating.RuleMatcher(book, [])
    day = dt.date.today()
    base = {"platform_id": getattr(platform, "pk", platform), "region": region, "day": day, "state": "running"}
    parts = [(resource_type, *quantities(resource_type, spec))]
    if resource_type == "ecs.instance" and spec.get("system_disk_gib"):
        parts.append(("ecs.disk", str(spec.get("system_disk_category") or ""),
                      {Dimension.STORAGE_GIB_HOURS: Decimal(whole_number(spec["system_disk_gib"])),
                       Dimension.HOURS: Decimal(1)}))
    hourly = Decimal(0)
    priced = False
    for rtype, sku, amounts in parts:
        for dimension, amount in amounts.items():
            if not amount:
                continue
            rule = matcher.rule_for({**base, "sku": sku, "type": rtype}, dimension)
            if rule is not None:
                priced = True
                hourly += amount * _hourly_price(rule)
    if not priced:
        return {}
    hourly *= Decimal(max(whole_number(count), 1))
    return {"currency": book.currency,
            "hourly": str(hourly.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)),
            "monthly": str(rating.round_money(hourly * HOURS_PER_MONTH, book.quantum))}
