"""API helpers shared by the people and access endpoints.

Objects are looked up among what the user may *read*: an invisible object is 404; a visible one
the user may not change is refused by the service with 403. Ids named in a request body are looked
up the same way and reported as a field error when missing or invisible.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from rest_framework import mixins, viewsets

from apps.core.errors import InvalidInput
from apps.core.scoping import restrict

UUID_RE = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class ScopedViewSetMixin:
    read_permission = ""
    lookup_value_regex = UUID_RE

    def get_queryset(self):
        qs = super().get_queryset()  # type: ignore[misc]
        return restrict(qs, self.request.user, self.read_permission)  # type: ignore[attr-defined]


class ScopedViewSet(ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pass


def visible(queryset: QuerySet, user: Any, action: str, pk: Any, field: str) -> Model:
    """``pk`` among the rows of ``queryset`` that ``user`` may read, else a 400 naming ``field``."""
    if pk is None:
        raise InvalidInput(f"{field} is required.", detail={field: ["This field is required."]})
    try:
        obj = restrict(queryset, user, action).filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        obj = None
    if obj is None:
        raise InvalidInput(f"{field} was not found.", detail={field: ["Not found."]})
    return obj


def parsed(serializer_class: type, data: Any, partial: bool = False) -> dict[str, Any]:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
