"""The organization tree and people: moves keep the tree consistent, nothing is orphaned, bad
input is a clear 4xx that changes nothing, and administrators act in their own subtree only."""

from __future__ import annotations

import pytest

from apps.core.errors import Refused
from apps.organizations import services
from apps.organizations.models import Organization
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db


def test_moving_a_subtree_rewrites_every_descendant_path():
    hq = f.org("HQ")
    east, west = f.org("East", hq), f.org("West", hq)
    it = f.org("IT", east)
    desk = f.org("Desk", it)
    services.organization_move(actor=None, organization=it, new_parent=west)
    desk.refresh_from_db()
    it.refresh_from_db()
    assert it.parent_id == west.pk
    assert desk.path == f"/{hq.pk}/{west.pk}/{it.pk}/{desk.pk}/"
    assert all(o.path.endswith(f"{o.pk}/") for o in Organization.objects.all())


def test_an_organization_cannot_move_under_its_own_descendant():
    hq = f.org("HQ")
    child = f.org("C", hq)
    with pytest.raises(Refused) as err:
        services.organization_move(actor=None, organization=hq, new_parent=child)
    assert err.value.code == "organization_cycle"


def test_deleting_an_organization_with_members_children_or_projects_is_refused():
    root = api_as(f.user("root", is_superuser=True))
    hq = f.org("HQ")
    east = f.org("East", hq)
    f.user("ann", east)
    response = root.delete(f"/api/v1/organizations/organizations/{east.pk}/")
    assert response.status_code == 422 and response.json()["code"] == "organization_not_empty"
    assert response.json()["detail"]["blockers"] == {"members": 1}
    assert root.delete(f"/api/v1/organizations/organizations/{hq.pk}/").status_code == 422
    assert Organization.objects.filter(pk=east.pk).exists()


def test_organization_administrators_manage_their_own_subtree_only():
    hq = f.org("HQ")
    east, west = f.org("East", hq), f.org("West", hq)
    admin = f.user("eastadmin", east)
    f.grant(f.predefined("organization_administrator"), admin, east)
    client = api_as(admin)
    created = client.post("/api/v1/organizations/organizations/", {"name": "East IT", "parent": str(east.pk)})
    assert created.status_code == 201
    assert client.post("/api/v1/organizations/organizations/", {"name": "X", "parent": str(west.pk)}
                       ).status_code == 400  # west is not visible: reported as a missing parent
    assert client.patch(f"/api/v1/organizations/organizations/{west.pk}/", {"name": "Y"}).status_code == 404
    assert client.patch(f"/api/v1/organizations/organizations/{hq.pk}/", {"name": "Y"}).status_code == 404
    user = client.post("/api/v1/organizations/users/", {"username": "newbie", "password": "long-Pass-2024!",
                                                         "organization": str(east.pk)})
    assert user.status_code == 201, user.content


def test_bad_input_is_a_clear_error_and_changes_nothing():
    root = api_as(f.user("root", is_superuser=True))
    before = Organization.objects.count()
    response = root.post("/api/v1/organizations/organizations/", {"name": "", "kind": "planet"})
    assert response.status_code == 400 and set(response.json()["detail"]) >= {"name", "kind"}
    weak = root.post("/api/v1/organizations/users/", {"username": "w", "password": "123"})
    assert weak.status_code == 400 and "password" in weak.json()["detail"]
    assert Organization.objects.count() == before


def test_a_user_is_disabled_before_being_deleted():
    root_user = f.user("root", is_superuser=True)
    root = api_as(root_user)
    hq = f.org("HQ")
    ann = f.user("ann", hq)
    assert root.delete(f"/api/v1/organizations/users/{ann.pk}/").json()["code"] == "user_active"
    assert root.post(f"/api/v1/organizations/users/{ann.pk}/disable/").status_code == 200
    assert root.delete(f"/api/v1/organizations/users/{ann.pk}/").status_code == 204
    assert root.post(f"/api/v1/organizations/users/{root_user.pk}/disable/").json()["code"] == \
        "cannot_disable_self"


def test_a_new_users_password_follows_the_policy_of_their_organization():
    from apps.organizations.models import User

    a = f.org("A")
    f.password_policy(a, password_min_length=20, password_min_classes=4)
    admin = f.user("oa", a)
    f.grant(f.predefined("organization_administrator"), admin, a)
    client = api_as(admin)
    response = client.post("/api/v1/organizations/users/", {"username": "newbie", "password": "kangaroo-river-7",
                                                             "organization": str(a.pk)}, format="json")
    assert response.status_code == 400 and "password" in response.json()["detail"]
    assert not User.objects.filter(username="newbie").exists()
    response = client.post("/api/v1/organizations/users/", {"username": "newbie", "organization": str(a.pk),
                                                             "password": "Kangaroo-River-7-Long!"}, format="json")
    assert response.status_code == 201
    assert User.objects.get(username="newbie").check_password("Kangaroo-River-7-Long!")
