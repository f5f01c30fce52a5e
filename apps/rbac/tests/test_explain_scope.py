""""Why?" shows only the grants and policies the person asking may read; the others are counted
("N other rules outside your scope"), never described."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.rbac.models import AccessPolicy
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    a, b = f.org("A"), f.org("B-Confidential-Merger-Team")
    shared = f.user("shared", a, b)
    secret_role = f.role("core:operation:read", key="b_secret_project_role")
    secret_grant = f.grant(secret_role, shared, b)
    policy = AccessPolicy.objects.create(name="B internal deny policy", organization=b, document={
        "Statement": [{"Effect": "Deny", "Action": "core:operation:write", "Resource": f"org/{b.pk}"}]})
    policy.users.add(shared)
    own_role = f.role("core:operation:read", key="a_reader")
    own_grant = f.grant(own_role, shared, a)
    admin_a = f.user("admin-a", a)
    f.grant(f.predefined("organization_administrator"), admin_a, a)
    return {"a": a, "b": b, "shared": shared, "secret_grant": secret_grant, "policy": policy,
            "own_grant": own_grant, "admin_a": admin_a}


def _explain(client, world, action):
    return client.get("/api/v1/rbac/explain/", {"user": str(world["shared"].pk), "action": action,
                                                "target_type": "organizations.organization",
                                                "target_id": str(world["a"].pk)})


def test_explain_hides_another_organizations_grants_and_policies(world):
    client = api_as(world["admin_a"])
    secrets = [str(world["b"].pk), "B-Confidential-Merger-Team", str(world["secret_grant"].pk),
               "b_secret_project_role", str(world["policy"].pk), "B internal deny policy"]
    read = _explain(client, world, "core:operation:read")
    write = _explain(client, world, "core:operation:write")
    assert read.status_code == write.status_code == 200
    text = read.content.decode() + write.content.decode()
    assert not [s for s in secrets if s in text]
    body = read.json()
    assert body["allowed"] is True
    assert str(world["own_grant"].pk) in {e.get("grant") for e in body["allowed_by"] + body["not_applied"]}
    assert body["hidden"] >= 1 and "outside your scope" in body["hidden_message"]
    assert write.json()["hidden"] >= 1


def test_the_why_page_hides_them_too(world):
    client = Client()
    client.force_login(world["admin_a"])
    page = client.get("/console/access/explain/", {"user": str(world["shared"].pk), "action": "core:operation:write",
                                                   "target_type": "organizations.organization",
                                                   "target_id": str(world["a"].pk)})
    html = page.content.decode()
    assert page.status_code == 200
    assert "B internal deny policy" not in html and "B-Confidential-Merger-Team" not in html
    assert "outside your scope" in html


def test_a_platform_administrator_sees_every_rule(world):
    boss = f.user("boss", world["a"], is_superuser=True)
    body = _explain(api_as(boss), world, "core:operation:write").json()
    assert body["hidden"] == 0
    assert "B internal deny policy" in str(body)
