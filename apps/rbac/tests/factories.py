"""Builders of roles and grants for tests."""

from __future__ import annotations

import itertools
from typing import Any

from apps.organizations.models import Organization, Project, User, UserGroup
from apps.rbac.models import Grant, Role

_seq = itertools.count(1)


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
