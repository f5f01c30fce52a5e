"""Small builders for people, trees and grants used by the tests of several apps."""

from __future__ import annotations

import itertools
from typing import Any

from apps.organizations.models import Membership, Organization, Project, User, UserGroup
from apps.rbac.models import Grant, Role

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


def role(*permissions: str, excluded: tuple[str, ...] = (), key: str | None = None) -> Role:
    k = key or f"role_{next(_seq)}"
    return Role.objects.create(key=k, name=k, permissions=list(permissions), excluded_permissions=list(excluded))


def predefined(key: str) -> Role:
    return Role.objects.get(key=key)


def grant(role_: Role, grantee: Any, scope: Any = None, *, scope_type: str | None = None, scope_key: str = ""
          ) -> Grant:
    """Write a grant row directly (no rules) — tests of the rules call ``grant_create``."""
    grantee_type = {User: "user", UserGroup: "group", Organization: "organization", Project: "project"}[type(grantee)]
    field = {"user": "user", "group": "group", "organization": "grantee_organization",
             "project": "grantee_project"}[grantee_type]
    kwargs: dict[str, Any] = {field: grantee}
    if scope is None:
        scope_type = scope_type or "platform"
    elif isinstance(scope, Organization):
        scope_type = "organization"
        kwargs.update(scope_organization=scope, organization=scope)
    else:
        scope_type = "project"
        kwargs.update(scope_project=scope, organization_id=scope.organization_id)
    g = Grant.objects.create(role=role_, grantee_type=grantee_type, scope_type=scope_type, scope_key=scope_key,
                             **kwargs)
    from apps.rbac import engine

    engine.invalidate()
    return g


def fresh(u: User) -> User:
    """The same person as a new request would load them (no cached profile)."""
    return User.objects.get(pk=u.pk)
