"""Builders of security objects, and ``isolation_objects(org)`` for the tenant isolation test."""

from __future__ import annotations

import itertools
from typing import Any

from apps.organizations.models import Organization, User
from apps.organizations.tests.factories import user
from apps.security import audit, services
from apps.security.models import SecurityPolicy

_seq = itertools.count(1)


def person(org: Organization | None = None, username: str | None = None, **kw: Any) -> User:
    """A person (a member of ``org`` when given), named for the security tests."""
    return user(username or f"sec-person-{next(_seq)}", *([org] if org is not None else []), **kw)


def password_policy(org: Organization, **settings: Any) -> SecurityPolicy:
    """``org``'s security policy with ``settings`` (password_min_length=16, ...), as its administrator sets it."""
    return services.security_policy_set(actor=None, organization=org, **settings)


def isolation_objects(org: Organization) -> list[Any]:
    owner = person(org)
    key, _secret = services.access_key_create(actor=owner, description="isolation")
    token, _raw = services.display_token_create(actor=None, organization=org, name=f"screen {org.name}",
                                                dashboards=["noc"])
    policy, _ = SecurityPolicy.objects.get_or_create(organization=org)
    entry = audit.append(action="isolation.made", organization_id=org.pk, target_type="organization",
                         target_id=org.pk, target_label=org.name)
    return [key, token, policy, entry]
