"""Metrics: collection through the adapters, rollups, retention, and the queries pages and rules use.

Collection asks each platform's adapter for the metrics its capabilities list per resource type,
from the last stored point (at most ``BACKFILL`` back) to now, and stores the raw points; a point
already stored is skipped (the unique index), so a repeated or overlapping collection writes
nothing twice. Rollups recompute the last few closed buckets of each coarser resolution, so a point
that arrived late still counts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Max, Min, QuerySet
from django.utils import timezone

from apps.alerts.models import MetricSample, Resolution
from apps.clouds.adapters import CloudCallError, adapter_for
from apps.clouds.models import CloudPlatform
from apps.core.errors import InvalidInput
from apps.resources.models import Resource

logger = logging.getLogger(__name__)

COLLECT_SECONDS = 60
BACKFILL = timedelta(minutes=15)
MAX_RESOURCES_PER_PLATFORM = 500
BUCKETS = {Resolution.FIVE_MINUTES: (Resolution.RAW, 300), Resolution.HOUR: (Resolution.FIVE_MINUTES, 3600)}
RETENTION = {Resolution.RAW: timedelta(days=2), Resolution.FIVE_MINUTES: timedelta(days=35),
             Resolution.HOUR: timedelta(days=400)}
AGGREGATIONS = {"avg": Avg, "max": Max, "min": Min}
GROUP_DIMENSIONS = {"resource": "resource_id", "platform": "resource__platform_id",
                    "project": "resource__project_id", "organization": "resource__organization_id",
                    "service": "resource__service", "region": "resource__region"}


def metric_catalog() -> dict[str, list[str]]:
    """Resource type -> metric names, over every registered cloud type."""
    from apps.clouds.adapters import adapter_types

    out: dict[str, set[str]] = defaultdict(set)
    for cls in adapter_types().values():
        for resource_type, names in cls.capabilities.metrics.items():
            out[resource_type].update(names)
    return {k: sorted(v) for k, v in sorted(out.items())}


def known_metrics() -> set[str]:
    return {m for names in metric_catalog().values() for m in names}


@dataclass
class CollectResult:
    resources: int = 0
    points: int = 0
    errors: int = 0


def metrics_collect(*, platform: CloudPlatform, now: datetime | None = None, adapter: Any = None) -> CollectResult:
    """Store the raw points of every collectable resource of ``platform`` since its last point."""
    now = now or timezone.now()
    adapter = adapter or adapter_for(platform, timeout=10)
    wanted = adapter.capabilities.metrics
    result = CollectResult()
    resources = list(Resource.objects.filter(platform=platform, deleted=False, type__in=list(wanted))
                     .only("id", "type", "region", "external_id").order_by("id")[:MAX_RESOURCES_PER_PLATFORM])
    if not resources:
        return result
    last = {(rid, m): ts for rid, m, ts in MetricSample.objects.filter(
        resource_id__in=[r.id for r in resources], resolution=Resolution.RAW, ts__gte=now - BACKFILL)
        .values("resource_id", "metric").annotate(ts=Max("ts")).values_list("resource_id", "metric", "ts")}
    rows: list[MetricSample] = []
    for res in resources:
        result.resources += 1
        for metric in wanted.get(res.type, ()):
            since = last.get((res.id, metric))
            start = (since + timedelta(seconds=1)) if since else now - BACKFILL
            try:
                points = adapter.metrics(res.type, res.region, res.external_id, metric,
                                         start=start.timestamp(), end=now.timestamp(), period=COLLECT_SECONDS)
            except CloudCallError as exc:
                result.errors += 1
                logger.info("metrics of %s %s not collected: %s", res.id, metric, exc)
                continue
            for p in points:
                ts = datetime.fromtimestamp(p.timestamp, tz=UTC)
                rows.append(MetricSample(resource_id=res.id, metric=metric, resolution=Resolution.RAW, ts=ts,
                                         value=p.value, minimum=p.value, maximum=p.value, count=1))
    MetricSample.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    result.points = len(rows)
    return result


def store_points(resource: Resource, metric: str, points: Iterable[tuple[datetime, float]]) -> int:
    """Store raw points of one series (collection from outside an adapter, tests, the demo)."""
    rows = [MetricSample(resource=resource, metric=metric, resolution=Resolution.RAW, ts=ts, value=v, minimum=v,
                         maximum=v, count=1) for ts, v in points]
    MetricSample.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def _floor(ts: datetime, size: int) -> datetime:
    seconds = int(ts.timestamp())
    return datetime.fromtimestamp(seconds - seconds % size, tz=UTC)


def metrics_rollup(*, now: datetime | None = None, lookback_buckets: int = 3) -> dict[str, int]:
    """Fold the last ``lookback_buckets`` closed buckets of each finer resolution into the coarser one."""
    now = now or timezone.now()
    written: dict[str, int] = {}
    for target, (source, size) in BUCKETS.items():
        end = _floor(now, size)
        start = end - timedelta(seconds=size * lookback_buckets)
        acc: dict[tuple[str, str, datetime], list[float]] = {}
        for rid, metric, ts, value, lo, hi, count in (
                MetricSample.objects.filter(resolution=source, ts__gte=start, ts__lt=end)
                .values_list("resource_id", "metric", "ts", "value", "minimum", "maximum", "count")
                .iterator(chunk_size=5000)):
            key = (rid, metric, _floor(ts, size))
            a = acc.get(key)
            if a is None:
                acc[key] = [value * count, lo, hi, count]
            else:
                a[0] += value * count
                a[1] = min(a[1], lo)
                a[2] = max(a[2], hi)
                a[3] += count
        rows = [MetricSample(resource_id=rid, metric=metric, resolution=target, ts=ts, value=total / n, minimum=lo,
                             maximum=hi, count=n) for (rid, metric, ts), (total, lo, hi, n) in acc.items()]
        MetricSample.objects.bulk_create(rows, batch_size=1000, update_conflicts=True,
                                         unique_fields=["resource", "metric", "resolution", "ts"],
                                         update_fields=["value", "minimum", "maximum", "count"])
        written[str(target)] = len(rows)
    return written


def metrics_expire(*, now: datetime | None = None) -> int:
    """Delete points older than their resolution's retention."""
    now = now or timezone.now()
    deleted = 0
    for resolution, keep in RETENTION.items():
        deleted += MetricSample.objects.filter(resolution=resolution, ts__lt=now - keep).delete()[0]
    return deleted


