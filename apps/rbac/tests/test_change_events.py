"""Every change of people, the tree, roles, grants and policies announces what it changed:
``before`` and ``after`` of the touched fields (never a password or its hash)."""

from __future__ import annotations

import json

import pytest

from apps.organizations import services as org_services
from apps.rbac import services
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(monkeypatch):
    seen: list[dict] = []

    def record(org, topic, payload, *args, **kwargs):
        seen.append(payload)

    monkeypatch.setattr(org_services, "emit", record)
    monkeypatch.setattr(services, "emit", record)
    return seen


def test_updates_of_the_tree_and_people_carry_before_and_after(events):
    a = f.org("A")
    org_services.organization_update(actor=None, organization=a, name="A2", description="new")
    assert events[-1]["before"] == {"name": "A", "description": ""}
    assert events[-1]["after"] == {"name": "A2", "description": "new"}
    person = f.user("pat", a)
    org_services.user_update(actor=None, user=person, email="pat@example.com")
    assert events[-1]["before"] == {"email": ""} and events[-1]["after"] == {"email": "pat@example.com"}
    group = f.group(a, name="G")
    org_services.user_group_update(actor=None, group=group, name="G2")
    assert events[-1]["before"] == {"name": "G"} and events[-1]["after"] == {"name": "G2"}
    project = f.project(a, name="P")
    org_services.project_update(actor=None, project=project, is_active=False)
    assert events[-1]["before"] == {"is_active": True} and events[-1]["after"] == {"is_active": False}
    org_services.user_set_password(actor=None, user=person, password="A-Long-Password-123!")
    assert "pbkdf2" not in json.dumps(events) and "A-Long-Password-123!" not in json.dumps(events)
    assert not any("password" in (e.get("after") or {}) for e in events)


def test_roles_grants_and_policies_carry_before_and_after(events):
    a = f.org("A")
    person = f.user("pat", a)
    role = services.role_create(actor=None, name="Readers", permissions=["core:operation:read"], organization=a)
    services.role_update(actor=None, role=role, permissions=["core:operation:read", "organizations:user:read"])
    assert events[-1]["before"] == {"permissions": ["core:operation:read"]}
    assert events[-1]["after"] == {"permissions": ["core:operation:read", "organizations:user:read"]}
    grant = services.grant_create(actor=None, role=role, grantee_type="user", grantee=person,
                                  scope_type="organization", scope=a)
    assert events[-1]["before"] is None and events[-1]["after"]["role"] == role.key
    services.grant_revoke(actor=None, grant=grant)
    assert events[-1]["after"] is None and events[-1]["before"]["grantee"] == str(person.pk)
    doc = {"Version": "1", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    policy = services.policy_create(actor=None, name="Deny", document=doc, organization=a)
    assert events[-1]["before"] is None and events[-1]["after"]["document"] == doc
    services.policy_update(actor=None, policy=policy, name="Deny all")
    assert events[-1]["before"] == {"name": "Deny"} and events[-1]["after"] == {"name": "Deny all"}
    services.policy_attach(actor=None, policy=policy, user=person)
    assert events[-1]["before"] == {"users": []} and events[-1]["after"] == {"users": [str(person.pk)]}
