"""Builders of organizations, people, user groups and projects for tests."""

from __future__ import annotations

import itertools
from typing import Any

from apps.organizations.models import Membership, Organization, Project, User, UserGroup

_seq = itertools.count(1)


def org(name: str | None = None, parent: Organization | None = None, **kw: Any) -> Organization:
    return Organization.objects.create(name=name or f"org-{next(_seq)}", parent=parent, **kw)


def user(username: str | None = None, *orgs: Organization, **kw: Any) -> User:
    u = User.objects.create_user(username=username or f"user-{next(_seq)}", password="x-Unimanager-9", **kw)
    for o in orgs:
        Membership.objects.create(user=u, organization=o)
    return u


def group(organization: Organization, *members: User, name: str | None = None) -> UserGroup:
    g = UserGroup.objects.create(organization=organization, name=name or f"group-{next(_seq)}")
    g.members.add(*members)
    return g


def project(organization: Organization, *members: User, name: str | None = None) -> Project:
    p = Project.objects.create(organization=organization, name=name or f"project-{next(_seq)}")
    p.members.add(*members)
    return p


def leave(u: User, *orgs: Organization) -> None:
    """End ``u``'s memberships of ``orgs`` (of every organization when none is named)."""
    memberships = Membership.objects.filter(user=u)
    if orgs:
        memberships = memberships.filter(organization__in=orgs)
    memberships.delete()


def fresh(u: User) -> User:
    """The same person as a new request would load them (no cached profile)."""
    return User.objects.get(pk=u.pk)
