"""Writes of the alerts app: rules, handling of alerts, silences, contact points, routes, templates,
the inbox, alerts raised by events, and alerts sent from outside (Alertmanager's formats).

Every change an actor makes is checked with ``require`` against the object's organization first;
bad input is a 400 naming the field and changes nothing.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.alerts import selectors, statements, templating
from apps.alerts.matchers import LABEL_RE, fingerprint, validate_matchers
from apps.alerts.models import (
    Alert,
    AlertHistory,
    AlertRule,
    ContactPoint,
    InboxMessage,
    MessageTemplate,
    NotificationRoute,
    Severity,
    Silence,
)
from apps.alerts.rules import Change, record_changes, validate_rule
from apps.clouds.secrets import decrypt_json, encrypt_json
from apps.core.errors import Conflict, InvalidInput
from apps.core.events import After, emit
from apps.core.scoping import require

if TYPE_CHECKING:
    from apps.alerts.notify import DispatchReads

RULE_WRITE = "alerts:rule:write"
HANDLE = "alerts:alert:operate"
SILENCE_WRITE = "alerts:silence:write"
CONTACT_WRITE = "alerts:contact:write"
INGEST = "alerts:alert:ingest"
MAX_SILENCE = timedelta(days=90)


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", detail={field: [message]})


def alerts_announce(org_id: Any, event: str, *, streamed: dict[str, dict[str, Any]] | None = None,
                    after: After | None = None, sent: Callable[[], Any] | None = None, **data: Any) -> None:
    """Tell the organization's alert lists and header badges (and platform-wide readers) something changed.
    ``streamed``: fields of each stream's frame alone, such as the badge's new counts of that stream
    (``selectors.stream_counts``), so its badges need not read them. ``after`` and ``sent``: as ``emit``'s."""
    emit(org_id, f"alerts:{org_id}", {"event": event, **data}, also=[(None, "alerts:platform")], streamed=streamed,
         after=after, sent=sent)


def object_changed(org_id: Any, topic_kind: str, obj_id: Any, event: str, name: str = "", **data: Any) -> None:
    """Announce a change of one object on its own topic (``<topic_kind>:<id>``: the audit log names it), and
    on the organization's alert streams so lists and badges follow."""
    emit(org_id, f"{topic_kind}:{obj_id}", {"event": event, "id": str(obj_id), "name": name, **data},
         also=[(org_id, f"alerts:{org_id}"), (None, "alerts:platform")])


# -- rules -------------------------------------------------------------------------------------------------


@transaction.atomic
def rule_create(*, actor: Any, organization: Any, data: dict[str, Any]) -> AlertRule:
    require(actor, RULE_WRITE, AlertRule(organization=organization))
    fields = validate_rule(data)
    rule = AlertRule.objects.create(organization=organization, created_by=actor if getattr(
        actor, "is_authenticated", False) else None, **fields)
    object_changed(rule.organization_id, "alert_rule", rule.id, "created", rule.name)
    return rule


@transaction.atomic
def rule_update(*, actor: Any, rule: AlertRule, data: dict[str, Any]) -> AlertRule:
    require(actor, RULE_WRITE, rule)
    fields = validate_rule(data, current=rule)
    for k, v in fields.items():
        setattr(rule, k, v)
    rule.save()
    if not rule.enabled:
        _close_rule_alerts(rule, f"Rule {rule.name} disabled", actor)
    object_changed(rule.organization_id, "alert_rule", rule.id, "updated", rule.name)
    return rule


@transaction.atomic
def rule_delete(*, actor: Any, rule: AlertRule) -> None:
    require(actor, RULE_WRITE, rule)
    org_id, rule_id, name = rule.organization_id, rule.id, rule.name
    rule.delete()
    object_changed(org_id, "alert_rule", rule_id, "deleted", name)


def _close_rule_alerts(rule: AlertRule, reason: str, actor: Any) -> None:
    now = timezone.now()
    changes = []
    for a in Alert.objects.filter(rule=rule, state__in=[Alert.State.FIRING, Alert.State.PENDING]):
        changes.append(Change(a, a.state, Alert.State.RESOLVED if a.state == Alert.State.FIRING else Alert.State.OK,
                              reason))
        a.state = changes[-1].to_state
        a.state_changed_at, a.ends_at = now, now
        a.save(update_fields=["state", "state_changed_at", "ends_at"])
    record_changes(changes, now, actor)


