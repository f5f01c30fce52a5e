"""API base classes: every tenant-data view scopes its queryset through ``restrict``."""

from __future__ import annotations

from rest_framework import viewsets


class TenantViewSetMixin:
    """Declare ``queryset`` and ``permission_prefix`` (``service:resource``); reads and writes are
    scoped by ``restrict(user, "<prefix>:read|write")`` so invisible objects are simply not found."""

    permission_prefix = ""
    write_actions = {"create", "update", "partial_update", "destroy"}

    def scoped_action(self) -> str:
        verb = "write" if getattr(self, "action", None) in self.write_actions else "read"
        return f"{self.permission_prefix}:{verb}"

    def get_queryset(self):
        qs = super().get_queryset()  # type: ignore[misc]
        return qs.restrict(self.request.user, self.scoped_action())  # type: ignore[attr-defined]


class TenantReadOnlyViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
