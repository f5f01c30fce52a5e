"""Separation of duties holds whichever way a person would reach a second duty: joining a user
group that belongs to a project with a duty grant, an organization moved under a parent whose
members hold another duty, a custom role or an access policy whose permissions carry another duty,
or an edit that gives a role its holders cannot combine. A duty follows from permissions, for each
ordered pair of the three duties."""

from __future__ import annotations

import pytest

from apps.core.errors import ApplicationError
from apps.organizations import services as org_services
from apps.organizations.models import Organization, UserGroup
from apps.rbac import services
from apps.rbac.models import AccessPolicy, Grant, Role
from apps.rbac.roles import (
    PREDEFINED_ROLES,
    SECURITY_ADMINISTRATOR,
    SECURITY_AUDITOR,
    SYSTEM_ADMINISTRATOR,
    duties_of,
    reserved_codes,
)
from apps.rbac.services import user_duties
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db


def _grant(role_key, grantee_type, grantee, scope_type="platform", scope=None):
    return services.grant_create(actor=None, role=f.predefined(role_key), grantee_type=grantee_type,
                                 grantee=grantee, scope_type=scope_type, scope=scope)


def test_joining_a_group_whose_project_members_hold_a_duty_is_refused():
    a = f.org("A")
    project = f.project(a, name="P")
    group = f.group(a, name="G")
    org_services.project_add_group(actor=None, project=project, group=group)
    _grant("security_administrator", "project", project, "project", project)
    person = f.user("u", a)
    _grant("system_administrator", "user", person)
    with pytest.raises(ApplicationError) as refused:
        org_services.user_group_add_member(actor=None, group=group, user=person)
    assert refused.value.code == "separation_of_duties"
    assert not UserGroup.objects.filter(pk=group.pk, members=person).exists()
    assert user_duties(person) == {"system_administrator"}


def test_moving_an_organization_under_a_parent_whose_members_hold_another_duty_is_refused():
    root = f.org("Root")
    security = f.org("SecDept", root)
    other = f.org("Other", root)
    leaf = f.org("Leaf", other)
    _grant("security_auditor", "organization", security, "organization", security)
    person = f.user("u2", leaf)
    _grant("security_administrator", "user", person)
    admin = api_as(f.user("boss", root, is_superuser=True))
    response = admin.post(f"/api/v1/organizations/organizations/{other.pk}/move/", {"parent": str(security.pk)},
                          format="json")
    assert response.status_code == 422 and response.json()["code"] == "separation_of_duties"
    other.refresh_from_db()
    leaf.refresh_from_db()
    assert other.parent_id == root.pk and leaf.path == f"/{root.pk}/{other.pk}/{leaf.pk}/"
    assert user_duties(person) == {"security_administrator"}
    # a move that gives nobody a second duty still works
    org_services.organization_move(actor=None, organization=other, new_parent=None)
    assert Organization.objects.get(pk=other.pk).parent_id is None


# -- a duty follows from permissions: custom roles, role edits and access policies ----------------

DUTIES = (SYSTEM_ADMINISTRATOR, SECURITY_ADMINISTRATOR, SECURITY_AUDITOR)
ORDERED_PAIRS = [(held, other) for held in DUTIES for other in DUTIES if held != other]
UNORDERED_PAIRS = [(a, b) for i, a in enumerate(DUTIES) for b in DUTIES[i + 1:]]
HARMLESS = "organizations:*:read"


def _reserved(duty: str) -> str:
    """A code only that duty's predefined role gives (whichever apps registered it)."""
    return sorted(reserved_codes()[duty])[0]


@pytest.fixture
def root():
    return api_as(f.user("root", f.org("HQ"), is_superuser=True))


def _holder(duty: str, username: str = "holder"):
    person = f.user(username, Organization.objects.get(name="HQ"))
    _grant(duty, "user", person)
    return person


def _grant_body(role_id, grantee_type: str, grantee) -> dict:
    return {"role": str(role_id), "grantee_type": grantee_type, "grantee": str(grantee.pk),
            "scope_type": "platform"}


def _policy_document(*actions: str) -> dict:
    return {"Version": "1", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}


def test_each_predefined_role_carries_exactly_the_duty_its_permissions_give():
    for definition in PREDEFINED_ROLES.values():
        assert duties_of(definition.permissions, definition.excluded) == ({definition.duty} - {""}), definition.key


