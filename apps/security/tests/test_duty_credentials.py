"""How a duty holder signs in is theirs: their password, MFA, MFA exemption, sessions and AccessKey
pairs are changed by themselves or a platform administrator, never by the holder of another
separated duty nor anyone else (who could then sign in as them and hold two duties). Driven through
the API for each ordered pair of the three duties and every endpoint that changes someone's
credentials; a refusal is a 4xx and changes nothing.

A duty counts however it is held: a predefined role, a custom role or an access policy whose
permissions carry it; and whoever holds one must use MFA."""

from __future__ import annotations

import pytest

from apps.organizations.models import User
from apps.rbac import services as rbac
from apps.rbac.roles import SECURITY_ADMINISTRATOR, SECURITY_AUDITOR, SYSTEM_ADMINISTRATOR, reserved_codes
from apps.security import services, totp
from apps.security.models import AccessKey, AccountSecurity, UserSession
from apps.security.policy import mfa_required
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
PASSWORD = "x-Unimanager-9"
NEW = "Brand-New-Password-42!"
DUTIES = (SYSTEM_ADMINISTRATOR, SECURITY_ADMINISTRATOR, SECURITY_AUDITOR)
ORDERED_PAIRS = [(actor, target) for actor in DUTIES for target in DUTIES if actor != target]
ENDPOINTS = ("set-password", "mfa-reset", "mfa-exempt", "sessions-revoke", "key-disable", "key-enable", "key-delete")
# An order in which one person can go through every endpoint (the pair is deleted last).
ONE_AFTER_ANOTHER = ("key-enable", "key-disable", "key-delete", "sessions-revoke", "mfa-exempt", "mfa-reset",
                     "set-password")
# Where the actor holds the permission the endpoint needs, only the duty rule stands in the way, and
# the refusal must say so; elsewhere the permission check refuses first (403, or 404 for keys the
# actor cannot see).
HOLDS_THE_PERMISSION = {
    SYSTEM_ADMINISTRATOR: {"set-password", "sessions-revoke"},
    SECURITY_ADMINISTRATOR: set(ENDPOINTS),
    SECURITY_AUDITOR: set(),
    "organization_administrator": {"set-password", "sessions-revoke"},
}


@pytest.fixture
def world():
    hq = f.org("HQ")
    people = {"root": f.user("root", hq, is_superuser=True), "plain": f.user("plain", hq)}
    for duty in DUTIES:
        people[duty] = f.user(duty.replace("_", ""), hq)
        f.grant(f.predefined(duty), people[duty])
    people["organization_administrator"] = f.user("orgadmin", hq)
    f.grant(f.predefined("organization_administrator"), people["organization_administrator"], hq)
    return {"hq": hq, **people}


def _with_credentials(user: User) -> dict[str, str]:
    """Enrol MFA, open a session and make one active and one disabled AccessKey pair."""
    secret, _uri = services.mfa_enrollment_start(user=user)
    services.mfa_enrollment_confirm(user=user, code=totp.code_at(secret))
    services.session_record(user=user, session_key=f"session-of-{user.username}", ip="10.0.0.2",
                            user_agent="test", with_mfa=True)
    active, _ = services.access_key_create(actor=user, description="active")
    disabled, _ = services.access_key_create(actor=user, description="disabled")
    services.access_key_set_active(actor=user, key=disabled, active=False)
    return {"active": active.id, "disabled": disabled.id}


def _state(user: User) -> tuple:
    sec = AccountSecurity.objects.get(user=user)
    return (User.objects.get(pk=user.pk).password, sec.mfa_enabled, sec.mfa_secret, sec.mfa_exempt,
            UserSession.objects.filter(user=user, ended_at__isnull=True).count(),
            sorted(AccessKey.objects.filter(user=user).values_list("id", "status")))


def _call(client, endpoint: str, target: User, keys: dict[str, str]):
    people, security = "/api/v1/organizations/users", "/api/v1/security"
    if endpoint == "set-password":
        return client.post(f"{people}/{target.pk}/set-password/", {"password": NEW}, format="json")
    if endpoint == "mfa-exempt":
        return client.post(f"{security}/users/{target.pk}/mfa-exempt/", {"exempt": True}, format="json")
    if endpoint in ("mfa-reset", "sessions-revoke"):
        return client.post(f"{security}/users/{target.pk}/{endpoint}/")
    if endpoint == "key-delete":
        return client.delete(f"{security}/access-keys/{keys['active']}/")
    key = keys["active"] if endpoint == "key-disable" else keys["disabled"]
    return client.post(f"{security}/access-keys/{key}/{endpoint.removeprefix('key-')}/")


def _assert_refused(response, actor_role: str, endpoint: str) -> None:
    assert 400 <= response.status_code < 500, response.content
    if endpoint in HOLDS_THE_PERMISSION[actor_role]:
        assert response.status_code == 403 and response.json()["code"] == "separation_of_duties", response.content
    else:
        assert response.status_code in (403, 404), response.content


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("actor_duty, target_duty", ORDERED_PAIRS)
def test_a_duty_holder_cannot_change_another_duty_holders_credentials(world, actor_duty, target_duty, endpoint):
    target = world[target_duty]
    keys = _with_credentials(target)
    before = _state(target)
    response = _call(api_as(world[actor_duty]), endpoint, target, keys)
    _assert_refused(response, actor_duty, endpoint)
    assert _state(target) == before
    assert User.objects.get(pk=target.pk).check_password(PASSWORD)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("target_duty", DUTIES)
