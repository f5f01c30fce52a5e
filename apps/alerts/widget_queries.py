"""The alerts app's dashboard queries (contract: ``apps.core.widgets``): firing alerts for wall screens,
and a metric's average over the resources a viewer may see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Avg, Count
from django.utils import timezone

from apps.alerts.metrics import known_metrics
from apps.alerts.models import Alert, MetricSample, Resolution
from apps.core.widgets import QueryParam, QueryScope, WidgetQuery, categories_of, register_query
from apps.resources.models import Resource

READ = "alerts:alert:read"
METRIC_READ = "alerts:metric:read"
SEVERITIES = ("any", "critical", "warning", "info")


def _firing(scope: QueryScope, params: dict[str, Any]):
    qs = scope.restrict(Alert.objects.all(), READ).filter(state=Alert.State.FIRING, silenced_by__isnull=True,
                                                          inhibited_by__isnull=True)
    if params.get("severity", "any") != "any":
        qs = qs.filter(severity=params["severity"])
    return qs


def firing_count(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    return {"value": _firing(scope, params).count(), "total": None}


def firing_by_severity(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    return categories_of(_firing(scope, {}).values("severity").annotate(n=Count("id")).order_by(), "severity")


def firing_list(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    rows = _firing(scope, params).order_by("-starts_at", "-id").values_list(
        "severity", "name", "labels", "starts_at")[: params["limit"]]
    return {"columns": ["Severity", "Alert", "Where", "Since"],
            "rows": [[sev, name, labels.get("resource_name") or labels.get("instance") or "",
                      started.strftime("%Y-%m-%d %H:%M") if started else ""] for sev, name, labels, started in rows]}


def metric_average(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    resources = scope.restrict(Resource.objects.filter(deleted=False), METRIC_READ)
    since = timezone.now() - timedelta(minutes=params["minutes"])
    rows = (MetricSample.objects.filter(resource__in=resources, metric=params["metric"], resolution=Resolution.RAW,
                                        ts__gte=since).values("ts").annotate(v=Avg("value")).order_by("ts")[:1440])
    return {"x": [r["ts"].strftime("%H:%M") for r in rows],
            "series": [{"name": params["metric"], "data": [round(r["v"], 2) for r in rows]}]}


def register() -> None:
    topics = ("alerts",)
    severity = {"severity": QueryParam("choice", "any", SEVERITIES, label="Severity")}
    metrics = tuple(sorted(known_metrics()))
    for query in (
        WidgetQuery("alerts.firing_count", "Firing alerts", "value", firing_count, severity, topics=topics,
                    permission=READ),
        WidgetQuery("alerts.firing_by_severity", "Firing alerts by severity", "categories", firing_by_severity,
                    topics=topics, permission=READ),
        WidgetQuery("alerts.firing_list", "Firing alerts (newest first)", "table", firing_list,
                    {**severity, "limit": QueryParam("int", 10, low=1, high=50, label="Rows")}, topics=topics,
                    permission=READ),
        WidgetQuery("alerts.metric_average", "A metric's average over time", "timeseries", metric_average,
                    {"metric": QueryParam("choice", "CPUUtilization" if "CPUUtilization" in metrics else metrics[0],
                                          metrics, label="Metric"),
                     "minutes": QueryParam("int", 60, low=5, high=1440, label="Minutes")},
                    permission=METRIC_READ),
    ):
        register_query(query)
