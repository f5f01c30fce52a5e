"""The security center's dashboard queries: sign-ins, MFA coverage, audit activity (contract:
``apps.core.widgets``). Audit entries are written for every event, so these follow every topic
through the ``audit`` kind that ``dashboards`` feeds them with."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from apps.core.widgets import QueryParam, QueryScope, WidgetQuery, categories_of, register_query
from apps.organizations.models import User
from apps.security.models import AccountSecurity, AuditEntry

AUDIT_READ = "audit:log:read"
USER_READ = "organizations:user:read"
SIGNIN_ACTIONS = {"signin.succeeded": "succeeded", "signin.failed": "failed", "signin.locked": "locked",
                  "signin.refused": "refused"}


def _audit(scope: QueryScope, hours: int):
    since = timezone.now() - timedelta(hours=hours)
    return scope.restrict(AuditEntry.objects.filter(created_at__gte=since), AUDIT_READ)


def signins_by_result(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    rows = (_audit(scope, params["hours"]).filter(action__in=list(SIGNIN_ACTIONS))
            .values("action").annotate(n=Count("id")).order_by())
    counts = {SIGNIN_ACTIONS[r["action"]]: r["n"] for r in rows}
    return {"categories": [{"name": name, "value": counts.get(name, 0)} for name in SIGNIN_ACTIONS.values()]}


def signins_failed(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    qs = _audit(scope, params["hours"]).filter(action__startswith="signin.")
    return {"value": qs.exclude(action="signin.succeeded").count(), "total": qs.count()}


def mfa_coverage(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    """Active people with a confirmed authenticator, out of the active people the scope sees."""
    people = scope.restrict(User.objects.filter(is_active=True), USER_READ)
    enrolled = AccountSecurity.objects.filter(user__in=people.values("pk"), mfa_confirmed_at__isnull=False).count()
    return {"value": enrolled, "total": people.count()}


def audit_activity(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    hours = params["hours"]
    now = timezone.now()
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    rows = (_audit(scope, hours).filter(created_at__gte=start).annotate(at=TruncHour("created_at"))
            .values("at", "result").annotate(n=Count("id")).order_by())
    slots = [start + timedelta(hours=i) for i in range(hours)]
    index = {slot: i for i, slot in enumerate(slots)}
    series = {result: [0] * hours for result in AuditEntry.Result.values}
    for row in rows:
        i = index.get(row["at"])
        if i is not None and row["result"] in series:
            series[row["result"]][i] += row["n"]
    return {"x": [s.strftime("%H:00") for s in slots],
            "series": [{"name": name, "data": data} for name, data in series.items()]}


def audit_by_action(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    rows = _audit(scope, params["hours"]).values("action").annotate(n=Count("id")).order_by()
    return categories_of(rows, "action", limit=params["limit"])


def register() -> None:
    hours = QueryParam("choice", 24, (1, 6, 24, 72, 168), label="Hours")
    topics = ("audit",)
    for query in (
        WidgetQuery("security.signins_by_result", "Sign-ins by result", "categories", signins_by_result,
                    {"hours": hours}, topics=topics, permission=AUDIT_READ),
        WidgetQuery("security.signins_failed", "Failed sign-ins", "value", signins_failed, {"hours": hours},
                    topics=topics, permission=AUDIT_READ),
        WidgetQuery("security.mfa_coverage", "MFA coverage", "value", mfa_coverage, topics=("user", "audit"),
                    permission=USER_READ, unit="%"),
        WidgetQuery("security.audit_activity", "Audit activity per hour", "timeseries", audit_activity,
                    {"hours": QueryParam("choice", 24, (6, 24, 72), label="Hours")}, topics=topics,
                    permission=AUDIT_READ),
        WidgetQuery("security.audit_by_action", "Audit entries by action", "categories", audit_by_action,
                    {"hours": hours, "limit": QueryParam("int", 10, low=1, high=50, label="Rows")},
                    topics=topics, permission=AUDIT_READ),
    ):
        register_query(query)
