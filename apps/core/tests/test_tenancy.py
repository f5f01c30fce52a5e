"""Operations are tenant data: everything about them goes through ``restrict``. An operation of an
organization the user does not belong to is missing, exactly like one that does not exist."""

from __future__ import annotations

import json

from apps.core.models import Operation
from tests import factories
from tests.fixtures import api_as

OPERATIONS = "/api/v1/core/operations/"
NONEXISTENT = "op-0123456789abcdef0123"


def listed_ids(client, **params) -> set[str]:
    response = client.get(OPERATIONS, params)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_list_shows_own_organization_and_excludes_another(world, alice_api):
    own = factories.operation(world.org_a)
    foreign = factories.operation(world.org_b)
    assert listed_ids(alice_api) == {own.id}
    assert foreign.id not in listed_ids(alice_api, kind="test", organization=str(world.org_b.id))


def test_operation_of_another_organization_is_not_found(world, alice_api):
    foreign = factories.operation(world.org_b)
    hidden = alice_api.get(f"{OPERATIONS}{foreign.id}/")
    missing = alice_api.get(f"{OPERATIONS}{NONEXISTENT}/")
    assert hidden.status_code == missing.status_code == 404
    assert json.loads(hidden.content) == json.loads(missing.content)


def test_cancel_of_another_organizations_operation_is_not_found_and_changes_nothing(world, alice_api):
    foreign = factories.operation(world.org_b, status=Operation.Status.RUNNING)
    hidden = alice_api.post(f"{OPERATIONS}{foreign.id}/cancel/")
    missing = alice_api.post(f"{OPERATIONS}{NONEXISTENT}/cancel/")
    assert hidden.status_code == missing.status_code == 404
    assert json.loads(hidden.content) == json.loads(missing.content)
    foreign.refresh_from_db()
    assert foreign.status == Operation.Status.RUNNING


def test_own_operation_can_be_read_and_cancelled(world, alice_api):
    own = factories.operation(world.org_a, status=Operation.Status.RUNNING)
    assert alice_api.get(f"{OPERATIONS}{own.id}/").json()["id"] == own.id
    response = alice_api.post(f"{OPERATIONS}{own.id}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_membership_of_an_organization_covers_its_departments(world, alice_api):
    in_department = factories.operation(world.dept_a)
    assert listed_ids(alice_api) == {in_department.id}
    assert alice_api.get(f"{OPERATIONS}{in_department.id}/").status_code == 200


def test_membership_of_a_department_does_not_cover_its_parent(world):
    carol = factories.user("carol", world.dept_a)
    in_parent = factories.operation(world.org_a)
    in_department = factories.operation(world.dept_a)
    client = api_as(carol)
    assert listed_ids(client) == {in_department.id}
    assert client.get(f"{OPERATIONS}{in_parent.id}/").status_code == 404


def test_superuser_sees_operations_of_every_organization(world, root_api):
    ops = {factories.operation(org).id for org in (world.org_a, world.dept_a, world.org_b)}
    assert listed_ids(root_api) == ops


def test_organization_filter_narrows_but_never_widens(world, alice_api, root_api):
    own = factories.operation(world.org_a)
    department = factories.operation(world.dept_a)
    foreign = factories.operation(world.org_b)
    assert listed_ids(alice_api, organization=str(world.dept_a.id)) == {department.id}
    assert listed_ids(alice_api, organization=str(world.org_b.id)) == set()
    assert listed_ids(root_api, organization=str(world.org_a.id)) == {own.id}
    assert foreign.id in listed_ids(root_api, organization=str(world.org_b.id))


def test_organization_filter_answers_the_same_for_a_foreign_and_a_missing_organization(world, alice_api):
    foreign = alice_api.get(OPERATIONS, {"organization": str(world.org_b.id)})
    missing = alice_api.get(OPERATIONS, {"organization": "00000000-0000-4000-8000-000000000000"})
    assert foreign.status_code == missing.status_code == 200
    assert foreign.json() == missing.json()


def test_a_person_in_no_organization_sees_nothing(world):
    factories.operation(world.org_a)
    loner = factories.user("loner")
    assert listed_ids(api_as(loner)) == set()


def test_leaving_an_organization_hides_its_operations_from_the_next_request(world, alice_api):
    own = factories.operation(world.org_a)
    assert listed_ids(alice_api) == {own.id}
    factories.leave(world.alice)
    assert listed_ids(alice_api) == set()