# -- queries ------------------------------------------------------------------------------------------


def pick_resolution(start: datetime, end: datetime) -> str:
    span = (end - start).total_seconds()
    if span <= 6 * 3600:
        return Resolution.RAW
    if span <= 7 * 86400:
        return Resolution.FIVE_MINUTES
    return Resolution.HOUR


def _check_range(start: datetime, end: datetime, resolution: str) -> None:
    if start >= end:
        raise InvalidInput("start must be before end.", detail={"start": ["Must be before end."]})
    if resolution not in Resolution.values:
        raise InvalidInput("Unknown resolution.", detail={"resolution": [f"One of {', '.join(Resolution.values)}."]})


def series(*, resources: QuerySet, metric: str, start: datetime, end: datetime, resolution: str | None = None
           ) -> dict[str, Any]:
    """Points of ``metric`` for each resource of ``resources`` (already scoped) in [start, end)."""
    resolution = resolution or pick_resolution(start, end)
    _check_range(start, end, resolution)
    out: dict[str, list[list[Any]]] = defaultdict(list)
    for rid, ts, value in (MetricSample.objects.filter(resource__in=resources, metric=metric, resolution=resolution,
                                                       ts__gte=start, ts__lt=end)
                           .order_by("resource_id", "ts").values_list("resource_id", "ts", "value")[:100_000]):
        out[rid].append([ts.isoformat(), round(value, 4)])
    return {"metric": metric, "resolution": resolution,
            "series": [{"resource": k, "points": v} for k, v in out.items()]}


def aggregate(*, resources: QuerySet, metric: str, start: datetime, end: datetime, group_by: str,
              aggregation: str = "avg", resolution: str | None = None) -> list[dict[str, Any]]:
    """One value of ``metric`` per group (``GROUP_DIMENSIONS`` or ``tag:<key>``) over [start, end)."""
    resolution = resolution or pick_resolution(start, end)
    _check_range(start, end, resolution)
    if aggregation not in AGGREGATIONS:
        raise InvalidInput("Unknown aggregation.", detail={"aggregation": [f"One of {', '.join(AGGREGATIONS)}."]})
    qs = MetricSample.objects.filter(resource__in=resources, metric=metric, resolution=resolution, ts__gte=start,
                                     ts__lt=end)
    fn = AGGREGATIONS[aggregation]
    if group_by.startswith("tag:") and len(group_by) > 4:
        # Tags live in a JSON column: aggregate per resource in the database, then by tag value here.
        key = group_by[4:]
        per_resource = dict(qs.values("resource_id").annotate(v=fn("value")).values_list("resource_id", "v"))
        tags = dict(Resource.objects.filter(pk__in=per_resource).values_list("id", "tags"))
        groups: dict[str, list[float]] = defaultdict(list)
        for rid, v in per_resource.items():
            groups[str((tags.get(rid) or {}).get(key, ""))].append(v)
        combine = {"avg": lambda xs: sum(xs) / len(xs), "max": max, "min": min}[aggregation]
        return [{"group": g, "value": round(combine(vs), 4), "series": len(vs)} for g, vs in sorted(groups.items())]
    column = GROUP_DIMENSIONS.get(group_by)
    if column is None:
        raise InvalidInput("Unknown group.",
                           detail={"group_by": [f"One of {', '.join(GROUP_DIMENSIONS)} or tag:<key>."]})
    rows = qs.values(column).annotate(v=fn("value"), n=Count("resource_id", distinct=True)).order_by(column)
    return [{"group": str(r[column]) if r[column] is not None else "", "value": round(r["v"], 4), "series": r["n"]}
            for r in rows[:1000]]
