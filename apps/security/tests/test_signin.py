"""Sign-in: lockout per account and per address with admin unlock, MFA where required, recovery codes
used once, and no input to the form ever answering 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from apps.security import services, totp
from apps.security.models import AccountSecurity, AuditEntry, SignInLock
from apps.security.policy import mfa_required
from apps.security.tests.factories import person
from tests import factories as f

pytestmark = pytest.mark.django_db
PASSWORD = "x-Unimanager-9"


def post_signin(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post("/signin/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_a_good_password_signs_in_records_the_session_and_audits_it():
    alice = person(username="alice")
    client = Client()
    response = post_signin(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)
    assert alice.signed_in_sessions.filter(ended_at__isnull=True).count() == 1
    entry = AuditEntry.objects.get(action="signin.succeeded")
    assert entry.actor_name == "alice" and entry.source_ip == "10.0.0.1"


def test_repeated_failures_lock_the_account_with_a_clear_message_even_for_the_right_password(settings):
    settings.SIGNIN_LOCKOUT_THRESHOLD = 3
    person(username="bob")
    client = Client()
    for _ in range(3):
        assert post_signin(client, "bob", "wrong").status_code == 200
    response = post_signin(client, "bob", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert b"locked for about" in response.content and b"An administrator can unlock it" in response.content
    assert SignInLock.objects.get(kind="account", key="bob").locked_until > timezone.now()
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions.count("signin.failed") == 3 and "signin.locked" in actions and "signin.refused" in actions


def test_the_lock_releases_when_its_time_is_up(settings):
    settings.SIGNIN_LOCKOUT_THRESHOLD = 2
    person(username="carol")
    client = Client()
    post_signin(client, "carol", "wrong")
    post_signin(client, "carol", "wrong")
    assert post_signin(client, "carol", PASSWORD).status_code == 200
    SignInLock.objects.filter(key="carol").update(locked_until=timezone.now() - timedelta(seconds=1))
    assert post_signin(client, "carol", PASSWORD).status_code == 302
    assert not SignInLock.objects.filter(kind="account", key="carol").exists()


# Committed for real, so the change is announced inside the request as in production (actor included).
@pytest.mark.django_db(transaction=True)
def test_an_administrator_unlocks_an_account_and_it_is_audited(settings):
    settings.SIGNIN_LOCKOUT_THRESHOLD = 1
    person(username="dave")
    admin = person(username="root-admin", is_superuser=True)
    post_signin(Client(), "dave", "wrong")
    lock = SignInLock.objects.get(kind="account", key="dave")
    api = Client()
    api.force_login(admin)
    assert api.post(f"/api/v1/security/lockouts/{lock.pk}/release/").status_code == 204
    entry = AuditEntry.objects.get(action="signin_lock.released")
    assert (entry.actor_id, entry.actor_name, entry.result) == (str(admin.pk), "root-admin", "success")
    assert (entry.target_id, entry.target_label) == (str(lock.pk), "dave")
    assert entry.detail["kind"] == "account" and entry.detail["failures"] == 1
    assert post_signin(Client(), "dave", PASSWORD).status_code == 302


def test_a_user_without_the_permission_cannot_unlock(settings):
    settings.SIGNIN_LOCKOUT_THRESHOLD = 1
    person(username="erin")
    frank = person(username="frank")
    post_signin(Client(), "erin", "wrong")
    lock = SignInLock.objects.get(kind="account", key="erin")
    api = Client()
    api.force_login(frank)
    assert api.post(f"/api/v1/security/lockouts/{lock.pk}/release/").status_code == 404
    assert SignInLock.objects.filter(pk=lock.pk).exists()


def test_one_address_failing_on_many_accounts_is_locked_out(settings):
    settings.SIGNIN_IP_THRESHOLD = 4
    person(username="grace")
    client = Client()
    for i in range(4):
        post_signin(client, f"nobody-{i}", "wrong", ip="192.0.2.7")
    response = post_signin(client, "grace", PASSWORD, ip="192.0.2.7")
    assert b"your address is locked" in response.content
    assert post_signin(Client(), "grace", PASSWORD, ip="192.0.2.8").status_code == 302


def test_an_organization_policy_sets_a_stricter_lockout():
    org = f.org("Strict")
    person(org, username="heidi")
    services.security_policy_set(actor=None, organization=org, lockout_threshold=1)
    post_signin(Client(), "heidi", "wrong")
    assert SignInLock.objects.get(kind="account", key="heidi").locked_until is not None


def _enrol(user) -> tuple[str, list[str]]:
    secret, _uri = services.mfa_enrollment_start(user=user)
    codes = services.mfa_enrollment_confirm(user=user, code=totp.code_at(secret))
    AccountSecurity.objects.filter(user=user).update(mfa_last_step=0)
    return secret, codes


def test_an_enrolled_person_needs_the_code_after_the_password():
    ivan = person(username="ivan")
    secret, _codes = _enrol(ivan)
    client = Client()
    response = post_signin(client, "ivan", PASSWORD)
    assert response["Location"] == "/signin/mfa/"
    assert "_auth_user_id" not in client.session
    assert client.post("/signin/mfa/", {"code": "000000" if totp.code_at(secret) != "000000" else "111111"}
                       ).status_code == 400
    assert "_auth_user_id" not in client.session
    response = client.post("/signin/mfa/", {"code": totp.code_at(secret)})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(ivan.pk)
    assert AuditEntry.objects.filter(action="signin.succeeded", detail__mfa=True).exists()


def test_the_same_code_is_not_accepted_twice():
    judy = person(username="judy")
    secret, _codes = _enrol(judy)
    code = totp.code_at(secret)
    assert services.mfa_check(user=judy, code=code) == "totp"
    assert services.mfa_check(user=judy, code=code) is None


def test_a_recovery_code_works_once():
    kim = person(username="kim")
    _secret, codes = _enrol(kim)
    client = Client()
    post_signin(client, "kim", PASSWORD)
    assert client.post("/signin/mfa/", {"code": codes[0]}).status_code == 302
    again = Client()
    post_signin(again, "kim", PASSWORD)
    assert again.post("/signin/mfa/", {"code": codes[0]}).status_code == 400
    assert "_auth_user_id" not in again.session
    assert again.post("/signin/mfa/", {"code": codes[1].upper()}).status_code == 302


def test_duty_roles_must_enrol_before_they_get_in_unless_exempted():
    hq = f.org("HQ")
    auditor = person(hq, username="lee")
    f.grant(f.predefined("security_auditor"), auditor)
    assert mfa_required(auditor)
    client = Client()
    response = post_signin(client, "lee", PASSWORD)
    assert response["Location"] == "/signin/mfa/"
    page = client.get("/signin/mfa/")
    assert b"<svg" in page.content and "_auth_user_id" not in client.session
    secret = services.mfa_pending_secret(user=auditor)
    response = client.post("/signin/mfa/", {"code": totp.code_at(secret)})
    assert response.status_code == 200 and b"recovery-codes" in response.content
    assert client.session["_auth_user_id"] == str(auditor.pk)
    services.mfa_reset(actor=None, user=auditor)
    services.mfa_set_exempt(actor=None, user=auditor, exempt=True)
    assert not mfa_required(auditor)


def test_an_organization_can_require_mfa_for_everyone_or_for_a_role():
    org = f.org("Careful")
    mia = person(org, username="mia")
    assert not mfa_required(mia)
    services.security_policy_set(actor=None, organization=org, mfa_required_roles=["viewer"])
    assert not mfa_required(mia)
    f.grant(f.predefined("viewer"), mia, org)
    assert mfa_required(mia)
    nick = person(f.org("Child", org), username="nick")
    services.security_policy_set(actor=None, organization=org, mfa_required=True)
    assert mfa_required(nick)


@pytest.mark.django_db(transaction=True)
def test_an_admin_reset_of_mfa_is_audited_and_refused_to_others():
    org = f.org("Reset")
    olga = person(org, username="olga")
    _enrol(olga)
    stranger = person(username="pat")
    api = Client()
    api.force_login(stranger)
    assert api.post(f"/api/v1/security/users/{olga.pk}/mfa-reset/").status_code == 404
    assert AccountSecurity.objects.get(user=olga).mfa_enabled
    assert not AuditEntry.objects.filter(action="mfa.reset").exists()
    admin = person(username="quinn", is_superuser=True)
    api.force_login(admin)
    assert api.post(f"/api/v1/security/users/{olga.pk}/mfa-reset/").status_code == 204
    assert not AccountSecurity.objects.get(user=olga).mfa_enabled
    entry = AuditEntry.objects.get(action="mfa.reset")
    assert (entry.actor_id, entry.actor_name, entry.result) == (str(admin.pk), "quinn", "success")
    assert (entry.target_id, entry.target_label, entry.organization_id) == (str(olga.pk), "olga", org.pk)
    assert entry.detail["was_enabled"] is True


def test_the_organization_password_policy_applies_to_password_changes():
    org = f.org("Passwords")
    rita = person(org, username="rita")
    services.security_policy_set(actor=None, organization=org, password_min_length=16, password_min_classes=4)
    from apps.core.errors import InvalidInput
    from apps.organizations.services import user_set_password

    with pytest.raises(InvalidInput) as refused:
        user_set_password(actor=None, user=rita, password="short-Pass-1")
    assert "policy" in str(refused.value.detail)
    user_set_password(actor=None, user=rita, password="Long-enough-Pass-1234")


def test_sign_out_everywhere_ends_the_other_sessions():
    tom = person(username="tom")
    first, second = Client(), Client()
    post_signin(first, "tom", PASSWORD)
    post_signin(second, "tom", PASSWORD)
    response = second.post("/api/v1/security/sessions/revoke-all/")
    assert response.status_code == 200 and response.json()["revoked"] == 1
    assert first.get("/api/v1/security/sessions/").status_code == 401
    assert second.get("/api/v1/security/sessions/").status_code == 200
    assert tom.signed_in_sessions.filter(ended_at__isnull=True).count() == 1


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
@given(username=st.text(max_size=300), password=st.text(max_size=300),
       extra=st.dictionaries(st.sampled_from(["next", "code", "username", "csrfmiddlewaretoken"]),
                             st.text(max_size=50), max_size=3))
def test_no_sign_in_form_input_answers_500(username, password, extra):
    client = Client()
    data = {"username": username, "password": password, **extra}
    assert client.post("/signin/", data).status_code in (200, 302, 400)
    assert client.post("/signin/mfa/", data).status_code in (200, 302, 400)


def _security_admin_of(org, username: str):
    admin = person(org, username=username)
    f.grant(f.predefined("security_administrator"), admin, org)
    f.grant(f.predefined("organization_administrator"), admin, org)
    return admin


def test_an_organization_security_admin_cannot_reset_or_exempt_a_platform_administrator():
    from apps.core.errors import Forbidden

    a = f.org("A")
    root = person(a, username="root", is_superuser=True, is_staff=True)
    _enrol(root)
    sam = _security_admin_of(a, "sam")
    api = Client()
    api.force_login(sam)
    assert api.post(f"/api/v1/security/users/{root.pk}/mfa-reset/").status_code == 403
    assert api.post(f"/api/v1/security/users/{root.pk}/mfa-exempt/", {"exempt": True},
                    content_type="application/json").status_code == 403
    security = AccountSecurity.objects.get(user=root)
    assert security.mfa_enabled and not security.mfa_exempt
    assert AuditEntry.objects.filter(action="access.denied", actor_name="sam").count() == 2
    with pytest.raises(Forbidden):
        services.session_revoke(actor=sam, session=services.session_record(
            user=root, session_key="root-session", ip="10.0.0.9", user_agent="test", with_mfa=True))
    with pytest.raises(Forbidden):
        services.sessions_revoke_all(actor=sam, user=root)
    other_root = person(username="root2", is_superuser=True)
    services.mfa_reset(actor=other_root, user=root)
    assert not AccountSecurity.objects.get(user=root).mfa_enabled


def test_changing_someone_elses_mfa_or_sessions_needs_the_permission_in_each_of_their_organizations():
    from apps.core.errors import Forbidden

    a, b = f.org("A"), f.org("B")
    sam = _security_admin_of(a, "sam")
    both = person(a, username="both")
    from apps.organizations.models import Membership

    Membership.objects.create(user=both, organization=b)
    _enrol(both)
    for attempt in (lambda: services.mfa_reset(actor=sam, user=both),
                    lambda: services.mfa_set_exempt(actor=sam, user=both, exempt=True),
                    lambda: services.sessions_revoke_all(actor=sam, user=both),
                    lambda: services.session_revoke(actor=sam, session=services.session_record(
                        user=both, session_key="both-session", ip="", user_agent="", with_mfa=False))):
        with pytest.raises(Forbidden):
            attempt()
    assert AccountSecurity.objects.get(user=both).mfa_enabled
    only_a = person(a, username="only-a")
    _enrol(only_a)
    services.mfa_set_exempt(actor=sam, user=only_a, exempt=True)
    services.mfa_reset(actor=sam, user=only_a)
    security = AccountSecurity.objects.get(user=only_a)
    assert security.mfa_exempt and not security.mfa_enabled


def test_an_administrator_cannot_exempt_or_reset_themselves():
    from apps.core.errors import Forbidden

    a = f.org("A")
    sam = _security_admin_of(a, "sam")
    with pytest.raises(Forbidden):
        services.mfa_set_exempt(actor=sam, user=sam, exempt=True)
    with pytest.raises(Forbidden):
        services.mfa_reset(actor=sam, user=sam)
    root = person(username="root", is_superuser=True)
    with pytest.raises(Forbidden):
        services.mfa_set_exempt(actor=root, user=root, exempt=True)
    assert not AccountSecurity.objects.filter(user=sam, mfa_exempt=True).exists()