# -- handling ----------------------------------------------------------------------------------------------


def _note(alert: Alert, kind: str, reason: str, actor: Any, now: datetime | None = None) -> None:
    AlertHistory.objects.create(alert=alert, at=now or timezone.now(), kind=kind, reason=reason[:1000],
                                actor=actor if getattr(actor, "is_authenticated", False) else None)


@transaction.atomic
def alert_acknowledge(*, actor: Any, alert: Alert, comment: str = "") -> Alert:
    """Someone is on it: stops escalation. Only a pending or firing alert can be acknowledged."""
    require(actor, HANDLE, alert)
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.state not in (Alert.State.FIRING, Alert.State.PENDING):
        raise Conflict(f"A {alert.state} alert cannot be acknowledged.", detail={"state": [alert.state]})
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = timezone.now(), actor
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
        _note(alert, AlertHistory.Kind.ACKNOWLEDGE, f"Acknowledged by {actor}" + (f": {comment}" if comment else ""),
              actor)
        object_changed(alert.organization_id, "alert", alert.id, "acknowledged", alert.name)
    return alert


@transaction.atomic
def alert_assign(*, actor: Any, alert: Alert, assignee: Any) -> Alert:
    """Give the alert to a person who may handle it (or to no one: ``assignee=None``)."""
    require(actor, HANDLE, alert)
    if assignee is not None:
        from apps.core.scoping import authorize

        if not authorize(assignee, HANDLE, alert):
            raise _bad("assignee", "This person may not handle this alert.")
    alert.assignee = assignee
    alert.save(update_fields=["assignee"])
    _note(alert, AlertHistory.Kind.ASSIGN, f"Assigned to {assignee}" if assignee else "Unassigned", actor)
    object_changed(alert.organization_id, "alert", alert.id, "assigned", alert.name,
                   assignee=str(getattr(assignee, "pk", "") or ""))
    return alert


@transaction.atomic
def alert_comment(*, actor: Any, alert: Alert, text: str) -> AlertHistory:
    require(actor, HANDLE, alert)
    text = (text or "").strip()
    if not text or len(text) > 1000:
        raise _bad("text", "A comment of 1 to 1000 characters.")
    entry = AlertHistory.objects.create(alert=alert, at=timezone.now(), kind=AlertHistory.Kind.COMMENT, reason=text,
                                        actor=actor if getattr(actor, "is_authenticated", False) else None)
    object_changed(alert.organization_id, "alert", alert.id, "commented", alert.name)
    return entry


@transaction.atomic
def alert_resolve(*, actor: Any, alert: Alert, reason: str = "", now: datetime | None = None) -> Alert:
    """Resolve by hand an alert no rule will resolve (an event, or an alert sent from outside); a
    threshold rule's alert resolves when its condition stops holding."""
    require(actor, HANDLE, alert)
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.source == Alert.Source.RULE:
        raise Conflict("A threshold rule's alert resolves by itself when its condition stops holding.",
                       detail={"source": [alert.source]})
    if alert.state != Alert.State.FIRING:
        raise Conflict(f"A {alert.state} alert cannot be resolved.", detail={"state": [alert.state]})
    _move(alert, Alert.State.RESOLVED, f"Resolved by {actor}" + (f": {reason}" if reason else ""), now, actor)
    return alert


def _move(alert: Alert, to: str, reason: str, now: datetime | None = None, actor: Any = None) -> None:
    now = now or timezone.now()
    change = Change(alert, alert.state, to, reason)
    alert.state, alert.state_changed_at = to, now
    if to == Alert.State.FIRING:
        alert.starts_at, alert.ends_at = now, None
        alert.acknowledged_at = alert.acknowledged_by = alert.escalated_at = None
    else:
        alert.ends_at = now
    alert.save()
    record_changes([change], now, actor if getattr(actor, "is_authenticated", False) else None)
    object_changed(alert.organization_id, "alert", alert.id, to, alert.name, severity=alert.severity)


