"""Organizations are their own tenants and people belong to them through memberships, under the
foundation's membership backend (core's ``MembershipScoping``, fed by the membership source this app
installs): a member sees their organization with its descendants and the people in them, never a
parent's or another organization's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from apps.core import scoping
from apps.core.models import Operation
from apps.organizations.models import Organization, User
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def membership_scoping():
    previous = scoping.install_backend(scoping.MembershipScoping())
    yield
    scoping.install_backend(previous)


@pytest.fixture
def world():
    org_a = f.org("Org A")
    dept_a = f.org("Department of A", org_a)
    org_b = f.org("Org B")
    return SimpleNamespace(org_a=org_a, dept_a=dept_a, org_b=org_b, alice=f.user("alice", org_a),
                           bob=f.user("bob", org_b))


def visible(user, model, action) -> set:
    return set(scoping.restrict(model.objects.all(), user, action).values_list("pk", flat=True))


def test_an_organization_is_its_own_tenant(world, membership_scoping):
    assert visible(world.alice, Organization, "organizations:organization:read") == {world.org_a.pk, world.dept_a.pk}
    assert scoping.authorize(world.alice, "organizations:organization:read", world.dept_a)
    assert not scoping.authorize(world.alice, "organizations:organization:read", world.org_b)
    assert scoping.tenant_id(world.dept_a) == world.dept_a.pk
    assert scoping.tenant_id(Operation(organization=world.org_b)) == world.org_b.pk


def test_people_belong_to_organizations_through_their_memberships(world, membership_scoping):
    colleague = f.user("carol", world.dept_a)
    assert visible(world.alice, User, "organizations:user:read") == {world.alice.pk, colleague.pk}
    assert scoping.authorize(world.alice, "organizations:user:read", colleague)
    assert not scoping.authorize(world.alice, "organizations:user:read", world.bob)
    assert not scoping.authorize(world.bob, "organizations:user:read", colleague)
