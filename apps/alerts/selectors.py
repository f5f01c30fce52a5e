"""Reads of the alerts app, each through ``restrict``: what is missing and what is not yours are the
same ``NotFound``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Count, Model, QuerySet

from apps.alerts.models import (
    Alert,
    AlertRule,
    ContactPoint,
    Delivery,
    InboxMessage,
    InspectionRun,
    MessageTemplate,
    NotificationRoute,
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


def severity_counts(*, actor: Any) -> dict[str, int]:
    """Firing alerts the actor may see, by severity (the header badge), silenced and inhibited ones apart."""
    rows = (alert_list(actor=actor).filter(state=Alert.State.FIRING, silenced_by__isnull=True,
                                           inhibited_by__isnull=True)
            .values("severity").annotate(n=Count("id")).order_by())
    counts = {"critical": 0, "warning": 0, "info": 0}
    counts.update({r["severity"]: r["n"] for r in rows})
    counts["total"] = sum(counts.values())
    return counts


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
