"""The one place where tenant scoping is decided.

``restrict(queryset, user, action)`` narrows a queryset of tenant data to the rows ``user`` may act
on, and ``authorize(user, action, obj)`` answers for one object. Both delegate to the installed
scoping backend: the foundation's backend lets superusers see everything and members see their
organizations (with descendants); the RBAC app installs a backend that adds grants and policies.
Backends must return a plain indexed predicate (``organization_id IN (...)``), never a sub-select
over the whole table.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.db.models import Model, QuerySet


class ScopingBackend(Protocol):
    def restrict(self, queryset: QuerySet, user: Any, action: str) -> QuerySet: ...

    def authorize(self, user: Any, action: str, obj: Model | None) -> bool: ...


class MembershipScoping:
    """Superusers see all; other users see the organizations they belong to and their descendants."""

    def _org_ids(self, user: Any) -> set:
        from apps.organizations.selectors import organization_ids_of_user

        return organization_ids_of_user(user)

    def restrict(self, queryset: QuerySet, user: Any, action: str) -> QuerySet:
        if user is None or not user.is_authenticated or not user.is_active:
            return queryset.none()
        if user.is_superuser:
            return queryset
        field = getattr(queryset.model, "tenant_field", "organization")
        return queryset.filter(**{f"{field}_id__in": self._org_ids(user)})

    def authorize(self, user: Any, action: str, obj: Model | None) -> bool:
        if user is None or not user.is_authenticated or not user.is_active:
            return False
        if user.is_superuser:
            return True
        if obj is None:
            return False
        field = getattr(type(obj), "tenant_field", "organization")
        return getattr(obj, f"{field}_id") in self._org_ids(user)


_backend: ScopingBackend = MembershipScoping()


def install_backend(backend: ScopingBackend) -> None:
    global _backend
    _backend = backend


def restrict(queryset: QuerySet, user: Any, action: str) -> QuerySet:
    return _backend.restrict(queryset, user, action)


def authorize(user: Any, action: str, obj: Model | None = None) -> bool:
    return _backend.authorize(user, action, obj)
