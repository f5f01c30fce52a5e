"""Core's dashboard queries: long-running operations (see ``apps.core.widgets`` for the contract)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from apps.core.models import Operation
from apps.core.widgets import QueryParam, QueryScope, WidgetQuery, categories_of, register_query

READ = "core:operation:read"
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
WINDOW = QueryParam("choice", "24h", tuple(WINDOWS), label="Time window")


def _operations(scope: QueryScope):
    return scope.restrict(Operation.objects.all(), READ)


def operations_running(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    active = _operations(scope).filter(status__in=[Operation.Status.PENDING, Operation.Status.RUNNING]).count()
    return {"value": active, "total": None}


def operations_by_status(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    since = timezone.now() - WINDOWS[params["window"]]
    rows = _operations(scope).filter(created_at__gte=since).values("status").annotate(n=Count("id")).order_by()
    return categories_of(rows, "status")


def operations_by_kind(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    since = timezone.now() - WINDOWS[params["window"]]
    rows = _operations(scope).filter(created_at__gte=since).values("kind").annotate(n=Count("id")).order_by()
    return categories_of(rows, "kind", limit=params["limit"])


def operations_over_time(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    """Finished operations per hour (per day for windows over a day), succeeded beside failed."""
    window = WINDOWS[params["window"]]
    now = timezone.now()
    daily = window > timedelta(days=1)
    step = timedelta(days=1) if daily else timedelta(hours=1)
    trunc = TruncDay if daily else TruncHour
    buckets = max(1, int(window / step))
    start = (now - step * (buckets - 1)).replace(minute=0, second=0, microsecond=0)
    if daily:
        start = start.replace(hour=0)
    rows = (_operations(scope).filter(finished_at__gte=start).annotate(at=trunc("finished_at"))
            .values("at", "status").annotate(n=Count("id")).order_by())
    slots = [start + step * i for i in range(buckets)]
    index = {slot: i for i, slot in enumerate(slots)}
    succeeded, failed = [0] * buckets, [0] * buckets
    for row in rows:
        i = index.get(row["at"])
        if i is None:
            continue
        if row["status"] == Operation.Status.SUCCEEDED:
            succeeded[i] += row["n"]
        else:
            failed[i] += row["n"]
    fmt = "%m-%d" if daily else "%H:00"
    return {"x": [s.strftime(fmt) for s in slots],
            "series": [{"name": "succeeded", "data": succeeded}, {"name": "failed", "data": failed}]}


def operations_recent(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    rows = _operations(scope).order_by("-created_at", "-id").values_list(
        "kind", "target_name", "status", "progress", "created_at")[: params["limit"]]
    return {"columns": ["Operation", "Target", "Status", "Progress", "Started"],
            "rows": [[k, t, s, f"{p}%", c.strftime("%Y-%m-%d %H:%M")] for k, t, s, p, c in rows]}


def register() -> None:
    topics = ("operation", "activity")
    for query in (
        WidgetQuery("core.operations_running", "Operations running", "value", operations_running, topics=topics,
                    permission=READ),
        WidgetQuery("core.operations_by_status", "Operations by status", "categories", operations_by_status,
                    {"window": WINDOW}, topics=topics, permission=READ),
        WidgetQuery("core.operations_by_kind", "Operations by kind", "categories", operations_by_kind,
                    {"window": WINDOW, "limit": QueryParam("int", 10, low=1, high=50)}, topics=topics,
                    permission=READ),
        WidgetQuery("core.operations_over_time", "Finished operations over time", "timeseries",
                    operations_over_time, {"window": WINDOW}, topics=topics, permission=READ),
        WidgetQuery("core.operations_recent", "Recent operations", "table", operations_recent,
                    {"limit": QueryParam("int", 10, low=1, high=50)}, topics=topics, permission=READ),
    ):
        register_query(query)
