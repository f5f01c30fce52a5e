from apps.core.pagination import CursorPagination


class ResourcePagination(CursorPagination):
    """Keyset pages of the inventory; ``?count=true`` adds the total, the only COUNT a list ever runs."""

    def paginate_queryset(self, queryset, request, view=None):
        self._count = None
        if request.query_params.get("count") in ("true", "1"):
            self._count = queryset.count()
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        if self._count is not None:
            response.data["count"] = self._count
        return response

    def get_paginated_response_schema(self, schema):
        out = super().get_paginated_response_schema(schema)
        out["properties"]["count"] = {"type": "integer", "description": "only with ?count=true"}
        return out
