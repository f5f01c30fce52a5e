"""Event rules hear other apps' announcements by topic name (never by import) and turn them into
alerts; approvals waiting and budgets crossed are notified through the same routes and templates; a
person without the permission is refused and nothing is written."""

from __future__ import annotations

import pytest

from apps.alerts import services
from apps.alerts.models import Alert, AlertRule, Delivery
from apps.core.events import emit
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db


def _rule(a, event_type: str, **scope) -> AlertRule:
    return services.rule_create(actor=a["user"], organization=a["org"], data={
        "name": event_type, "kind": "event", "event_type": event_type, "severity": "critical", "scope": scope})


def _emit(captured, org, topic: str, payload: dict) -> None:
    with captured(execute=True):
        emit(org, topic, payload)


def test_announcements_of_other_apps_fire_and_resolve_event_alerts(world, django_capture_on_commit_callbacks):
    a = world["a"]
    org, platform = a["org"], a["platform"].pk
    for event_type in ("operation_failed", "sync_failed", "platform_unreachable", "resource_deleted",
                       "quota_threshold", "budget_threshold"):
        _rule(a, event_type)
    cap = django_capture_on_commit_callbacks
    _emit(cap, org.pk, "operation:op-1", {"id": "op-1", "kind": "ecs.instance.start", "status": "failed",
                                          "error": "OperationDenied", "target_id": "i-1"})
    _emit(cap, org.pk, "operation:op-2", {"id": "op-2", "kind": "ecs.instance.start", "status": "succeeded"})
    _emit(cap, org.pk, f"sync:{platform}", {"event": "sync_failed", "sync": "sync-1", "error": "timeout"})
    _emit(cap, org.pk, f"sync:{platform}", {"event": "health", "health": "unreachable"})
    _emit(cap, org.pk, f"quota:{org.pk}", {"event": "threshold_crossed", "id": "q1", "dimension": "vcpu",
                                           "usage": 90, "limit": 100, "warning_percent": 80})
    _emit(cap, org.pk, f"billing:{org.pk}", {"event": "budget_crossed", "budget": "b1", "name": "IT",
                                             "threshold": 80, "period": "2026-03", "spend": "80", "amount": "100"})
    firing = dict(Alert.objects.filter(state="firing").values_list("labels__event", "annotations__summary"))
    assert set(firing) == {"operation_failed", "sync_failed", "platform_unreachable", "quota_threshold",
                           "budget_threshold"}
    assert "OperationDenied" in firing["operation_failed"]
    _emit(cap, org.pk, f"sync:{platform}", {"event": "sync_finished", "sync": "sync-2", "deleted": 2})
    _emit(cap, org.pk, f"sync:{platform}", {"event": "health", "health": "healthy"})
    states = dict(Alert.objects.values_list("labels__event", "state"))
    assert states["sync_failed"] == states["platform_unreachable"] == "resolved"
    assert states["resource_deleted"] == "firing"
    # Another organization's announcements never reach this organization's rules.
    _emit(cap, world["b"]["org"].pk, "operation:op-3", {"id": "op-3", "kind": "x", "status": "failed"})
    assert Alert.objects.filter(organization=world["b"]["org"]).count() == 0


def test_an_event_rule_scoped_to_a_platform_ignores_the_others(world, django_capture_on_commit_callbacks):
    a = world["a"]
    _rule(a, "platform_unreachable", platform=a["platform"].pk)
    _emit(django_capture_on_commit_callbacks, a["org"].pk, "sync:cp-other", {"event": "health",
                                                                              "health": "unreachable"})
    assert not Alert.objects.exists()


def test_budgets_crossed_and_approvals_waiting_are_notified_with_the_organizations_template(
        world, django_capture_on_commit_callbacks):
    a = world["a"]
    hook = services.contact_point_create(actor=a["user"], organization=a["org"], name="finance", kind="webhook",
                                         config={"url": "http://127.0.0.1:9/finance"})
    services.route_create(actor=a["user"], organization=a["org"], name="budgets", contact_points=[hook],
                          matchers=[{"name": "event", "op": "=~", "value": "budget_crossed|approval_waiting"}])
    services.template_save(actor=a["user"], organization=a["org"], name="budget words", event_type="budget_crossed",
                           subject="Budget {{ event.name }} at {{ event.threshold }}%", body="{{ event.spend }} spent")
    _emit(django_capture_on_commit_callbacks, a["org"].pk, f"billing:{a['org'].pk}", {
        "event": "budget_crossed", "budget": "b1", "name": "IT", "threshold": 80, "period": "2026-03", "spend": "80",
        "amount": "100"})
    _emit(django_capture_on_commit_callbacks, a["org"].pk, "request:req-1", {
        "event": "request_changed", "id": "req-1", "status": "pending", "kind": "waiting"})
    sent = {d.event_type: d for d in Delivery.objects.filter(contact_point=hook)}
    assert set(sent) == {"budget_crossed", "approval_waiting"}
    assert (sent["budget_crossed"].subject, sent["budget_crossed"].body) == ("Budget IT at 80%", "80 spent")
    assert "req-1" in sent["approval_waiting"].subject


def test_a_person_without_the_permission_is_refused_and_nothing_is_written(world):
    viewer = f.user("viewer-a", world["a"]["org"])
    f.grant(f.role("alerts:*:read"), viewer, world["a"]["org"])
    client = api_as(viewer)
    org = str(world["a"]["org"].pk)
    assert client.get("/api/v1/alerts/rules/").status_code == 200
    created = client.post("/api/v1/alerts/rules/", {"organization": org, "name": "x", "metric": "CPUUtilization",
                                                    "threshold": 1}, format="json")
    assert created.status_code == 403
    hook = client.post("/api/v1/alerts/contact-points/", {"organization": org, "name": "x", "kind": "webhook",
                                                          "config": {"url": "http://127.0.0.1:9/"}}, format="json")
    assert hook.status_code == 403
    assert not AlertRule.objects.exists() and not Alert.objects.exists()
