"""Event rules: other apps' announcements, heard by topic name, become alerts.

- ``operation_failed``: ``operation:<id>`` with status ``failed``; resolved by hand.
- ``sync_failed``: ``sync_failed`` on ``sync:<platform>``; resolved by the next ``sync_finished``.
- ``platform_unreachable``: ``health`` ``unreachable`` on ``sync:<platform>``; resolved when healthy.
- ``resource_deleted``: a full sync found resources gone (``sync_finished`` with ``deleted``); by hand.
- ``quota_threshold``: ``threshold_crossed`` on ``quota:<organization>``; by hand.
- ``budget_threshold``: ``budget_crossed`` on ``billing:<organization>``; by hand.

Handlers run in the emitting process after its commit and must never fail it: each is guarded.
Approvals waiting are not alerts: they go through the same routes and templates as a notification
(``notify.notify_event``).
"""

from __future__ import annotations

import logging
from typing import Any

from apps.alerts.models import AlertRule
from apps.core.events import subscribe

logger = logging.getLogger(__name__)


def _rules(org_id: Any, event_type: str) -> list[AlertRule]:
    if not org_id:
        return []
    return list(AlertRule.objects.filter(organization_id=org_id, kind=AlertRule.Kind.EVENT, event_type=event_type,
                                         enabled=True))


def _in_scope(rule: AlertRule, facts: dict[str, Any]) -> bool:
    return all(str(facts.get(k, "")) == str(v) for k, v in (rule.scope or {}).items() if k != "tag")


def _fire(org_id: Any, event_type: str, key: str, labels: dict[str, Any], summary: str, **where: Any) -> None:
    from apps.alerts import services

    for rule in _rules(org_id, event_type):
        if _in_scope(rule, labels):
            clean = {k: str(v) for k, v in labels.items() if v is not None}
            services.event_alert_fire(rule=rule, key=key, labels=clean, summary=summary, **where)


def _resolve(org_id: Any, event_type: str, key: str, reason: str) -> None:
    from apps.alerts import services

    for rule in _rules(org_id, event_type):
        services.event_alert_resolve(rule=rule, key=key, reason=reason)


def on_operation(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    if payload.get("status") != "failed":
        return
    kind = str(payload.get("kind", ""))
    target = payload.get("target_name") or payload.get("target_id") or ""
    _fire(org_id, "operation_failed", str(payload.get("id")),
          {"operation": payload.get("id"), "kind": kind, "service": kind.split(".")[0],
           "target_type": payload.get("target_type"), "target": payload.get("target_id")},
          f"Operation {kind} on {target} failed: {str(payload.get('error') or '')[:300]}")


def on_platform(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    platform_id = topic.split(":", 1)[1]
    event = payload.get("event")
    facts = {"platform": platform_id}
    if event == "sync_failed":
        _fire(org_id, "sync_failed", platform_id, facts,
              f"Inventory sync of platform {platform_id} failed: {str(payload.get('error') or '')[:300]}",
              platform_id=platform_id)
    elif event == "sync_finished":
        _resolve(org_id, "sync_failed", platform_id, "A later sync finished")
        _first_metrics(platform_id)
        if payload.get("deleted"):
            _fire(org_id, "resource_deleted", f"{platform_id}:{payload.get('sync')}", facts,
                  f"{payload['deleted']} resources of platform {platform_id} were deleted outside the console "
                  f"(sync {payload.get('sync')})", platform_id=platform_id)
    elif event == "health":
        if payload.get("health") == "unreachable":
            _fire(org_id, "platform_unreachable", platform_id, facts, f"Platform {platform_id} is unreachable",
                  platform_id=platform_id)
        elif payload.get("health") == "healthy":
            _resolve(org_id, "platform_unreachable", platform_id, "The platform answers again")


def _first_metrics(platform_id: str) -> None:
    """A platform's first finished sync starts its metrics at once (then every collection interval), so a
    new console shows metrics and alerts within a minute of its first start."""
    from django.db import transaction

    from apps.alerts.models import MetricSample
    from apps.alerts.tasks import metrics_collect_task

    if not MetricSample.objects.filter(resource__platform_id=platform_id).exists():
        transaction.on_commit(lambda: metrics_collect_task.delay(platform_id, evaluate=True))


def on_quota(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    if payload.get("event") != "threshold_crossed":
        return
    _fire(org_id, "quota_threshold", f"{payload.get('id')}:{payload.get('usage')}",
          {"quota": payload.get("id"), "dimension": payload.get("dimension")},
          f"Quota {payload.get('dimension')} at {payload.get('usage')} of {payload.get('limit')} "
          f"(warning at {payload.get('warning_percent')}%)")


def on_billing(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    if payload.get("event") != "budget_crossed":
        return
    _fire(org_id, "budget_threshold", f"{payload.get('budget')}:{payload.get('period')}:{payload.get('threshold')}",
          {"budget": payload.get("budget"), "project": payload.get("project")},
          f"Budget {payload.get('name')} crossed {payload.get('threshold')}% in {payload.get('period')}: "
          f"{payload.get('spend')} of {payload.get('amount')}")
    from apps.alerts.notify import notify_event

    notify_event(org_id, "budget_crossed", subject=f"Budget {payload.get('name')} crossed {payload.get('threshold')}%",
                 body=f"Spend {payload.get('spend')} of {payload.get('amount')} in {payload.get('period')}.",
                 event={k: v for k, v in payload.items() if isinstance(v, str | int | float)})


def on_request(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    if payload.get("event") != "request_changed" or payload.get("status") != "pending" or payload.get(
            "kind") != "waiting":
        return
    from apps.alerts.notify import notify_event

    notify_event(org_id, "approval_waiting", subject=f"Request {payload.get('id')} is waiting for approval",
                 body="Open the approvals page to approve or deny it.", event={"request": str(payload.get("id"))})


def _guarded(handler):
    def run(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
        try:
            handler(org_id, topic, payload)
        except Exception:
            logger.exception("alerts could not handle %s", topic)

    run.__name__ = handler.__name__
    return run


def connect() -> None:
    subscribe("operation:", _guarded(on_operation))
    subscribe("sync:", _guarded(on_platform))
    subscribe("quota:", _guarded(on_quota))
    subscribe("billing:", _guarded(on_billing))
    subscribe("request:", _guarded(on_request))
