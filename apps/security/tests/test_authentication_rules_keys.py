"""Signed-request rules about what a process keeps between requests: a key's expired nonces are removed
by its own use, at most once a minute per key and process, and never another key's; a process keeps at
most ``KEYS_HELD`` checked keys; and a request refused while its key was kept leaves the key to be read
again from the database by the next request."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.security import authentication, services
from apps.security.authentication import PURGE_EVERY_SECONDS, nonce_record
from apps.security.models import UsedNonce
from apps.security.tests.factories import person
from apps.security.tests.test_authentication_rules import signed_get
from tests import factories as f

pytestmark = pytest.mark.django_db
MFA = "/api/v1/security/mfa/"  # a read that does not list the keys itself


@pytest.fixture(autouse=True)
def fresh_process():
    """Each test starts as a process that has neither purged nor kept any key."""
    authentication._purged_at.clear()
    authentication._keys.clear()
    yield
    authentication._purged_at.clear()
    authentication._keys.clear()


@pytest.fixture
def clock(monkeypatch):
    """The process's monotonic clock, set by the test (the module reads it through ``time.monotonic``)."""
    now = [10_000.0]
    monkeypatch.setattr(authentication, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def _owner(name: str):
    org = f.org(f"Keys of {name}")
    user = person(org, username=name)
    f.grant(f.predefined("viewer"), user, org)
    return user


@pytest.fixture
def pair():
    return services.access_key_create(actor=_owner("keeper"), description="kept")


def _expired(key, nonce: str) -> UsedNonce:
    return UsedNonce.objects.create(access_key=key, nonce=nonce, expires_at=timezone.now() - timedelta(seconds=5))


def _use(key, nonce: str) -> bool:
    now = timezone.now()
    return nonce_record(key=key, nonce=nonce, keep_until=now + timedelta(minutes=16), now=now)


def _nonces(key) -> list[str]:
    return sorted(UsedNonce.objects.filter(access_key=key).values_list("nonce", flat=True))


def test_a_keys_use_removes_its_own_expired_nonces_and_no_other_keys(pair, clock):
    key, _secret = pair
    other, _other_secret = services.access_key_create(actor=_owner("neighbour"))
    _expired(key, "mine-old-" + "a" * 10)
    _expired(other, "theirs-old-" + "b" * 10)
    assert _use(key, "n" * 20)
    assert _nonces(key) == ["n" * 20]
    # another key's expired nonces wait for that key's own use (or the periodic purge)
    assert _nonces(other) == ["theirs-old-" + "b" * 10]


def test_a_key_is_purged_at_most_once_a_minute_per_process(pair, clock):
    key, _secret = pair
    assert _use(key, "first-" + "a" * 14)  # the key's first use in this process purges
    _expired(key, "old-1-" + "x" * 14)
    clock[0] += PURGE_EVERY_SECONDS - 0.5
    assert _use(key, "second-" + "a" * 13)
    assert "old-1-" + "x" * 14 in _nonces(key)  # within the minute: not purged again
    clock[0] += 0.5  # exactly a minute after the first purge
    assert _use(key, "third-" + "a" * 14)
    assert _nonces(key) == sorted(["first-" + "a" * 14, "second-" + "a" * 13, "third-" + "a" * 14])


def test_each_key_has_its_own_minute(pair, clock):
    key, _secret = pair
    other, _other_secret = services.access_key_create(actor=_owner("second"))
    assert _use(key, "k" * 20)
    _expired(other, "old-" + "o" * 16)
    assert _use(other, "o" * 20)  # the first key's purge does not hold back the second's
    assert _nonces(other) == ["o" * 20]


def test_a_keys_first_use_purges_whatever_the_clock_reads(pair, clock):
    """The monotonic clock may read little (a process on a machine that just started): a key this
    process never purged is purged at its first use all the same."""
    key, _secret = pair
    clock[0] = 1.0
    _expired(key, "old-" + "e" * 16)
    assert _use(key, "f" * 20)
    assert _nonces(key) == ["f" * 20]


def test_a_process_keeps_at_most_keys_held_keys(monkeypatch):
    monkeypatch.setattr(authentication, "KEYS_HELD", 2)
    keys = [services.access_key_create(actor=_owner(f"holder{n}")) for n in range(3)]
    for key, secret in keys[:2]:
        authentication._hold(key, secret)
    assert all(authentication._held(key.id) is not None for key, _ in keys[:2])
    third, third_secret = keys[2]
    authentication._hold(third, third_secret)
    assert len(authentication._keys) <= 2
    assert authentication._held(keys[0][0].id) is None and authentication._held(keys[1][0].id) is None
    held_key, held_secret = authentication._held(third.id)
    assert (held_key.pk, held_secret) == (third.pk, third_secret)


def _key_reads(queries) -> int:
    return sum(1 for q in queries.captured_queries
               if q["sql"].startswith("SELECT") and 'FROM "security_accesskey"' in q["sql"])


def test_a_request_refused_while_its_key_was_kept_leaves_the_key_to_be_read_again(pair):
    key, secret = pair
    assert signed_get(key.id, secret, path=MFA).status_code == 200  # checked: now kept
    with CaptureQueriesContext(connection) as queries:
        assert signed_get(key.id, secret, path=MFA).status_code == 200
    assert _key_reads(queries) == 0
    refused = signed_get(key.id, secret + "x", path=MFA)
    assert refused.status_code == 401 and refused.json()["code"] == "signature_mismatch"
    # the next request checks the key from the database again, and keeps it again
    with CaptureQueriesContext(connection) as queries:
        assert signed_get(key.id, secret, path=MFA).status_code == 200
    assert _key_reads(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        assert signed_get(key.id, secret, path=MFA).status_code == 200
    assert _key_reads(queries) == 0


def test_a_kept_key_is_read_again_once_its_hold_ran_out(pair, clock):
    key, secret = pair
    assert signed_get(key.id, secret, path=MFA).status_code == 200  # checked: now kept
    clock[0] += authentication.KEY_HOLD_SECONDS
    with CaptureQueriesContext(connection) as queries:
        assert signed_get(key.id, secret, path=MFA).status_code == 200  # kept for exactly the hold: not read
    assert _key_reads(queries) == 0
    clock[0] += 0.5
    with CaptureQueriesContext(connection) as queries:
        assert signed_get(key.id, secret, path=MFA).status_code == 200
    assert _key_reads(queries) == 1


def _last_used_writes(queries) -> int:
    return sum(1 for q in queries.captured_queries
               if q["sql"].startswith("UPDATE") and '"security_accesskey"' in q["sql"] and "last_used_at" in q["sql"])


def test_a_kept_key_writes_its_last_use_once_a_minute(pair):
    key, secret = pair
    with CaptureQueriesContext(connection) as queries:
        assert signed_get(key.id, secret, path=MFA).status_code == 200
    assert _last_used_writes(queries) == 1
    for _ in range(2):  # the kept key carries the time it wrote: not written again within the minute
        with CaptureQueriesContext(connection) as queries:
            assert signed_get(key.id, secret, path=MFA).status_code == 200
        assert _last_used_writes(queries) == 0 and _key_reads(queries) == 0