# -- alerts from events and from outside --------------------------------------------------------------------


def event_alert_fire(*, rule: AlertRule, key: str, labels: dict[str, str], summary: str,
                     now: datetime | None = None, platform_id: Any = None, resource_id: Any = None) -> Alert:
    """Fire (or keep firing) the alert of event rule ``rule`` for subject ``key``."""
    now = now or timezone.now()
    fp = fingerprint({"rule": rule.id, "key": key})
    full = {"alertname": rule.name, "rule": rule.id, "severity": rule.severity, "event": rule.event_type,
            "organization": str(rule.organization_id), **labels, **(rule.labels or {})}
    with transaction.atomic():
        alert, created = Alert.objects.select_for_update().get_or_create(
            organization_id=rule.organization_id, fingerprint=fp,
            defaults={"rule": rule, "source": Alert.Source.EVENT, "name": rule.name, "labels": full,
                      "annotations": {"summary": summary}, "severity": rule.severity, "state": Alert.State.OK,
                      "state_changed_at": now, "platform_id": platform_id, "resource_id": resource_id})
        if alert.state != Alert.State.FIRING:
            alert.labels, alert.annotations = full, {"summary": summary}
            _move(alert, Alert.State.FIRING, summary, now)
    return alert


def event_alert_resolve(*, rule: AlertRule, key: str, reason: str, now: datetime | None = None) -> Alert | None:
    fp = fingerprint({"rule": rule.id, "key": key})
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(organization_id=rule.organization_id, fingerprint=fp,
                                                         state=Alert.State.FIRING).first()
        if alert is not None:
            _move(alert, Alert.State.RESOLVED, reason, now)
    return alert


def _parse_time(value: Any, field: str) -> datetime | None:
    if value in (None, "", "0001-01-01T00:00:00Z"):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise _bad(field, "An RFC 3339 time.")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# How long the alert lists and badges are told later than the notifications' first tries, at most.
ANNOUNCE_AFTER_SENDS_SECONDS = 0.05


def external_alerts_receive(*, actor: Any, organization: Any, alerts: Any, nonce: Any = None) -> list[Alert]:
    """Ingest alerts sent from outside and notify their groups, in one transaction (the alerts, their
    history, their groups and each notification holding its first try, written with one insert per
    table). The notifications are handed to sender threads at commit; the alert lists and badges
    are told once those first tries are out (or after ``ANNOUNCE_AFTER_SENDS_SECONDS``), with each
    stream's new counts (read in the commit's round trip). The announcement's streams and its
    subscribers write and compute, and a notification should not share its moment with them (told
    at commit instead, the webhook came 1.4-2.5 ms later in the distributed mode, and the event no sooner).

    ``nonce``: the signed request's ``NonceClaim``, recorded first in this transaction's first round trip
    (a refused one rolls it back); first of all in the caller's transaction when there is one."""
    from apps.alerts import sender
    from apps.alerts.notify import notifications_dispatch

    history: list[AlertHistory] = []
    batch = statements.Batch()
    outer = transaction.get_connection().in_atomic_block
    # The first tries' outcomes are written once the lists' frames are out (``sender.outcomes_held``), not
    # during them; the subscribers' writes (audit log, dashboards) come after.
    with sender.outcomes_held() as release:
        with transaction.atomic():
            if outer and nonce is not None:
                nonce.record()  # before any write, in the caller's transaction
            done, changed, reads = _ingest(actor=actor, organization=organization, alerts=alerts, now=None,
                                           history=history, dispatch=True, nonce=None if outer else nonce)
            deliveries = notifications_dispatch(touched=done, history=history, reads=reads, batch=batch)
            for entry in history:
                batch.insert(entry)
            # The last writes of this transaction when it is not the caller's, and the badges' new counts.
            counted = batch.flush(commit=not outer, reads=[selectors.stream_counts_read(organization.pk)] if changed
                                  else [])
            streamed = selectors.stream_counts_from(organization.pk, counted[0]) if changed else None
            if changed and outer:  # at the caller's commit, with the sends
                alerts_announce(organization.pk, "ingested", streamed=streamed, count=changed)
            elif changed:
                # Told at commit right after the first tries were begun (their hooks come first): the frames wait
                # for those tries, and the thread that writes the last request hands them over.
                alerts_announce(organization.pk, "ingested", streamed=streamed, count=changed, sent=release,
                                after=After([d.handed for d in deliveries], ANNOUNCE_AFTER_SENDS_SECONDS))
    return done


