"""The scoping backend installed into ``apps.core.scoping``: grants and policies decide."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet

from apps.rbac.engine import Decision, Target, profile_for, target_of


def _active(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)


class RbacScoping:
    """Superusers (platform system administrators) see and do everything; everyone else gets what
    their grants and access policies allow, computed once per request."""

    def restrict(self, queryset: QuerySet, user: Any, action: str) -> QuerySet:
        if not _active(user):
            return queryset.none()
        if user.is_superuser:
            return queryset
        predicate = profile_for(user).predicate(queryset.model, action)
        if predicate is None:
            return queryset.none()
        if isinstance(predicate, str):  # ALL
            return queryset
        return queryset.filter(predicate)

    def authorize(self, user: Any, action: str, obj: Model | None) -> bool:
        return decide(user, action, obj).allowed


def decide(user: Any, action: str, obj: Any, explain: bool = False) -> Decision:
    if not _active(user):
        return Decision(False, "not_signed_in", "The user is not signed in or is disabled.")
    if user.is_superuser:
        return Decision(True, "superuser", "Platform administrators may do everything.",
                        [{"kind": "superuser", "via": "platform administrator"}])
    profile = profile_for(user)
    targets = obj if isinstance(obj, list) else target_of(obj, action)
    decisions = [profile.decide(action, t, explain=explain) for t in targets]
    allowed = [d for d in decisions if d.allowed]
    return allowed[0] if allowed else decisions[0]


__all__ = ["RbacScoping", "Target", "decide"]
