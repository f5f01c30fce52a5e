"""Builders of alerts objects for tests, and the objects the tenant isolation test needs."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.alerts.models import (
    Alert,
    AlertHistory,
    AlertRule,
    ContactPoint,
    Delivery,
    InboxMessage,
    InspectionRun,
    MessageTemplate,
    NotificationRoute,
    Silence,
)
from apps.clouds.tests.factories import platform as make_platform
from apps.organizations.tests.factories import user as make_user
from apps.resources.tests.factories import resource as make_resource

_seq = itertools.count(1)


def alert(org: Any, *, state: str = "firing", severity: str = "warning", rule: AlertRule | None = None,
          source: str = "external", **labels: str) -> Alert:
    n = next(_seq)
    now = timezone.now()
    return Alert.objects.create(organization=org, rule=rule, source=source, fingerprint=f"fp-{n:08d}",
                                name=labels.get("alertname", f"alert {n}"), labels={"alertname": f"alert {n}",
                                                                                    **labels},
                                severity=severity, state=state, starts_at=now, state_changed_at=now)


def isolation_objects(org: Any) -> list[Any]:
    n = next(_seq)
    platform = make_platform(org, name=f"alerts-{n}")
    res = make_resource(platform, organization=org)
    rule = AlertRule.objects.create(organization=org, name=f"rule {n}", metric="CPUUtilization", threshold=80)
    a = alert(org, rule=rule, source="rule")
    history = AlertHistory.objects.create(alert=a, at=timezone.now(), to_state="firing", reason="test")
    now = timezone.now()
    silence = Silence.objects.create(organization=org, matchers=[{"name": "alertname", "op": "=", "value": "x"}],
                                     starts_at=now, ends_at=now + timedelta(hours=1))
    cp = ContactPoint.objects.create(organization=org, name=f"hook {n}", kind="webhook",
                                     config={"url": "http://127.0.0.1:9/"})
    route = NotificationRoute.objects.create(organization=org, name=f"route {n}")
    route.contact_points.set([cp])
    tmpl, _ = MessageTemplate.objects.get_or_create(organization=org, event_type="alert",
                                                    defaults={"name": f"tmpl {n}", "subject": "s", "body": "b"})
    delivery = Delivery.objects.create(organization=org, contact_point=cp, subject="s", body="b")
    person = make_user(f"inbox-{n}", org)
    message = InboxMessage.objects.create(organization=org, user=person, subject="s", body="b")
    run = InspectionRun.objects.create(organization=org, started_at=now, findings=[], counts={})
    return [platform, res, rule, a, history, silence, cp, route, tmpl, delivery, message, run]
