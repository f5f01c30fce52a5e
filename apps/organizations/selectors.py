from __future__ import annotations

from uuid import UUID

from apps.organizations.models import Organization, User


def organization_ids_of_user(user: User) -> set[UUID]:
    """Organizations the user belongs to, with every descendant of each (memberships inherit down)."""
    cached = getattr(user, "_um_org_ids", None)
    if cached is not None:
        return cached
    paths = list(Organization.objects.filter(memberships__user=user).values_list("path", flat=True))
    ids: set[UUID] = set()
    if paths:
        from django.db.models import Q

        query = Q()
        for p in paths:
            query |= Q(path__startswith=p)
        ids = set(Organization.objects.filter(query).values_list("id", flat=True))
    user._um_org_ids = ids  # type: ignore[attr-defined]
    return ids
