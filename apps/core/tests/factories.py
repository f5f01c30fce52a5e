"""Small builders for the core tests: organizations, people and operations."""

from __future__ import annotations

from typing import Any

from apps.core.models import Operation
from apps.organizations.models import Membership, Organization, User


def organization(name: str, *, parent: Organization | None = None) -> Organization:
    return Organization.objects.create(name=name, parent=parent)


def user(username: str, *, member_of: tuple[Organization, ...] = (), superuser: bool = False) -> User:
    make = User.objects.create_superuser if superuser else User.objects.create_user
    person = make(username=username, password="correct horse battery", email=f"{username}@example.com")
    for org in member_of:
        Membership.objects.create(user=person, organization=org)
    return person


def operation(org: Organization, *, kind: str = "test", **fields: Any) -> Operation:
    return Operation.objects.create(organization=org, kind=kind, **fields)
