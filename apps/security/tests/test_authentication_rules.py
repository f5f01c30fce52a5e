"""Signed-request authentication rules not tied to one field of the signature: a disabled person's pairs
sign nothing, a pair whose secret cannot be decrypted is refused as unusable, a nonce is remembered
until its request could no longer be accepted, the time a pair was last used is kept to the minute,
and a request another scheme signs is left to the other authenticators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.security import authentication, services
from apps.security.authentication import FRESHNESS, NONCE_MARGIN
from apps.security.client import sign
from apps.security.models import AccessKey, UsedNonce
from apps.security.tests.factories import person
from tests import factories as f

pytestmark = pytest.mark.django_db
KEYS = "/api/v1/security/access-keys/"


@pytest.fixture
def owner():
    org = f.org("Auth rules")
    user = person(org, username="signer")
    f.grant(f.predefined("viewer"), user, org)
    return user


@pytest.fixture
def pair(owner):
    return services.access_key_create(actor=owner, description="rules")


def signed_get(key_id: str, secret: str, *, now=None, nonce=None, path=KEYS):
    headers = sign("GET", f"http://testserver{path}", access_key_id=key_id, secret=secret, now=now, nonce=nonce)
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return APIClient().get(path, **meta)


def test_a_disabled_persons_pair_signs_nothing(owner, pair):
    key, secret = pair
    assert signed_get(key.id, secret).status_code == 200
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)
    response = signed_get(key.id, secret)
    assert response.status_code == 401
    assert response.json() == {"code": "access_key_disabled", "message": "This AccessKey pair is disabled.",
                               "detail": {}}


def test_a_pair_whose_secret_cannot_be_decrypted_is_refused_as_unusable(pair):
    key, secret = pair
    AccessKey.objects.filter(pk=key.pk).update(secret_encrypted="v1:not-a-ciphertext")
    response = signed_get(key.id, secret)
    assert response.status_code == 401
    assert response.json() == {"code": "access_key_invalid",
                               "message": "This AccessKey pair cannot be used; create a new one.", "detail": {}}


def test_a_nonce_is_remembered_until_its_request_could_no_longer_be_accepted(pair):
    key, secret = pair
    signed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    assert signed_get(key.id, secret, now=signed_at, nonce="n" * 20).status_code == 200
    kept = UsedNonce.objects.get(access_key=key, nonce="n" * 20)
    assert kept.expires_at == signed_at + FRESHNESS + NONCE_MARGIN
    assert FRESHNESS == timedelta(minutes=15) and NONCE_MARGIN == timedelta(minutes=1)


def test_a_request_signed_fourteen_minutes_either_side_is_accepted_and_sixteen_is_not(pair):
    key, secret = pair
    for minutes, status in ((14, 200), (-14, 200), (16, 401), (-16, 401)):
        response = signed_get(key.id, secret, now=datetime.now(UTC) + timedelta(minutes=minutes))
        assert response.status_code == status, (minutes, response.content)


def test_the_time_a_pair_was_last_used_is_kept_to_the_minute(pair):
    key, secret = pair
    assert AccessKey.objects.get(pk=key.pk).last_used_at is None
    assert signed_get(key.id, secret).status_code == 200
    first = AccessKey.objects.get(pk=key.pk).last_used_at
    assert first is not None and abs(timezone.now() - first) < timedelta(minutes=1)
    recent = timezone.now() - timedelta(seconds=20)
    AccessKey.objects.filter(pk=key.pk).update(last_used_at=recent)
    authentication._keys.clear()  # a key kept by the process carries the time it last wrote: read the row's
    assert signed_get(key.id, secret).status_code == 200
    assert AccessKey.objects.get(pk=key.pk).last_used_at == recent  # within the minute: not written again
    stale = timezone.now() - timedelta(minutes=2)
    AccessKey.objects.filter(pk=key.pk).update(last_used_at=stale)
    authentication._keys.clear()
    assert signed_get(key.id, secret).status_code == 200
    assert AccessKey.objects.get(pk=key.pk).last_used_at > stale


def test_a_request_under_another_scheme_is_left_to_the_other_authenticators(pair):
    response = APIClient().get(KEYS, HTTP_AUTHORIZATION="Bearer UM-HMAC-SHA256 Credential=x")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_the_signed_header_the_request_lacks_is_named(pair):
    key, secret = pair
    headers = sign("GET", f"http://testserver{KEYS}", access_key_id=key.id, secret=secret)
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "X-UM-Nonce"}
    response = APIClient().get(KEYS, **meta)
    assert response.status_code == 401
    assert response.json() == {"code": "signature_malformed",
                               "message": "The signed header x-um-nonce is missing from the request.", "detail": {}}


def test_each_refusal_is_answered_with_its_full_message(owner, pair):
    key, secret = pair
    expired = signed_get(key.id, secret, now=datetime.now(UTC) - timedelta(minutes=20))
    assert expired.json()["message"] == ("The request was signed more than 15 minutes away from the server's time; "
                                         "sign it again (check the client's clock).")
    wrong = signed_get(key.id, secret + "x")
    assert wrong.json()["message"] == ("The signature does not match the request: it was changed, or signed with "
                                       "another secret.")
    assert signed_get(key.id, secret, nonce="r" * 16).status_code == 200
    replay = signed_get(key.id, secret, nonce="r" * 16)
    assert replay.json() == {"code": "nonce_reused",
                             "message": "This nonce was already used: a signed request is accepted once.",
                             "detail": {}}
    unknown = signed_get("UMAK" + "Z" * 20, secret)
    assert unknown.json() == {"code": "access_key_invalid", "message": "This AccessKey id does not exist.",
                              "detail": {}}
    short_nonce = signed_get(key.id, secret, nonce="short")
    assert short_nonce.json() == {"code": "signature_malformed",
                                  "message": "X-UM-Nonce must be 16 to 128 URL-safe characters.", "detail": {}}


def test_the_document_describes_signed_requests_as_an_authorization_header_scheme():
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    assert document["components"]["securitySchemes"]["accessKeySignature"] == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": "UM-HMAC-SHA256 Credential=<AccessKey id>, SignedHeaders=host;x-um-date;x-um-nonce, "
                       "Signature=<hex>; see the README, section Signed API requests."}
    signed = document["paths"]["/api/v1/security/access-keys/"]["get"]["security"]
    assert {"accessKeySignature": []} in signed


def test_a_request_signed_exactly_fifteen_minutes_away_is_still_accepted(pair, monkeypatch):
    key, secret = pair
    server_now = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: server_now)
    for offset, status in ((-FRESHNESS, 200), (FRESHNESS, 200), (-FRESHNESS - timedelta(seconds=1), 401),
                           (FRESHNESS + timedelta(seconds=1), 401)):
        response = signed_get(key.id, secret, now=server_now + offset)
        assert response.status_code == status, (offset, response.content)


def test_a_request_whose_server_gives_no_query_string_is_checked_as_having_an_empty_query(owner, pair):
    """A WSGI server may leave QUERY_STRING out when there is no query (PEP 3333)."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from apps.security.authentication import AccessKeyAuthentication

    key, secret = pair
    headers = sign("GET", f"http://testserver{KEYS}", access_key_id=key.id, secret=secret)
    raw = APIRequestFactory().get(KEYS, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    raw.META.pop("QUERY_STRING", None)
    assert AccessKeyAuthentication().authenticate(Request(raw)) == (owner, key)


def test_last_used_is_written_again_only_once_it_is_more_than_a_minute_old(pair, monkeypatch):
    key, secret = pair
    server_now = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: server_now)
    for age, written in ((timedelta(minutes=1), False), (timedelta(seconds=61), True), (timedelta(seconds=90), True)):
        before = server_now - age
        AccessKey.objects.filter(pk=key.pk).update(last_used_at=before)
        authentication._keys.clear()  # read the row's time, not the kept key's
        assert signed_get(key.id, secret, now=server_now).status_code == 200
        assert AccessKey.objects.get(pk=key.pk).last_used_at == (server_now if written else before), age
