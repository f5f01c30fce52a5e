"""What a decision is about and whom a grant reaches, rule by rule, through the engine's public
functions (``authorize``/``restrict`` of the installed backend, ``decide``, ``roles_held``,
``grants_reaching``, ``people_reached``, ``profile_for``): the object a statement names, a person as
a target in each of their organizations, a model without a tenant field, a project as its own scope,
rows shared with everyone, cloud-service scopes, predefined roles defined by the code, project grants
bound to their own project, deny statements in lists, broken or dangling policies."""

from __future__ import annotations

import uuid

import pytest

from apps.core.models import Operation
from apps.core.scoping import authorize, restrict
from apps.organizations.models import Membership, Organization, Project
from apps.rbac import engine
from apps.rbac.backend import decide
from apps.rbac.models import AccessPolicy, Role
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    hq = f.org("HQ")
    east = f.org("East", hq)
    west = f.org("West", hq)
    east_it = f.org("East IT", east)
    return {"hq": hq, "east": east, "west": west, "east_it": east_it}


def op(org):
    return Operation.objects.create(organization=org, kind="t")


def attach(user, *statements, organization=None, name="p"):
    policy = AccessPolicy.objects.create(name=name, organization=organization,
                                         document={"Statement": list(statements)})
    policy.users.add(user)
    engine.invalidate()
    return policy


def allow(action, resource):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action, resource):
    return {"Effect": "Deny", "Action": action, "Resource": resource}


# -- objects a statement names -----------------------------------------------------------------------

def test_a_statement_naming_one_organization_allows_that_organization_only(tree):
    dana = f.user("dana")
    attach(dana, allow("organizations:organization:write", f"organizations.organization/{tree['east'].pk}"))
    dana = f.fresh(dana)
    assert authorize(dana, "organizations:organization:write", tree["east"])
    assert not authorize(dana, "organizations:organization:write", tree["west"])
    assert not authorize(dana, "organizations:organization:write", tree["east_it"])
    assert set(restrict(Organization.objects.all(), dana, "organizations:organization:write")) == {tree["east"]}


def test_a_statement_naming_one_person_allows_them_in_each_of_their_organizations_or_none(tree):
    dana = f.user("dana")
    bob = f.user("bob", tree["east"], tree["west"])
    loner = f.user("loner")
    other = f.user("other", tree["east"])
    attach(dana, allow("organizations:user:write", [f"organizations.user/{bob.pk}",
                                                    f"organizations.user/{loner.pk}"]))
    dana = f.fresh(dana)
    assert authorize(dana, "organizations:user:write", bob)
    assert authorize(dana, "organizations:user:write", loner)
    assert not authorize(dana, "organizations:user:write", other)


def test_a_deny_naming_one_person_refuses_them_whatever_organization_allows(tree):
    dana = f.user("dana")
    bob = f.user("bob", tree["east"])
    loner = f.user("loner")
    f.grant(f.role("organizations:user:write"), dana, None)
    attach(dana, deny("organizations:user:write", [f"organizations.user/{bob.pk}", f"organizations.user/{loner.pk}"]))
    dana = f.fresh(dana)
    assert not authorize(dana, "organizations:user:write", bob)
    assert not authorize(dana, "organizations:user:write", loner)
    assert authorize(dana, "organizations:user:write", f.user("carol", tree["east"]))


def test_a_model_without_a_tenant_field_is_scoped_by_its_organization(tree):
    dana = f.user("dana")
    bob = f.user("bob", tree["east_it"], tree["west"])
    f.grant(f.role("organizations:user:read"), dana, tree["east"])
    dana = f.fresh(dana)
    inside = Membership.objects.get(user=bob, organization=tree["east_it"])
    outside = Membership.objects.get(user=bob, organization=tree["west"])
    assert set(restrict(Membership.objects.all(), dana, "organizations:user:read")) == {inside}
    assert authorize(dana, "organizations:user:read", inside)
    assert not authorize(dana, "organizations:user:read", outside)


