"""Console pages of the security center for administrators: the organization security policy pages and
the security panel of a person's page (MFA reset and exemption, sign out everywhere)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from apps.security import crypto, services
from apps.security.models import AccessKey, AccountSecurity, RecoveryCode, SecurityPolicy, UserSession
from tests import factories as f

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def tree():
    """Two organizations, each with its own security administrator, and a viewer in the first."""
    north, south = f.org("North"), f.org("South")
    north_admin, south_admin = f.user("north-sec", north), f.user("south-sec", south)
    f.grant(f.predefined("security_administrator"), north_admin, north)
    f.grant(f.predefined("security_administrator"), south_admin, south)
    viewer = f.user("north-viewer", north)
    f.grant(f.predefined("viewer"), viewer, north)
    return {"north": north, "south": south, "north_admin": north_admin, "south_admin": south_admin,
            "viewer": viewer}


def enrolled(user) -> AccountSecurity:
    sec, _ = AccountSecurity.objects.get_or_create(user=user)
    sec.mfa_secret, sec.mfa_confirmed_at = crypto.encrypt("JBSWY3DPEHPK3PXP"), timezone.now()
    sec.save()
    RecoveryCode.objects.create(user=user, code_hash="x" * 64)
    return sec


def open_session(user, key: str) -> UserSession:
    return services.session_record(user=user, session_key=key, ip="10.0.0.9", user_agent="test", with_mfa=False)


GOOD_POLICY = {"password_min_length": "14", "password_min_classes": "3", "lockout_threshold": "4",
               "lockout_minutes": "30", "mfa_mode": "roles", "mfa_required_roles": ["viewer", "operator"]}


# -- security policies --------------------------------------------------------------------------

def test_the_policy_list_shows_only_the_organizations_the_administrator_may_see(tree):
    response = client_of(tree["north_admin"]).get("/console/security/policies/")
    assert response.status_code == 200
    assert b"North" in response.content and b"South" not in response.content
    assert b"Security policies" in response.content


def test_the_menu_links_the_security_policies_page(tree):
    response = client_of(tree["north_admin"]).get("/console/security/policies/")
    assert b'href="/console/security/policies/"' in response.content


def test_the_policy_page_renders_defaults_then_saves_the_posted_policy(tree):
    client, north = client_of(tree["north_admin"]), tree["north"]
    page = client.get(f"/console/security/policies/{north.pk}/")
    assert page.status_code == 200 and b"Save policy" in page.content
    response = client.post(f"/console/security/policies/{north.pk}/", GOOD_POLICY)
    assert response.status_code == 302
    policy = SecurityPolicy.objects.get(organization=north)
    assert (policy.password_min_length, policy.password_min_classes) == (14, 3)
    assert (policy.lockout_threshold, policy.lockout_minutes) == (4, 30)
    assert policy.mfa_required is False and policy.mfa_required_roles == ["operator", "viewer"]
    assert b"is saved" in client.get(response["Location"]).content


def test_requiring_mfa_of_everyone_clears_the_role_list(tree):
    client, north = client_of(tree["north_admin"]), tree["north"]
    client.post(f"/console/security/policies/{north.pk}/", GOOD_POLICY)
    client.post(f"/console/security/policies/{north.pk}/", {**GOOD_POLICY, "mfa_mode": "everyone"})
    policy = SecurityPolicy.objects.get(organization=north)
    assert policy.mfa_required is True and policy.mfa_required_roles == []


@pytest.mark.parametrize("field, value, message", [
    ("password_min_length", "5", b"A whole number from 6 to 128."),
    ("lockout_minutes", "lots", b"A whole number."),
    ("lockout_threshold", "", b"Required."),
    ("mfa_required_roles", ["no_such_role"], b"Unknown roles: no_such_role."),
])
def test_bad_input_shows_the_field_error_and_changes_nothing(tree, field, value, message):
    client, north = client_of(tree["north_admin"]), tree["north"]
    client.post(f"/console/security/policies/{north.pk}/", GOOD_POLICY)
    before = SecurityPolicy.objects.get(organization=north)
    response = client.post(f"/console/security/policies/{north.pk}/", {**GOOD_POLICY, field: value})
    assert response.status_code == 400
    assert message in response.content
    assert b"is-invalid" in response.content or b"border-danger" in response.content
    assert b"Nothing was saved" in response.content
    after = SecurityPolicy.objects.get(organization=north)
    assert after.updated_at == before.updated_at and after.lockout_minutes == 30


def test_roles_mode_without_a_role_is_refused(tree):
    north = tree["north"]
    response = client_of(tree["north_admin"]).post(f"/console/security/policies/{north.pk}/",
                                                   {**GOOD_POLICY, "mfa_required_roles": []})
    assert response.status_code == 400 and b"Choose at least one role" in response.content
    assert not SecurityPolicy.objects.filter(organization=north).exists()


def test_another_organizations_policy_is_not_found_to_see_or_to_post(tree):
    client, south = client_of(tree["north_admin"]), tree["south"]
    assert client.get(f"/console/security/policies/{south.pk}/").status_code == 404
    assert client.post(f"/console/security/policies/{south.pk}/", GOOD_POLICY).status_code == 404
    assert not SecurityPolicy.objects.filter(organization=south).exists()


def test_a_viewer_sees_the_policy_read_only_and_gets_403_on_post(tree):
    client, north = client_of(tree["viewer"]), tree["north"]
    page = client.get(f"/console/security/policies/{north.pk}/")
    assert page.status_code == 200 and b"do not let you change it" in page.content
    assert client.post(f"/console/security/policies/{north.pk}/", GOOD_POLICY).status_code == 403
    assert client.post(f"/console/security/policies/{north.pk}/", {"lockout_minutes": "x"}).status_code == 403
    assert not SecurityPolicy.objects.filter(organization=north).exists()


# -- the security panel of a person -------------------------------------------------------------

def panel_url(person, action: str = "") -> str:
    return f"/console/security/people/{person.pk}/panel/" + (f"{action}/" if action else "")


def test_the_user_page_embeds_the_panel_and_the_panel_shows_the_state(tree):
    person = f.user("north-person", tree["north"])
    enrolled(person)
    open_session(person, "s1")
    services.access_key_create(actor=person)
    client = client_of(tree["north_admin"])
    page = client.get(f"/console/organizations/users/{person.pk}/")
    assert page.status_code == 200 and panel_url(person).encode() in page.content
    panel = client.get(panel_url(person), **HTMX)
    assert panel.status_code == 200
    content = panel.content.decode()
    # Enrolled people are always asked for their second factor.
    assert 'data-testid="mfa-enrolled"' in content and 'data-testid="mfa-required"' in content
    assert '<div class="h3 mb-0" data-testid="sessions">1</div>' in content
    assert '<div class="h3 mb-0" data-testid="keys">1</div>' in content
    assert "Reset MFA" in content and "Exempt from MFA" in content and "Sign out everywhere" in content


def test_reset_mfa_removes_the_second_factor(tree):
    person = f.user("north-person", tree["north"])
    enrolled(person)
    response = client_of(tree["north_admin"]).post(panel_url(person, "mfa-reset"), **HTMX)
    assert response.status_code == 200 and b"is reset" in response.content
    assert not AccountSecurity.objects.get(user=person).mfa_enabled
    assert not RecoveryCode.objects.filter(user=person).exists()


def test_exempting_and_removing_the_exemption(tree):
    person = f.user("north-person", tree["north"])
    client = client_of(tree["north_admin"])
    response = client.post(panel_url(person, "mfa-exempt"), **HTMX)
    assert response.status_code == 200 and b"Remove MFA exemption" in response.content
    assert AccountSecurity.objects.get(user=person).mfa_exempt is True
    client.post(panel_url(person, "mfa-unexempt"), **HTMX)
    assert AccountSecurity.objects.get(user=person).mfa_exempt is False


def test_sign_out_everywhere_ends_every_session(tree):
    person = f.user("north-person", tree["north"])
    open_session(person, "s1")
    open_session(person, "s2")
    response = client_of(tree["north_admin"]).post(panel_url(person, "sign-out-everywhere"), **HTMX)
    assert response.status_code == 200 and b"2 sessions of north-person signed out" in response.content
    assert not UserSession.objects.filter(user=person, ended_at__isnull=True).exists()


def test_a_person_of_another_organization_is_not_found(tree):
    person = f.user("south-person", tree["south"])
    enrolled(person)
    client = client_of(tree["north_admin"])
    assert client.get(panel_url(person)).status_code == 404
    assert client.post(panel_url(person, "mfa-reset")).status_code == 404
    assert AccountSecurity.objects.get(user=person).mfa_enabled


def test_a_viewer_sees_no_panel_and_their_posts_are_refused(tree):
    person = f.user("north-person", tree["north"])
    enrolled(person)
    open_session(person, "s1")
    client = client_of(tree["viewer"])
    assert client.get(panel_url(person)).content == b""
    for action in ("mfa-reset", "mfa-exempt", "sign-out-everywhere"):
        response = client.post(panel_url(person, action), **HTMX)
        assert response.status_code == 403 and b'data-testid="refusal"' in response.content
    sec = AccountSecurity.objects.get(user=person)
    assert sec.mfa_enabled and not sec.mfa_exempt
    assert UserSession.objects.filter(user=person, ended_at__isnull=True).count() == 1


def test_a_platform_administrators_mfa_cannot_be_reset_by_an_organization_security_admin(tree):
    root = f.user("root", tree["north"], is_superuser=True)
    enrolled(root)
    response = client_of(tree["north_admin"]).post(panel_url(root, "mfa-reset"), **HTMX)
    assert response.status_code == 403
    assert b"Only a platform administrator can change" in response.content
    assert AccountSecurity.objects.get(user=root).mfa_enabled
    assert RecoveryCode.objects.filter(user=root).exists()


def test_an_administrator_cannot_reset_their_own_mfa_here(tree):
    admin = tree["north_admin"]
    enrolled(admin)
    client = client_of(admin)
    panel = client.get(panel_url(admin))
    assert b"This is you" in panel.content and b"Reset MFA" not in panel.content
    response = client.post(panel_url(admin, "mfa-reset"), **HTMX)
    assert response.status_code == 403 and b"Ask another administrator" in response.content
    assert AccountSecurity.objects.get(user=admin).mfa_enabled


def test_an_unknown_action_is_not_found(tree):
    person = f.user("north-person", tree["north"])
    assert client_of(tree["north_admin"]).post(panel_url(person, "delete")).status_code == 404


def test_a_counted_access_key_belongs_to_the_person(tree):
    person = f.user("north-person", tree["north"])
    services.access_key_create(actor=tree["north_admin"])
    panel = client_of(tree["north_admin"]).get(panel_url(person))
    assert b'data-testid="keys">0<' in panel.content
    assert AccessKey.objects.count() == 1


def test_every_field_error_shows_at_once(tree):
    north = tree["north"]
    response = client_of(tree["north_admin"]).post(f"/console/security/policies/{north.pk}/", {
        **GOOD_POLICY, "password_min_length": "3", "lockout_minutes": "x", "mfa_required_roles": []})
    assert response.status_code == 400
    for message in (b"A whole number from 6 to 128.", b"A whole number.", b"Choose at least one role"):
        assert message in response.content
    assert not SecurityPolicy.objects.filter(organization=north).exists()


def test_a_sub_organization_without_a_policy_shows_that_its_parents_applies(tree):
    north = tree["north"]
    f.org("North Ops", parent=north)
    client = client_of(tree["north_admin"])
    client.post(f"/console/security/policies/{north.pk}/", GOOD_POLICY)
    response = client.get("/console/security/policies/")
    assert b"North Ops" in response.content and b"a parent organization" in response.content