def external_alerts_ingest(*, actor: Any, organization: Any, alerts: Any, now: datetime | None = None) -> list[Alert]:
    """Alerts in Alertmanager's form (``labels``, ``annotations``, ``startsAt``, ``endsAt``), from its
    ``POST /api/v2/alerts`` body or the ``alerts`` of its webhook. An alert whose ``endsAt`` has
    passed (or whose ``status`` is ``resolved``) resolves; otherwise it fires. The same labels are the
    same alert, so resending is idempotent."""
    with transaction.atomic():
        done, changed, _ = _ingest(actor=actor, organization=organization, alerts=alerts, now=now)
        if changed:
            alerts_announce(organization.pk, "ingested", streamed=selectors.stream_counts(organization.pk),
                            count=changed)
    return done


def _ingest(*, actor: Any, organization: Any, alerts: Any, now: datetime | None,
            history: list[AlertHistory] | None = None, dispatch: bool = False, nonce: Any = None
            ) -> tuple[list[Alert], int, DispatchReads | None]:
    """``history``: the state changes' entries are added to it for the caller to write, else written here.
    ``dispatch``: the reads of their notifications' dispatch are made too, in the same round trip as
    the alerts' insert and read, and returned. ``nonce``: a ``NonceClaim`` whose statement goes first in that
    round trip.

    New alerts are inserted first (a row that exists is left alone: ``ON CONFLICT DO NOTHING``), then
    every alert of the request is read and locked: one round trip for both on PostgreSQL (see
    ``statements``), and an alert sent again is read as it stands, not inserted twice."""
    require(actor, INGEST, Alert(organization=organization))
    now = now or timezone.now()
    if not isinstance(alerts, list) or not alerts or len(alerts) > 10_000:
        raise _bad("alerts", "A list of 1 to 10,000 alerts.")
    parsed = []
    for i, item in enumerate(alerts):
        where = f"alerts[{i}]"
        if not isinstance(item, dict):
            raise _bad(where, "An object.")
        labels = item.get("labels")
        if not isinstance(labels, dict) or not labels or not isinstance(labels.get("alertname"), str):
            raise _bad(f"{where}.labels", "An object of labels with an alertname.")
        for k, v in labels.items():
            if not isinstance(k, str) or not LABEL_RE.match(k) or not isinstance(v, str):
                raise _bad(f"{where}.labels", f"Label {k!r} is not a label name with a text value.")
        annotations = item.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise _bad(f"{where}.annotations", "An object.")
        starts = _parse_time(item.get("startsAt"), f"{where}.startsAt") or now
        ends = _parse_time(item.get("endsAt"), f"{where}.endsAt")
        resolved = item.get("status") == "resolved" or (ends is not None and ends <= now)
        severity = labels.get("severity") if labels.get("severity") in Severity.values else Severity.WARNING
        parsed.append((labels, {str(k): str(v) for k, v in annotations.items()}, starts, ends, resolved, severity))
    from apps.alerts.notify import dispatch_reads

    out = []
    with transaction.atomic(savepoint=False):  # the caller's transaction: no savepoint needed
        fps = {fingerprint({"external": labels}): (labels, ann, s, e, r, sev) for labels, ann, s, e, r, sev in parsed}
        # What is inserted if it does not exist yet (a resolved alert never seen is not).
        fresh = {fp: Alert(organization=organization, source=Alert.Source.EXTERNAL, fingerprint=fp,
                           name=labels["alertname"][:200], labels=labels, annotations=ann, severity=severity,
                           state=Alert.State.FIRING, starts_at=starts, state_changed_at=now)
                 for fp, (labels, ann, starts, ends, resolved, severity) in fps.items() if not resolved}
        org, quote = Alert._meta.get_field("organization"), connection.ops.quote_name
        where = (f"{quote(org.column)} = %s AND {quote(Alert._meta.get_field('fingerprint').column)} IN "
                 f"({', '.join(['%s'] * len(fps))})")
        read = (statements.select(Alert, where, lock=True), [org.get_db_prep_value(organization.pk, connection), *fps])
        writes = [*statements.insert(Alert, list(fresh.values()), ignore_conflicts=True), read]
        reads: DispatchReads | None = None
        if dispatch:
            reads = dispatch_reads(organization_id=organization.pk, now=now, alerts=[
                fresh.get(fp) or Alert(organization=organization, labels=labels)
                for fp, (labels, *_) in fps.items()])
        # The request's nonce first: a copy of the request racing this one waits for it here, before any lock.
        claimed = [nonce.statement()] if nonce is not None else []
        results = statements.together(claimed + writes + (reads.statements if reads else []))
        if nonce is not None:
            nonce.recorded(results.pop(0))
        existing = {a.fingerprint: a for a in statements.instances(Alert, results[len(writes) - 1] or [])}
        if reads is not None:
            reads.read(results[len(writes):])
        new, changes = [], []
        for fp, (_, ann, starts, ends, resolved, _) in fps.items():
            alert = existing.get(fp)
            candidate = fresh.get(fp)
            if candidate is not None and (alert is None or alert.pk == candidate.pk):
                if alert is None:
                    new.append(candidate)  # the insert left it out: written again below, where its error shows
                else:
                    statements.saved([candidate])  # inserted just now
                alert = candidate
                changes.append(Change(alert, "", Alert.State.FIRING, "Received firing from outside"))
            elif alert is None:
                continue
            elif resolved and alert.state == Alert.State.FIRING:
                changes.append(Change(alert, alert.state, Alert.State.RESOLVED, "Received resolved from outside"))
                alert.state, alert.ends_at, alert.state_changed_at = Alert.State.RESOLVED, ends or now, now
                alert.save(update_fields=["state", "ends_at", "state_changed_at"])
            elif not resolved and alert.state != Alert.State.FIRING:
                changes.append(Change(alert, alert.state, Alert.State.FIRING, "Received firing from outside"))
                alert.state, alert.starts_at, alert.ends_at, alert.state_changed_at = (
                    Alert.State.FIRING, starts, None, now)
                alert.acknowledged_at = alert.acknowledged_by = alert.escalated_at = None
                alert.annotations = ann
                alert.save(update_fields=["state", "starts_at", "ends_at", "state_changed_at", "annotations",
                                          "acknowledged_at", "acknowledged_by", "escalated_at"])
            out.append(alert)
        Alert.objects.bulk_create(new, batch_size=1000)
        if history is None:
            record_changes(changes, now)
        else:
            history += [AlertHistory(alert=c.alert, at=now, kind=AlertHistory.Kind.STATE, from_state=c.from_state,
                                     to_state=c.to_state, reason=c.reason[:1000]) for c in changes]
    return out, len(changes), reads


