"""Disaster recovery's dashboard queries (contract: ``apps.core.widgets``): RPO per group against its
target, how many groups meet their target, drills and recoveries over time, the running plan's steps
and the RTO of the last runs. Each reads through ``scope.restrict``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.core.widgets import QueryParam, QueryScope, WidgetQuery, register_query
from apps.resilience.models import PlanRun, PlanStep, ProtectionGroup

GROUP_READ = "resilience:group:read"
PLAN_READ = "resilience:plan:read"
TOPICS = ("resilience", "operation")


def rpo_by_group(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    rows = scope.restrict(ProtectionGroup.objects.all(), GROUP_READ).order_by("name").values_list(
        "name", "rpo_seconds", "target_rpo_seconds")[: params["limit"]]
    return {"x": [name for name, _rpo, _target in rows],
            "series": [{"name": "RPO (s)", "data": [round(rpo, 1) if rpo is not None else None
                                                    for _n, rpo, _t in rows]},
                       {"name": "Target (s)", "data": [target for _n, _r, target in rows]}]}


def rpo_satisfaction(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    groups = scope.restrict(ProtectionGroup.objects.all(), GROUP_READ)
    total = groups.count()
    met = groups.filter(rpo_breached=False, rpo_seconds__isnull=False).count()
    return {"value": met, "total": total}


def runs_over_time(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    since = timezone.now() - timedelta(days=params["days"])
    runs = scope.restrict(PlanRun.objects.filter(finished_at__gte=since), PLAN_READ)
    counts = runs.annotate(day=TruncDate("finished_at")).values("day", "kind", "status").annotate(n=Count("id"))
    days = [(since + timedelta(days=i + 1)).date() for i in range(params["days"])]
    series: dict[str, dict[Any, int]] = {}
    for row in counts:
        family = "Drills" if row["kind"] == "drill" else "Recoveries"
        outcome = "succeeded" if row["status"] == PlanRun.Status.SUCCEEDED else "failed"
        series.setdefault(f"{family} {outcome}", {})[row["day"]] = row["n"]
    names = ("Drills succeeded", "Drills failed", "Recoveries succeeded", "Recoveries failed")
    return {"x": [d.isoformat() for d in days],
            "series": [{"name": name, "data": [series.get(name, {}).get(d, 0) for d in days]} for name in names]}


def running_steps(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    run = scope.restrict(PlanRun.objects.filter(status__in=PlanRun.ACTIVE), PLAN_READ) \
        .select_related("group").order_by("-started_at").first()
    if run is None:
        return {"columns": ["Plan", "Step", "Status"], "rows": []}
    steps = PlanStep.objects.filter(run=run).order_by("seq").values_list("batch", "title", "status")[:50]
    return {"columns": ["Batch", "Step", "Status"],
            "rows": [[f"{run.group.name} {run.kind} #{batch}", title, status] for batch, title, status in steps]}


def rto_last_runs(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    runs = scope.restrict(PlanRun.objects.filter(status__in=PlanRun.FINAL, measured_rto_seconds__isnull=False),
                          PLAN_READ).select_related("group").order_by("-finished_at")[: params["limit"]]
    return {"columns": ["Group", "Plan", "Status", "RTO (s)", "Target RTO (s)", "RPO (s)"],
            "rows": [[r.group.name, r.kind, r.status, round(r.measured_rto_seconds or 0, 1),
                      r.group.target_rto_seconds,
                      round(r.measured_rpo_seconds, 1) if r.measured_rpo_seconds is not None else ""]
                     for r in runs]}


def register() -> None:
    limit = {"limit": QueryParam("int", 10, low=1, high=50, label="Rows")}
    for query in (
        WidgetQuery("resilience.rpo_by_group", "RPO per protection group against its target", "timeseries",
                    rpo_by_group, {"limit": QueryParam("int", 20, low=1, high=100, label="Groups")},
                    topics=TOPICS, permission=GROUP_READ, unit="s"),
        WidgetQuery("resilience.rpo_satisfaction", "Protection groups within their RPO target", "value",
                    rpo_satisfaction, topics=TOPICS, permission=GROUP_READ),
        WidgetQuery("resilience.runs_over_time", "Drills and recoveries per day", "timeseries", runs_over_time,
                    {"days": QueryParam("int", 14, low=1, high=90, label="Days")}, topics=TOPICS,
                    permission=PLAN_READ),
        WidgetQuery("resilience.running_steps", "The running plan's steps", "table", running_steps, topics=TOPICS,
                    permission=PLAN_READ),
        WidgetQuery("resilience.rto_last_runs", "RTO of the last runs", "table", rto_last_runs, limit,
                    topics=TOPICS, permission=PLAN_READ),
    ):
        register_query(query)
