"""Provisioning's dashboard queries (contract: ``apps.core.widgets``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from apps.core.widgets import QueryParam, QueryScope, WidgetQuery, categories_of, register_query
from apps.provisioning.models import ProvisioningRequest

READ = "provisioning:request:read"


def _requests(scope: QueryScope):
    return scope.restrict(ProvisioningRequest.objects.all(), READ)


def requests_waiting(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    return {"value": _requests(scope).filter(status=ProvisioningRequest.Status.PENDING).count(), "total": None}


def requests_by_status(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    rows = _requests(scope).values("status").annotate(n=Count("id")).order_by()
    return categories_of(rows, "status")


def requests_waiting_table(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    rows = (_requests(scope).filter(status=ProvisioningRequest.Status.PENDING).order_by("created_at", "id")
            .values_list("id", "resource_type", "region", "created_at")[: params["limit"]])
    return {"columns": ["Request", "Type", "Region", "Waiting since"],
            "rows": [[i, t, r, c.strftime("%Y-%m-%d %H:%M")] for i, t, r, c in rows]}


def register() -> None:
    topics = ("request",)
    for query in (
        WidgetQuery("provisioning.requests_waiting", "Requests waiting for approval", "value", requests_waiting,
                    topics=topics, permission=READ),
        WidgetQuery("provisioning.requests_by_status", "Requests by status", "categories", requests_by_status,
                    topics=topics, permission=READ),
        WidgetQuery("provisioning.requests_waiting_list", "Requests waiting (oldest first)", "table",
                    requests_waiting_table, {"limit": QueryParam("int", 10, low=1, high=50, label="Rows")},
                    topics=topics, permission=READ),
    ):
        register_query(query)
