"""Passwords: people change their own (current password required, their other sessions signed out)
and administrators reset other people's; the organization's password policy applies to both."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.organizations.models import User
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
NEW = "Brand-New-Password-42!"


@pytest.fixture
def world():
    a = f.org("A")
    f.password_policy(a, password_min_length=16, password_min_classes=3)
    admin = f.user("oa", a)
    f.grant(f.predefined("organization_administrator"), admin, a)
    person = f.user("pat", a)
    return {"a": a, "admin": admin, "person": person}


def test_changing_your_own_password_needs_the_current_one_and_signs_out_other_sessions(world):
    person = world["person"]
    here, elsewhere = api_as(person), api_as(person)
    wrong = here.post("/api/v1/organizations/me/password/", {"current_password": "nope", "new_password": NEW},
                      format="json")
    assert wrong.status_code == 400 and "current_password" in wrong.json()["detail"]
    weak = here.post("/api/v1/organizations/me/password/", {"current_password": "x-Unimanager-9",
                                                            "new_password": "short-1"}, format="json")
    assert weak.status_code == 400 and "new_password" in weak.json()["detail"]
    assert User.objects.get(pk=person.pk).check_password("x-Unimanager-9")
    done = here.post("/api/v1/organizations/me/password/", {"current_password": "x-Unimanager-9",
                                                            "new_password": NEW}, format="json")
    assert done.status_code == 204
    assert User.objects.get(pk=person.pk).check_password(NEW)
    assert here.get("/api/v1/organizations/users/").status_code == 200
    assert elsewhere.get("/api/v1/organizations/users/").status_code in (401, 403)


def test_an_administrator_resets_a_password_under_the_organization_policy(world):
    admin, person = api_as(world["admin"]), world["person"]
    signed_in = api_as(person)
    weak = admin.post(f"/api/v1/organizations/users/{person.pk}/set-password/", {"password": "kangaroo-7"},
                      format="json")
    assert weak.status_code == 400 and "password" in weak.json()["detail"]
    assert User.objects.get(pk=person.pk).check_password("x-Unimanager-9")
    done = admin.post(f"/api/v1/organizations/users/{person.pk}/set-password/", {"password": NEW}, format="json")
    assert done.status_code == 200
    assert User.objects.get(pk=person.pk).check_password(NEW)
    assert signed_in.get("/api/v1/organizations/users/").status_code in (401, 403)


def test_nobody_resets_a_password_without_the_permission_or_their_own_without_the_current_one(world):
    person = world["person"]
    other = f.user("other", world["a"])
    client = api_as(person)
    assert client.post(f"/api/v1/organizations/users/{other.pk}/set-password/", {"password": NEW},
                       format="json").status_code == 403
    own = client.post(f"/api/v1/organizations/users/{person.pk}/set-password/", {"password": NEW}, format="json")
    assert own.status_code in (403, 422)
    assert User.objects.get(pk=other.pk).check_password("x-Unimanager-9")
    assert User.objects.get(pk=person.pk).check_password("x-Unimanager-9")


def test_a_user_created_without_a_password_gets_one_from_an_administrator(world):
    from apps.organizations import services

    newbie = services.user_create(actor=None, username="newbie", password=None, organization=world["a"])
    assert not newbie.has_usable_password()
    response = api_as(world["admin"]).post(f"/api/v1/organizations/users/{newbie.pk}/set-password/",
                                           {"password": NEW}, format="json")
    assert response.status_code == 200 and User.objects.get(pk=newbie.pk).check_password(NEW)


def test_the_console_change_password_page_and_reset_form(world):
    person = world["person"]
    client = Client()
    client.force_login(person)
    menu = client.get("/console/organizations/password/")
    assert menu.status_code == 200 and 'data-testid="change-password"' in menu.content.decode()
    bad = client.post("/console/organizations/password/", {"current_password": "nope", "new_password": NEW})
    assert bad.status_code == 400 and "Not correct" in bad.content.decode()
    good = client.post("/console/organizations/password/", {"current_password": "x-Unimanager-9",
                                                             "new_password": NEW})
    assert good.status_code == 302
    assert client.get("/console/organizations/password/").status_code == 200  # still signed in
    admin = Client()
    admin.force_login(world["admin"])
    page = admin.get(f"/console/organizations/users/{person.pk}/").content.decode()
    assert 'data-testid="reset-password"' in page
    weak = admin.post(f"/console/organizations/users/{person.pk}/password/", {"password": "weak"})
    assert weak.status_code == 400
    reset = admin.post(f"/console/organizations/users/{person.pk}/password/", {"password": "Another-Long-Pass-77"})
    assert reset.status_code == 302
    assert User.objects.get(pk=person.pk).check_password("Another-Long-Pass-77")
