"""The decision engine on rows that carry a project and a cloud platform (inventory resources): a
project grant and a project statement reach the project's resources, a deny of a project hides them,
and the roles someone holds on a resource come from the grants whose scope contains it. The rules are
rbac's; the models are later apps', so the test lives here."""

from __future__ import annotations

import pytest

from apps.core.scoping import authorize, restrict
from apps.rbac import engine
from apps.rbac.models import AccessPolicy
from apps.resources.models import Resource
from tests import factories as f
from tests.fixtures import rbac_scoping  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
READ = "resources:resource:read"


@pytest.fixture
def estate():
    east, west = f.org("East"), f.org("West")
    web, api = f.project(east, name="web"), f.project(west, name="api")
    p, q = f.platform(east, name="P"), f.platform(west, name="Q")
    return {"east": east, "west": west, "web": web, "api": api, "p": p, "q": q,
            "in_web": f.resource(p, organization=east, project=web),
            "in_api": f.resource(q, organization=west, project=api),
            "east_loose": f.resource(p, organization=east),
            "west_loose": f.resource(q, organization=west)}


def attach(user, *statements):
    policy = AccessPolicy.objects.create(name="p", document={"Statement": list(statements)})
    policy.users.add(user)
    engine.invalidate()


def test_a_project_grant_reaches_the_resources_of_that_project_only(estate):
    dana = f.user("dana")
    f.grant(f.role(READ, key="web_reader"), dana, estate["web"])
    dana = f.fresh(dana)
    assert set(restrict(Resource.objects.all(), dana, READ)) == {estate["in_web"]}
    assert authorize(dana, READ, estate["in_web"])
    assert not authorize(dana, READ, estate["in_api"])
    assert not authorize(dana, READ, estate["east_loose"])
    assert engine.roles_held(dana, estate["in_web"]) == {"web_reader"}
    assert engine.roles_held(dana, estate["in_api"]) == set()


def test_a_statement_allowing_a_project_reaches_its_resources(estate):
    dana = f.user("dana")
    attach(dana, {"Effect": "Allow", "Action": READ, "Resource": f"project/{estate['web'].pk}"})
    dana = f.fresh(dana)
    assert set(restrict(Resource.objects.all(), dana, READ)) == {estate["in_web"]}
    assert authorize(dana, READ, estate["in_web"])
    assert not authorize(dana, READ, estate["east_loose"])


def test_a_deny_of_a_project_hides_its_resources_from_an_organization_grant(estate):
    dana = f.user("dana")
    f.grant(f.role(READ), dana, estate["east"])
    attach(dana, {"Effect": "Deny", "Action": READ, "Resource": f"project/{estate['web'].pk}"})
    dana = f.fresh(dana)
    assert set(restrict(Resource.objects.all(), dana, READ)) == {estate["east_loose"]}
    assert not authorize(dana, READ, estate["in_web"])


def test_a_cloud_platform_grant_holds_its_role_on_that_platforms_resources_only(estate):
    dana = f.user("dana")
    f.grant(f.role(READ, key="p_reader"), dana, None, scope_type="cloud_platform", scope_key=estate["p"].pk)
    dana = f.fresh(dana)
    assert set(restrict(Resource.objects.all(), dana, READ)) == {estate["in_web"], estate["east_loose"]}
    assert engine.roles_held(dana, estate["east_loose"]) == {"p_reader"}
    assert engine.roles_held(dana, estate["west_loose"]) == set()
    assert engine.roles_held(dana, estate["p"]) == {"p_reader"}
    assert engine.roles_held(dana, estate["q"]) == set()


def test_an_organizations_policy_naming_a_project_is_bounded_by_the_projects_organization(estate):
    """The bound of an organization's Allow is checked on the named project's organization, not on the
    organization a resource of it is assigned to."""
    dana, erin = f.user("dana"), f.user("erin")
    elsewhere = f.resource(estate["q"], organization=estate["west"], project=estate["web"], name="web-in-west")
    inside = AccessPolicy.objects.create(name="east web", organization=estate["east"], document={"Statement": [
        {"Effect": "Allow", "Action": READ, "Resource": f"project/{estate['web'].pk}"}]})
    inside.users.add(dana)
    outside = AccessPolicy.objects.create(name="east api", organization=estate["east"], document={"Statement": [
        {"Effect": "Allow", "Action": READ, "Resource": f"project/{estate['api'].pk}"}]})
    outside.users.add(erin)
    assigned_east = f.resource(estate["p"], organization=estate["east"], project=estate["api"], name="api-in-east")
    engine.invalidate()
    dana, erin = f.fresh(dana), f.fresh(erin)
    assert authorize(dana, READ, elsewhere)
    assert authorize(dana, READ, estate["in_web"])
    assert not authorize(erin, READ, assigned_east)
    assert not authorize(erin, READ, estate["in_api"])
