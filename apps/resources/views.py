"""Console pages of the inventory: the cross-cloud resource list (filters, keyset pages), a
resource's detail with its relations, and usage statistics. Same selectors and filters as the API."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import InvalidPage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from rest_framework.exceptions import NotFound as DrfNotFound
from rest_framework.request import Request

from apps.clouds.catalog import type_name
from apps.clouds.models import ResourceType
from apps.clouds.selectors import platform_list
from apps.core.errors import ApplicationError
from apps.core.scoping import restrict
from apps.resources import selectors
from apps.resources.api.pagination import ResourcePagination
from apps.resources.filters import ResourceFilter
from apps.resources.models import Resource

FILTER_KEYS = ("platform", "region", "service", "type", "status", "organization", "project", "tag", "q", "deleted")


class _View:
    ordering = ("-id",)
    ordering_fields = None


@login_required
def resource_list(request: HttpRequest) -> HttpResponse:
    params = {k: v for k, v in request.GET.items() if k in FILTER_KEYS and v}
    qs = selectors.resource_list(actor=request.user).select_related("platform")
    if "deleted" not in params:
        qs = qs.filter(deleted=False)
    error = ""
    rows: list[Resource] = []
    next_url = ""
    try:
        filtered = ResourceFilter(params, queryset=qs)
        if not filtered.is_valid():
            raise ApplicationError("The filters are not valid: " + "; ".join(
                f"{k}: {', '.join(v)}" for k, v in filtered.errors.items()))
        paginator = ResourcePagination()
        paginator.page_size = 50
        drf_request = Request(request)
        rows = paginator.paginate_queryset(filtered.qs, drf_request, view=_View()) or []
        next_link = paginator.get_next_link()
        if next_link:
            cursor = next_link.split("cursor=", 1)[1].split("&", 1)[0]
            next_url = "?" + urlencode({**params, "cursor": cursor})
    except ApplicationError as exc:
        error = exc.message
    except (DrfNotFound, InvalidPage):  # a cursor edited by hand
        error = "That page does not exist; start again from the first page."
    platforms = platform_list(actor=request.user).select_related(None).only("id", "name")[:200]
    types = [(t.code, t.name) for t in ResourceType.objects.filter(collected=True).order_by("code")]
    return render(request, "resources/list.html", {
        "rows": rows, "params": params, "next_url": next_url, "error": error, "platforms": platforms,
        "types": types, "statuses": ["running", "stopped", "pending", "available", "in_use", "changing"],
    })


@login_required
def resource_detail(request: HttpRequest, resource_id: str) -> HttpResponse:
    resource = selectors.resource_get(actor=request.user, resource_id=resource_id)
    relations = selectors.resource_relations(actor=request.user, resource=resource)
    return render(request, "resources/detail.html", {
        "r": resource, "type_name": type_name(resource.type), "relations": relations,
        "spec_json": json.dumps(resource.spec, indent=2, sort_keys=True),
    })


@login_required
def usage(request: HttpRequest) -> HttpResponse:
    group = request.GET.get("group_by", "platform")
    group_by = [g for g in group.split(",") if g][:3]
    params = {k: v for k, v in request.GET.items() if k in FILTER_KEYS and v}
    qs = restrict(Resource.objects.all(), request.user, "resources:usage:read")
    error = ""
    rows = []
    try:
        filtered = ResourceFilter(params, queryset=qs)
        if not filtered.is_valid():
            raise ApplicationError("The filters are not valid.")
        rows = selectors.usage(queryset=filtered.qs, group_by=group_by)
    except ApplicationError as exc:
        error = exc.message
    totals = {k: sum(r[k] for r in rows) for k in ("count", "vcpu", "memory_mib", "storage_gib")}
    labels = [" / ".join(str(r.get(f"{g}_name") or r.get(g) or "(none)") for g in group_by) for r in rows]
    return render(request, "resources/usage.html", {
        "rows": rows, "group_by": group_by, "group": group, "error": error, "totals": totals, "params": params,
        "dimensions": list(selectors.USAGE_DIMENSIONS),
        "chart": json.dumps({"labels": labels[:30], "counts": [r["count"] for r in rows[:30]],
                             "vcpu": [r["vcpu"] for r in rows[:30]]}),
        "labelled": list(zip(labels, rows, strict=True)),
    })
