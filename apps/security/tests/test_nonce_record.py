"""The signed request's nonce is used in one statement (``authentication.nonce_record``): a second
use is refused without a write, two connections racing on one nonce accept it once (PostgreSQL, the
integration tier), and a key's expired nonces are removed on the way."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.security import authentication
from apps.security.authentication import nonce_record
from apps.security.models import UsedNonce
from apps.security.services import access_key_create
from apps.security.tests.factories import person
from tests import factories as f


@pytest.fixture
def key(db):
    authentication._purged_at.clear()
    owner = person(f.org("Nonce owners"), username="nonce-owner")
    made, _secret = access_key_create(actor=owner)
    return made


def test_a_nonce_is_accepted_once_per_key_in_one_statement(key):
    now = timezone.now()
    keep = now + timedelta(minutes=16)
    assert nonce_record(key=key, nonce="a" * 20, keep_until=keep, now=now) is True
    with CaptureQueriesContext(connection) as queries:
        assert nonce_record(key=key, nonce="a" * 20, keep_until=keep, now=now) is False
    assert len(queries.captured_queries) == 1 and "ON CONFLICT" in queries.captured_queries[0]["sql"]
    assert list(UsedNonce.objects.filter(access_key=key).values_list("nonce", flat=True)) == ["a" * 20]
    assert UsedNonce.objects.get(access_key=key).expires_at == keep


def test_the_same_nonce_under_another_key_is_another_use(key):
    other, _secret = access_key_create(actor=person(f.org("Others"), username="nonce-other"))
    now = timezone.now()
    assert nonce_record(key=key, nonce="b" * 20, keep_until=now + timedelta(minutes=16), now=now)
    assert nonce_record(key=other, nonce="b" * 20, keep_until=now + timedelta(minutes=16), now=now)
    assert UsedNonce.objects.filter(nonce="b" * 20).count() == 2


def test_a_keys_expired_nonces_are_removed_by_its_next_use_and_live_ones_kept(key):
    now = timezone.now()
    UsedNonce.objects.create(access_key=key, nonce="old" * 6, expires_at=now - timedelta(seconds=1))
    UsedNonce.objects.create(access_key=key, nonce="live" * 5, expires_at=now + timedelta(minutes=5))
    assert nonce_record(key=key, nonce="c" * 20, keep_until=now + timedelta(minutes=16), now=now)
    assert sorted(UsedNonce.objects.filter(access_key=key).values_list("nonce", flat=True)) == [
        "c" * 20, "live" * 5]
    # A refused replay does not make the expired rows of a live nonce disappear early.
    assert nonce_record(key=key, nonce="live" * 5, keep_until=now + timedelta(minutes=16), now=now) is False
    assert UsedNonce.objects.filter(access_key=key, nonce="live" * 5).exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_connections_recording_one_nonce_at_once_accept_it_once():
    if connection.vendor != "postgresql":
        pytest.fail("runs on PostgreSQL (python -m devtools.integration)", pytrace=False)
    owner = person(f.org("Racing nonces"), username="pg-nonce-racer")
    made, _secret = access_key_create(actor=owner)
    keep = timezone.now() + timedelta(minutes=16)
    start, results = threading.Barrier(8), []

    def use():
        try:
            start.wait()
            results.append(nonce_record(key=made, nonce="r" * 24, keep_until=keep, now=timezone.now()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
