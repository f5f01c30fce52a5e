"""Organizations' dashboard queries and the organization tree dashboards narrow by (contract:
``apps.core.widgets``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from apps.core.widgets import QueryParam, QueryScope, WidgetQuery, categories_of, register_query
from apps.organizations.models import Organization, Project, User


def subtree_ids(org_id: Any) -> list[Any]:
    org = Organization.objects.filter(pk=org_id).only("path").first()
    if org is None:
        return []
    return list(Organization.objects.filter(path__startswith=org.path).values_list("id", flat=True))


def ancestor_ids(org_id: Any) -> list[Any]:
    org = Organization.objects.filter(pk=org_id).only("path").first()
    return org.ancestor_ids if org is not None else []


def counts(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    what = params["what"]
    if what == "users":
        qs = scope.restrict(User.objects.filter(is_active=True), "organizations:user:read")
    elif what == "projects":
        qs = scope.restrict(Project.objects.all(), "organizations:project:read")
    else:
        qs = scope.restrict(Organization.objects.filter(is_active=True), "organizations:organization:read")
    return {"value": qs.count(), "total": None}


def users_by_organization(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    orgs = scope.restrict(Organization.objects.filter(is_active=True), "organizations:organization:read")
    rows = orgs.annotate(n=Count("memberships")).values("name", "n").order_by()
    return categories_of(rows, "name", limit=params["limit"])


def register() -> None:
    for query in (
        WidgetQuery("organizations.count", "Organizations, users or projects", "value", counts,
                    {"what": QueryParam("choice", "organizations", ("organizations", "users", "projects"),
                                        label="Count")},
                    topics=("organization", "user", "project")),
        WidgetQuery("organizations.users_by_organization", "People per organization", "categories",
                    users_by_organization, {"limit": QueryParam("int", 10, low=1, high=50, label="Rows")},
                    topics=("organization", "user"), permission="organizations:organization:read"),
    ):
        register_query(query)
