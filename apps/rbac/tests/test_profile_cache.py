"""Access snapshots are shared across requests: a warm list costs no query for access, and every
change to what decides someone's access is seen by their very next request.

These tests commit for real (``transaction=True``): the shared cache is only read and fed outside a
transaction, and the news of a change is published when it commits. Each change goes through the
API, after the person's snapshot was cached, so a change that fails to drop it fails here.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core.models import Operation
from apps.core.scoping import restrict
from apps.organizations.models import Organization
from apps.rbac import engine
from apps.rbac.models import AccessPolicy, Grant
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/v1/core/operations/"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world():
    """hq -> east -> east_it, hq -> west, and lab beside hq; one operation in each."""
    hq = f.org("hq")
    east = f.org("east", hq)
    orgs = {"hq": hq, "east": east, "east_it": f.org("east_it", east), "west": f.org("west", hq), "lab": f.org("lab")}
    for org in orgs.values():
        Operation.objects.create(organization=org, kind="test", status="succeeded", progress=100)
    return orgs


@pytest.fixture
def admin(world):
    return api_as(f.user("root", is_superuser=True))


def listed(client) -> list[str]:
    """The organization ids of the operations ``client``'s person lists."""
    response = client.get(LIST, {"page_size": 100})
    assert response.status_code == 200, response.content
    return [row["organization"] for row in response.json()["results"]]


def names(org_ids: list[str]) -> set[str]:
    return set(Organization.objects.filter(pk__in=org_ids).values_list("name", flat=True))


def seen(client) -> set[str]:
    return names(listed(client))


def cached(client, expected: set[str]) -> None:
    """List twice: the second list is served from the cached snapshot (asserted by its query count)."""
    assert seen(client) == expected
    with CaptureQueriesContext(connection) as captured:
        org_ids = listed(client)
    assert len(captured.captured_queries) <= 4, [q["sql"] for q in captured.captured_queries]
    assert names(org_ids) == expected


def ok(response, status: int = 200):
    assert response.status_code == status, response.content
    return response


def test_a_warm_list_costs_no_query_for_access(world):
    alice = api_as(f.user("alice", world["east"]))
    assert seen(alice) == {"east", "east_it"}
    with CaptureQueriesContext(connection) as warm:
        ok(alice.get(LIST, {"page_size": 50}))
    assert len(warm.captured_queries) <= 4, [q["sql"] for q in warm.captured_queries]
    superuser = api_as(f.user("root", is_superuser=True))
    ok(superuser.get(LIST, {"page_size": 50}))
    with CaptureQueriesContext(connection) as unscoped:
        ok(superuser.get(LIST, {"page_size": 50}))
    assert len(warm.captured_queries) == len(unscoped.captured_queries)


def test_a_warm_list_costs_at_most_four_queries(world, django_assert_max_num_queries):
    alice = api_as(f.user("alice", world["east"]))
    ok(alice.get(LIST, {"page_size": 10}))
    with django_assert_max_num_queries(4):
        ok(alice.get(LIST, {"page_size": 10}))


def test_a_grant_created_and_revoked_is_seen_by_the_next_request(world, admin):
    bob = f.user("bob", world["lab"])
    client = api_as(bob)
    cached(client, {"lab"})
    role = f.role("core:operation:read")
    body = {"role": str(role.pk), "grantee_type": "user", "grantee": str(bob.pk), "scope_type": "organization",
            "scope": str(world["west"].pk)}
    grant = ok(admin.post("/api/v1/rbac/grants/", body, format="json"), 201).json()
    cached(client, {"lab", "west"})
    ok(admin.delete(f"/api/v1/rbac/grants/{grant['id']}/"), 204)
    cached(client, {"lab"})


def test_a_grant_to_an_organization_reaches_its_members_at_once(world, admin):
    client = api_as(f.user("bob", world["lab"]))
    cached(client, {"lab"})
    body = {"role": str(f.role("core:operation:read").pk), "grantee_type": "organization",
            "grantee": str(world["lab"].pk), "scope_type": "organization", "scope": str(world["west"].pk)}
    ok(admin.post("/api/v1/rbac/grants/", body, format="json"), 201)
    cached(client, {"lab", "west"})


