"""Reads of dashboards, and the data of their widgets for a viewer or a wall screen."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.core.errors import InvalidInput, NotFound
from apps.core.scoping import authorize, restrict
from apps.core.selectors import organization_list
from apps.core.widgets import QueryFailed, QueryScope, get_query, organization_subtree, run_query
from apps.dashboards.models import Dashboard, DashboardVersion

READ = "dashboards:dashboard:read"
WRITE = "dashboards:dashboard:write"


def dashboard_list(*, actor: Any, action: str = READ) -> QuerySet[Dashboard]:
    """Dashboards of the organizations where ``actor`` may ``action``, and (to read) those shared
    with them in person."""
    scoped = restrict(Dashboard.objects.all(), actor, action)
    if action != READ or not getattr(actor, "pk", None):
        return scoped
    return Dashboard.objects.filter(Q(pk__in=scoped.values("pk")) | Q(shared_with=actor)).distinct()


def dashboard_get(*, actor: Any, uid: Any) -> Dashboard:
    """One dashboard the actor may read; missing and invisible look the same (404)."""
    row = dashboard_list(actor=actor).filter(pk=str(uid)).select_related("organization").first()
    if row is None:
        raise NotFound("Dashboard not found.")
    return row


def dashboard_versions(*, dashboard: Dashboard) -> QuerySet[DashboardVersion]:
    return dashboard.versions.select_related("created_by").order_by("-version")


def dashboard_topic_org(user: Any, key: str) -> str | None:
    """The ``dashboard:<uid>`` topic: followed by whoever may read the dashboard."""
    org_id = dashboard_list(actor=user).filter(pk=key).values_list("organization_id", flat=True).first()
    return str(org_id) if org_id else None


def viewer_scope(*, actor: Any, organization: Any = None) -> QueryScope:
    """A person's scope, narrowed to ``organization`` and its subtree when the dashboard's
    organization variable is set (a 400 when the person may not read that organization)."""
    if organization in (None, ""):
        return QueryScope(actor)
    org = None
    try:
        org = organization_list(actor=actor, action="organizations:organization:read").filter(pk=organization).first()
    except (ValueError, TypeError, ValidationError):  # a malformed id is as unknown as a foreign one
        org = None
    if org is None:
        raise InvalidInput("organization was not found.", detail={"organization": ["Not found."]})
    return QueryScope(actor, organization_ids=organization_subtree(org.pk))


def screen_scope(*, organization_id: Any) -> QueryScope:
    """A wall screen sees its display token's organization and everything below it."""
    return QueryScope(None, organization_ids=organization_subtree(organization_id))


def widget_data(*, dashboard: Dashboard, scope: QueryScope, widget_ids: list[str] | None = None) -> dict[str, Any]:
    """The result of each widget's query for ``scope``, with the time it was read."""
    return {w["id"]: one_widget_data(widget=w, scope=scope) for w in dashboard.document.get("widgets", [])
            if widget_ids is None or w["id"] in widget_ids}


def one_widget_data(*, widget: dict[str, Any], scope: QueryScope) -> dict[str, Any]:
    """A widget's data. A widget whose query is no longer registered (an app removed), cannot answer
    now, or that the viewer may not run gets an ``error`` instead of failing the whole dashboard."""
    now = timezone.now().isoformat()
    query = get_query(widget["query"]["name"])
    if query is None:
        return {"error": f"Unknown query {widget['query']['name']}.", "updated_at": now}
    try:
        result = run_query(query, scope, widget["query"].get("params"))
    except QueryFailed as exc:
        return {"error": str(exc), "updated_at": now}
    if result.get("forbidden"):
        return {"error": "You may not see this data.", "updated_at": now}
    return {"shape": query.shape, "unit": query.unit, "result": result, "updated_at": now}


def may_write(*, actor: Any, dashboard: Dashboard) -> bool:
    return authorize(actor, WRITE, dashboard)
