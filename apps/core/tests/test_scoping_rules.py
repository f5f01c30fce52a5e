"""Who is scoped how. The foundation's membership backend (what core promises when no other backend is
installed): nobody signed in, a disabled person or no person sees nothing; a superuser sees
everything; a member sees the organizations they belong to with their descendants, never a parent
or a sibling, and is refused anything platform-wide (how organizations and people are scoped is
the organizations app's test). ``require`` refuses what ``authorize`` does not allow, naming the
permission, and never refuses the system itself."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q

from apps.core import scoping
from apps.core.errors import Forbidden
from apps.core.models import Operation
from tests import factories
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
OPERATIONS = "/api/v1/core/operations/"


@pytest.fixture
def membership_scoping():
    previous = scoping.install_backend(scoping.MembershipScoping())
    yield
    scoping.install_backend(previous)


@pytest.fixture
def ops(world):
    return {name: factories.operation(getattr(world, name)) for name in ("org_a", "dept_a", "org_b")}


def visible(user, model=Operation, action="core:operation:read") -> set:
    return set(scoping.restrict(model.objects.all(), user, action).values_list("pk", flat=True))


def test_a_member_sees_their_organization_and_its_descendants_only(world, ops, membership_scoping):
    assert visible(world.alice) == {ops["org_a"].pk, ops["dept_a"].pk}
    assert visible(world.bob) == {ops["org_b"].pk}
    assert scoping.authorize(world.alice, "core:operation:read", ops["dept_a"])
    assert not scoping.authorize(world.alice, "core:operation:read", ops["org_b"])
    # the same through the API
    listed = {row["id"] for row in api_as(world.alice).get(OPERATIONS).json()["results"]}
    assert listed == {ops["org_a"].pk, ops["dept_a"].pk}
    assert api_as(world.alice).get(f"{OPERATIONS}{ops['org_b'].pk}/").status_code == 404


def test_a_member_of_a_department_does_not_see_its_parent(world, ops, membership_scoping):
    clerk = factories.user("clerk", world.dept_a)
    assert visible(clerk) == {ops["dept_a"].pk}
    assert not scoping.authorize(clerk, "core:operation:read", ops["org_a"])


def test_a_member_is_refused_anything_platform_wide(world, membership_scoping):
    assert not scoping.authorize(world.alice, "core:operation:read", None)
    assert not scoping.authorize(world.alice, "core:operation:read")


def test_a_superuser_sees_and_may_do_everything(world, ops, membership_scoping):
    assert visible(world.root) == {op.pk for op in ops.values()}
    assert scoping.authorize(world.root, "core:operation:write", ops["org_b"])
    assert scoping.authorize(world.root, "core:operation:write", None)
    listed = {row["id"] for row in api_as(world.root).get(OPERATIONS).json()["results"]}
    assert listed == {op.pk for op in ops.values()}


@pytest.mark.parametrize("who", ["nobody", "anonymous", "disabled", "disabled superuser"])
def test_no_person_an_anonymous_visitor_or_a_disabled_person_sees_nothing(world, ops, membership_scoping, who):
    if who == "nobody":
        user = None
    elif who == "anonymous":
        user = AnonymousUser()
    else:
        user = world.root if who == "disabled superuser" else world.alice
        user.is_active = False
        user.save(update_fields=["is_active"])
    assert visible(user) == set()
    assert not scoping.authorize(user, "core:operation:read", ops["org_a"])
    assert not scoping.authorize(user, "core:operation:read", None)


def test_require_refuses_with_a_403_naming_the_permission(world, ops, membership_scoping):
    with pytest.raises(Forbidden) as refused:
        scoping.require(world.alice, "core:operation:write", ops["org_b"])
    assert refused.value.status == 403
    assert refused.value.message == "You are not allowed to do this (core:operation:write)."
    assert refused.value.detail == {"permission": "core:operation:write"}
    scoping.require(world.alice, "core:operation:write", ops["dept_a"])  # allowed: no refusal


def test_require_never_refuses_the_system_itself(world, ops, membership_scoping):
    scoping.require(None, "core:operation:write", ops["org_b"])
    scoping.require(None, "organizations:organization:write", None)


def test_installing_a_backend_or_a_membership_source_hands_back_the_previous_one(world, membership_scoping):
    installed = scoping.MembershipScoping()
    previous = scoping.install_backend(installed)
    assert isinstance(previous, scoping.MembershipScoping) and previous is not installed
    assert scoping.install_backend(previous) is installed

    def nobody_belongs(user):
        return ()

    real = scoping.install_membership_source(nobody_belongs)
    try:
        assert scoping.member_organization_ids(world.alice) == ()
        assert visible(world.alice) == set()
    finally:
        assert scoping.install_membership_source(real) is nobody_belongs
    assert set(scoping.member_organization_ids(world.alice)) == {world.org_a.pk, world.dept_a.pk}


def test_a_member_sees_the_organizations_they_belong_to_which_are_their_own_tenants(world, membership_scoping):
    organization = type(world.org_a)  # the organization model, named without core importing its app

    assert visible(world.alice, organization, "organizations:organization:read") == {world.org_a.pk, world.dept_a.pk}
    assert scoping.authorize(world.alice, "organizations:organization:read", world.dept_a)
    assert not scoping.authorize(world.alice, "organizations:organization:read", world.org_b)
    assert scoping.tenant_id(world.dept_a) == world.dept_a.pk
    assert scoping.tenant_id(factories.operation(world.dept_a)) == world.dept_a.pk


def test_a_member_sees_the_people_of_their_organizations_through_memberships(world, membership_scoping):
    user = type(world.alice)  # the person model, named without core importing its app

    clerk = factories.user("clerk", world.dept_a)
    assert visible(world.alice, user, "organizations:user:read") == {world.alice.pk, clerk.pk}
    assert scoping.authorize(world.alice, "organizations:user:read", clerk)
    assert scoping.authorize(world.alice, "organizations:user:read", world.alice)
    assert not scoping.authorize(world.alice, "organizations:user:read", world.bob)
    assert not scoping.authorize(world.alice, "organizations:user:read", world.root)
    assert not scoping.authorize(clerk, "organizations:user:read", world.alice)  # alice is a member of the parent


def test_the_tenant_predicate_follows_each_models_tenant_field():
    class Plain:  # names no tenant field: its organization column
        pass

    class OwnTenant:
        tenant_field = "pk"

    class ThroughParent:
        tenant_field = "bill__organization"

    class People:
        @classmethod
        def organization_scope_q(cls, org_ids):
            return Q(memberships__organization_id__in=org_ids)

    ids = ["o1", "o2"]
    assert scoping.tenant_q(Plain, ids) == Q(organization_id__in=ids)
    assert scoping.tenant_q(OwnTenant, ids) == Q(pk__in=ids)
    assert scoping.tenant_q(ThroughParent, ids) == Q(bill__organization_id__in=ids)
    assert scoping.tenant_q(People, ids) == Q(memberships__organization_id__in=ids)
