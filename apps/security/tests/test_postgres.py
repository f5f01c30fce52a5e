"""What the security app relies on PostgreSQL for, checked on PostgreSQL (the integration tier):
nonces refused atomically across concurrent connections, and an audit log that no session setting
opens to deletes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from apps.security import audit, services
from apps.security.models import AuditEntry
from apps.security.tests.factories import person
from tests import factories as f

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        # Marked integration: the fast tier never collects it, so reaching here means a wrong database.
        pytest.fail("runs on PostgreSQL (python -m devtools.integration)", pytrace=False)


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


def test_the_audit_trigger_has_no_session_switch_and_lets_only_the_purge_delete(settings):
    entries = [audit.append(action="pg.made", target_id=i) for i in range(3)]
    for statement in ("UPDATE security_auditentry SET actor_name = 'x' WHERE id = %s",
                      "DELETE FROM security_auditentry WHERE id = %s"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL unimanager.audit_purge = 'on'")
            cursor.execute(statement, [entries[0].id])
    assert AuditEntry.objects.filter(id=entries[0].id, actor_name="").exists()
    settings.AUDIT_RETENTION_DAYS = 1
    assert audit.purge_expired(now=timezone.now() + timedelta(days=2)) == 3
    assert audit.verify().ok
