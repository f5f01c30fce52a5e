"""The security panel of a person's page offers exactly what the service would do: the one rule
for changing how someone else signs in (the permission in every organization of the person, and a
platform administrator's or a duty holder's credentials only by a platform administrator)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests import factories as f

pytestmark = pytest.mark.django_db


def panel(viewer, person) -> str:
    client = Client()
    client.force_login(viewer)
    response = client.get(f"/console/security/people/{person.pk}/panel/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def north_admin():
    north = f.org("North")
    admin = f.user("north-sec", north)
    f.grant(f.predefined("security_administrator"), admin, north)
    return admin


def test_someone_the_administrator_may_change_gets_the_actions(north_admin):
    person = f.user("north-person", north_admin.organizations.get())
    content = panel(north_admin, person)
    assert "Reset MFA" in content and "Sign out everywhere" in content


@pytest.mark.parametrize("who", ["also in another organization", "platform administrator"])
def test_someone_the_service_would_refuse_gets_no_actions(north_admin, who):
    north = north_admin.organizations.get()
    if who == "platform administrator":
        person = f.user("root", north, is_superuser=True)
    else:
        person = f.user("shared", north, f.org("South"))
    content = panel(north_admin, person)
    assert "Reset MFA" not in content and "Sign out everywhere" not in content


def test_the_user_page_offers_changes_only_when_the_service_allows_them(north_admin):
    north = north_admin.organizations.get()
    admin = f.user("people-admin", north)
    f.grant(f.predefined("organization_administrator"), admin, north)
    client = Client()
    client.force_login(admin)
    mine = f.user("mine", north)
    shared = f.user("shared", north, f.org("South"))
    assert client.get(f"/console/organizations/users/{mine.pk}/").context["can_write"] is True
    assert client.get(f"/console/organizations/users/{shared.pk}/").context["can_write"] is False
