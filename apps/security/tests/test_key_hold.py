"""A process keeps an AccessKey it checked for a few seconds (no read, no decryption per request),
and yet a key disabled, rotated or deleted, or an owner disabled, is refused by the very next
request with the same code as without the kept key; a kept key is never shared between requests."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.security import authentication, services
from apps.security.models import AccessKey
from apps.security.tests.factories import person
from apps.security.tests.test_signing import send
from tests import factories as f

pytestmark = pytest.mark.django_db
PATH = "/api/v1/security/mfa/"


@pytest.fixture
def owner():
    org = f.org("Holders")
    user = person(org, username="holder")
    f.grant(f.predefined("viewer"), user, org)
    return user


@pytest.fixture
def pair(owner):
    authentication._keys.clear()
    key, secret = services.access_key_create(actor=owner, description="held")
    assert send("GET", PATH, key.id, secret).status_code == 200  # checked once: now kept
    return key, secret


def _key_reads(queries) -> int:
    return sum(1 for q in queries.captured_queries if q["sql"].startswith("SELECT") and "security_accesskey" in
               q["sql"].split(" FROM ", 1)[1].split(" ", 1)[0])


def test_a_kept_key_is_not_read_again(pair):
    key, secret = pair
    with CaptureQueriesContext(connection) as queries:
        assert send("GET", PATH, key.id, secret).status_code == 200
    assert _key_reads(queries) == 0
    assert key.id in authentication._keys


def test_a_kept_key_disabled_is_refused_at_once(owner, pair):
    key, secret = pair
    services.access_key_set_active(actor=owner, key=key, active=False)
    answer = send("GET", PATH, key.id, secret)
    assert answer.status_code == 401 and answer.json()["code"] == "access_key_disabled"
    assert key.id not in authentication._keys


def test_a_kept_key_rotated_is_refused_at_once(owner, pair):
    key, secret = pair
    new, new_secret = services.access_key_rotate(actor=owner, key=key)
    assert send("GET", PATH, key.id, secret).json()["code"] == "access_key_disabled"
    assert send("GET", PATH, new.id, new_secret).status_code == 200


def test_a_kept_key_deleted_is_refused_at_once(owner, pair):
    key, secret = pair
    AccessKey.objects.filter(pk=key.pk).delete()
    assert send("GET", PATH, key.id, secret).json()["code"] == "access_key_invalid"


def test_a_kept_keys_owner_disabled_is_refused_at_once(owner, pair):
    key, secret = pair
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)
    assert send("GET", PATH, key.id, secret).json()["code"] == "access_key_disabled"


def test_refusals_of_a_kept_key_keep_their_own_codes(pair):
    key, secret = pair
    assert send("GET", PATH, key.id, secret + "x").json()["code"] == "signature_mismatch"
    send("GET", PATH, key.id, secret)  # kept again
    assert send("GET", PATH, key.id, secret, nonce="n" * 20).status_code == 200
    assert send("GET", PATH, key.id, secret, nonce="n" * 20).json()["code"] == "nonce_reused"


def test_each_request_gets_its_own_copy_of_a_kept_key_and_owner(pair):
    key, _secret = pair
    first, second = authentication._held(key.id), authentication._held(key.id)
    assert first is not None and second is not None
    assert first[0] is not second[0] and first[0].user is not second[0].user
    first[0].user.attached_by_a_request = True
    assert not hasattr(authentication._held(key.id)[0].user, "attached_by_a_request")


def test_a_key_is_read_again_once_its_hold_ran_out(pair, monkeypatch):
    key, secret = pair
    monkeypatch.setattr(authentication, "KEY_HOLD_SECONDS", -1.0)
    with CaptureQueriesContext(connection) as queries:
        assert send("GET", PATH, key.id, secret).status_code == 200
    assert _key_reads(queries) == 1