def test_nobody_else_changes_a_duty_holders_credentials_either(world, target_duty, endpoint):
    """An organization administrator may change ordinary people's credentials, not a duty holder's."""
    target = world[target_duty]
    keys = _with_credentials(target)
    before = _state(target)
    response = _call(api_as(world["organization_administrator"]), endpoint, target, keys)
    _assert_refused(response, "organization_administrator", endpoint)
    assert _state(target) == before


@pytest.mark.parametrize("actor_role", ["organization_administrator", SECURITY_ADMINISTRATOR])
def test_administrators_still_change_the_credentials_of_people_without_a_duty(world, actor_role):
    plain = world["plain"]
    keys = _with_credentials(plain)
    client = api_as(world[actor_role])
    for endpoint in (e for e in ONE_AFTER_ANOTHER if e in HOLDS_THE_PERMISSION[actor_role]):
        response = _call(client, endpoint, plain, keys)
        assert response.status_code in (200, 204), (endpoint, response.content)
    assert User.objects.get(pk=plain.pk).check_password(NEW)


@pytest.mark.parametrize("target_duty", DUTIES)
def test_a_platform_administrator_changes_any_duty_holders_credentials(world, target_duty):
    target = world[target_duty]
    keys = _with_credentials(target)
    root = api_as(world["root"])
    for endpoint in ONE_AFTER_ANOTHER:
        response = _call(root, endpoint, target, keys)
        assert response.status_code in (200, 204), (endpoint, response.content)
    sec = AccountSecurity.objects.get(user=target)
    assert not sec.mfa_enabled and sec.mfa_exempt
    assert not UserSession.objects.filter(user=target, ended_at__isnull=True).exists()
    assert not AccessKey.objects.filter(pk=keys["active"]).exists()
    assert AccessKey.objects.get(pk=keys["disabled"]).status == AccessKey.Status.DISABLED
    assert User.objects.get(pk=target.pk).check_password(NEW)


@pytest.mark.parametrize("duty", DUTIES)
def test_a_duty_holder_changes_their_own_credentials(world, duty):
    me = world[duty]
    keys = _with_credentials(me)
    client = api_as(me)
    for endpoint in ("key-enable", "key-disable", "key-delete", "sessions-revoke"):
        response = _call(client, endpoint, me, keys)
        assert response.status_code in (200, 204), (endpoint, response.content)
    created = client.post("/api/v1/security/access-keys/", {"description": "mine"}, format="json")
    assert created.status_code == 201 and AccessKey.objects.get(pk=created.json()["id"]).user_id == me.pk
    assert client.post("/api/v1/security/sessions/revoke-all/").status_code == 200
    changed = client.post("/api/v1/organizations/me/password/", {"current_password": PASSWORD, "new_password": NEW},
                          format="json")
    assert changed.status_code == 204, changed.content
    assert User.objects.get(pk=me.pk).check_password(NEW)
    # Weakening one's own second factor is a separate rule: another administrator must do it (the
    # refusal is not the duty rule's).
    for endpoint, code in (("mfa-reset", "mfa_self_reset"), ("mfa-exempt", "mfa_self_exempt")):
        response = _call(client, endpoint, me, keys)
        assert response.status_code == 403 and response.json()["code"] == code


def test_an_access_key_is_only_ever_created_for_the_caller(world):
    target = world[SYSTEM_ADMINISTRATOR]
    response = api_as(world[SECURITY_ADMINISTRATOR]).post(
        "/api/v1/security/access-keys/", {"description": "theirs?", "user": str(target.pk)}, format="json")
    assert response.status_code == 201
    assert AccessKey.objects.get(pk=response.json()["id"]).user_id == world[SECURITY_ADMINISTRATOR].pk
    assert not AccessKey.objects.filter(user=target).exists()


def _custom_duty_holder(world, duty: str, through: str) -> User:
    person = f.user(f"derived-{duty}-{through}", world["hq"])
    code = sorted(reserved_codes()[duty])[0]
    if through == "role":
        role = rbac.role_create(actor=None, name=f"custom {duty}", permissions=[code, "organizations:*:read"])
        rbac.grant_create(actor=None, role=role, grantee_type="user", grantee=person, scope_type="platform")
    else:
        policy = rbac.policy_create(actor=None, name=f"policy {duty}", document={
            "Version": "1", "Statement": [{"Effect": "Allow", "Action": [code], "Resource": "*"}]})
        rbac.policy_attach(actor=None, policy=policy, user=person)
    return person


@pytest.mark.parametrize("through", ["role", "policy"])
@pytest.mark.parametrize("actor_duty, target_duty", ORDERED_PAIRS)
def test_a_duty_held_through_a_custom_role_or_a_policy_protects_the_same_way(world, actor_duty, target_duty,
                                                                             through):
    target = _custom_duty_holder(world, target_duty, through)
    keys = _with_credentials(target)
    before = _state(target)
    client = api_as(world[actor_duty])
    for endpoint in ENDPOINTS:
        _assert_refused(_call(client, endpoint, target, keys), actor_duty, endpoint)
    assert _state(target) == before


@pytest.mark.parametrize("through", ["role", "policy"])
@pytest.mark.parametrize("duty", DUTIES)
def test_a_duty_held_through_a_custom_role_or_a_policy_requires_mfa(world, duty, through):
    assert not mfa_required(world["plain"])
    holder = _custom_duty_holder(world, duty, through)
    assert mfa_required(holder)
    # a custom role that carries no duty asks for nothing
    reader = f.user("reader", world["hq"])
    role = rbac.role_create(actor=None, name="readers", permissions=["organizations:*:read"])
    rbac.grant_create(actor=None, role=role, grantee_type="user", grantee=reader, scope_type="platform")
    assert not mfa_required(reader)
