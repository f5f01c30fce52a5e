"""The audit chain's rules, each as a user of ``audit_verify`` or of the log meets it: what an entry
records (who, what, on which target, from which event), the exact problem each kind of tampering is
reported as, where verification starts after a retention purge, and what a purge removes."""

from __future__ import annotations

import hashlib
import hmac
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


def test_a_signed_anchor_moved_further_keeping_its_signature_is_reported(settings):
    """The anchor's signature covers its id and hash: a purge's signature copied onto a later anchor
    (the entries before it removed by hand) does not make that anchor signed."""
    settings.AUDIT_RETENTION_DAYS = 30
    chain(5)
    assert audit.purge_expired(now=timezone.now() + timedelta(days=31)) == 5
    kept = chain(3)  # ids 7, 8, 9 after the purge's own entry #6
    sql("DELETE FROM security_auditentry WHERE id <= 7")
    sql("UPDATE security_auditchainhead SET anchor_id = 7, anchor_hash = %s WHERE id = 1", [kept[0].hash])
    assert audit.verify().problems == [
        "the anchor (#7) was not set by a retention purge: entries before it were removed behind the "
        "application's back"]


@pytest.mark.parametrize(("anchor_id", "anchor_hash"), [(0, "f" * 64), (2, audit.GENESIS)])
def test_only_the_untouched_start_of_the_chain_needs_no_signature(anchor_id, anchor_hash):
    """Id 0 with the genesis hash is the chain's start; an id 0 with another hash, or the genesis
    hash with another id, is an anchor someone set and must be signed."""
    chain(2)
    sql("UPDATE security_auditchainhead SET anchor_id = %s, anchor_hash = %s WHERE id = 1", [anchor_id, anchor_hash])
    problems = audit.verify().problems
    assert problems[0] == (f"the anchor (#{anchor_id}) was not set by a retention purge: entries before it were "
                           "removed behind the application's back")


def test_verification_reports_at_most_twenty_problems_by_default():
    chain(22)
    sql("UPDATE security_auditentry SET actor_name = 'x'")
    report = audit.verify()
    assert report.problems == [f"entry #{i}: its content was changed after it was written" for i in range(1, 21)]
    assert report.checked == 20