def test_editing_a_role_s_permissions_is_seen_by_the_next_request(world, admin):
    bob = f.user("bob", world["lab"])
    role = f.role("core:operation:read")
    f.grant(role, bob, world["west"])
    client = api_as(bob)
    cached(client, {"lab", "west"})
    ok(admin.patch(f"/api/v1/rbac/roles/{role.pk}/", {"permissions": ["core:operation:write"]}, format="json"))
    cached(client, {"lab"})
    ok(admin.patch(f"/api/v1/rbac/roles/{role.pk}/", {"permissions": ["core:*"]}, format="json"))
    cached(client, {"lab", "west"})


def test_a_policy_attached_edited_and_detached_is_seen_by_the_next_request(world, admin):
    bob = f.user("bob", world["lab"])
    client = api_as(bob)

    def allow(org) -> dict:
        return {"Statement": [{"Effect": "Allow", "Action": "core:operation:read", "Resource": f"org/{org.pk}"}]}

    policy = AccessPolicy.objects.create(name="reads", document=allow(world["west"]))
    cached(client, {"lab"})
    ok(admin.post(f"/api/v1/rbac/policies/{policy.pk}/attach/", {"user": str(bob.pk)}, format="json"))
    cached(client, {"lab", "west"})
    ok(admin.patch(f"/api/v1/rbac/policies/{policy.pk}/", {"document": allow(world["east"])}, format="json"))
    cached(client, {"lab", "east", "east_it"})
    ok(admin.post(f"/api/v1/rbac/policies/{policy.pk}/detach/", {"user": str(bob.pk)}, format="json"))
    cached(client, {"lab"})


def test_a_policy_attached_to_a_group_reaches_its_members_at_once(world, admin):
    bob = f.user("bob", world["lab"])
    team = f.group(world["lab"], bob)
    client = api_as(bob)
    document = {"Statement": [{"Effect": "Deny", "Action": "core:*", "Resource": f"org/{world['lab'].pk}"}]}
    policy = AccessPolicy.objects.create(name="no lab", document=document)
    cached(client, {"lab"})
    ok(admin.post(f"/api/v1/rbac/policies/{policy.pk}/attach/", {"group": str(team.pk)}, format="json"))
    cached(client, set())


def test_a_membership_added_and_removed_is_seen_by_the_next_request(world, admin):
    bob = f.user("bob", world["lab"])
    client = api_as(bob)
    cached(client, {"lab"})
    west = world["west"].pk
    ok(admin.post(f"/api/v1/organizations/organizations/{west}/members/", {"user": str(bob.pk)}, format="json"))
    cached(client, {"lab", "west"})
    ok(admin.post(f"/api/v1/organizations/organizations/{west}/remove-member/", {"user": str(bob.pk)},
                  format="json"), 204)
    cached(client, {"lab"})


def test_joining_and_leaving_a_user_group_is_seen_by_the_next_request(world, admin):
    bob = f.user("bob", world["lab"])
    team = f.group(world["lab"])
    f.grant(f.role("core:operation:read"), team, world["west"])
    client = api_as(bob)
    cached(client, {"lab"})
    ok(admin.post(f"/api/v1/organizations/groups/{team.pk}/add-member/", {"user": str(bob.pk)}, format="json"))
    cached(client, {"lab", "west"})
    ok(admin.post(f"/api/v1/organizations/groups/{team.pk}/remove-member/", {"user": str(bob.pk)}, format="json"))
    cached(client, {"lab"})


def test_joining_and_leaving_a_project_is_seen_by_the_next_request(world, admin):
    bob = f.user("bob", world["lab"])
    project = f.project(world["lab"])
    Grant.objects.create(role=f.role("core:operation:read"), grantee_type="project", grantee_project=project,
                         scope_type="organization", scope_organization=world["west"], organization=world["west"])
    client = api_as(bob)
    cached(client, {"lab"})
    ok(admin.post(f"/api/v1/organizations/projects/{project.pk}/add-member/", {"user": str(bob.pk)}, format="json"))
    cached(client, {"lab", "west"})
    ok(admin.post(f"/api/v1/organizations/projects/{project.pk}/remove-member/", {"user": str(bob.pk)},
                  format="json"))
    cached(client, {"lab"})