def test_a_project_grant_reaches_the_project_row_itself(tree):
    dana = f.user("dana")
    web = f.project(tree["east"], name="web")
    api = f.project(tree["east"], name="api")
    f.grant(f.role("organizations:project:write"), dana, web)
    dana = f.fresh(dana)
    assert authorize(dana, "organizations:project:write", web)
    assert not authorize(dana, "organizations:project:write", api)
    assert set(restrict(Project.objects.all(), dana, "organizations:project:write")) == {web}


# -- deny statements in lists --------------------------------------------------------------------------

def test_a_deny_of_a_project_hides_it_from_lists_and_leaves_other_kinds_alone(tree):
    dana = f.user("dana")
    web = f.project(tree["east"], name="web")
    api = f.project(tree["east"], name="api")
    f.grant(f.role("organizations:*"), dana, tree["hq"])
    attach(dana, deny("organizations:*", f"project/{web.pk}"))
    dana = f.fresh(dana)
    assert set(restrict(Project.objects.all(), dana, "organizations:project:read")) == {api}
    # operations have no project: a project deny does not narrow them
    ops = {op(tree["east"]), op(tree["west"])}
    assert set(restrict(Operation.objects.all(), dana, "organizations:project:read")) == ops


def test_deny_statements_on_an_organization_a_project_and_an_object_add_up(tree):
    dana = f.user("dana")
    web = f.project(tree["east"], name="web")
    api = f.project(tree["east"], name="api")
    db = f.project(tree["east"], name="db")
    far = f.project(tree["west"], name="far")
    near = f.project(tree["hq"], name="near")
    f.grant(f.role("organizations:*"), dana, tree["hq"])
    attach(dana, deny("organizations:*", f"org/{tree['west'].pk}"), deny("organizations:*", f"project/{web.pk}"),
           deny("organizations:*", f"organizations.project/{api.pk}"))
    dana = f.fresh(dana)
    assert set(restrict(Project.objects.all(), dana, "organizations:project:read")) == {db, near}
    assert far not in restrict(Project.objects.all(), dana, "organizations:project:read")


def test_a_deny_of_one_object_hides_that_object_only(tree):
    dana = f.user("dana")
    web = f.project(tree["east"], name="web")
    api = f.project(tree["east"], name="api")
    f.grant(f.role("organizations:*"), dana, tree["hq"])
    attach(dana, deny("organizations:*", f"organizations.project/{web.pk}"))
    dana = f.fresh(dana)
    assert set(restrict(Project.objects.all(), dana, "organizations:project:read")) == {api}
    assert not authorize(dana, "organizations:project:read", web)


def test_a_deny_of_every_object_of_a_kind_hides_the_whole_list(tree):
    dana = f.user("dana")
    f.project(tree["east"], name="web")
    f.grant(f.role("organizations:*"), dana, tree["hq"])
    attach(dana, deny("organizations:*", "organizations.project/*"))
    dana = f.fresh(dana)
    assert list(restrict(Project.objects.all(), dana, "organizations:project:read")) == []
    # another kind of object is not touched by it
    assert set(restrict(Organization.objects.all(), dana, "organizations:organization:read")) == set(tree.values())


def test_a_statement_naming_another_kind_of_object_never_touches_a_list(tree):
    dana = f.user("dana")
    web = f.project(tree["east"], name="web")
    f.project(tree["west"], name="far")
    # an organization whose id is the project's: a statement naming it must not hide the project
    Organization.objects.create(id=web.pk, name="Twin")
    f.grant(f.role("organizations:*"), dana, tree["east"])
    elsewhere = [f"organizations.organization/{uuid.uuid4()}", f"org/{tree['west'].pk}"]
    attach(dana, deny("organizations:*", f"organizations.organization/{web.pk}"),
           allow("organizations:project:read", elsewhere))
    dana = f.fresh(dana)
    assert set(restrict(Project.objects.all(), dana, "organizations:project:read").values_list("name", flat=True)) \
        == {"web", "far"}


