"""The API base class and the helpers every app's API (and the console's pages) share.

Every tenant-data viewset scopes its queryset through ``restrict``: objects are looked up among
what the user may *read*, so an invisible object is simply not found (404); changing a visible one
the user may not change is refused (403) by the service, or by ``require``. Ids named in a request
body are looked up the same way (``visible``) and reported as a field error when missing or
invisible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from rest_framework import mixins, viewsets

from apps.core.errors import InvalidInput
from apps.core.scoping import authorize, require, restrict

UUID_RE = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class TenantViewSetMixin:
    """Declare ``queryset`` and ``permission_prefix`` (``service:resource``; reading needs
    ``<prefix>:read``), or ``read_permission`` when reading needs another code; or declare
    ``selector``, the app's ``*_list(*, actor)`` selector, when what a person may see is more than
    one permission (``staticmethod(selectors.access_key_list)``)."""

    permission_prefix = ""
    read_permission = ""
    selector: Callable[..., QuerySet] | None = None

    def get_queryset(self):
        if self.selector is not None:
            return self.selector(actor=self.request.user)  # type: ignore[attr-defined]
        qs = super().get_queryset()  # type: ignore[misc]
        action = self.read_permission or f"{self.permission_prefix}:read"
        return restrict(qs, self.request.user, action)  # type: ignore[attr-defined]

    def require(self, verb: str, obj: Any) -> None:
        """403 unless the user may ``<prefix>:<verb>`` on ``obj``."""
        require(self.request.user, f"{self.permission_prefix}:{verb}", obj)  # type: ignore[attr-defined]


class TenantReadOnlyViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class TenantListViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet):
    """List and retrieve; writes are actions that call services. Objects are addressed by UUID."""

    lookup_value_regex = UUID_RE


def visible(queryset: QuerySet, user: Any, action: str, pk: Any, field: str) -> Model:
    """``pk`` among the rows of ``queryset`` that ``user`` may ``action``, else a 400 naming ``field``."""
    if pk is None:
        raise InvalidInput(f"{field} is required.", detail={field: ["This field is required."]})
    try:
        obj = restrict(queryset, user, action).filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        obj = None
    if obj is None:
        raise _not_found(field)
    return obj


def seen(obj: Model, user: Any, action: str, field: str) -> Model:
    """``obj``, already read, if ``user`` may ``action`` it (decided without a query, by the rule
    ``restrict`` applies to a list), else the same 400 as ``visible``."""
    if not authorize(user, action, obj):
        raise _not_found(field)
    return obj


def _not_found(field: str) -> InvalidInput:
    return InvalidInput(f"{field} was not found.", detail={field: ["Not found."]})


def parsed(serializer_class: type, data: Any, partial: bool = False) -> dict[str, Any]:
    """The validated data of ``serializer_class`` over ``data``, or DRF's 400 naming each field."""
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
