"""An organization's access policy allows nothing outside that organization's subtree, even when a
stored document (written before the services refused it, or straight into the database) says more.
Deny statements stay unbounded; platform policies keep their meaning."""

from __future__ import annotations

import pytest

from apps.core.models import Operation
from apps.core.scoping import authorize, restrict
from apps.organizations.models import Organization, Project
from apps.rbac import engine
from apps.rbac.models import AccessPolicy
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    hq = f.org("HQ")
    east = f.org("East", hq)
    west = f.org("West", hq)
    east_it = f.org("East IT", east)
    return {"hq": hq, "east": east, "west": west, "east_it": east_it}


def stored_policy(user, statements, organization=None):
    """Written with the ORM: none of the services' rules about Allow resources applied."""
    policy = AccessPolicy.objects.create(name="stored", organization=organization,
                                         document={"Statement": statements})
    policy.users.add(user)
    engine.invalidate()
    return policy


def allow(action, resource):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def ops(tree):
    return {name: Operation.objects.create(organization=org, kind="t") for name, org in tree.items()}


def listed(user, model, action):
    return set(restrict(model.objects.all(), user, action))


def test_org_policy_allowing_everything_allows_only_its_subtree(tree):
    bob = f.user("bob")
    stored_policy(bob, [allow("core:operation:*", "*")], tree["east"])
    targets = ops(tree)
    bob = f.fresh(bob)
    decided = {name for name, obj in targets.items() if authorize(bob, "core:operation:write", obj)}
    assert decided == {"east", "east_it"}
    assert listed(bob, Operation, "core:operation:write") == {targets["east"], targets["east_it"]}


def test_org_policy_naming_an_organization_outside_its_subtree_allows_nothing(tree):
    bob = f.user("bob")
    stored_policy(bob, [allow("core:operation:*", [f"org/{tree['west'].pk}", f"org/{tree['hq'].pk}"])],
                  tree["east"])
    targets = ops(tree)
    bob = f.fresh(bob)
    decided = {name for name, obj in targets.items() if authorize(bob, "core:operation:read", obj)}
    # org/<hq> covers the whole tree, bounded to East's subtree
    assert decided == {"east", "east_it"}
    assert listed(bob, Operation, "core:operation:read") == {targets["east"], targets["east_it"]}


def test_org_policy_naming_a_project_outside_its_subtree_allows_nothing(tree):
    bob = f.user("bob")
    inside = f.project(tree["east_it"], name="inside")
    outside = f.project(tree["west"], name="outside")
    stored_policy(bob, [allow("organizations:project:write", [f"project/{inside.pk}", f"project/{outside.pk}"])],
                  tree["east"])
    bob = f.fresh(bob)
    assert authorize(bob, "organizations:project:write", inside)
    assert not authorize(bob, "organizations:project:write", outside)
    assert listed(bob, Project, "organizations:project:write") == {inside}


def test_org_policy_naming_objects_outside_its_subtree_allows_nothing(tree):
    bob = f.user("bob")
    targets = ops(tree)
    stored_policy(bob, [allow("core:operation:write", [f"core.operation/{targets['east_it'].pk}",
                                                       f"core.operation/{targets['west'].pk}"]),
                        allow("organizations:organization:write", "organizations.organization/*")], tree["east"])
    bob = f.fresh(bob)
    decided = {name for name, obj in targets.items() if authorize(bob, "core:operation:write", obj)}
    assert decided == {"east_it"}
    assert listed(bob, Operation, "core:operation:write") == {targets["east_it"]}
    assert authorize(bob, "organizations:organization:write", tree["east_it"])
    assert not authorize(bob, "organizations:organization:write", tree["west"])
    assert listed(bob, Organization, "organizations:organization:write") == {tree["east"], tree["east_it"]}


def test_org_policy_gives_menus_only_for_actions_it_allows(tree):
    bob = f.user("bob")
    stored_policy(bob, [allow("menu:console:organizations", "*")], tree["east"])
    assert authorize(f.fresh(bob), "menu:console:organizations", None)
    assert not authorize(f.fresh(bob), "menu:console:audit", None)


def test_org_policy_deny_is_not_bounded(tree):
    bob = f.user("bob")
    f.grant(f.role("core:operation:*"), bob, None)
    stored_policy(bob, [{"Effect": "Deny", "Action": "core:operation:write", "Resource": "*"}], tree["east"])
    targets = ops(tree)
    bob = f.fresh(bob)
    assert not any(authorize(bob, "core:operation:write", obj) for obj in targets.values())
    assert not restrict(Operation.objects.all(), bob, "core:operation:write").exists()
    assert listed(bob, Operation, "core:operation:read") == set(targets.values())


def test_platform_policy_allowing_everything_still_allows_everywhere(tree):
    bob = f.user("bob")
    stored_policy(bob, [allow("core:operation:*", "*")])
    targets = ops(tree)
    bob = f.fresh(bob)
    assert all(authorize(bob, "core:operation:write", obj) for obj in targets.values())
    assert listed(bob, Operation, "core:operation:write") == set(targets.values())


def test_explain_says_the_statement_lies_outside_the_policys_organization(tree):
    from apps.rbac.backend import decide

    bob = f.user("bob")
    stored_policy(bob, [allow("core:operation:*", "*")], tree["east"])
    target = Operation.objects.create(organization=tree["west"], kind="t")
    decision = decide(f.fresh(bob), "core:operation:read", target, explain=True)
    assert not decision.allowed
    assert [e["why"] for e in decision.not_applied] == ["outside the policy's organization"]