def test_an_allow_of_objects_lists_those_objects(tree):
    dana = f.user("dana")
    web = f.project(tree["east"], name="web")
    f.project(tree["east"], name="api")
    attach(dana, allow("organizations:project:read", f"organizations.project/{web.pk}"))
    dana = f.fresh(dana)
    assert set(restrict(Project.objects.all(), dana, "organizations:project:read")) == {web}


def test_an_organizations_policy_allowing_everything_adds_to_grants_elsewhere(tree):
    dana = f.user("dana")
    f.grant(f.role("core:operation:read"), dana, tree["west"])
    attach(dana, allow("core:operation:read", "*"), organization=tree["east"])
    mine = {op(tree["west"]), op(tree["east"]), op(tree["east_it"])}
    op(tree["hq"])
    dana = f.fresh(dana)
    assert set(restrict(Operation.objects.all(), dana, "core:operation:read")) == mine


# -- rows shared with everyone ------------------------------------------------------------------------

def test_a_predefined_role_is_shared_with_whoever_may_read_roles_anywhere(tree):
    dana = f.user("dana")
    f.grant(f.role("rbac:role:read", "rbac:grant:read"), dana, tree["east"])
    dana = f.fresh(dana)
    viewer = f.predefined("viewer")
    assert authorize(dana, "rbac:role:read", viewer)
    # a role owned by another organization is not shared
    west_role = Role.objects.create(key="west_role", name="west", organization=tree["west"])
    east_role = Role.objects.create(key="east_role", name="east", organization=tree["east_it"])
    assert not authorize(dana, "rbac:role:read", west_role)
    assert authorize(dana, "rbac:role:read", east_role)
    # a grant without an owner is the platform's, not shared
    platform_grant = f.grant(f.role("core:*"), f.user("bob"), None)
    assert platform_grant.organization_id is None
    assert not authorize(dana, "rbac:grant:read", platform_grant)


def test_an_organizations_policy_reaches_shared_rows_through_every_or_all_of_a_kind(tree):
    dana, erin, fay = f.user("dana"), f.user("erin"), f.user("fay")
    viewer = f.predefined("viewer")
    attach(dana, allow("rbac:role:read", "*"), organization=tree["east"], name="every")
    attach(erin, allow("rbac:role:read", "rbac.role/*"), organization=tree["east"], name="kind")
    attach(fay, allow("rbac:role:read", f"rbac.role/{viewer.pk}"), organization=tree["east"], name="one")
    dana, erin, fay = f.fresh(dana), f.fresh(erin), f.fresh(fay)
    assert authorize(dana, "rbac:role:read", viewer)
    assert authorize(erin, "rbac:role:read", viewer)
    # naming one shared row is outside an organization's bound
    assert not authorize(fay, "rbac:role:read", viewer)


# -- cloud-service scopes, roles held ---------------------------------------------------------------

def test_a_cloud_service_grant_covers_that_services_actions_only(tree):
    dana = f.user("dana")
    f.grant(f.role("*", key="ecs_all"), dana, None, scope_type="cloud_service", scope_key="ecs")
    dana = f.fresh(dana)
    assert authorize(dana, "ecs:instance:start", None)
    assert authorize(dana, "ecs:instance:start", op(tree["west"]))
    assert not authorize(dana, "rds:instance:start", None)
    assert not authorize(dana, "core:operation:read", op(tree["west"]))
    assert list(restrict(Operation.objects.all(), dana, "core:operation:read")) == []
    op(tree["east"])
    assert set(restrict(Operation.objects.all(), dana, "ecs:instance:read")) == set(Operation.objects.all())