# -- silences ----------------------------------------------------------------------------------------------


@transaction.atomic
def silence_create(*, actor: Any, organization: Any, matchers: Any, starts_at: datetime | None,
                   ends_at: datetime, comment: str = "", now: datetime | None = None) -> Silence:
    require(actor, SILENCE_WRITE, Silence(organization=organization))
    now = now or timezone.now()
    clean = validate_matchers(matchers, required=True)
    starts_at = starts_at or now
    if ends_at <= starts_at or ends_at <= now:
        raise _bad("ends_at", "Must be after the start and in the future.")
    if ends_at - starts_at > MAX_SILENCE:
        raise _bad("ends_at", "A silence lasts at most 90 days.")
    silence = Silence.objects.create(organization=organization, matchers=clean, starts_at=starts_at, ends_at=ends_at,
                                     comment=(comment or "")[:500],
                                     created_by=actor if getattr(actor, "is_authenticated", False) else None)
    from apps.alerts.notify import mute_org

    mute_org(organization.pk, now=now)
    object_changed(organization.pk, "silence", silence.id, "created", silence.comment)
    return silence


@transaction.atomic
def silence_expire(*, actor: Any, silence: Silence, now: datetime | None = None) -> Silence:
    require(actor, SILENCE_WRITE, silence)
    now = now or timezone.now()
    if silence.ends_at <= now:
        raise Conflict("The silence has already ended.", detail={"ends_at": [silence.ends_at.isoformat()]})
    silence.ends_at = now
    silence.save(update_fields=["ends_at"])
    from apps.alerts.notify import mute_org

    mute_org(silence.organization_id, now=now)
    object_changed(silence.organization_id, "silence", silence.id, "expired", silence.comment)
    return silence


