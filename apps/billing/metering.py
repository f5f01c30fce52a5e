"""Metering: usage intervals from the inventory, hourly usage records from the intervals.

``meter_reconcile`` compares billable resources with their open intervals and, where the owner or
the shape changed, closes the open interval and opens the next one at the second of the change:
the inventory's ``last_changed_at`` (a change found by collection or an operation), ``deleted_at``
(a resource gone), or now (an assignment, which the inventory does not date). It runs on the
inventory's events (``resource:*``, ``sync:*``) and in the hourly pass, so a change that raised no
event is still metered, from the time the inventory recorded it.

``meter_period`` rebuilds the usage records of whole hours from the intervals in one
``INSERT ... SELECT`` per period: delete the period's records, split every overlapping interval at
the hour boundaries (``BillingHour`` is the calendar), label each piece with its day in the owning
organization's time zone. Running it again over the same intervals writes the same rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from apps.billing.models import BillingHour, BillingProfile, BillingTagSet, UsageInterval, UsageRecord
from apps.resources.models import Resource

logger = logging.getLogger(__name__)

HOUR = 3600
# Resource types that cost something; networks and security groups are free containers.
METERED_TYPES = ("ecs.instance", "ecs.disk", "eip.eip", "slb.instance", "rds.instance", "redis.instance",
                 "oss.bucket", "nat.nat_gateway")
# Where each type keeps what it is priced by (instance type, disk category, DB class...).
SKU_KEYS = {"ecs.instance": "instance_type", "ecs.disk": "category", "rds.instance": "class",
            "redis.instance": "class", "slb.instance": "spec", "oss.bucket": "storage_class",
            "nat.nat_gateway": "spec"}
# The spec key holding a resource's bandwidth (an EIP's, from its cloud record), metered as Mbps-hours.
BANDWIDTH_KEY = "bandwidth_mbps"
STOPPED_STATUSES = frozenset({"stopped", "stopping"})
SHAPE_FIELDS = ("organization_id", "project_id", "platform_id", "region", "service", "type", "sku", "state",
                "vcpu", "memory_mib", "storage_gib", "bandwidth_mbps", "tag_set_id")


def epoch(value: dt.datetime) -> int:
    return int(value.timestamp())


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def whole_number(value: Any) -> int:
    """A spec value as a non-negative whole number (``"5"``, ``5.0`` -> 5); anything else is 0."""
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0
    return max(number, 0)


def _canonical(tags: Any) -> str:
    if not isinstance(tags, dict) or not tags:
        return ""
    return json.dumps({str(k): str(v) for k, v in tags.items()}, sort_keys=True, separators=(",", ":"))


def tag_set_ids(tag_dicts: Iterable[Any]) -> dict[str, int | None]:
    """The ``BillingTagSet`` id of each set of tags (keyed by its canonical JSON; no tags: ``None``),
    creating the sets not stored yet."""
    wanted = {_canonical(tags) for tags in tag_dicts} - {""}
    digests = {hashlib.sha256(c.encode()).hexdigest(): c for c in wanted}
    found = dict(BillingTagSet.objects.filter(digest__in=list(digests)).values_list("digest", "id"))
    missing = [BillingTagSet(digest=d, tags=json.loads(c)) for d, c in digests.items() if d not in found]
    if missing:
        BillingTagSet.objects.bulk_create(missing, ignore_conflicts=True)
        found = dict(BillingTagSet.objects.filter(digest__in=list(digests)).values_list("digest", "id"))
    ids: dict[str, int | None] = {"": None}
    ids.update({c: found.get(d) for d, c in digests.items()})
    return ids


def shape_of(row: dict[str, Any], tag_sets: dict[str, int | None] | None = None) -> dict[str, Any]:
    """What an interval records of a resource (``Resource.values()`` row); ``tag_sets`` from
    ``tag_set_ids`` (looked up here when not given)."""
    spec = row["spec"] if isinstance(row["spec"], dict) else {}
    sku = spec.get(SKU_KEYS.get(row["type"], ""), "")
    canonical = _canonical(row.get("tags"))
    if tag_sets is None or canonical not in tag_sets:
        tag_sets = tag_set_ids([row.get("tags")])
    return {
        "organization_id": row["organization_id"], "project_id": row["project_id"], "platform_id": row["platform_id"],
        "region": row["region"], "service": row["service"], "type": row["type"], "sku": str(sku or "")[:64],
        "state": "stopped" if row["status"] in STOPPED_STATUSES else "running",
        "vcpu": row["vcpu"], "memory_mib": row["memory_mib"], "storage_gib": row["storage_gib"],
        "bandwidth_mbps": whole_number(spec.get(BANDWIDTH_KEY)), "tag_set_id": tag_sets[canonical],
    }


def _same(interval: UsageInterval, shape: dict[str, Any]) -> bool:
    return all(str(getattr(interval, f) or "") == str(shape[f] or "") for f in SHAPE_FIELDS)


RESOURCE_FIELDS = ("id", "platform_id", "organization_id", "project_id", "region", "service", "type", "status",
                   "spec", "tags", "vcpu", "memory_mib", "storage_gib", "first_seen_at", "last_changed_at",
                   "deleted", "deleted_at")


@transaction.atomic
def meter_reconcile(*, resource_ids: Iterable[str] | None = None, platform_id: Any = None,
                    now: dt.datetime | None = None) -> dict[str, int]:
    """Bring the intervals of the named resources (or of a platform, or of all) in line with the
    inventory; returns how many intervals were closed and opened."""
    now_s = epoch(now or timezone.now())
    rows = Resource.objects.filter(type__in=METERED_TYPES)
    if resource_ids is not None:
        rows = rows.filter(pk__in=list(resource_ids))
    if platform_id is not None:
        rows = rows.filter(platform_id=platform_id)
    resources = list(rows.values(*RESOURCE_FIELDS))
    ids = [r["id"] for r in resources]
    open_by_resource: dict[str, UsageInterval] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for interval in UsageInterval.objects.select_for_update().filter(resource_id__in=chunk, end_s__isnull=True):
            open_by_resource[interval.resource_id] = interval
    # Where an unmetered resource's last interval ended: one grouped read per chunk, not one per resource.
    last_end: dict[str, int] = {}
    unmetered = [r["id"] for r in resources if not r["deleted"] and r["id"] not in open_by_resource]
    for i in range(0, len(unmetered), 500):
        last_end.update(UsageInterval.objects.filter(resource_id__in=unmetered[i:i + 500]).order_by()
                        .values("resource_id").annotate(last=Max("end_s")).values_list("resource_id", "last"))
    closes: list[UsageInterval] = []
    opens: list[UsageInterval] = []
    tag_sets = tag_set_ids(r["tags"] for r in resources if not r["deleted"])
    for row in resources:
        current = open_by_resource.get(row["id"])
        shape = None if row["deleted"] else shape_of(row, tag_sets)
        if current is not None and shape is not None and _same(current, shape):
            continue
        if current is None and shape is None:
            continue
        if current is not None:
            if row["deleted"] and row["deleted_at"]:
                at = epoch(row["deleted_at"])
            elif epoch(row["last_changed_at"]) > current.start_s:
                at = epoch(row["last_changed_at"])
            else:
                at = now_s
            at = min(max(at, current.start_s), max(now_s, current.start_s))
            current.end_s = at
            closes.append(current)
        else:
            at = None
        if shape is not None:
            if at is None:
                # Not metered now: from when it first appeared, or, back after it was gone, from when
                # the inventory saw it again (never before its last interval ended).
                last = last_end.get(row["id"])
                at = epoch(row["first_seen_at"]) if last is None else max(last, epoch(row["last_changed_at"]))
                at = min(at, now_s)
            opens.append(UsageInterval(resource_id=row["id"], start_s=at, end_s=None, **shape))
    UsageInterval.objects.bulk_update(closes, ["end_s"], batch_size=500)
    UsageInterval.objects.bulk_create(opens, batch_size=500)
    return {"closed": len(closes), "opened": len(opens)}


def hour_floor(value_s: int) -> int:
    return value_s - value_s % HOUR


def ensure_calendar(zones: Iterable[str], start_s: int, end_s: int) -> None:
    """``BillingHour`` rows for every hour of ``[start_s, end_s)`` in each zone."""
    rows = []
    for name in set(zones) | {"UTC"}:
        tz = zone_of(name)
        have = set(BillingHour.objects.filter(zone=name, hour_s__gte=start_s, hour_s__lt=end_s)
                   .values_list("hour_s", flat=True))
        for hour in range(hour_floor(start_s), end_s, HOUR):
            if hour not in have:
                day = dt.datetime.fromtimestamp(hour, tz).date()
                rows.append(BillingHour(zone=name, hour_s=hour, day=day))
    BillingHour.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)


INSERT_RECORDS = """
INSERT INTO billing_usagerecord (interval_id, resource_id, organization_id, project_id, platform_id, region,
    service, type, sku, state, vcpu, memory_mib, storage_gib, bandwidth_mbps, tag_set_id, hour_s, day, seconds)
