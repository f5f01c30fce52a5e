"""Cursor (keyset) pagination: pages cost the same at row 10 and at row 100,000, and no COUNT(*).

One paginator serves the API (``DEFAULT_PAGINATION_CLASS``) and the console's pages and pickers
(``page_of``): the same ordering rules, page size cap and cursors.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-created_at", "-id")

    def get_ordering(self, request, queryset, view):
        if getattr(view, "ordering_fields", None):
            # ``?ordering=`` picks among the fields the view declares (each backed by an index);
            # unknown fields are dropped by the ordering filter.
            ordering = super().get_ordering(request, queryset, view)
        else:
            ordering = getattr(view, "ordering", None) or self.ordering
        if isinstance(ordering, str):
            ordering = (ordering,)
        ordering = tuple(ordering)
        if not {"pk", "-pk", "id", "-id"} & set(ordering):
            # Rows sharing the first field's value still come in one stable order.
            ordering += ("-pk" if ordering[0].startswith("-") else "pk",)
        return ordering

    def _get_position_from_instance(self, instance, ordering):
        # An ordering may follow a relation (``organization__path``, ``user__username``).
        field = ordering[0].lstrip("-")
        if isinstance(instance, dict):
            value = instance[field]
        else:
            value = functools.reduce(getattr, field.split("__"), instance)
        return None if value is None else str(value)

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }


def page_response(queryset: QuerySet, request: Request, ordering: tuple[str, ...], serializer_class: type
                  ) -> Response:
    """One cursor page of ``queryset`` in the API's list shape, for actions and views that list
    something other than their viewset's queryset."""
    paginator = CursorPagination()
    rows = paginator.paginate_queryset(queryset, request, SimpleNamespace(ordering=ordering))
    return paginator.get_paginated_response(serializer_class(rows, many=True).data)


@dataclass
class Page:
    """One page of a console list: ``next_query`` is the query string of the next page (``None``
    on the last), ``first_query`` that of the first page (``None`` on the first)."""

    rows: list[Any]
    next_query: str | None
    first_query: str | None


def _query_of(link: str | None) -> str | None:
    return link.partition("?")[2] if link else None


def page_of(queryset: QuerySet, request: HttpRequest, ordering: tuple[str, ...], page_size: int | None = None
            ) -> Page:
    """One page of ``queryset`` in ``ordering`` after the page's ``?cursor=`` (``?page_size=``
    is honoured up to the API's cap). A cursor that does not decode, or names a position that does
    not fit the ordering, starts again at the first page: a page never fails on a stale link."""
    paginator = CursorPagination()
    if page_size is not None:
        paginator.page_size = page_size
    view = SimpleNamespace(ordering=ordering)
    api_request = Request(request)
    try:
        rows = paginator.paginate_queryset(queryset, api_request, view)
    except (NotFound, ValidationError, ValueError, TypeError):
        paginator.decode_cursor = lambda _request: None  # start again at the first page
        rows = paginator.paginate_queryset(queryset, api_request, view)
    first_query = None
    if paginator.has_previous:
        params = request.GET.copy()
        params.pop(paginator.cursor_query_param, None)
        first_query = params.urlencode()
    return Page(list(rows or []), _query_of(paginator.get_next_link()), first_query)
