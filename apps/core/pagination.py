"""Cursor (keyset) pagination: pages cost the same at row 10 and at row 100,000, and no COUNT(*)."""

from rest_framework import pagination
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
