"""API base classes: every tenant-data view scopes its queryset through ``restrict``."""

from __future__ import annotations

from typing import Any

from rest_framework import viewsets

from apps.core.errors import Forbidden
from apps.core.scoping import authorize


class TenantViewSetMixin:
    """Declare ``queryset`` and ``permission_prefix`` (``service:resource``).

    Objects are looked up among what the user may *read*, so an invisible object is simply not found
    (404). Changing a visible object needs ``<prefix>:write`` on it (``require``), else 403.
    """

    permission_prefix = ""

    def get_queryset(self):
        qs = super().get_queryset()  # type: ignore[misc]
        return qs.restrict(self.request.user, f"{self.permission_prefix}:read")  # type: ignore[attr-defined]

    def require(self, verb: str, obj: Any) -> None:
        if not authorize(self.request.user, f"{self.permission_prefix}:{verb}", obj):  # type: ignore[attr-defined]
            raise Forbidden()


class TenantReadOnlyViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
