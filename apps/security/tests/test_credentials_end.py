"""What ends with a person's password: an administrator's reset or a deactivation also disables
their AccessKey pairs (and says so); wrong current passwords given to "change my password" count
toward the sign-in lockout like wrong sign-ins; and other people's AccessKey pairs are not for
those who only read everything (viewer, operator, billing administrator)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.organizations.models import User
from apps.security import services
from apps.security.client import sign
from apps.security.models import AccessKey, AuditEntry, SignInLock, UserSession
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
PASSWORD = "x-Unimanager-9"
NEW = "Brand-New-Password-42!"


@pytest.fixture
def world():
    hq = f.org("HQ")
    admin = f.user("orgadmin", hq)
    f.grant(f.predefined("organization_administrator"), admin, hq)
    pat = f.user("pat", hq)
    keys = [services.access_key_create(actor=pat, description=f"script {i}") for i in range(2)]
    services.session_record(user=pat, session_key="pats-session", ip="10.0.0.3", user_agent="test", with_mfa=False)
    return {"hq": hq, "admin": admin, "pat": pat, "keys": keys}


def _signed_get(key: AccessKey, secret: str):
    headers = sign("GET", "http://testserver/api/v1/organizations/organizations/", access_key_id=key.id,
                   secret=secret)
    return APIClient().get("/api/v1/organizations/organizations/",
                           **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


def _statuses(user: User) -> set[str]:
    return set(AccessKey.objects.filter(user=user).values_list("status", flat=True))


def test_an_administrators_password_reset_disables_the_persons_access_keys_and_says_so(world):
    pat = world["pat"]
    key, secret = world["keys"][0]
    assert _signed_get(key, secret).status_code == 200
    response = api_as(world["admin"]).post(f"/api/v1/organizations/users/{pat.pk}/set-password/",
                                           {"password": NEW}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access_keys_disabled"] == 2 and body["sessions_signed_out"] == 1
    assert "2 AccessKey pairs disabled" in body["message"]
    assert _statuses(pat) == {AccessKey.Status.DISABLED}
    assert _signed_get(key, secret).status_code == 401
    assert not UserSession.objects.filter(user=pat, ended_at__isnull=True).exists()


def test_changing_your_own_password_keeps_your_access_keys(world):
    pat = world["pat"]
    response = api_as(pat).post("/api/v1/organizations/me/password/",
                                {"current_password": PASSWORD, "new_password": NEW}, format="json")
    assert response.status_code == 204
    assert _statuses(pat) == {AccessKey.Status.ACTIVE}


def test_disabling_a_person_disables_their_access_keys_and_says_so(world):
    pat = world["pat"]
    key, secret = world["keys"][1]
    admin = api_as(world["admin"])
    response = admin.post(f"/api/v1/organizations/users/{pat.pk}/disable/")
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False and response.json()["access_keys_disabled"] == 2
    assert "2 AccessKey pairs disabled" in response.json()["message"]
    assert _statuses(pat) == {AccessKey.Status.DISABLED}
    # enabling the person again leaves the pairs to them
    assert admin.post(f"/api/v1/organizations/users/{pat.pk}/enable/").status_code == 200
    assert _statuses(pat) == {AccessKey.Status.DISABLED}
    assert _signed_get(key, secret).status_code == 401


def _change(client, current: str):
    return client.post("/api/v1/organizations/me/password/", {"current_password": current, "new_password": NEW},
                       format="json")


def test_wrong_current_passwords_count_toward_the_sign_in_lockout(world):
    services.security_policy_set(actor=None, organization=world["hq"], lockout_threshold=3, lockout_minutes=15)
    pat = world["pat"]
    client = api_as(pat)
    for _ in range(2):
        wrong = _change(client, "not-my-password")
        assert wrong.status_code == 400 and wrong.json()["code"] == "wrong_password"
    # the same counter as the sign-in page: one wrong sign-in more locks the account
    assert Client().post("/signin/", {"username": "pat", "password": "nope"}).status_code == 200
    assert SignInLock.objects.get(kind="account", key="pat").failures == 3
    locked = _change(client, PASSWORD)
    assert locked.status_code == 429 and locked.json()["code"] == "signin_locked", locked.content
    assert User.objects.get(pk=pat.pk).check_password(PASSWORD)
    failed = AuditEntry.objects.filter(action="signin.failed", detail__reason="current_password")
    assert failed.count() == 2
    # an administrator's unlock lets the right password through again
    services.lock_release(actor=None, lock=SignInLock.objects.get(kind="account", key="pat"))
    assert _change(client, PASSWORD).status_code == 204
    assert User.objects.get(pk=pat.pk).check_password(NEW)


def test_wrong_current_passwords_alone_lock_the_sign_in(world):
    services.security_policy_set(actor=None, organization=world["hq"], lockout_threshold=3, lockout_minutes=15)
    client = api_as(world["pat"])
    for _ in range(3):
        assert _change(client, "guess").status_code == 400
    assert AuditEntry.objects.filter(action="signin.locked", actor_name="pat").exists()
    browser = Client()
    page = browser.post("/signin/", {"username": "pat", "password": PASSWORD})
    assert "_auth_user_id" not in browser.session and b"locked" in page.content


@pytest.mark.parametrize("role", ["viewer", "operator", "billing_administrator"])
def test_roles_that_read_everything_do_not_see_other_peoples_access_keys(world, role):
    reader = f.user("reader", world["hq"])
    f.grant(f.predefined(role), reader, world["hq"])
    own, _ = services.access_key_create(actor=reader, description="mine")
    client = api_as(reader)
    listed = client.get("/api/v1/security/access-keys/")
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()["results"]] == [own.id]
    other = world["keys"][0][0]
    assert client.get(f"/api/v1/security/access-keys/{other.id}/").status_code == 404
    assert client.post(f"/api/v1/security/access-keys/{other.id}/disable/").status_code == 404


def test_a_security_administrator_still_oversees_the_access_keys_of_their_organization(world):
    secadmin = f.user("secadmin", world["hq"])
    f.grant(f.predefined("security_administrator"), secadmin, world["hq"])
    listed = api_as(secadmin).get("/api/v1/security/access-keys/")
    assert {k["id"] for k in listed.json()["results"]} == {k.id for k, _ in world["keys"]}
