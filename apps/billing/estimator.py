"""The price estimate of a provisioning request, from the active price book (installed into
``apps.provisioning.hooks`` from ``apps.py``): what the requested instances cost per hour running,
and per month of 730 hours, at the first tier of the platform-wide rules that would price them."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from apps.billing import rating
from apps.billing.models import Dimension, PriceRule

HOURS_PER_MONTH = Decimal(730)


def _hourly_price(rule: PriceRule) -> Decimal:
    price = Decimal(str(rule.tiers[0]["unit_price"])) if rule.tiers else rule.unit_price
    return price / HOURS_PER_MONTH if rule.unit == PriceRule.Unit.MONTH else price


def estimate(*, platform: Any, region: str, resource_type: str, spec: dict[str, Any], count: int) -> dict[str, Any]:
    book = rating.active_price_book()
    if book is None:
        return {}
    matcher = rating.RuleMatcher(book, [])
    day = dt.date.today()
    base = {"platform_id": getattr(platform, "pk", platform), "region": region, "day": day, "state": "running"}
    parts: list[tuple[str, dict[str, Any], dict[str, Decimal]]] = [(resource_type, {
        "sku": str(spec.get("instance_type") or spec.get("class") or ""),
    }, {Dimension.HOURS: Decimal(1), Dimension.VCPU_HOURS: Decimal(int(spec.get("vcpu") or 0)),
        Dimension.MEMORY_GIB_HOURS: Decimal(int(spec.get("memory_mib") or 0)) / 1024,
        Dimension.STORAGE_GIB_HOURS: Decimal(int(spec.get("storage_gib") or 0))})]
    if resource_type == "ecs.instance" and spec.get("system_disk_gib"):
        parts.append(("ecs.disk", {"sku": str(spec.get("system_disk_category") or "")},
                      {Dimension.STORAGE_GIB_HOURS: Decimal(int(spec["system_disk_gib"])),
                       Dimension.HOURS: Decimal(1)}))
    hourly = Decimal(0)
    priced = False
    for rtype, extra, amounts in parts:
        for dimension, amount in amounts.items():
            if not amount:
                continue
            rule = matcher.rule_for({**base, **extra, "type": rtype}, dimension)
            if rule is not None:
                priced = True
                hourly += amount * _hourly_price(rule)
    if not priced:
        return {}
    hourly *= Decimal(int(count or 1))
    return {"currency": book.currency,
            "hourly": str(hourly.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)),
            "monthly": str(rating.round_money(hourly * HOURS_PER_MONTH, book.quantum))}
