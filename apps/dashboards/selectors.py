"""Reads of dashboards, and the data of their widgets for a viewer or a wall screen."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.core.errors import InvalidInput, NotFound
from apps.core.scoping import authorize, restrict
from apps.core.selectors import organization_list
from apps.core.widgets import (
    QueryFailed,
    QueryScope,
    get_query,
    organization_ancestors,
    organization_subtree,
    run_query,
)
from apps.dashboards.models import Dashboard, DashboardVersion, HomeDashboard

READ = "dashboards:dashboard:read"
WRITE = "dashboards:dashboard:write"


def dashboard_list(*, actor: Any, action: str = READ) -> QuerySet[Dashboard]:
    """Dashboards of the organizations where ``actor`` may ``action``, and (to read) those shared
    with them in person or with a role they hold there (``shared_by_role``)."""
    scoped = restrict(Dashboard.objects.all(), actor, action)
    if action != READ or not getattr(actor, "pk", None):
        return scoped
    return Dashboard.objects.filter(Q(pk__in=scoped.values("pk")) | Q(shared_with=actor)
                                    | shared_by_role(actor)).distinct()


def shared_by_role(actor: Any) -> Q:
    """Dashboards shared with a role ``actor`` holds where the dashboard belongs.

    A role held on the whole platform reaches every dashboard shared with it; held on an
    organization, the dashboards of that organization, of the organizations above it (a team's
    screen shared with the headquarters' viewers) and below it; held on a project, those of the
    project's organization and above. A role held on a cloud platform or a cloud service reaches
    none: it says nothing about organizations (``role_reach``)."""
    q = Q(pk__in=[])
    for key, orgs in role_reach(actor).items():
        if key is None:
            continue
        held = Q(shared_with_roles__key=key)
        q |= held if orgs is None else held & Q(organization_id__in=sorted(orgs))
    return q


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


# The predefined dashboard a surface falls back to when no home applies to the person.
HOME_FALLBACK = {"console": "resources", "portal": "resources"}


def role_reach(actor: Any) -> dict[str | None, set[str] | None]:
    """Role key -> the organizations where holding it counts for sharing and homes (``None``: every
    organization), with the ``None`` key for "any role" (everywhere the person holds one)."""
    from apps.rbac.engine import profile_for

    profile = profile_for(actor)
    reach: dict[str | None, set[str] | None] = {}

    def add(key: str | None, orgs: set[str] | None) -> None:
        if key in reach and reach[key] is None:
            return
        reach[key] = None if orgs is None else (reach.get(key) or set()) | orgs

    for rule in profile.rules:
        orgs: set[str] | None
        if rule.scope_type == "platform":
            orgs = None
        elif rule.scope_type == "organization":
            orgs = {str(o) for o in organization_ancestors(rule.scope_id)} | set(profile.subtree(rule.scope_id))
        elif rule.scope_type == "project" and rule.scope_id in profile.project_orgs:
            orgs = {str(o) for o in organization_ancestors(profile.project_orgs[rule.scope_id])}
        else:
            continue
        add(rule.role_key, orgs)
        add(None, orgs)
    return reach


def home_list(*, actor: Any, action: str = READ) -> QuerySet[HomeDashboard]:
    """The home assignments of the organizations where ``actor`` may ``action`` (to manage them)."""
    return restrict(HomeDashboard.objects.select_related("dashboard", "role", "organization"), actor, action)


def home_dashboards(*, actor: Any, surface: str) -> list[Dashboard]:
    """The dashboards of ``actor``'s home on ``surface``: those of every assignment that applies to
    them (a role they hold where the assignment's organization is, or no role), which they may read,
    in order; else the surface's predefined dashboard when they may read it; else none."""
    reach = role_reach(actor)
    q = Q(pk__in=[])
    for key, orgs in reach.items():
        held = Q(role__isnull=True) if key is None else Q(role__key=key)
        q |= held if orgs is None else held & Q(organization_id__in=sorted(orgs))
    readable = dashboard_list(actor=actor)
    rows = (HomeDashboard.objects.filter(q, surface=surface, dashboard__in=readable.values("pk"))
            .select_related("dashboard").order_by("position", "created_at", "id"))
    found: list[Dashboard] = []
    for row in rows[:50]:
        if row.dashboard not in found:
            found.append(row.dashboard)
    if not found:
        fallback = readable.filter(pk=HOME_FALLBACK.get(surface)).first()
        if fallback is not None:
            found.append(fallback)
    return found