SELECT i.id, i.resource_id, i.organization_id, i.project_id, i.platform_id, i.region, i.service, i.type, i.sku,
    i.state, i.vcpu, i.memory_mib, i.storage_gib, i.bandwidth_mbps, i.tag_set_id, h.hour_s, h.day,
    (CASE WHEN COALESCE(i.end_s, %(now)s) < h.hour_s + 3600 THEN COALESCE(i.end_s, %(now)s) ELSE h.hour_s + 3600 END)
    - (CASE WHEN i.start_s > h.hour_s THEN i.start_s ELSE h.hour_s END)
FROM billing_usageinterval i
LEFT JOIN billing_billingprofile p ON p.organization_id = i.organization_id
JOIN billing_billinghour h ON h.zone = COALESCE(p.time_zone, 'UTC')
    AND h.hour_s >= %(start)s AND h.hour_s < %(end)s
    AND h.hour_s < COALESCE(i.end_s, %(now)s) AND h.hour_s + 3600 > i.start_s
WHERE i.start_s < %(end)s AND (i.end_s IS NULL OR i.end_s > %(start)s) AND i.start_s < %(now)s
    AND (CASE WHEN COALESCE(i.end_s, %(now)s) < h.hour_s + 3600 THEN COALESCE(i.end_s, %(now)s)
              ELSE h.hour_s + 3600 END) > (CASE WHEN i.start_s > h.hour_s THEN i.start_s ELSE h.hour_s END)
"""


@transaction.atomic
def meter_period(*, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None) -> int:
    """Rebuild the usage records of the hours in ``[start, end)`` (widened to whole hours) from the
    intervals; returns how many records the period now has. Open intervals count up to ``now``."""
    start_s = hour_floor(epoch(start))
    end_s = hour_floor(epoch(end) + HOUR - 1)
    now_s = epoch(now or timezone.now())
    zones = set(BillingProfile.objects.values_list("time_zone", flat=True).distinct())
    ensure_calendar(zones, start_s, end_s)
    UsageRecord.objects.filter(hour_s__gte=start_s, hour_s__lt=end_s).delete()
    with connection.cursor() as cursor:
        cursor.execute(INSERT_RECORDS, {"start": start_s, "end": end_s, "now": now_s})
        return cursor.rowcount