def test_a_purge_locks_and_moves_the_one_chain_head(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    chain(2)
    assert audit.purge_expired(now=timezone.now() + timedelta(days=31)) == 2
    assert list(AuditChainHead.objects.values_list("pk", "anchor_id", "last_id")) == [(1, 2, 3)]


def test_a_request_without_a_person_is_named_by_its_display_token_or_not_at_all():
    """A request object may carry no ``user`` at all, or a ``user`` that is not a person (no
    ``is_authenticated``): neither is an actor."""
    token = SimpleNamespace(pk="tok9", name="Hall screen")
    by_token = ("display-token:tok9", "display token Hall screen")
    for request, expected in ((SimpleNamespace(display_token=token), by_token),
                              (SimpleNamespace(user=object()), ("", "")),
                              (SimpleNamespace(user=object(), display_token=token), by_token)):
        reset = audit.current_request_var.set(request)
        try:
            assert audit.current_actor()[:2] == expected
        finally:
            audit.current_request_var.reset(reset)


def test_an_event_key_may_hold_colons_and_an_operation_without_a_kind_has_no_label():
    audit.record_event(None, "resource:aliyun:i-123", {"event": "deleted"})
    audit.record_event(None, "operation:op-9", {"status": "failed"})
    rows = list(AuditEntry.objects.order_by("id").values_list("action", "target_type", "target_id", "target_label"))
    assert rows == [("resource.deleted", "resource", "aliyun:i-123", ""), ("operation.failed", "operation", "op-9", "")]


def _fixed_entry(**changes) -> AuditEntry:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    fields = dict(id=7, created_at=datetime(2025, 1, 2, 11, 4, 5, 60, tzinfo=ZoneInfo("Asia/Shanghai")),
                  organization_id=uuid.UUID("12345678-1234-5678-1234-567812345678"), actor_id="42",
                  actor_name="alice", action="grant.created", target_type="grant", target_id="g-1",
                  target_label="读者 reader", result="success", source_ip="192.0.2.7", request_id="req-1",
                  detail={"role": "reader", "n": 2})
    return AuditEntry(**{**fields, **changes})


def test_the_hashed_form_of_an_entry_is_stable(settings):
    """Chains written by an earlier version must still verify: the canonical form (sorted keys, the
    time in UTC to the microsecond, no organization as "") and the keyed hash are fixed, whatever the
    server's time zone."""
    settings.TIME_ZONE = "America/New_York"
    settings.AUDIT_KEY = "fixed-audit-key"
    entry = _fixed_entry()
    canonical = (
        '{"action":"grant.created","actor_id":"42","actor_name":"alice","created_at":"2025-01-02T03:04:05.000060+00:00",'
        '"detail":{"n":2,"role":"reader"},"id":7,"organization_id":"12345678-1234-5678-1234-567812345678",'
        '"request_id":"req-1","result":"success","source_ip":"192.0.2.7","target_id":"g-1",'
        '"target_label":"读者 reader","target_type":"grant"}')
    assert audit._canonical(entry) == canonical
    assert '"organization_id":""' in audit._canonical(_fixed_entry(organization_id=None))
    prev = "ab" * 32
    assert audit.entry_hash(prev, entry) == hmac.new(b"fixed-audit-key", f"{prev}\n{canonical}".encode(),
                                                     hashlib.sha256).hexdigest()
    # Without an audit key (the embedded mode) the key is derived from the secret key, the same way in
    # every version.
    settings.AUDIT_KEY, settings.SECRET_KEY = "", "fixed-secret-key"
    derived = hashlib.sha256(b"unimanager-audit-v1:fixed-secret-key").digest()
    assert audit.entry_hash(prev, entry) == hmac.new(derived, f"{prev}\n{canonical}".encode(),
                                                     hashlib.sha256).hexdigest()


def test_an_entry_without_a_target_a_client_or_a_request_records_empty_fields():
    entry = audit.append(action="audit.verified")
    entry.refresh_from_db()
    assert (entry.target_type, entry.target_id, entry.target_label, entry.organization_id) == ("", "", "", None)
    assert (entry.source_ip, entry.request_id, entry.actor_id, entry.actor_name) == ("", "", "", "")


def test_an_actor_that_is_not_a_signed_in_person_leaves_the_request_to_name_one():
    from django.contrib.auth.models import AnonymousUser

    person = f.user("dora")
    for actor in (AnonymousUser(), object()):
        reset = audit.current_request_var.set(SimpleNamespace(user=person))
        try:
            entry = audit.append(action="x.y", actor=actor)
        finally:
            audit.current_request_var.reset(reset)
        assert (entry.actor_id, entry.actor_name) == (str(person.pk), "dora")
        bare = audit.append(action="x.y", actor=actor)  # and no request: no actor at all
        assert (bare.actor_id, bare.actor_name) == ("", "")


def test_a_long_actor_client_address_and_request_id_are_cut_to_their_columns():
    token = SimpleNamespace(pk="k" * 70, name="Wall")
    ip, rid = client_ip_var.set("9" * 60), request_id_var.set("r" * 80)
    reset = audit.current_request_var.set(SimpleNamespace(display_token=token))
    try:
        entry = audit.append(action="x.y")
    finally:
        audit.current_request_var.reset(reset)
        client_ip_var.reset(ip)
        request_id_var.reset(rid)
    assert (entry.actor_id, entry.source_ip, entry.request_id) == (("display-token:" + "k" * 70)[:64], "9" * 45,
                                                                  "r" * 64)
    assert audit.verify().ok


def test_an_append_never_overwrites_an_entry_even_when_the_head_was_moved_back():
    from django.db import IntegrityError

    entries = chain(3)
    sql("UPDATE security_auditchainhead SET last_id = 2, last_hash = %s WHERE id = 1", [entries[1].hash])
    with pytest.raises(IntegrityError):
        audit.append(action="test.over")
    third = AuditEntry.objects.get(id=3)
    assert (third.action, third.hash) == ("test.made", entries[2].hash)