def test_roles_held_are_those_whose_scope_contains_the_object_for_the_service(tree):
    dana = f.user("dana", tree["east"])
    f.grant(f.role("ecs:*", key="ecs_approver"), dana, None, scope_type="cloud_service", scope_key="ecs")
    f.grant(f.role("core:*", key="platform_role"), dana, None)
    f.grant(f.role("core:*", key="west_role"), dana, tree["west"])
    dana = f.fresh(dana)
    inside = op(tree["east_it"])
    assert engine.roles_held(dana, inside, service="ecs") == {"organization_member", "ecs_approver", "platform_role"}
    assert engine.roles_held(dana, inside, service="rds") == {"organization_member", "platform_role"}
    assert engine.roles_held(dana, inside) == {"organization_member", "ecs_approver", "platform_role"}
    assert engine.roles_held(dana, op(tree["west"]), service="ecs") == {"ecs_approver", "platform_role", "west_role"}
    assert engine.roles_held(dana, None, service="rds") == {"platform_role"}
    assert engine.roles_held(dana, None) == {"platform_role", "ecs_approver"}


def test_the_scope_of_each_kind_of_grant_is_named_in_explanations(tree):
    dana = f.user("dana")
    everywhere = f.grant(f.role("core:*", key="everywhere"), dana, None)
    ecs = f.grant(f.role("*", key="ecs_all"), dana, None, scope_type="cloud_service", scope_key="ecs")
    dana = f.fresh(dana)
    target = op(tree["east"])
    by_grant = {e["grant"]: e["scope"] for e in decide(dana, "core:operation:read", target, explain=True).allowed_by}
    assert by_grant == {str(everywhere.pk): "the whole platform"}
    by_grant = {e["grant"]: e["scope"] for e in decide(dana, "ecs:instance:read", target, explain=True).allowed_by}
    assert by_grant == {str(ecs.pk): "cloud service ecs"}


# -- predefined roles, project grants ------------------------------------------------------------------

def test_a_predefined_role_means_what_the_code_defines_whatever_its_row_says(tree):
    dana = f.user("dana")
    viewer = f.predefined("viewer")
    f.grant(viewer, dana, tree["east"])
    Role.objects.filter(pk=viewer.pk).update(permissions=["*"], excluded_permissions=[], duty="security_auditor")
    engine.invalidate()
    dana = f.fresh(dana)
    target = op(tree["east"])
    assert authorize(dana, "core:operation:read", target)
    assert not authorize(dana, "core:operation:write", target)
    assert not authorize(dana, "rbac:grant:read", target)
    assert engine.profile_for(dana).duties == frozenset()


def test_a_grant_to_a_projects_members_on_another_project_gives_nothing(tree):
    dana = f.user("dana")
    web = f.project(tree["east"], dana, name="web")
    api = f.project(tree["east"], name="api")
    f.grant(f.role("organizations:project:write", key="cross"), web, api)
    dana = f.fresh(dana)
    assert not authorize(dana, "organizations:project:write", api)
    assert "cross" not in engine.roles_held(dana, api)


# -- whom grants reach -----------------------------------------------------------------------------------

def test_grants_reaching_a_person_come_through_them_their_groups_organizations_and_projects(tree):
    dana = f.user("dana", tree["east_it"])
    team = f.group(tree["east"], dana, name="team")
    others = f.group(tree["east"], name="others")
    web = f.project(tree["east"], dana, name="web")
    api = f.project(tree["east"], name="api")
    api.groups.add(team)
    far = f.project(tree["west"], name="far")
    role = f.role("core:*")
    reaching = {f.grant(role, dana, None), f.grant(role, team, None), f.grant(role, tree["east"], None),
                f.grant(role, web, web), f.grant(role, api, api)}
    for grantee in (others, tree["west"], far, f.user("bob")):
        f.grant(role, grantee, far if grantee is far else None)
    assert set(engine.grants_reaching(dana)) == reaching


