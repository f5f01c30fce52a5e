"""The audit chain's rules, each as a user of ``audit_verify`` or of the log meets it: what an entry
records (who, what, on which target, from which event), the exact problem each kind of tampering is
reported as, where verification starts after a retention purge, and what a purge removes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.middleware import client_ip_var, request_id_var
from apps.security import audit
from apps.security.models import AuditChainHead, AuditEntry
from tests import factories as f

pytestmark = pytest.mark.django_db


def chain(n: int) -> list[AuditEntry]:
    return [audit.append(action="test.made", target_id=i) for i in range(n)]


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, list(params))


def test_an_intact_chain_reports_its_head():
    entries = chain(3)
    report = audit.verify()
    assert (report.ok, report.checked, report.problems) == (True, 3, [])
    assert (report.head_id, report.head_hash) == (3, entries[-1].hash)
    assert [e.id for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == audit.GENESIS == "0" * 64


def test_an_empty_log_verifies():
    report = audit.verify()
    assert (report.ok, report.checked, report.problems, report.head_id) == (True, 0, [], 0)


def test_a_changed_field_is_reported_for_that_entry_only():
    chain(3)
    sql("UPDATE security_auditentry SET target_label = 'other' WHERE id = 2")
    assert audit.verify().problems == ["entry #2: its content was changed after it was written"]


@pytest.mark.parametrize(("column", "value"), [
    ("created_at", "2001-01-01 00:00:00"), ("organization_id", uuid.uuid4().hex), ("actor_id", "7"),
    ("actor_name", "x"), ("action", "x.y"), ("target_type", "x"), ("target_id", "x"), ("result", "failure"),
    ("source_ip", "192.0.2.9"), ("request_id", "r"), ("detail", '{"n": 2}'),
])
def test_every_recorded_field_is_covered_by_the_hash(column, value):
    chain(2)
    sql(f"UPDATE security_auditentry SET {column} = %s WHERE id = 1", [value])
    assert audit.verify().problems == ["entry #1: its content was changed after it was written"]


def test_a_removed_entry_is_reported_as_missing_and_its_successor_as_out_of_place():
    chain(4)
    sql("DELETE FROM security_auditentry WHERE id = 2")
    assert audit.verify().problems == ["entry #2 is missing (found #3 next)",
                                       "entry #3: does not follow the entry before it"]


def test_a_head_that_does_not_point_at_the_last_entry_is_reported():
    chain(3)
    sql("UPDATE security_auditchainhead SET last_id = 2 WHERE id = 1")
    assert audit.verify().problems == ["the chain ends at #3 but the head says #2"]
    sql("UPDATE security_auditchainhead SET last_id = 3, last_hash = %s WHERE id = 1", ["f" * 64])
    assert audit.verify().problems == ["the chain ends at #3 but the head says #3"]


def test_newest_entries_removed_with_the_head_left_in_place_are_reported():
    chain(3)
    sql("DELETE FROM security_auditentry WHERE id = 3")
    assert audit.verify().problems == ["the chain ends at #2 but the head says #3"]


def test_an_unsigned_anchor_is_reported_naming_it():
    entries = chain(4)
    sql("DELETE FROM security_auditentry WHERE id <= 2")
    sql("UPDATE security_auditchainhead SET anchor_id = 2, anchor_hash = %s WHERE id = 1", [entries[1].hash])
    assert audit.verify().problems == [
        "the anchor (#2) was not set by a retention purge: entries before it were removed behind the "
        "application's back"]


def test_problems_stop_at_the_limit():
    chain(6)
    sql("UPDATE security_auditentry SET actor_name = 'x'")
    report = audit.verify(limit_problems=3)
    assert report.problems == [f"entry #{i}: its content was changed after it was written" for i in (1, 2, 3)]
    assert report.checked == 3 and not report.ok
    assert len(audit.verify().problems) == 6


def test_an_entry_names_the_actor_the_client_and_the_request():
    person = f.user("alice")
    org = f.org("Audited")
    ip, rid = client_ip_var.set("192.0.2.7"), request_id_var.set("req-1")
    try:
        entry = audit.append(action="grant.created", actor=person, organization_id=str(org.pk), target_type="grant",
                             target_id=42, target_label="reader", detail={"at": timezone.now().date()})
    finally:
        client_ip_var.reset(ip)
        request_id_var.reset(rid)
    entry.refresh_from_db()
    assert (entry.actor_id, entry.actor_name, entry.organization_id) == (str(person.pk), "alice", org.pk)
    assert (entry.source_ip, entry.request_id, entry.target_id, entry.target_label) == ("192.0.2.7", "req-1", "42",
                                                                                         "reader")
    assert entry.detail == {"at": str(timezone.now().date())} and entry.result == "success"
    named = audit.append(action="x.y", actor=person, actor_name="on behalf of alice")
    assert named.actor_name == "on behalf of alice"


def test_long_values_are_cut_to_their_columns():
    entry = audit.append(action="a" * 80, target_type="t" * 80, target_id="i" * 80, target_label="l" * 300,
                         actor_name="n" * 200)
    assert (len(entry.action), len(entry.target_type), len(entry.target_id), len(entry.target_label),
            len(entry.actor_name)) == (64, 64, 64, 255, 150)
    assert audit.verify().ok


def test_work_done_for_a_request_names_its_person_or_display_token():
    person = f.user("bob")
    token = SimpleNamespace(pk="tok1", name="Lobby screen")
    for request, expected in ((SimpleNamespace(user=person), (str(person.pk), "bob")),
                              (SimpleNamespace(user=SimpleNamespace(is_authenticated=False), display_token=token),
                               ("display-token:tok1", "display token Lobby screen")),
                              (None, ("", ""))):
        reset = audit.current_request_var.set(request)
        try:
            entry = audit.append(action="x.y")
        finally:
            audit.current_request_var.reset(reset)
        assert (entry.actor_id, entry.actor_name) == expected
    counted = SimpleNamespace(user=person)
    reset = audit.current_request_var.set(counted)
    try:
        audit.append(action="x.y")
        audit.append(action="x.z")
    finally:
        audit.current_request_var.reset(reset)
    assert counted.audit_entries == 2


def test_events_become_entries_named_by_topic_and_event():
    org = f.org("Evented")
    audit.record_event(org.pk, "grant:g-1", {"event": "created", "name": "reader", "role": "r"})
    audit.record_event(None, "user:u-1", {"event": "disabled", "username": "carol",
                                          "organization": str(org.pk)})
    audit.record_event(None, "key:k-1", {"label": "ci", "organization": "not-a-uuid"})
    audit.record_event(None, "x:1", ["not", "a", "dict"])
    rows = list(AuditEntry.objects.order_by("id").values_list(
        "action", "target_type", "target_id", "target_label", "organization_id", "detail"))
    assert rows == [("grant.created", "grant", "g-1", "reader", org.pk, {"name": "reader", "role": "r"}),
                    ("user.disabled", "user", "u-1", "carol", org.pk, {"username": "carol",
                                                                       "organization": str(org.pk)}),
                    ("key.changed", "key", "k-1", "ci", None, {"label": "ci", "organization": "not-a-uuid"})]


def test_operations_log_their_start_and_end_but_not_their_progress():
    audit.record_event(None, "operation:op-1", {"status": "running", "progress": 40, "kind": "resize"})
    audit.record_event(None, "operation:op-1", {"status": "succeeded", "kind": "resize"})
    audit.record_event(None, "operation:op-2", {"kind": "sync"})
    audit.record_event(None, "operation:op-3", {"event": "cancelled", "status": "running", "kind": "stop"})
    rows = list(AuditEntry.objects.order_by("id").values_list("action", "target_label"))
    assert rows == [("operation.succeeded", "resize"), ("operation.changed", "sync"), ("operation.cancelled", "")]


def test_a_purge_removes_only_entries_past_retention_and_leaves_a_verifiable_chain(settings, monkeypatch):
    settings.AUDIT_RETENTION_DAYS = 30
    old = chain(3)
    later = timezone.now() + timedelta(days=31)
    monkeypatch.setattr(timezone, "now", lambda: later - timedelta(days=1))
    fresh = audit.append(action="test.fresh")
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert audit.purge_expired() == 3
    head = AuditChainHead.objects.get(pk=1)
    assert (head.anchor_id, head.anchor_hash) == (3, old[-1].hash)
    purged = AuditEntry.objects.order_by("-id").first()
    assert purged.action == "audit.purged"
    assert purged.detail == {"removed": 3, "through": 3, "retention_days": 30}
    assert set(AuditEntry.objects.values_list("id", flat=True)) == {fresh.id, purged.id}
    report = audit.verify()
    assert report.ok and report.checked == 2


def test_no_purge_without_a_retention_or_without_old_entries(settings):
    chain(2)
    settings.AUDIT_RETENTION_DAYS = 0
    assert audit.purge_expired(now=timezone.now() + timedelta(days=3650)) == 0
    settings.AUDIT_RETENTION_DAYS = 30
    assert audit.purge_expired(now=timezone.now() + timedelta(days=29)) == 0
    assert AuditEntry.objects.count() == 2
    assert AuditChainHead.objects.get(pk=1).anchor_id == 0
