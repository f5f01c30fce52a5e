"""Reads of the alerts app, each through ``restrict``: what is missing and what is not yours are the
same ``NotFound``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, Count, ExpressionWrapper, Model, Q, QuerySet

from apps.alerts.models import (
    Alert,
    AlertRule,
    ContactPoint,
    Delivery,
    InboxMessage,
    InspectionRun,
    MessageTemplate,
    NotificationRoute,
    Severity,
    Silence,
)
from apps.core.errors import NotFound
from apps.core.realtime import PLATFORM
from apps.core.scoping import authorize, restrict

ALERT_READ = "alerts:alert:read"
RULE_READ = "alerts:rule:read"
SILENCE_READ = "alerts:silence:read"
CONTACT_READ = "alerts:contact:read"


def alert_list(*, actor: Any, action: str = ALERT_READ) -> QuerySet:
    return restrict(Alert.objects.all(), actor, action)


def rule_list(*, actor: Any, action: str = RULE_READ) -> QuerySet:
    return restrict(AlertRule.objects.all(), actor, action)


def silence_list(*, actor: Any, action: str = SILENCE_READ) -> QuerySet:
    return restrict(Silence.objects.all(), actor, action)


def contact_point_list(*, actor: Any, action: str = CONTACT_READ) -> QuerySet:
    return restrict(ContactPoint.objects.all(), actor, action)


def route_list(*, actor: Any, action: str = CONTACT_READ) -> QuerySet:
    return restrict(NotificationRoute.objects.all(), actor, action)


def template_list(*, actor: Any, action: str = CONTACT_READ) -> QuerySet:
    return restrict(MessageTemplate.objects.all(), actor, action)


def delivery_list(*, actor: Any, action: str = CONTACT_READ) -> QuerySet:
    return restrict(Delivery.objects.all(), actor, action)


def inspection_list(*, actor: Any, action: str = "alerts:inspection:read") -> QuerySet:
    return restrict(InspectionRun.objects.all(), actor, action)


def inbox_list(*, actor: Any) -> QuerySet:
    """A person's own messages, from every organization."""
    if not getattr(actor, "is_authenticated", False):
        return InboxMessage.objects.none()
    return InboxMessage.objects.filter(user=actor)


def _get(qs: QuerySet, pk: Any, what: str) -> Model:
    try:
        row = qs.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        row = None
    if row is None:
        raise NotFound(f"{what} not found.")
    return row


def alert_get(*, actor: Any, alert_id: Any) -> Alert:
    return _get(alert_list(actor=actor).select_related("rule", "assignee", "acknowledged_by"), alert_id, "Alert")


def rule_get(*, actor: Any, rule_id: Any) -> AlertRule:
    return _get(rule_list(actor=actor), rule_id, "Rule")


def _showing(qs: QuerySet) -> QuerySet:
    """What the header badge counts: firing alerts, silenced and inhibited ones apart."""
    return qs.filter(state=Alert.State.FIRING, silenced_by__isnull=True, inhibited_by__isnull=True)


def _by_severity(pairs: Any) -> dict[str, int]:
    counts = dict.fromkeys(Severity.values, 0)
    counts.update(pairs)
    counts["total"] = sum(counts.values())
    return counts


def severity_counts(*, actor: Any) -> dict[str, Any]:
    """Firing alerts the actor may see, by severity (the header badge), silenced and inhibited ones apart;
    ``topics``: the same for each topic of ``alerts_topics_for`` (what an event's ``counts`` replaces)."""
    topics = alerts_topics_for(actor)
    if topics == [f"alerts:{PLATFORM}"]:
        rows = _showing(alert_list(actor=actor)).values("severity").annotate(n=Count("*")).order_by()
        counts = _by_severity({r["severity"]: r["n"] for r in rows})
        return {**counts, "topics": topics, "by_topic": {topics[0]: counts}}
    rows = (_showing(alert_list(actor=actor)).values("organization_id", "severity").annotate(n=Count("*"))
            .order_by())
    pairs: dict[str, dict[str, int]] = {}
    for r in rows:
        pairs.setdefault(f"alerts:{r['organization_id']}", {})[r["severity"]] = r["n"]
    every: dict[str, int] = {}
    for one in pairs.values():
        for severity, n in one.items():
            every[severity] = every.get(severity, 0) + n
    return {**_by_severity(every), "topics": topics, "by_topic": {t: _by_severity(pairs.get(t, {})) for t in topics}}


# The read of ``stream_counts`` by database vendor: its text, its parameters and where the organization goes.
_stream_counts_read: dict[str, tuple[str, list[Any], int]] = {}


def stream_counts_read(org_id: Any) -> tuple[str, list[Any]]:
    """The read ``stream_counts_from`` answers from, as one statement (sql, params) to send with others: the
    alerts a badge counts, by severity and whether of organization ``org_id``. Compiled once per process."""
    found = _stream_counts_read.get(connection.vendor)
    organization = Alert._meta.get_field("organization")
    if found is None:
        marker = organization.get_db_prep_value(UUID(int=0), connection)
        sql, params = (_showing(Alert.objects.all())
                       .values("severity", mine=ExpressionWrapper(Q(organization_id=UUID(int=0)),
                                                                  output_field=BooleanField()))
                       .annotate(n=Count("*")).order_by().query.sql_with_params())
        at = [i for i, p in enumerate(params) if p == marker]
        if len(at) != 1:
            raise RuntimeError(f"the badge counts' read has {len(at)} places for the organization")
        found = _stream_counts_read[connection.vendor] = (sql, list(params), at[0])
    sql, params, at = found
    params = list(params)
    params[at] = organization.get_db_prep_value(org_id, connection)
    return sql, params


def stream_counts_from(org_id: Any, rows: Any) -> dict[str, dict[str, dict[str, int]]]:
    """The badge's counts after a change in organization ``org_id``, from the rows of ``stream_counts_read``,
    for each of its alert streams (its own and the platform's; each stream's counts only of what its
    followers may see), as ``emit``'s ``streamed``."""
    every: dict[str, int] = {}
    mine: dict[str, int] = {}
    for severity, of_org, n in rows:
        every[severity] = every.get(severity, 0) + n
        if of_org:
            mine[severity] = mine.get(severity, 0) + n
    return {f"alerts:{org_id}": {"counts": _by_severity(mine)},
            f"alerts:{PLATFORM}": {"counts": _by_severity(every)}}


def stream_counts(org_id: Any) -> dict[str, dict[str, dict[str, int]]]:
    sql, params = stream_counts_read(org_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return stream_counts_from(org_id, cursor.fetchall())


def alerts_topic_org(user: Any, key: str) -> str | None:
    """``alerts:platform`` is every organization's alerts (platform-wide readers); ``alerts:<org id>`` one's."""
    if key == PLATFORM:
        return PLATFORM if authorize(user, ALERT_READ, None) else None
    try:
        org_id = UUID(key)
    except ValueError:
        return None
    if not authorize(user, ALERT_READ, Alert(organization_id=org_id)):
        return None
    return str(org_id)


def alerts_topics_for(user: Any, limit: int = 100) -> list[str]:
    """The alert topics that together cover every alert ``user`` may see."""
    from apps.organizations.selectors import organization_list

    if authorize(user, ALERT_READ, None):
        return ["alerts:platform"]
    org_ids = organization_list(actor=user, action=ALERT_READ).values_list("id", flat=True)
    return [f"alerts:{org_id}" for org_id in sorted(map(str, org_ids))[:limit]]


def inbox_topic_org(user: Any, key: str) -> str | None:
    return PLATFORM if getattr(user, "is_authenticated", False) and str(user.pk) == key else None
