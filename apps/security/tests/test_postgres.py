"""What the security app relies on PostgreSQL for, checked on PostgreSQL (the integration tier):
nonces refused atomically across concurrent connections."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from apps.rbac.tests import factories as f
from apps.security import services
from apps.security.tests.factories import person

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("runs on PostgreSQL (python -m devtools.integration)")


def test_two_connections_using_one_nonce_at_once_accept_it_once():
    owner = person(f.org("Nonces"), username="pg-nonce-owner")
    key, _secret = services.access_key_create(actor=owner)
    keep = timezone.now() + timedelta(minutes=16)
    start, results = threading.Barrier(8), []

    def use():
        try:
            start.wait()
            results.append(services.nonce_use(key=key, nonce="r" * 24, keep_until=keep))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