def test_a_security_administrator_cannot_give_a_system_administrator_security_duties_through_a_custom_role(root):
    secadmin = _holder(SECURITY_ADMINISTRATOR, "secadmin")
    sysadmin = _holder(SYSTEM_ADMINISTRATOR, "sysadmin")
    client = api_as(secadmin)
    created = client.post("/api/v1/rbac/roles/", {"name": "Security too", "permissions": ["rbac:*", "security:*"]},
                          format="json")
    assert created.status_code == 201, created.content
    assert created.json()["duty"] == SECURITY_ADMINISTRATOR
    refused = client.post("/api/v1/rbac/grants/", _grant_body(created.json()["id"], "user", sysadmin), format="json")
    assert refused.status_code == 422 and refused.json()["code"] == "separation_of_duties"
    assert not Grant.objects.filter(user=sysadmin, role_id=created.json()["id"]).exists()
    assert user_duties(sysadmin) == {SYSTEM_ADMINISTRATOR}


@pytest.mark.parametrize("grantee_type", ["user", "group"])
@pytest.mark.parametrize("held, other", ORDERED_PAIRS)
def test_granting_a_custom_role_that_carries_another_duty_is_refused(root, held, other, grantee_type):
    person = _holder(held)
    grantee = person if grantee_type == "user" else f.group(Organization.objects.get(name="HQ"), person)
    same = root.post("/api/v1/rbac/roles/", {"name": "same duty", "permissions": [_reserved(held), HARMLESS]},
                     format="json").json()
    role = root.post("/api/v1/rbac/roles/", {"name": "other duty", "permissions": [_reserved(other), HARMLESS]},
                     format="json").json()
    assert (same["duty"], role["duty"]) == (held, other)
    refused = root.post("/api/v1/rbac/grants/", _grant_body(role["id"], grantee_type, grantee), format="json")
    assert refused.status_code == 422 and refused.json()["code"] == "separation_of_duties"
    assert not Grant.objects.filter(role_id=role["id"]).exists()
    assert user_duties(person) == {held}
    # the same duty through a custom role is fine
    allowed = root.post("/api/v1/rbac/grants/", _grant_body(same["id"], grantee_type, grantee), format="json")
    assert allowed.status_code == 201, allowed.content


@pytest.mark.parametrize("first, second", UNORDERED_PAIRS)
def test_a_role_with_two_duties_permissions_cannot_exist(root, first, second):
    both = [_reserved(first), _reserved(second)]
    refused = root.post("/api/v1/rbac/roles/", {"name": "two duties", "permissions": both}, format="json")
    assert refused.status_code == 422 and refused.json()["code"] == "separation_of_duties"
    assert sorted(refused.json()["detail"]["duties"]) == sorted([first, second])
    assert not Role.objects.filter(name="two duties").exists()
    role = root.post("/api/v1/rbac/roles/", {"name": "one duty", "permissions": [_reserved(first)]},
                     format="json").json()
    edit = root.patch(f"/api/v1/rbac/roles/{role['id']}/", {"permissions": both}, format="json")
    assert edit.status_code == 422 and edit.json()["code"] == "separation_of_duties"
    stored = Role.objects.get(pk=role["id"])
    assert (stored.permissions, stored.duty) == ([_reserved(first)], first)


@pytest.mark.parametrize("grantee_type", ["user", "group"])
@pytest.mark.parametrize("held, other", ORDERED_PAIRS)
def test_editing_a_role_so_it_gains_a_duty_its_holders_cannot_combine_is_refused(root, held, other, grantee_type):
    person = _holder(held)
    grantee = person if grantee_type == "user" else f.group(Organization.objects.get(name="HQ"), person)
    role = root.post("/api/v1/rbac/roles/", {"name": "readers", "permissions": [HARMLESS]}, format="json").json()
    assert role["duty"] == ""
    assert root.post("/api/v1/rbac/grants/", _grant_body(role["id"], grantee_type, grantee),
                     format="json").status_code == 201
    refused = root.patch(f"/api/v1/rbac/roles/{role['id']}/", {"permissions": [HARMLESS, _reserved(other)]},
                         format="json")
    assert refused.status_code == 422 and refused.json()["code"] == "separation_of_duties"
    stored = Role.objects.get(pk=role["id"])
    assert (stored.permissions, stored.duty) == ([HARMLESS], "")
    assert user_duties(person) == {held}
    # gaining the duty the holders already have is fine
    same = root.patch(f"/api/v1/rbac/roles/{role['id']}/", {"permissions": [HARMLESS, _reserved(held)]},
                      format="json")
    assert same.status_code == 200 and same.json()["duty"] == held


@pytest.mark.parametrize("first, second", ORDERED_PAIRS)
def test_a_role_whose_holders_hold_no_other_duty_may_change_duty(root, first, second):
    person = f.user("only", Organization.objects.get(name="HQ"))
    role = root.post("/api/v1/rbac/roles/", {"name": "r", "permissions": [_reserved(first)]}, format="json").json()
    assert root.post("/api/v1/rbac/grants/", _grant_body(role["id"], "user", person), format="json").status_code == 201
    assert user_duties(person) == {first}
    moved = root.patch(f"/api/v1/rbac/roles/{role['id']}/", {"permissions": [_reserved(second)]}, format="json")
    assert moved.status_code == 200 and moved.json()["duty"] == second
    assert user_duties(person) == {second}


