"""The audit log: ``append`` (the only writer), the keyed hash chain, ``verify`` and retention.

Every entry's ``hash`` is HMAC-SHA256, under the audit key, of the previous entry's hash and the
entry's own fields in a canonical JSON form. Appends lock the chain head row (``select_for_update``;
SQLite serialises writers anyway), so concurrent appends never fork the chain and ids stay gap-free.

The audit key comes from ``UNIMANAGER_AUDIT_KEY``; without it (the embedded mode) it is derived
from the secret key, which lives in the environment or in the secret key file, never in the
database. A retention purge moves the chain's anchor (where verification starts) and signs it with
the same key.

Threat model. Someone who can write to the database but does not hold the key (a stolen database
password, a restored backup, an SQL injection) cannot, without ``audit_verify`` noticing:

* change any field of a kept entry, even if they recompute every hash after it;
* remove, insert or reorder entries in the middle of the chain;
* remove the oldest entries and move the anchor past them (a forged purge: the anchor is signed).

What the chain cannot show:

* the newest entries removed together with the head moved back to an earlier entry: every value
  left is authentic. Keep the head that ``audit_verify`` prints somewhere outside the database and
  compare it to catch this;
* anything done by someone holding the key (the application's own processes hold it), who can
  rewrite the whole chain;
* the PostgreSQL trigger (migration 0004) refuses updates, and deletes of entries past the anchor,
  to every session; it is a guard against mistakes and casual SQL, not against the table's owner,
  who can drop it or TRUNCATE. Detection rests on the key.

Where entries come from:

* ``record_event``: subscribed to every committed event (``apps.core.events``), so every change
  made through a service is logged with the actor, client address and request id of the request
  that made it.
* the sign-in views (success, failure, lockout, MFA),
* ``AuditMiddleware``: every mutating request that was refused (401/403 ``denied``) or failed
  (other 4xx ``failure``) without a more specific entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.middleware import client_ip_var, request_id_var
from apps.security.models import AuditChainHead, AuditEntry

logger = logging.getLogger(__name__)
GENESIS = "0" * 64
# The HTTP request being served, so entries written on its behalf name its actor.
current_request_var: ContextVar[Any] = ContextVar("audit_request", default=None)
_FIELDS = ("id", "created_at", "organization_id", "actor_id", "actor_name", "action", "target_type", "target_id",
           "target_label", "result", "source_ip", "request_id", "detail")


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _canonical(entry: AuditEntry) -> str:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(entry, name)
        if name == "created_at":
            value = value.astimezone(UTC).isoformat(timespec="microseconds")
        elif name == "organization_id":
            value = str(value) if value else ""
        values[name] = value
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _key() -> bytes:
    if settings.AUDIT_KEY:
        return settings.AUDIT_KEY.encode()
    return hashlib.sha256(b"unimanager-audit-v1:" + settings.SECRET_KEY.encode()).digest()


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hmac.new(_key(), f"{prev_hash}\n{_canonical(entry)}".encode(), hashlib.sha256).hexdigest()


def anchor_mac(anchor_id: int, anchor_hash: str) -> str:
    return hmac.new(_key(), f"anchor\n{anchor_id}\n{anchor_hash}".encode(), hashlib.sha256).hexdigest()


def _anchor_is_signed(head: AuditChainHead) -> bool:
    if head.anchor_id == 0 and head.anchor_hash == GENESIS:
        return True
    return hmac.compare_digest(head.anchor_mac or "", anchor_mac(head.anchor_id, head.anchor_hash))


def current_actor() -> tuple[str, str, Any]:
    """(actor id, actor name, the user) of the request being served; system work has no actor."""
    request = current_request_var.get()
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.pk), user.get_username(), user
    token = getattr(request, "display_token", None) if request is not None else None
    if token is not None:
        return f"display-token:{token.pk}", f"display token {token.name}"[:150], None
    return "", "", None


def append(*, action: str, result: str = AuditEntry.Result.SUCCESS, organization_id: Any = None,
           target_type: str = "", target_id: Any = "", target_label: str = "", detail: dict[str, Any] | None = None,
           actor: Any = None, actor_name: str | None = None) -> AuditEntry:
    """Add one entry at the end of the chain, in its own transaction."""
    return append_many([dict(action=action, result=result, organization_id=organization_id, target_type=target_type,
                             target_id=target_id, target_label=target_label, detail=detail, actor=actor,
                             actor_name=actor_name)])[0]


def append_many(entries: list[dict[str, Any]]) -> list[AuditEntry]:
    """Add entries (each the keyword arguments of ``append``) at the end of the chain in this order, in one
    transaction: one lock of the chain head, one insert, one head update for all of them."""
    if not entries:
        return []
    request = current_request_var.get()
    if request is not None:
        request.audit_entries = getattr(request, "audit_entries", 0) + len(entries)
    written: list[AuditEntry] = []
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        last_id, last_hash = head.last_id, head.last_hash
        for fields in entries:
            entry = _entry(last_id + 1, last_hash, **fields)
            entry.hash = entry_hash(last_hash, entry)
            last_id, last_hash = entry.id, entry.hash
            written.append(entry)
        AuditEntry.objects.bulk_create(written)
        AuditChainHead.objects.filter(pk=1).update(last_id=last_id, last_hash=last_hash)
    return written


def _entry(entry_id: int, prev_hash: str, *, action: str, result: str = AuditEntry.Result.SUCCESS,
           organization_id: Any = None, target_type: str = "", target_id: Any = "", target_label: str = "",
           detail: dict[str, Any] | None = None, actor: Any = None, actor_name: str | None = None) -> AuditEntry:
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_id, name = str(actor.pk), actor.get_username()
    else:
        actor_id, name, _user = current_actor()
    if actor_name is not None:
        name = actor_name
    return AuditEntry(
        id=entry_id, created_at=timezone.now(),
        organization_id=uuid.UUID(str(organization_id)) if organization_id else None,
        actor_id=actor_id[:64], actor_name=(name or "")[:150], action=action[:64], target_type=target_type[:64],
        target_id=str(target_id or "")[:64], target_label=str(target_label or "")[:255], result=result,
        source_ip=(client_ip_var.get() or "")[:45], request_id=(request_id_var.get() or "")[:64],
        detail=_plain(detail or {}), prev_hash=prev_hash,
    )


# -- entries from events -----------------------------------------------------------------------

def record_event(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    """One committed event's entry (``record_events``)."""
    record_events([(org_id, topic, payload)])


