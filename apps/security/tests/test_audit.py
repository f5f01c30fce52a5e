"""The audit log: chained, append-only, tamper-evident, searchable, exported; and every mutating
endpoint of the project leaves an entry for every request (found by walking the URL configuration)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from apps.security import audit
from apps.security.models import AuditChainHead, AuditEntry
from apps.security.tests.factories import isolation_objects, person
from tests import factories as f
from tests.test_tenant_isolation import GROUP_RE, api_routes, url_of

MUTATING = ("post", "put", "patch", "delete")


@pytest.mark.django_db
def test_entries_are_chained_and_verify():
    for i in range(5):
        audit.append(action="test.made", target_id=i, detail={"n": i})
    report = audit.verify()
    assert report.ok and report.checked == 5
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]


@pytest.mark.django_db
def test_the_model_refuses_updates_and_deletes():
    entry = audit.append(action="test.made")
    entry.action = "test.changed"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


@pytest.mark.django_db
def test_audit_verify_detects_a_row_changed_behind_the_applications_back(capsys):
    for i in range(3):
        audit.append(action="test.made", target_id=i)
    call_command("audit_verify")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE security_auditentry SET actor_name = 'someone-else' WHERE id = 2")
    with pytest.raises(Exception, match="tampered"):
        call_command("audit_verify")
    assert "entry #2" in capsys.readouterr().err


@pytest.mark.django_db
def test_audit_verify_detects_a_removed_row():
    for i in range(3):
        audit.append(action="test.made", target_id=i)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM security_auditentry WHERE id = 2")
    report = audit.verify()
    assert not report.ok and any("#2 is missing" in p for p in report.problems)


@pytest.mark.django_db
def test_retention_purge_keeps_the_rest_verifiable(settings):
    from datetime import timedelta

    from django.utils import timezone

    for i in range(4):
        audit.append(action="test.made", target_id=i)
    settings.AUDIT_RETENTION_DAYS = 30
    removed = audit.purge_expired(now=timezone.now() + timedelta(days=31))
    assert removed == 4
    assert audit.verify().ok


@pytest.mark.django_db
def test_retention_runs_daily_from_the_beat_schedule(settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from apps.security.tasks import audit_purge_task

    scheduled = PeriodicTask.objects.get(name="security: audit retention")
    assert scheduled.task == "apps.security.tasks.audit_purge_task" and scheduled.enabled
    assert scheduled.interval.every == 86400
    for i in range(2):
        audit.append(action="test.made", target_id=i)
    present = AuditEntry.objects.count()
    settings.AUDIT_RETENTION_DAYS = 1
    later = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: later)  # the day the task runs
    assert audit_purge_task() == present
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["audit.purged"]
    assert audit.verify().ok


@pytest.mark.django_db
def test_auditors_search_and_export_but_others_see_nothing():
    org = f.org("Audited")
    audit.append(action="organization.updated", organization_id=org.pk, target_type="organization",
                 target_id=org.pk, actor_name="alice")
    audit.append(action="signin.failed", result="failure", actor_name="mallory")
    auditor = person(f.org("HQ"), username="aud")
    f.grant(f.predefined("security_auditor"), auditor)
    client = APIClient()
    client.force_login(auditor)
    rows = client.get("/api/v1/security/audit/", {"result": "failure"}).json()["results"]
    assert [r["actor_name"] for r in rows] == ["mallory"]
    assert client.get("/api/v1/security/audit/", {"action": "organization."}).json()["results"][0]["actor_name"] \
        == "alice"
    csv = b"".join(client.get("/api/v1/security/audit/export/").streaming_content).decode()
    assert csv.splitlines()[0].startswith("id,created_at") and "mallory" in csv
    assert client.post("/api/v1/security/audit/", {}, format="json").status_code in (403, 405)
    nobody = APIClient()
    nobody.force_login(person(org, username="plain"))
    assert nobody.get("/api/v1/security/audit/").json()["results"] == []


def _rehash_without_the_key(cursor, key_guess: str | None) -> None:
    """What someone with write access to the database and the source code, but not the audit key,
    can do: recompute every hash, unkeyed or with a key of their own."""
    import hashlib
    import hmac

    head = AuditChainHead.objects.get(pk=1)
    prev = head.anchor_hash
    for entry in AuditEntry.objects.order_by("id"):
        canonical = audit._canonical(entry)
        message = f"{prev}\n{canonical}".encode()
        new = (hashlib.sha256(message) if key_guess is None
               else hmac.new(key_guess.encode(), message, hashlib.sha256)).hexdigest()
        cursor.execute("UPDATE security_auditentry SET prev_hash=%s, hash=%s WHERE id=%s", [prev, new, entry.id])
        prev = new
    cursor.execute("UPDATE security_auditchainhead SET last_hash=%s WHERE id=1", [prev])


@pytest.mark.django_db
@pytest.mark.parametrize("key_guess", [None, "a-guessed-key"])
def test_a_row_rewritten_and_the_chain_rehashed_without_the_key_is_detected(settings, key_guess):
    settings.AUDIT_KEY = "the-installation-key"
    for i in range(4):
        audit.append(action="grant.created", actor_name="mallory" if i == 1 else "alice", target_id=i)
    assert audit.verify().ok
    with connection.cursor() as cursor:
        cursor.execute("UPDATE security_auditentry SET actor_name='alice' WHERE id=2")
        _rehash_without_the_key(cursor, key_guess)
    report = audit.verify()
    assert not report.ok
    assert any("changed" in p for p in report.problems)
    with pytest.raises(CommandError):
        call_command("audit_verify")


@pytest.mark.django_db
def test_the_chain_is_keyed_by_the_audit_key(settings):
    settings.AUDIT_KEY = "key-one"
    audit.append(action="test.made")
    assert audit.verify().ok
    settings.AUDIT_KEY = "key-two"
    assert not audit.verify().ok


@pytest.mark.django_db
def test_without_an_audit_key_one_is_derived_from_the_secret_key(settings):
    settings.AUDIT_KEY = ""
    audit.append(action="test.made")
    assert audit.verify().ok
    settings.SECRET_KEY = "another-installation"
    assert not audit.verify().ok


@pytest.mark.django_db
def test_removing_the_oldest_entries_and_moving_the_anchor_is_detected():
    entries = [audit.append(action="test.made", target_id=i) for i in range(5)]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM security_auditentry WHERE id <= %s", [entries[1].id])
        cursor.execute("UPDATE security_auditchainhead SET anchor_id=%s, anchor_hash=%s WHERE id=1",
                       [entries[1].id, entries[1].hash])
    report = audit.verify()
    assert not report.ok and any("anchor" in p for p in report.problems)


@pytest.mark.django_db
def test_a_retention_purge_signs_its_anchor(settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.AUDIT_RETENTION_DAYS = 30
    for i in range(3):
        audit.append(action="test.made", target_id=i)
    assert audit.purge_expired(now=timezone.now() + timedelta(days=31)) == 3
    head = AuditChainHead.objects.get(pk=1)
    assert head.anchor_id == 3 and head.anchor_mac
    assert audit.verify().ok
    with connection.cursor() as cursor:
        cursor.execute("UPDATE security_auditchainhead SET anchor_mac=%s WHERE id=1", ["0" * 64])
    assert not audit.verify().ok


def _mutating_routes():
    for route, pattern in api_routes():
        actions = getattr(pattern.callback, "actions", None)
        cls = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
        if actions:
            methods = [m for m in actions if m in MUTATING]
        elif cls is not None:
            methods = [m for m in MUTATING if hasattr(cls, m)]
        else:
            methods = []
        for method in methods:
            yield route, pattern, method


CATCH_ALL = ("request.completed", "request.failed")
# Successful changes whose own entry is missing or names no target, because the owning app's service
# announces no event (or one without the changed object). Each is a defect of that service, listed
# here with why so the walk stays green for everything else; remove a line once its service emits.
SERVICE_EMITS_NOTHING: dict[str, str] = {}


def _route_name(method: str, route: str) -> str:
    return f"{method.upper()} " + GROUP_RE.sub(lambda m: f"<{m.group('name')}>", route).rstrip("$").lstrip("^")


def _object_id(route: str, pattern, org, made) -> tuple[str, str]:
    """(url, id of the object the url names or "") for a route, so the request reaches its service."""
    if not GROUP_RE.search(route):
        return url_of(route), ""
    cls = getattr(pattern.callback, "cls", None)
    model = getattr(getattr(cls, "queryset", None), "model", None)
    if model is not None:
        from tests.test_tenant_isolation import objects_of

        pk = objects_of(model, org, made)[0].pk
        return url_of(route, pk), str(pk)
    missing = uuid.uuid4()
    return url_of(route, missing), str(missing)


@pytest.mark.django_db(transaction=True)
def test_every_mutating_endpoint_writes_an_audit_entry():
    """For each mutating route: a caller without a session, a member without permission, and a
    platform administrator sending an empty body. A refusal (401/403) leaves ``access.denied`` naming
    the caller; a successful change leaves the service's own entry naming the administrator, the
    action and the changed object (the middleware's catch-all ``request.completed`` does not count);
    anything else leaves at least the catch-all entry."""
    from tests.test_tenant_isolation import _default_objects

    org = f.org("Walk")
    made = _default_objects(org, "w")
    for obj in isolation_objects(org):
        made.setdefault(obj._meta.label_lower, []).append(obj)
    admin = person(org, username="walk-admin", is_superuser=True)
    member = person(org, username="walk-member")
    callers = [("anonymous", APIClient(), ""), ("member", APIClient(), str(member.pk)),
               ("admin", APIClient(), str(admin.pk))]
    callers[1][1].force_login(member)
    callers[2][1].force_login(admin)
    checked = succeeded = 0
    problems = []
    for route, pattern, method in _mutating_routes():
        url, object_id = _object_id(route, pattern, org, made)
        for who, client, actor_id in callers:
            request_id = uuid.uuid4().hex
            response = getattr(client, method)(url, data={}, format="json", HTTP_X_REQUEST_ID=request_id)
            assert response.status_code < 500, f"{method.upper()} {url} as {who}: {response.status_code}"
            if response.status_code == 404:
                continue  # nothing there for this caller: no change was attempted on anything
            checked += 1
            call = f"{method.upper()} {route} as {who} -> {response.status_code}"
            entries = list(AuditEntry.objects.filter(request_id=request_id))
            if not entries:
                problems.append(f"{call}: no audit entry")
            elif response.status_code in (401, 403):
                if not any(e.action == "access.denied" and e.result == "denied" and e.actor_id == actor_id
                           for e in entries):
                    problems.append(f"{call}: no access.denied entry naming the caller")
            elif response.status_code < 300:
                succeeded += 1
                own = [e for e in entries if e.action not in CATCH_ALL and e.result == "success"]
                if _route_name(method, route) in SERVICE_EMITS_NOTHING:
                    continue
                if not own:
                    problems.append(f"{call}: only the catch-all entry ({entries[0].action}), the service "
                                    "announced no change")
                elif not any(e.actor_id == actor_id and e.target_type and e.target_id for e in own):
                    problems.append(f"{call}: the change's entry does not name the actor and the target")
                elif object_id and not any(e.target_id == object_id for e in own) and not any(
                        object_id in json.dumps(e.detail) for e in own):
                    problems.append(f"{call}: the change's entry names another target than {object_id}")
    assert not problems, "mutating requests not audited as they should be:\n" + "\n".join(problems)
    assert checked >= 60 and succeeded >= 5
    assert audit.verify().ok


@pytest.mark.django_db
def test_the_upgrade_rekeys_an_intact_unkeyed_chain_and_leaves_a_changed_entry_reported():
    import importlib
    from types import SimpleNamespace

    from django.apps import apps as registry

    rekey = importlib.import_module("apps.security.migrations.0004_audit_chain_keyed").rekey
    for i in range(4):
        audit.append(action="test.made", target_id=i)
    with connection.cursor() as cursor:
        _rehash_without_the_key(cursor, None)  # the chain as the unkeyed version wrote it
    assert not audit.verify().ok
    rekey(registry, SimpleNamespace(connection=connection))
    assert audit.verify().ok
    with connection.cursor() as cursor:
        _rehash_without_the_key(cursor, None)
        cursor.execute("UPDATE security_auditentry SET action='test.changed' WHERE id=3")
    rekey(registry, SimpleNamespace(connection=connection))
    report = audit.verify()
    changed = [p.split(":")[0] for p in report.problems if "changed" in p]
    assert changed[0] == "entry #3" and "entry #1" not in changed and "entry #2" not in changed


@pytest.mark.django_db
def test_the_entries_of_events_emitted_together_are_chained_with_one_lock_and_one_insert():
    from django.test.utils import CaptureQueriesContext

    audit.append(action="test.made")
    events = [(None, f"operation:op-{n}", {"status": "pending", "kind": "test"}) for n in range(20)]
    events.insert(5, (None, "operation:op-x", {"status": "running"}))  # a progress tick: no entry
    with CaptureQueriesContext(connection) as statements:
        audit.record_events(events)
    writes = [q["sql"] for q in statements.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(writes) == 3, writes  # the head locked, the entries inserted, the head moved
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.target_id for e in entries[1:]] == [f"op-{n}" for n in range(20)]
    assert AuditChainHead.objects.get(pk=1).last_id == 21
    assert audit.verify().ok