@pytest.mark.parametrize("attach_to", ["user", "group"])
@pytest.mark.parametrize("held, other", ORDERED_PAIRS)
def test_attaching_a_policy_that_allows_another_duty_is_refused(root, held, other, attach_to):
    person = _holder(held)
    group = f.group(Organization.objects.get(name="HQ"), person)
    policy = root.post("/api/v1/rbac/policies/", {"name": "p", "document": _policy_document(_reserved(other))},
                       format="json")
    assert policy.status_code == 201, policy.content
    body = {"user": str(person.pk)} if attach_to == "user" else {"group": str(group.pk)}
    refused = root.post(f"/api/v1/rbac/policies/{policy.json()['id']}/attach/", body, format="json")
    assert refused.status_code == 422 and refused.json()["code"] == "separation_of_duties"
    stored = AccessPolicy.objects.get(pk=policy.json()["id"])
    assert not stored.users.exists() and not stored.groups.exists()
    assert user_duties(person) == {held}


@pytest.mark.parametrize("held, other", ORDERED_PAIRS)
def test_a_duty_an_attached_policy_gives_counts_against_grants_and_policy_edits(root, held, other):
    person = f.user("p", Organization.objects.get(name="HQ"))
    policy = services.policy_create(actor=None, name="duty", document=_policy_document(_reserved(held), HARMLESS))
    services.policy_attach(actor=None, policy=policy, user=person)
    assert user_duties(person) == {held}
    refused = root.post("/api/v1/rbac/grants/", _grant_body(f.predefined(other).pk, "user", person), format="json")
    assert refused.status_code == 422 and refused.json()["code"] == "separation_of_duties"
    assert not Grant.objects.filter(user=person).exists()
    # a second policy of the other duty, and widening the first one, are refused as well
    second = services.policy_create(actor=None, name="other", document=_policy_document(_reserved(other)))
    with pytest.raises(ApplicationError) as attach_refused:
        services.policy_attach(actor=None, policy=second, user=person)
    assert attach_refused.value.code == "separation_of_duties"
    unrelated = f.user("q", Organization.objects.get(name="HQ"))
    _grant(other, "user", unrelated)
    harmless = services.policy_create(actor=None, name="harmless", document=_policy_document(HARMLESS))
    services.policy_attach(actor=None, policy=harmless, user=unrelated)
    edit = root.patch(f"/api/v1/rbac/policies/{harmless.pk}/", {"document": _policy_document(_reserved(held))},
                      format="json")
    assert edit.status_code == 422 and edit.json()["code"] == "separation_of_duties"
    assert AccessPolicy.objects.get(pk=harmless.pk).document == _policy_document(HARMLESS)


@pytest.mark.parametrize("first, second", UNORDERED_PAIRS)
def test_a_policy_allowing_two_duties_cannot_exist(root, first, second):
    both = _policy_document(_reserved(first), _reserved(second))
    refused = root.post("/api/v1/rbac/policies/", {"name": "two", "document": both}, format="json")
    assert refused.status_code == 422 and refused.json()["code"] == "separation_of_duties"
    assert not AccessPolicy.objects.filter(name="two").exists()
    one = root.post("/api/v1/rbac/policies/", {"name": "one", "document": _policy_document(_reserved(first))},
                    format="json").json()
    edit = root.patch(f"/api/v1/rbac/policies/{one['id']}/", {"document": both}, format="json")
    assert edit.status_code == 422 and edit.json()["code"] == "separation_of_duties"
    assert AccessPolicy.objects.get(pk=one["id"]).document == _policy_document(_reserved(first))


def test_a_deny_statement_gives_no_duty(root):
    document = {"Version": "1", "Statement": [{"Effect": "Deny", "Action": [_reserved(SECURITY_AUDITOR)],
                                               "Resource": "*"}]}
    person = _holder(SYSTEM_ADMINISTRATOR)
    policy = root.post("/api/v1/rbac/policies/", {"name": "deny", "document": document}, format="json").json()
    attached = root.post(f"/api/v1/rbac/policies/{policy['id']}/attach/", {"user": str(person.pk)}, format="json")
    assert attached.status_code == 200, attached.content
    assert user_duties(person) == {SYSTEM_ADMINISTRATOR}


def test_the_sync_after_migrate_derives_the_duty_of_custom_roles_written_before():
    role = f.role(_reserved(SECURITY_AUDITOR), HARMLESS)  # a row written without the rule
    assert role.duty == ""
    services.sync_predefined_roles()
    assert Role.objects.get(pk=role.pk).duty == SECURITY_AUDITOR
