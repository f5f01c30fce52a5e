"""The one place where tenant scoping is decided.

``restrict(queryset, user, action)`` narrows a queryset of tenant data to the rows ``user`` may act
on, ``authorize(user, action, obj)`` answers for one object and ``require(actor, action, obj)``
refuses (403) what ``authorize`` does not allow. They delegate to the installed
scoping backend: the foundation's backend lets superusers see everything and members see their
organizations (with descendants) as told by the membership source that ``organizations`` installs;
the RBAC app installs a backend that adds grants and policies.
Backends must return a plain indexed predicate (``organization_id IN (...)``), never a sub-select
over the whole table.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol

from django.db.models import Model, Q, QuerySet

from apps.core.errors import Forbidden


class ScopingBackend(Protocol):
    def restrict(self, queryset: QuerySet, user: Any, action: str) -> QuerySet: ...

    def authorize(self, user: Any, action: str, obj: Model | None) -> bool: ...


MembershipSource = Callable[[Any], Collection[Any]]


def _no_memberships(user: Any) -> Collection[Any]:
    return ()


_membership_source: MembershipSource = _no_memberships


def install_membership_source(source: MembershipSource) -> MembershipSource:
    """Tell scoping which organizations a person belongs to (with descendants); the app that owns
    memberships installs it from its ``apps.py``. Returns the source it replaces."""
    global _membership_source
    previous, _membership_source = _membership_source, source
    return previous


def member_organization_ids(user: Any) -> Collection[Any]:
    """The organizations ``user`` belongs to, with their descendants, per the installed source."""
    return _membership_source(user)


class MembershipScoping:
    """Superusers see all; other users see the organizations they belong to and their descendants."""

    def _org_ids(self, user: Any) -> Collection[Any]:
        return member_organization_ids(user)

    def restrict(self, queryset: QuerySet, user: Any, action: str) -> QuerySet:
        if user is None or not user.is_authenticated or not user.is_active:
            return queryset.none()
        if user.is_superuser:
            return queryset
        return queryset.filter(tenant_q(queryset.model, self._org_ids(user)))

    def authorize(self, user: Any, action: str, obj: Model | None) -> bool:
        if user is None or not user.is_authenticated or not user.is_active:
            return False
        if user.is_superuser:
            return True
        if obj is None:
            return False
        model = type(obj)
        org_ids = self._org_ids(user)
        if hasattr(model, "organization_scope_q"):
            return model._default_manager.filter(model.organization_scope_q(org_ids), pk=obj.pk).exists()
        return tenant_id(obj) in org_ids


def _tenant_column(model: type[Model]) -> str:
    field = getattr(model, "tenant_field", "organization")
    # An organization is its own tenant (``tenant_field = "id"``); other data points at one.
    return "pk" if field in {"id", "pk"} else f"{field}_id"


def tenant_q(model: type[Model], org_ids: Any) -> Q:
    """Rows of ``model`` that belong to the organizations ``org_ids``, as one indexed predicate.

    A model whose tenancy is not one column (people belong to organizations through memberships)
    says how with a ``organization_scope_q(org_ids)`` class method."""
    if hasattr(model, "organization_scope_q"):
        return model.organization_scope_q(org_ids)
    return Q(**{f"{_tenant_column(model)}__in": org_ids})


def tenant_id(obj: Model) -> Any:
    """The id of the organization ``obj`` belongs to."""
    column = _tenant_column(type(obj))
    return obj.pk if column == "pk" else getattr(obj, column)


_backend: ScopingBackend = MembershipScoping()


def install_backend(backend: ScopingBackend) -> ScopingBackend:
    """Make ``backend`` decide all scoping from now on; returns the one it replaces."""
    global _backend
    previous, _backend = _backend, backend
    return previous


def restrict(queryset: QuerySet, user: Any, action: str) -> QuerySet:
    return _backend.restrict(queryset, user, action)


def authorize(user: Any, action: str, obj: Model | None = None) -> bool:
    return _backend.authorize(user, action, obj)


def require(actor: Any, action: str, target: Model | None) -> None:
    """The check every service makes before a change: ``Forbidden`` (403, naming the permission)
    unless ``actor`` may do ``action`` on ``target`` (``None``: platform-wide). ``actor=None`` is
    the system itself (demo data, migrations, tasks acting for no one) and is never refused."""
    if actor is None:
        return
    if not authorize(actor, action, target):
        raise Forbidden(f"You are not allowed to do this ({action}).", detail={"permission": action})