def record_events(events: list[tuple[Any, str, dict[str, Any]]]) -> None:
    """Subscriber of every committed event: one entry per change made through a service, those of the events
    a transaction emitted together appended together.

    Operations announce their state rather than an event: their creation, cancellation and end are
    logged, their progress ticks are not."""
    entries = [entry for org_id, topic, payload in events for entry in [_event_entry(org_id, topic, payload)]
               if entry is not None]
    append_many(entries)


def _event_entry(org_id: Any, topic: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    kind, _, key = topic.partition(":")
    if not isinstance(payload, dict):
        return None
    if kind == "operation" and "event" not in payload:
        if payload.get("status") == "running":
            return None
        payload = {"event": str(payload.get("status") or "changed"), "name": payload.get("kind", ""), **payload}
    event = str(payload.get("event") or "changed")
    detail = {k: v for k, v in payload.items() if k != "event"}
    label = payload.get("name") or payload.get("username") or payload.get("label") or ""
    org = org_id or _org_of_payload(payload)
    return {"action": f"{kind}.{event}", "organization_id": org, "target_type": kind, "target_id": key,
            "target_label": str(label), "detail": detail}


def _org_of_payload(payload: dict[str, Any]) -> Any:
    value = payload.get("organization")
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


# -- verification ------------------------------------------------------------------------------

@dataclass
class VerifyReport:
    ok: bool
    checked: int
    problems: list[str]
    head_id: int = 0
    head_hash: str = GENESIS


def _rows() -> Iterator[AuditEntry]:
    return AuditEntry.objects.order_by("id").iterator(chunk_size=2000)


def verify(limit_problems: int = 20) -> VerifyReport:
    """Walk the chain from its signed anchor: ids without gaps, each ``prev_hash`` the hash before
    it, each ``hash`` recomputed under the audit key from the row as stored, and the head pointing at
    the last row."""
    head = AuditChainHead.objects.filter(pk=1).first() or AuditChainHead(pk=1)
    problems: list[str] = []
    if not _anchor_is_signed(head):
        problems.append(f"the anchor (#{head.anchor_id}) was not set by a retention purge: entries before it "
                        "were removed behind the application's back")
    expected_id, expected_prev = head.anchor_id + 1, head.anchor_hash
    checked = 0
    for entry in _rows():
        checked += 1
        if entry.id != expected_id:
            problems.append(f"entry #{expected_id} is missing (found #{entry.id} next)")
        if entry.prev_hash != expected_prev:
            problems.append(f"entry #{entry.id}: does not follow the entry before it")
        if entry_hash(entry.prev_hash, entry) != entry.hash:
            problems.append(f"entry #{entry.id}: its content was changed after it was written")
        expected_id, expected_prev = entry.id + 1, entry.hash
        if len(problems) >= limit_problems:
            break
    else:
        if head.last_id != expected_id - 1 or (checked and head.last_hash != expected_prev):
            problems.append(f"the chain ends at #{expected_id - 1} but the head says #{head.last_id}")
    return VerifyReport(not problems, checked, problems, head.last_id, head.last_hash)


# -- retention ---------------------------------------------------------------------------------

def purge_expired(*, now=None) -> int:
    """Remove entries older than ``UNIMANAGER_AUDIT_RETENTION_DAYS`` from the start of the chain.

    The head keeps the hash of the last removed entry as the new anchor, signed with the audit key,
    so the rest still verifies. This is the only deletion of audit rows: the PostgreSQL trigger lets
    through deletes of entries at or before the anchor only, so the anchor moves first."""
    days = settings.AUDIT_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        last_old = AuditEntry.objects.filter(created_at__lt=cutoff).order_by("-id").first()
        if last_old is None:
            return 0
        AuditChainHead.objects.filter(pk=1).update(anchor_id=last_old.id, anchor_hash=last_old.hash,
                                                   anchor_mac=anchor_mac(last_old.id, last_old.hash))
        doomed = AuditEntry.objects.filter(id__lte=last_old.id)
        removed = doomed._raw_delete(doomed.db)
    append(action="audit.purged", detail={"removed": removed, "through": last_old.id, "retention_days": days})
    return removed