# -- contact points, routes, templates ---------------------------------------------------------------------

WEBHOOK_KINDS = {"webhook", "dingtalk", "wecom", "feishu", "slack", "teams"}


def _clean_contact(kind: str, config: Any, secrets: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if kind not in ContactPoint.Kind.values:
        raise _bad("kind", f"One of {', '.join(ContactPoint.Kind.values)}.")
    if not isinstance(config, dict):
        raise _bad("config", "An object.")
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        raise _bad("secrets", "An object of text values.")
    if kind in WEBHOOK_KINDS:
        url = config.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 1000 or any(
                c.isspace() or not c.isprintable() for c in url):
            raise _bad("config.url", "An http(s) URL.")
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018 - it raises for a port that is not a number from 0 to 65535
        except ValueError:
            raise _bad("config.url", "An http(s) URL with a port number from 1 to 65535.") from None
        if not parts.hostname or parts.port == 0:
            raise _bad("config.url", "An http(s) URL with a host (and a port number from 1 to 65535).")
        return {"url": url}, {k: v for k, v in secrets.items() if k == "secret"}
    if kind == "email":
        to = config.get("to")
        if not isinstance(to, list) or not to or not all(isinstance(t, str) and "@" in t for t in to):
            raise _bad("config.to", "A list of email addresses.")
        port = config.get("port", 25)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise _bad("config.port", "A port number.")
        clean = {"to": to[:50], "host": str(config.get("host") or "127.0.0.1")[:255], "port": port,
                 "from": str(config.get("from") or "unimanager@localhost")[:255],
                 "use_tls": bool(config.get("use_tls")), "username": str(config.get("username") or "")[:255]}
        return clean, {k: v for k, v in secrets.items() if k == "password"}
    users = config.get("users") or []
    if not isinstance(users, list) or not all(isinstance(u, str | int) for u in users):
        raise _bad("config.users", "A list of user ids.")
    return {"users": [str(u) for u in users]}, {}


@transaction.atomic
def contact_point_create(*, actor: Any, organization: Any, name: str, kind: str, config: Any,
                         secrets: Any = None) -> ContactPoint:
    require(actor, CONTACT_WRITE, ContactPoint(organization=organization))
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise _bad("name", "A name of 1 to 128 characters.")
    clean, secret_values = _clean_contact(kind, config, secrets or {})
    if kind == "inbox" and clean["users"]:
        from apps.organizations.models import Membership

        members = {str(u) for u in Membership.objects.filter(organization=organization, user_id__in=clean["users"])
                   .values_list("user_id", flat=True)}
        if set(clean["users"]) - members:
            raise _bad("config.users", "Only members of the organization.")
    cp = ContactPoint.objects.create(organization=organization, name=name.strip(), kind=kind, config=clean,
                                     secrets_encrypted=encrypt_json(secret_values) if secret_values else "")
    object_changed(organization.pk, "contact_point", cp.id, "created", cp.name, kind=kind)
    return cp


@transaction.atomic
def contact_point_delete(*, actor: Any, contact_point: ContactPoint) -> None:
    require(actor, CONTACT_WRITE, contact_point)
    org_id, cp_id, name = contact_point.organization_id, contact_point.id, contact_point.name
    contact_point.delete()
    object_changed(org_id, "contact_point", cp_id, "deleted", name)


def contact_point_has_secret(cp: ContactPoint) -> bool:
    return bool(cp.secrets_encrypted and decrypt_json(cp.secrets_encrypted))


@transaction.atomic
def route_create(*, actor: Any, organization: Any, name: str, contact_points: list[ContactPoint],
                 matchers: Any = None, group_by: Any = None, priority: int = 100, group_wait_seconds: int = 0,
                 group_interval_seconds: int = 300, repeat_interval_seconds: int = 14400,
                 escalate_after_seconds: int | None = None, escalate_to: ContactPoint | None = None,
                 continue_matching: bool = False) -> NotificationRoute:
    require(actor, CONTACT_WRITE, NotificationRoute(organization=organization))
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise _bad("name", "A name of 1 to 128 characters.")
    clean = validate_matchers(matchers)
    group_by = group_by if group_by is not None else ["alertname"]
    if not isinstance(group_by, list) or len(group_by) > 10 or not all(
            isinstance(g, str) and LABEL_RE.match(g) for g in group_by):
        raise _bad("group_by", "A list of at most 10 label names.")
    for cp in [*contact_points, *([escalate_to] if escalate_to else [])]:
        if cp.organization_id != organization.pk:
            raise _bad("contact_points", "Contact points of the route's organization only.")
    if repeat_interval_seconds < 60:
        raise _bad("repeat_interval_seconds", "At least 60 seconds.")
    if (escalate_after_seconds is None) != (escalate_to is None):
        raise _bad("escalate_to", "Escalation needs both escalate_after_seconds and escalate_to.")
    route = NotificationRoute.objects.create(
        organization=organization, name=name.strip(), priority=priority, matchers=clean, group_by=group_by,
        group_wait_seconds=group_wait_seconds, group_interval_seconds=group_interval_seconds,
        repeat_interval_seconds=repeat_interval_seconds, escalate_after_seconds=escalate_after_seconds,
        escalate_to=escalate_to, continue_matching=continue_matching)
    route.contact_points.set(contact_points)
    object_changed(organization.pk, "notification_route", route.id, "created", route.name)
    return route


@transaction.atomic
def route_delete(*, actor: Any, route: NotificationRoute) -> None:
    require(actor, CONTACT_WRITE, route)
    org_id, route_id, name = route.organization_id, route.id, route.name
    route.delete()
    object_changed(org_id, "notification_route", route_id, "deleted", name)


@transaction.atomic
def template_save(*, actor: Any, organization: Any, name: str, event_type: str, subject: str, body: str
                  ) -> MessageTemplate:
    """Create or replace the organization's template for ``event_type``, after rendering it against
    sample data in the sandbox: a template that cannot render is a 400 and is not saved."""
    require(actor, CONTACT_WRITE, MessageTemplate(organization=organization))
    if event_type not in MessageTemplate.EventType.values:
        raise _bad("event_type", f"One of {', '.join(MessageTemplate.EventType.values)}.")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise _bad("name", "A name of 1 to 128 characters.")
    if not isinstance(subject, str) or not subject or len(subject) > 500:
        raise _bad("subject", "1 to 500 characters.")
    if not isinstance(body, str) or not body or len(body) > 20_000:
        raise _bad("body", "1 to 20,000 characters.")
    templating.check(subject, body, event_type)
    tmpl, created = MessageTemplate.objects.update_or_create(
        organization=organization, event_type=event_type, defaults={"name": name.strip(), "subject": subject,
                                                                    "body": body})
    object_changed(organization.pk, "message_template", tmpl.id, "created" if created else "updated", tmpl.name,
                   event_type=event_type)
    return tmpl


@transaction.atomic
def template_delete(*, actor: Any, template: MessageTemplate) -> None:
    require(actor, CONTACT_WRITE, template)
    org_id, tmpl_id, name = template.organization_id, template.id, template.name
    template.delete()
    object_changed(org_id, "message_template", tmpl_id, "deleted", name)


# -- inbox -------------------------------------------------------------------------------------------------


def inbox_mark_read(*, actor: Any, message: InboxMessage) -> InboxMessage:
    if message.user_id != getattr(actor, "pk", None):
        raise _bad("message", "Not your message.")
    if message.read_at is None:
        message.read_at = timezone.now()
        message.save(update_fields=["read_at"])
    return message