def test_the_people_a_project_grant_reaches_are_its_members_and_its_groups_members(tree):
    ann, ben = f.user("ann", tree["east"]), f.user("ben", tree["east"])
    f.user("cid", tree["east"])
    web = f.project(tree["east"], ann, name="web")
    web.groups.add(f.group(tree["east"], ben))
    assert set(engine.people_reached("project", web)) == {ann, ben}


def test_a_grant_to_a_projects_members_reaches_a_member_through_a_user_group(tree):
    ben = f.user("ben")
    web = f.project(tree["east"], name="web")
    web.groups.add(f.group(tree["east"], ben))
    f.grant(f.role("organizations:project:write"), web, web)
    ben = f.fresh(ben)
    assert authorize(ben, "organizations:project:write", web)


def test_a_grant_to_a_disabled_organizations_members_reaches_nobody(tree):
    dana = f.user("dana", tree["east_it"])
    f.grant(f.role("core:operation:write"), tree["east_it"], tree["west"])
    Organization.objects.filter(pk=tree["east_it"].pk).update(is_active=False)
    engine.invalidate()
    dana = f.fresh(dana)
    assert not authorize(dana, "core:operation:write", op(tree["west"]))


# -- policies that are broken, dangling or conditional ----------------------------------------------

def test_a_broken_stored_policy_grants_nothing_and_the_others_still_apply(tree):
    dana = f.user("dana")
    target = op(tree["east"])
    broken = AccessPolicy.objects.create(name="broken", organization=tree["east"], document={"Statement": "not a list"})
    good = AccessPolicy.objects.create(name="good", document={"Statement": [allow("core:operation:read", "*")]})
    broken.users.add(dana)
    good.users.add(dana)
    engine.invalidate()
    dana = f.fresh(dana)
    assert authorize(dana, "core:operation:read", target)
    assert not authorize(dana, "core:operation:write", target)


def test_a_policy_naming_a_deleted_organization_matches_nothing(tree):
    dana = f.user("dana")
    f.grant(f.role("core:*"), dana, tree["east"])
    attach(dana, deny("core:*", f"org/{uuid.uuid4()}"), allow("core:operation:write", f"org/{uuid.uuid4()}"))
    dana = f.fresh(dana)
    inside = op(tree["east"])
    op(tree["west"])
    assert authorize(dana, "core:operation:write", inside)
    assert set(restrict(Operation.objects.all(), dana, "core:operation:write")) == {inside}


def test_a_statement_with_a_time_condition_applies_only_within_it(tree):
    dana, erin = f.user("dana"), f.user("erin")
    target = op(tree["east"])
    attach(dana, {**allow("core:operation:read", "*"),
                  "Condition": {"DateGreaterThan": {"acs:CurrentTime": "2000-01-01T00:00:00Z"}}})
    attach(erin, {**allow("core:operation:read", "*"),
                  "Condition": {"DateGreaterThan": {"acs:CurrentTime": "2999-01-01T00:00:00Z"}}})
    assert authorize(f.fresh(dana), "core:operation:read", target)
    assert not authorize(f.fresh(erin), "core:operation:read", target)


def test_an_allow_for_some_organization_does_not_open_a_menu_anywhere(tree):
    dana = f.user("dana")
    attach(dana, allow("menu:console:audit", f"org/{tree['east'].pk}"))
    assert not authorize(f.fresh(dana), "menu:console:audit", None)


# -- explanations of refusals ---------------------------------------------------------------------------

def test_an_explicit_deny_still_lists_the_statements_that_did_not_apply(tree):
    dana = f.user("dana")
    policy = attach(dana, deny("core:operation:write", "*"), allow("core:operation:write", f"org/{tree['west'].pk}"))
    decision = decide(f.fresh(dana), "core:operation:write", op(tree["east"]), explain=True)
    assert decision.reason == "explicit_deny"
    assert [(e["policy"], e["statement"], e["why"]) for e in decision.not_applied] == [
        (str(policy.pk), 1, "resource does not match")]


