"""What "Why?" (the explain API) tells an administrator, entry by entry: which grant or statement
allowed or denied, through what (the person, a group, an organization's or project's members, a
membership), on which scope, and why each rule that was considered did not apply; with the
decision's reason and message for each outcome (allowed, explicit deny, the auditor's read-only
rule, implicit deny)."""

from __future__ import annotations

import pytest

from apps.core.models import Operation
from apps.rbac import engine
from apps.rbac.models import AccessPolicy
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
EXPLAIN = "/api/v1/rbac/explain/"


@pytest.fixture
def world():
    hq = f.org("HQ")
    east = f.org("East", hq)
    east_it = f.org("East IT", east)
    west = f.org("West", hq)
    dana = f.user("dana", east_it)
    ops = f.group(east, dana, name="ops")
    web = f.project(east_it, dana, name="web")
    grants = {
        "operators": f.grant(f.role("core:operation:*", key="operators"), dana, east),
        "west_core": f.grant(f.role("core:*", key="west_core"), ops, west),
        "web_writers": f.grant(f.role("core:operation:write", key="web_writers"), web, web),
        "east_readers": f.grant(f.role("billing:bill:read", key="east_readers"), east, east),
    }
    policy = AccessPolicy.objects.create(name="guard", document={"Statement": [
        {"Effect": "Deny", "Action": "core:operation:delete", "Resource": f"org/{west.pk}"},
        {"Effect": "Allow", "Action": "core:operation:write", "Resource": f"org/{east.pk}"}]})
    policy.users.add(dana)
    engine.invalidate()
    root = api_as(f.user("root", hq, is_superuser=True))
    return {"hq": hq, "east": east, "east_it": east_it, "west": west, "dana": dana, "grants": grants,
            "policy": policy, "root": root, "target": Operation.objects.create(organization=east_it, kind="t")}


def explain(w, action, target=None, user=None):
    target = w["target"] if target is None else target
    params = {"user": str((user or w["dana"]).pk), "action": action}
    if target != "platform":
        params.update(target_type=target._meta.label_lower, target_id=target.pk)
    response = w["root"].get(EXPLAIN, params)
    assert response.status_code == 200, response.content
    return response.json()


def grant_entry(w, key, scope, via, why=None):
    grant = w["grants"][key]
    entry = {"kind": "grant", "grant": str(grant.pk), "role": key, "role_name": key, "scope": scope, "via": via}
    return {**entry, "why": why} if why else entry


def member_entry(w, org):
    return {"kind": "membership", "grant": None, "role": "organization_member", "role_name": "Organization member",
            "scope": f"organization {org.name}", "via": f"member of {org.name}", "organization": str(org.pk)}


def statement_entry(w, index, effect, action, org, why=None):
    entry = {"kind": "policy", "policy": str(w["policy"].pk), "policy_name": "guard", "statement": index,
             "effect": effect, "actions": [action], "resources": [f"org/{org.pk}"]}
    return {**entry, "why": why} if why else entry


def test_an_allowed_action_names_every_grant_and_statement_that_allow_it_and_why_others_do_not(world):
    body = explain(world, "core:operation:write")
    assert (body["allowed"], body["reason"], body["message"]) == (True, "allowed", "Allowed.")
    assert body["allowed_by"] == [grant_entry(world, "operators", "organization East", "granted to the user"),
                                  member_entry(world, world["east_it"]),
                                  statement_entry(world, 1, "Allow", "core:operation:write", world["east"])]
    assert body["denied_by"] == []
    assert body["not_applied"] == [
        grant_entry(world, "web_writers", "project web", "granted to members of project web",
                    "the target is outside the scope"),
        grant_entry(world, "west_core", "organization West", "granted to user group ops",
                    "the target is outside the scope")]
    assert (body["hidden"], body["hidden_message"], body["duties"]) == (0, "", [])


def test_a_statement_for_another_resource_says_so(world):
    body = explain(world, "core:operation:delete")
    assert body["allowed"] is True
    assert body["not_applied"][0] == statement_entry(world, 0, "Deny", "core:operation:delete", world["west"],
                                                     "resource does not match")


def test_an_explicit_deny_is_named_and_wins(world):
    target = Operation.objects.create(organization=world["west"], kind="t")
    f.grant(f.role("core:operation:delete", key="deleters"), world["dana"], world["west"])
    engine.invalidate()
    body = explain(world, "core:operation:delete", target)
    assert (body["allowed"], body["reason"], body["message"]) == (False, "explicit_deny",
                                                                 "An access policy explicitly denies it.")
    assert body["denied_by"] == [statement_entry(world, 0, "Deny", "core:operation:delete", world["west"])]
    # the deny ends the decision: the grant that would allow it is not weighed
    assert body["allowed_by"] == [] and body["not_applied"] == []


def test_a_grant_to_an_organization_reaches_its_members_and_says_so(world):
    body = explain(world, "billing:bill:read", world["east"])
    assert body["allowed"] is True
    assert body["allowed_by"][0] == grant_entry(world, "east_readers", "organization East",
                                                "granted to members of East")


def test_nothing_that_allows_it_is_an_implicit_deny(world):
    body = explain(world, "billing:bill:read", world["west"])
    assert (body["allowed"], body["reason"], body["message"]) == (False, "implicit_deny",
                                                                 "No grant or policy allows it.")
    assert body["allowed_by"] == [] and body["denied_by"] == []


def test_a_security_auditor_is_refused_changes_by_the_read_only_rule(world):
    audrey = f.user("audrey", world["east_it"])
    f.grant(f.predefined("security_auditor"), audrey, None)
    engine.invalidate()
    body = explain(world, "core:operation:write", user=audrey)
    assert (body["allowed"], body["reason"], body["message"]) == (
        False, "auditor_read_only", "A security auditor can read but never change anything.")
    assert body["duties"] == ["security_auditor"]
    assert explain(world, "core:operation:read", user=audrey)["allowed"] is True


def test_an_organizations_allow_statement_outside_it_says_so(world):
    bounded = AccessPolicy.objects.create(name="east only", organization=world["east"], document={"Statement": [
        {"Effect": "Allow", "Action": "billing:bill:read", "Resource": "*"}]})
    bounded.users.add(world["dana"])
    engine.invalidate()
    inside = explain(world, "billing:bill:read", world["east_it"])
    assert inside["allowed"] is True
    outside = explain(world, "billing:bill:read", world["west"])
    assert outside["allowed"] is False
    assert [e["why"] for e in outside["not_applied"] if e.get("policy") == str(bounded.pk)] == [
        "outside the policy's organization"]


def test_a_menu_is_denied_anywhere_only_by_a_statement_denying_it_everywhere(world):
    some = AccessPolicy.objects.create(name="some", document={"Statement": [
        {"Effect": "Deny", "Action": "menu:*", "Resource": f"org/{world['west'].pk}"}]})
    some.users.add(world["dana"])
    f.grant(f.role("menu:console:*", key="menus"), world["dana"], world["east"])
    engine.invalidate()
    body = explain(world, "menu:console:organizations", "platform")
    assert body["allowed"] is True
    assert [e["why"] for e in body["not_applied"] if e.get("policy") == str(some.pk)] == [
        "denies only some resources"]
    everywhere = AccessPolicy.objects.create(name="all", document={"Statement": [
        {"Effect": "Deny", "Action": "menu:*", "Resource": "*"}]})
    everywhere.users.add(world["dana"])
    engine.invalidate()
    assert explain(world, "menu:console:organizations", "platform")["reason"] == "explicit_deny"
