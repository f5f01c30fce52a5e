"""Reads of the organizations app. Lists are scoped by ``restrict``; one object that is missing or
not visible is the same ``NotFound``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from apps.core.errors import NotFound
from apps.core.scoping import restrict
from apps.organizations.models import Membership, Organization, Project, User, UserGroup


def organization_ids_of_user(user: User) -> set[UUID]:
    """Organizations the user belongs to, with every descendant of each (memberships inherit down)."""
    cached = getattr(user, "_um_org_ids", None)
    if cached is not None:
        return cached
    paths = list(Organization.objects.filter(memberships__user=user).values_list("path", flat=True))
    ids: set[UUID] = set()
    if paths:
        query = Q()
        for p in paths:
            query |= Q(path__startswith=p)
        ids = set(Organization.objects.filter(query).values_list("id", flat=True))
    user._um_org_ids = ids  # type: ignore[attr-defined]
    return ids


def subtree(org: Organization) -> QuerySet[Organization]:
    return Organization.objects.filter(path__startswith=org.path)


def organization_list(*, actor: Any, action: str = "organizations:organization:read") -> QuerySet[Organization]:
    return restrict(Organization.objects.select_related("parent"), actor, action)


def organization_label(org: Organization) -> str:
    """An organization as a picker shows it: its name behind its depth in the tree."""
    return "\u00a0\u00a0" * org.depth + org.name


def user_label(user: User) -> str:
    """A person as a picker shows them: the username, and the display name when there is one."""
    return f"{user.username} \u2014 {user.display_name}" if user.display_name else user.username


def named_label(item: UserGroup | Project) -> str:
    """A user group or project as a picker shows it: its name and its organization's."""
    return f"{item.name} ({item.organization.name})"


def organization_choices(*, actor: Any, action: str) -> QuerySet[Organization]:
    """Organizations where ``actor`` may do ``action``, in tree order, for the pickers of forms
    (paged and searched by ``apps.core.pagination.choices_page`` with ``organization_label``)."""
    return organization_list(actor=actor, action=action).order_by("path", "id")


def people_choices(*, actor: Any, organization: Organization) -> QuerySet[User]:
    """Active people of ``organization`` and its sub-organizations ``actor`` can see: who may join
    its user groups and projects."""
    return (user_list(actor=actor).filter(is_active=True, memberships__organization__path__startswith=organization.path)
            .distinct())


def organization_get(*, actor: Any, organization_id: Any, action: str = "organizations:organization:read"
                     ) -> Organization:
    org = _get(organization_list(actor=actor, action=action), organization_id)
    if org is None:
        raise NotFound("Organization not found.")
    return org


def user_list(*, actor: Any, action: str = "organizations:user:read") -> QuerySet[User]:
    return restrict(User.objects.all(), actor, action)


def user_get(*, actor: Any, user_id: Any, action: str = "organizations:user:read") -> User:
    user = _get(user_list(actor=actor, action=action), user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


def membership_list(*, actor: Any, action: str = "organizations:user:read") -> QuerySet[Membership]:
    return restrict(Membership.objects.select_related("user", "organization"), actor, action)


def user_group_list(*, actor: Any, action: str = "organizations:group:read") -> QuerySet[UserGroup]:
    return restrict(UserGroup.objects.select_related("organization"), actor, action)


def user_group_get(*, actor: Any, group_id: Any, action: str = "organizations:group:read") -> UserGroup:
    group = _get(user_group_list(actor=actor, action=action), group_id)
    if group is None:
        raise NotFound("User group not found.")
    return group


def project_list(*, actor: Any, action: str = "organizations:project:read") -> QuerySet[Project]:
    return restrict(Project.objects.select_related("organization"), actor, action)


def project_get(*, actor: Any, project_id: Any, action: str = "organizations:project:read") -> Project:
    project = _get(project_list(actor=actor, action=action), project_id)
    if project is None:
        raise NotFound("Project not found.")
    return project


def _get(qs: QuerySet, pk: Any):
    try:
        return qs.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):  # a malformed id is simply not found
        return None