def test_the_auditors_refusal_lists_what_did_not_apply_and_denies_by_no_statement(tree):
    audrey = f.user("audrey")
    f.grant(f.predefined("security_auditor"), audrey, None)
    policy = attach(audrey, allow("core:operation:write", f"org/{tree['west'].pk}"))
    decision = decide(f.fresh(audrey), "core:operation:write", op(tree["east"]), explain=True)
    assert (decision.reason, decision.allowed_by, decision.denied_by) == ("auditor_read_only", [], [])
    assert [(e["policy"], e["why"]) for e in decision.not_applied] == [(str(policy.pk), "resource does not match")]


def test_a_security_auditor_may_still_open_the_menus_their_role_gives(tree):
    audrey = f.user("audrey")
    f.grant(f.predefined("security_auditor"), audrey, None)
    audrey = f.fresh(audrey)
    assert authorize(audrey, "menu:console:audit", None)
    assert not authorize(audrey, "menu:console:resources", None)


# -- the profile of a request ---------------------------------------------------------------------------

def test_a_persons_profile_is_kept_for_the_request_until_an_access_change(tree):
    dana = f.user("dana", tree["east"])
    first = engine.profile_for(dana)
    assert engine.profile_for(dana) is first
    assert first.user_id == str(dana.pk)
    # another person's profile is never served for this one
    bob = f.user("bob")
    bob._rbac_profile = first
    assert engine.profile_for(bob) is not first and engine.profile_for(bob).user_id == str(bob.pk)
    f.grant(f.role("core:operation:delete"), dana, tree["west"])
    second = engine.profile_for(dana)
    assert second is not first and engine.profile_for(dana) is second
    assert authorize(dana, "core:operation:delete", op(tree["west"]))
    f.grant(f.role("organizations:project:write"), dana, tree["west"])
    assert engine.profile_for(dana) is not second
    assert authorize(dana, "organizations:project:write", op(tree["west"]))


def test_a_platform_administrators_profile_carries_the_system_administrator_duty(tree):
    root = f.user("root", is_superuser=True)
    assert engine.profile_for(root).duties == frozenset({"system_administrator"})
    assert engine.profile_for(f.user("dana", tree["east"])).duties == frozenset()


# -- several people decided at once (the access matrix) ----------------------------------------------

def test_people_decided_together_each_get_only_their_own_grants_and_policies(tree):
    from apps.rbac.selectors import access_matrix

    root = f.user("root", is_superuser=True)
    dana = f.user("dana", tree["east"])
    bob = f.user("bob", tree["east"])
    f.group(tree["east"], dana, name="team")
    f.grant(f.role("organizations:project:write"), bob, tree["east"])
    theirs = AccessPolicy.objects.create(name="a bob's", document={"Statement": [allow("rbac:grant:write", "*")]})
    theirs.users.add(bob)
    mine = AccessPolicy.objects.create(name="b dana's", document={"Statement": [allow("rbac:role:write", "*")]})
    mine.users.add(dana)
    engine.invalidate()
    codes = ["organizations:project:write", "rbac:grant:write", "rbac:role:write"]
    _codes, rows = access_matrix(actor=root, organization=tree["east"], codes=codes)
    cells = {row["user"].username: row["cells"] for row in rows}
    assert cells == {"bob": [True, True, False], "dana": [False, False, True]}


def test_a_deny_narrows_a_list_even_under_a_grant_on_the_whole_platform(tree):
    dana = f.user("dana")
    f.grant(f.role("core:operation:read"), dana, None)
    attach(dana, deny("core:operation:read", f"org/{tree['east'].pk}"))
    kept = {op(tree["hq"]), op(tree["west"])}
    op(tree["east"]), op(tree["east_it"])
    assert set(restrict(Operation.objects.all(), f.fresh(dana), "core:operation:read")) == kept
