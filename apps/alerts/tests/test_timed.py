"""Timed acceptance tests: samples pushed at set fake-clock times, rules evaluated and notifications
dispatched at set times, and the expected state changes and notification batches observed there.

One fake clock (``at(seconds)``) drives everything; nothing sleeps. A notification batch is one
``Delivery`` to the route's webhook contact point, with the alerts it carries in its payload.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.alerts import services
from apps.alerts.metrics import store_points
from apps.alerts.models import Alert, AlertHistory, Delivery
from apps.alerts.notify import notifications_dispatch
from apps.alerts.rules import rules_evaluate

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def push(resources, seconds: float, value: float, metric: str = "CPUUtilization") -> None:
    for r in resources:
        store_points(r, metric, [(at(seconds), value)])


def cycle(seconds: float) -> list[Delivery]:
    rules_evaluate(now=at(seconds))
    return notifications_dispatch(now=at(seconds))


def states(rule) -> dict[str, str]:
    return {a.labels["resource_name"]: a.state for a in Alert.objects.filter(rule=rule)}


def batch(delivery: Delivery) -> tuple[str, list[tuple[str, str]]]:
    return delivery.payload["status"], sorted((a["labels"]["resource_name"], a["state"])
                                              for a in delivery.payload["alerts"])


@pytest.fixture
def setup(world):
    a = world["a"]
    rule = services.rule_create(actor=a["user"], organization=a["org"], data={
        "name": "High CPU", "metric": "CPUUtilization", "aggregation": "avg", "operator": ">", "threshold": 80,
        "window_seconds": 120, "for_seconds": 60, "severity": "critical"})
    hook = services.contact_point_create(actor=a["user"], organization=a["org"], name="ops hook", kind="webhook",
                                         config={"url": "http://127.0.0.1:9/hook"})
    route = services.route_create(actor=a["user"], organization=a["org"], name="all", contact_points=[hook],
                                  group_by=["alertname"], group_wait_seconds=0, group_interval_seconds=120,
                                  repeat_interval_seconds=600)
    return {**a, "rule": rule, "hook": hook, "route": route}


def test_for_keeps_an_alert_pending_until_it_has_breached_that_long(setup):
    vm0 = setup["resources"][:1]
    push(vm0, 0, 95)
    assert cycle(10) == [] and states(setup["rule"])["a-vm-0"] == "pending"
    push(vm0, 30, 92)
    assert cycle(40) == [] and states(setup["rule"])["a-vm-0"] == "pending"
    push(vm0, 60, 91)
    sent = cycle(70)
    assert states(setup["rule"])["a-vm-0"] == "firing"
    assert [batch(d) for d in sent] == [("firing", [("a-vm-0", "firing")])]
    history = list(AlertHistory.objects.filter(kind="state", alert__resource=vm0[0])
                   .values_list("from_state", "to_state"))
    assert history == [("ok", "pending"), ("pending", "firing")]
    # The two instances that sent nothing are "insufficient data" from the first evaluation on.
    assert states(setup["rule"])["a-vm-1"] == states(setup["rule"])["a-vm-2"] == "insufficient_data"


def test_pending_that_stops_breaching_goes_back_to_ok_without_a_notification(setup):
    vm0 = setup["resources"][:1]
    push(vm0, 0, 95)
    cycle(10)
    push(vm0, 20, 10)  # the window's average falls to 52.5
    assert cycle(30) == [] and states(setup["rule"])["a-vm-0"] == "ok"


def test_alerts_of_one_group_are_sent_together_and_a_newcomer_waits_for_the_group_interval(setup):
    vms = setup["resources"]
    push(vms[:2], 0, 95)
    cycle(10)
    push(vms[:2], 60, 95)
    first = cycle(70)
    assert [batch(d) for d in first] == [("firing", [("a-vm-0", "firing"), ("a-vm-1", "firing")])]
    push(vms, 100, 95)
    cycle(110)
    push(vms, 170, 95)
    assert cycle(180) == []  # a-vm-2 fires at 180, but the group was told at 70: wait until 190
    later = cycle(190)
    assert [batch(d) for d in later] == [("firing", [("a-vm-0", "firing"), ("a-vm-1", "firing"),
                                                     ("a-vm-2", "firing")])]


def test_an_unchanged_firing_group_is_repeated_after_the_repeat_interval_only(setup):
    vm0 = setup["resources"][:1]
    for t in range(0, 800, 50):
        push(vm0, t, 95)
    cycle(10)
    assert len(cycle(70)) == 1
    assert cycle(300) == [] and cycle(660) == []
    assert [batch(d) for d in cycle(680)] == [("firing", [("a-vm-0", "firing")])]


def test_a_resolved_alert_is_notified_once_as_resolved(setup):
    vm0 = setup["resources"][:1]
    push(vm0, 0, 95)
    cycle(10)
    push(vm0, 60, 95)
    cycle(70)
    push(vm0, 200, 5)
    push(vm0, 150, 5)
    sent = cycle(210)
    assert states(setup["rule"])["a-vm-0"] == "resolved"
    assert [batch(d) for d in sent] == [("resolved", [("a-vm-0", "resolved")])]
    push(vm0, 400, 5)
    assert cycle(410) == [] and cycle(2000) == []


def test_a_silence_keeps_its_alerts_out_of_notifications_until_it_ends(setup):
    vms = setup["resources"][:2]
    silence = services.silence_create(actor=setup["user"], organization=setup["org"],
                                      matchers=[{"name": "resource_name", "op": "=", "value": "a-vm-0"}],
                                      starts_at=at(0), ends_at=at(200), now=at(0))
    for t in range(0, 400, 50):
        push(vms, t, 95)
    cycle(10)
    sent = cycle(70)
    assert [batch(d) for d in sent] == [("firing", [("a-vm-1", "firing")])]
    assert Alert.objects.get(labels__resource_name="a-vm-0").silenced_by_id == silence.pk
    assert cycle(150) == []
    back = cycle(210)  # the silence ended at 200: the group changed, and 120 s passed since 70
    assert [batch(d) for d in back] == [("firing", [("a-vm-0", "firing"), ("a-vm-1", "firing")])]


def test_an_unreachable_platform_inhibits_the_alerts_of_its_resources(setup):
    from apps.alerts.models import AlertRule

    unreachable = services.rule_create(actor=setup["user"], organization=setup["org"], data={
        "name": "Platform unreachable", "kind": "event", "event_type": "platform_unreachable", "severity": "critical"})
    vms = setup["resources"][:2]
    for t in range(0, 200, 50):
        push(vms, t, 95)
    cycle(10)
    services.event_alert_fire(rule=unreachable, key=str(setup["platform"].pk),
                              labels={"platform": str(setup["platform"].pk)}, summary="down", now=at(20),
                              platform_id=setup["platform"].pk)
    sent = cycle(70)
    assert [[a["name"] for a in d.payload["alerts"]] for d in sent] == [["Platform unreachable"]]
    muted = Alert.objects.filter(rule__kind=AlertRule.Kind.THRESHOLD, state="firing")
    assert muted.count() == 2 and all(a.inhibited_by_id is not None for a in muted)


def test_no_samples_in_the_window_is_insufficient_data_and_a_firing_alert_stops_firing(setup):
    vm0 = setup["resources"][:1]
    push(vm0, 0, 95)
    cycle(10)
    push(vm0, 60, 95)
    cycle(70)
    cycle(400)  # nothing since 60: the 120 s window is empty
    assert states(setup["rule"])["a-vm-0"] == "insufficient_data"
    alert = Alert.objects.get(rule=setup["rule"], resource=vm0[0])
    assert alert.ends_at == at(400)
    reasons = list(alert.history.filter(kind="state").values_list("to_state", "reason"))
    assert reasons[-1][0] == "insufficient_data" and "No samples" in reasons[-1][1]


def test_an_alert_left_unacknowledged_is_escalated_once_and_an_acknowledged_one_is_not(setup):
    oncall = services.contact_point_create(actor=setup["user"], organization=setup["org"], name="duty manager",
                                           kind="webhook", config={"url": "http://127.0.0.1:9/duty"})
    setup["route"].escalate_after_seconds = 120
    setup["route"].escalate_to = oncall
    setup["route"].save()
    vm0, vm1 = setup["resources"][:2]
    for t in range(0, 600, 50):
        push([vm0, vm1], t, 95)
    cycle(10)
    cycle(70)  # both fire at 70
    services.alert_acknowledge(actor=setup["user"], alert=Alert.objects.get(resource=vm1))
    assert [d for d in cycle(150) if d.contact_point_id == oncall.pk] == []  # 80 s unacknowledged: not yet
    escalated = [d for d in cycle(200) if d.contact_point_id == oncall.pk]
    assert [[a["labels"]["resource_name"] for a in d.payload["alerts"]] for d in escalated] == [["a-vm-0"]]
    assert escalated[0].subject.startswith("[ESCALATED]")
    assert [d for d in cycle(300) if d.contact_point_id == oncall.pk] == []  # once
    assert Alert.objects.get(resource=vm0).history.filter(kind="escalate").count() == 1