def test_moving_an_organization_is_seen_by_the_next_request(world, admin):
    client = api_as(f.user("alice", world["east"]))
    cached(client, {"east", "east_it"})
    move = f"/api/v1/organizations/organizations/{world['west'].pk}/move/"
    ok(admin.post(move, {"parent": str(world["east"].pk)}, format="json"))
    cached(client, {"east", "east_it", "west"})
    ok(admin.post(move, {"parent": str(world["hq"].pk)}, format="json"))
    cached(client, {"east", "east_it"})


def test_disabling_and_enabling_an_organization_is_seen_by_the_next_request(world, admin):
    client = api_as(f.user("alice", world["east"]))
    cached(client, {"east", "east_it"})
    east = f"/api/v1/organizations/organizations/{world['east'].pk}"
    ok(admin.post(f"{east}/disable/"))
    cached(client, set())
    ok(admin.post(f"{east}/enable/"))
    cached(client, {"east", "east_it"})


def test_a_deactivated_user_is_refused_at_the_next_request(world, admin):
    alice = f.user("alice", world["east"])
    client = api_as(alice)
    cached(client, {"east", "east_it"})
    ok(admin.post(f"/api/v1/organizations/users/{alice.pk}/disable/"))
    assert client.get(LIST).status_code in (401, 403)
    ok(admin.post(f"/api/v1/organizations/users/{alice.pk}/enable/"))
    cached(api_as(alice), {"east", "east_it"})


def test_two_people_s_snapshots_never_mix(world, admin):
    alice, bob = f.user("alice", world["east"]), f.user("bob", world["west"])
    clients = {"alice": api_as(alice), "bob": api_as(bob)}
    expected = {"alice": {"east", "east_it"}, "bob": {"west"}}
    for _ in range(3):
        for name, client in clients.items():
            cached(client, expected[name])
    ok(admin.post(f"/api/v1/organizations/organizations/{world['lab'].pk}/members/", {"user": str(bob.pk)},
                  format="json"))
    expected["bob"] = {"west", "lab"}
    for name, client in clients.items():
        cached(client, expected[name])


def test_a_rolled_back_change_leaves_no_snapshot_behind(world):
    bob = f.user("bob", world["lab"])
    client = api_as(bob)
    cached(client, {"lab"})
    with transaction.atomic():
        f.grant(f.role("core:operation:read"), bob, world["west"])
        # Decided inside the transaction, with the uncommitted grant.
        assert restrict(Operation.objects.filter(organization=world["west"]), f.fresh(bob),
                        "core:operation:read").exists()
        transaction.set_rollback(True)
    cached(client, {"lab"})


def test_a_snapshot_holds_only_immutable_plain_values(world):
    bob = f.user("bob", world["lab"])
    f.grant(f.role("core:operation:read"), bob, world["west"])
    document = {"Statement": [{"Effect": "Allow", "Action": "core:operation:read",
                               "Resource": f"org/{world['east'].pk}",
                               "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}}]}
    AccessPolicy.objects.create(name="reads", document=document).users.add(bob)
    snapshot = engine.build_snapshot(f.fresh(bob))
    assert len(snapshot.rules) == 2 and len(snapshot.statements) == 1
    plain = (str, int, bool, type(None), datetime.datetime, ipaddress.IPv4Network, ipaddress.IPv6Network)

    def check(value) -> None:
        if dataclasses.is_dataclass(value):
            assert type(value).__dataclass_params__.frozen, type(value)
            for item in dataclasses.fields(value):
                check(getattr(value, item.name))
        elif isinstance(value, tuple | frozenset):
            for item in value:
                check(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                check(key)
                check(item)
        else:
            assert isinstance(value, plain), type(value)

    check(snapshot)
