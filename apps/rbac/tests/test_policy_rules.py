"""Access policies are owned by an organization and never give more than their author holds:
an Allow statement names only resources of the policy's organization (or the platform, for someone
who holds the actions platform-wide), attaching re-checks the attacher, and no policy combines
separated duties. Deny statements only take away and stay unrestricted."""

from __future__ import annotations

import pytest

from apps.core.errors import ApplicationError
from apps.rbac import services
from apps.rbac.models import AccessPolicy
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db

ALLOW_ALL = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _doc(effect, actions, resources):
    return {"Version": "1", "Statement": [{"Effect": effect, "Action": actions, "Resource": resources}]}


def test_an_allow_everything_policy_of_an_organization_is_refused_to_its_security_administrator():
    a, b = f.org("A"), f.org("B")
    f.user("b-person", b)
    sam = f.user("sam", a)
    f.grant(f.predefined("security_administrator"), sam, a)
    client = api_as(sam)
    response = client.post("/api/v1/rbac/policies/", {"name": "mine", "organization": str(a.pk),
                                                      "document": ALLOW_ALL}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "escalation_refused"
    assert not AccessPolicy.objects.exists()
    names = {o["name"] for o in api_as(f.fresh(sam)).get("/api/v1/organizations/organizations/").json()["results"]}
    assert names == {"A"}


def test_an_allow_statement_may_not_name_another_organization():
    a, b = f.org("A"), f.org("B")
    with pytest.raises(ApplicationError) as refused:
        services.policy_create(actor=None, name="p", organization=a,
                               document=_doc("Allow", "organizations:*:read", f"org/{b.pk}"))
    assert refused.value.code == "outside_organization"
    project_b = f.project(b)
    with pytest.raises(ApplicationError) as refused:
        services.policy_create(actor=None, name="p", organization=a,
                               document=_doc("Allow", "organizations:*:read", f"project/{project_b.pk}"))
    assert refused.value.code == "outside_organization"


def test_an_allow_statement_needs_the_actions_on_the_named_resources():
    a = f.org("A")
    child = f.org("A1", a)
    sam = f.user("sam", a)
    f.grant(f.predefined("security_administrator"), sam, a)
    # held: reading organizations of A's subtree
    policy = services.policy_create(actor=f.fresh(sam), name="read", organization=a,
                                    document=_doc("Allow", "organizations:*:read", f"org/{child.pk}"))
    assert policy.pk
    # not held: operating resources
    with pytest.raises(ApplicationError) as refused:
        services.policy_update(actor=f.fresh(sam), policy=policy,
                               document=_doc("Allow", "organizations:organization:write", f"org/{child.pk}"))
    assert refused.value.code == "escalation_refused"
    policy.refresh_from_db()
    assert policy.document["Statement"][0]["Action"] == "organizations:*:read"


def test_deny_statements_stay_unrestricted():
    a, b = f.org("A"), f.org("B")
    sam = f.user("sam", a)
    f.grant(f.predefined("security_administrator"), sam, a)
    policy = services.policy_create(actor=f.fresh(sam), name="deny", organization=a,
                                    document=_doc("Deny", "*", "*"))
    assert policy.pk
    policy = services.policy_create(actor=f.fresh(sam), name="deny-b", organization=a,
                                    document=_doc("Deny", "*", f"org/{b.pk}"))
    assert policy.pk


def test_attaching_a_policy_rechecks_that_the_attacher_holds_it():
    a = f.org("A")
    sam = f.user("sam", a)
    f.grant(f.predefined("security_administrator"), sam, a)
    target = f.user("t", a)
    policy = services.policy_create(actor=None, name="ops", organization=a,
                                    document=_doc("Allow", "organizations:organization:write", f"org/{a.pk}"))
    with pytest.raises(ApplicationError) as refused:
        services.policy_attach(actor=f.fresh(sam), policy=policy, user=target)
    assert refused.value.code == "escalation_refused"
    assert not policy.users.exists()


def test_a_policy_cannot_combine_separated_duties():
    a = f.org("A")
    sysadmin = f.user("sys", a)
    f.grant(f.predefined("system_administrator"), sysadmin, a)
    policy = services.policy_create(actor=None, name="audit", organization=a,
                                    document=_doc("Allow", "audit:log:read", f"org/{a.pk}"))
    with pytest.raises(ApplicationError) as refused:
        services.policy_attach(actor=None, policy=policy, user=sysadmin)
    assert refused.value.code == "separation_of_duties"
    assert not policy.users.exists()
    # the same through a user group, and by widening an attached policy
    group = f.group(a, sysadmin)
    with pytest.raises(ApplicationError):
        services.policy_attach(actor=None, policy=policy, group=group)
    harmless = services.policy_create(actor=None, name="read", organization=a,
                                      document=_doc("Allow", "organizations:*:read", f"org/{a.pk}"))
    services.policy_attach(actor=None, policy=harmless, group=group)
    with pytest.raises(ApplicationError) as refused:
        services.policy_update(actor=None, policy=harmless,
                               document=_doc("Allow", "audit:*", f"org/{a.pk}"))
    assert refused.value.code == "separation_of_duties"
    # and granting a second duty to someone a policy already gives one
    auditor = f.user("aud", a)
    services.policy_attach(actor=None, policy=policy, user=auditor)
    with pytest.raises(ApplicationError) as refused:
        services.grant_create(actor=None, role=f.predefined("security_administrator"), grantee_type="user",
                              grantee=auditor, scope_type="organization", scope=a)
    assert refused.value.code == "separation_of_duties"
