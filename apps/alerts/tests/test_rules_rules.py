"""Alert evaluation's rules one by one, through ``validate_rule``, ``rule_resources``,
``window_values``, ``rule_evaluate`` and ``rules_evaluate`` at set fake-clock times: what a valid
rule is (each refusal names its field), which resources a rule watches, what value a window has
under each aggregation and which samples are in it, and every move of an alert with its reason,
timestamps and labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.alerts.metrics import store_points
from apps.alerts.models import Alert, AlertHistory, AlertRule, MetricSample
from apps.alerts.rules import MAX_WINDOW, rule_evaluate, rule_resources, rules_evaluate, validate_rule, window_values
from apps.core.errors import InvalidInput
from tests import factories as f

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CPU = "CPUUtilization"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def valid(**kw):
    return {"name": "High CPU", "metric": CPU, **kw}


# -- what a valid rule is ----------------------------------------------------------------------------

def test_a_valid_rule_gets_the_defaults_and_a_trimmed_name():
    out = validate_rule(valid(name="  High CPU  "))
    assert out == {"name": "High CPU", "description": "", "kind": "threshold", "severity": "warning",
                   "enabled": True, "metric": CPU, "aggregation": "avg", "operator": ">", "threshold": 0.0,
                   "window_seconds": 300, "for_seconds": 0, "event_type": "", "scope": {}, "labels": {},
                   "summary": ""}


@pytest.mark.parametrize(("change", "field"), [
    ({"name": ""}, "name"), ({"name": "   "}, "name"), ({"name": "x" * 129}, "name"), ({"name": 5}, "name"),
    ({"kind": "other"}, "kind"), ({"severity": "huge"}, "severity"), ({"enabled": "yes"}, "enabled"),
    ({"metric": "Nope"}, "metric"), ({"aggregation": "sum"}, "aggregation"), ({"operator": "=="}, "operator"),
    ({"threshold": "80"}, "threshold"), ({"threshold": True}, "threshold"),
    ({"window_seconds": 59}, "window_seconds"), ({"window_seconds": MAX_WINDOW + 1}, "window_seconds"),
    ({"window_seconds": 300.0}, "window_seconds"), ({"window_seconds": True}, "window_seconds"),
    ({"for_seconds": -1}, "for_seconds"), ({"for_seconds": MAX_WINDOW + 1}, "for_seconds"),
    ({"for_seconds": 1.5}, "for_seconds"), ({"for_seconds": False}, "for_seconds"),
    ({"scope": []}, "scope"), ({"scope": {"zone": "a"}}, "scope.zone"), ({"scope": {"type": ""}}, "scope.type"),
    ({"scope": {"type": 5}}, "scope.type"), ({"scope": {"type": "x" * 256}}, "scope.type"),
    ({"scope": {"tag": "team"}}, "scope.tag"), ({"scope": {"tag": "=x"}}, "scope.tag"),
    ({"labels": []}, "labels"), ({"labels": {f"l{i}": "v" for i in range(21)}}, "labels"),
    ({"labels": {"9bad": "v"}}, "labels.9bad"), ({"labels": {"team": 5}}, "labels.team"),
    ({"labels": {"team": "x" * 256}}, "labels.team"),
    ({"summary": 5}, "summary"), ({"summary": "x" * 501}, "summary"),
    ({"kind": "event", "event_type": "nope"}, "event_type"),
])
def test_a_bad_rule_is_refused_naming_the_field(change, field):
    with pytest.raises(InvalidInput) as refused:
        validate_rule(valid(**change))
    assert list(refused.value.detail) == [field]
    assert refused.value.message.startswith(f"{field}: ")


def test_the_limits_themselves_are_valid():
    out = validate_rule(valid(name="x" * 128, window_seconds=60, for_seconds=MAX_WINDOW, threshold=80,
                              scope={"tag": "team=", "type": "x" * 255}, labels={f"l{i}": "v" * 255 for i in range(20)},
                              summary="x" * 500))
    assert (out["window_seconds"], out["for_seconds"], out["threshold"]) == (60, MAX_WINDOW, 80)
    assert validate_rule(valid(window_seconds=MAX_WINDOW, for_seconds=0))["window_seconds"] == MAX_WINDOW


def test_a_threshold_rule_has_no_event_type_and_an_event_rule_no_metric():
    assert validate_rule(valid(event_type="sync_failed"))["event_type"] == ""
    out = validate_rule({"name": "sync", "kind": "event", "event_type": "sync_failed", "metric": "Nope",
                         "window_seconds": 1})
    assert (out["metric"], out["event_type"]) == ("", "sync_failed")


def test_an_edit_starts_from_the_current_rule(world):
    current = AlertRule.objects.create(organization=world["a"]["org"], name="old", metric=CPU, threshold=90,
                                       operator="<", window_seconds=600, severity="critical", labels={"team": "a"})
    out = validate_rule({"threshold": 50, "unknown": 1}, current=current)
    assert (out["name"], out["threshold"], out["operator"], out["window_seconds"], out["severity"], out["labels"]) == (
        "old", 50, "<", 600, "critical", {"team": "a"})
    assert "unknown" not in out


# -- which resources a rule watches ------------------------------------------------------------------

def test_a_rule_watches_its_organizations_subtree_and_its_platforms_unassigned_resources(world):
    a = world["a"]
    child = f.org("child", a["org"])
    in_child = f.resource(a["platform"], organization=child, name="child-vm")
    unassigned = f.resource(a["platform"], name="loose")
    f.resource(world["b"]["platform"], name="b-loose")
    gone = f.resource(a["platform"], organization=a["org"], name="gone", deleted=True)
    disk = f.resource(a["platform"], organization=a["org"], type="disk.volume", name="disk")
    rule = AlertRule.objects.create(organization=a["org"], name="r", metric=CPU)
    watched = set(rule_resources(rule))
    assert watched == {*a["resources"], in_child, unassigned}
    assert gone not in watched and disk not in watched


def test_a_rules_scope_narrows_by_platform_service_type_project_and_tag(world):
    a = world["a"]
    other = f.platform(a["org"], name="other")
    web = f.project(a["org"], name="web")
    vm_other = f.resource(other, organization=a["org"], name="other-vm")
    db = f.resource(a["platform"], organization=a["org"], type="rds.instance", name="db")
    in_web = f.resource(a["platform"], organization=a["org"], project=web, name="web-vm")
    tagged = f.resource(a["platform"], organization=a["org"], name="tagged", tags={"team": "web"})
    f.resource(a["platform"], organization=a["org"], name="other-tag", tags={"team": "data"})

    def watched(**scope):
        rule = AlertRule.objects.create(organization=a["org"], name="r", metric=CPU, scope=scope)
        return {r.name for r in rule_resources(rule)}

    assert watched(platform=other.pk) == {vm_other.name}
    assert watched(service="rds") == {db.name}
    assert watched(type="rds.instance") == {db.name}
    assert watched(project=str(web.pk)) == {in_web.name}
    assert watched(tag="team=web") == {tagged.name}
    assert watched(platform=other.pk, type="rds.instance") == set()


def test_a_rule_of_a_removed_organization_watches_nothing(world):
    rule = AlertRule(organization_id=world["a"]["org"].pk, name="r", metric=CPU)
    rule.organization_id = "00000000-0000-0000-0000-000000000000"
    assert list(rule_resources(rule)) == []


# -- the value of a window ---------------------------------------------------------------------------

@pytest.fixture
def series(world):
    vm, other = world["a"]["resources"][:2]
    store_points(vm, CPU, [(at(0), 10), (at(30), 40), (at(60), 20), (at(90), 90), (at(120), 30)])
    store_points(vm, "NetworkIn", [(at(60), 1000)])
    store_points(other, CPU, [(at(60), 5)])
    MetricSample.objects.create(resource=vm, metric=CPU, resolution="5m", ts=at(90), value=500, minimum=500,
                                maximum=500, count=1)
    return vm, other


@pytest.mark.parametrize(("aggregation", "expected"), [("avg", 140 / 3), ("max", 90.0), ("min", 20.0), ("last", 30.0)])
def test_a_window_ends_at_now_and_leaves_out_its_first_instant(world, series, aggregation, expected):
    vm, other = series
    rule = AlertRule.objects.create(organization=world["a"]["org"], name="r", metric=CPU, aggregation=aggregation,
                                    window_seconds=90)
    values = window_values(rule, [vm.pk, other.pk], at(120))
    assert values == {vm.pk: pytest.approx(expected), other.pk: 5.0}
    assert window_values(rule, [vm.pk], at(119))[vm.pk] == pytest.approx(
        {"avg": 50.0, "max": 90.0, "min": 20.0, "last": 90.0}[aggregation])
    assert window_values(rule, [], at(120)) == {}


# -- every move of an alert ----------------------------------------------------------------------------

def _rule(world, **kw):
    values = {"name": "High CPU", "metric": CPU, "operator": ">", "threshold": 80, "window_seconds": 60,
              "for_seconds": 0, "severity": "critical", "aggregation": "last"}
    return AlertRule.objects.create(organization=world["a"]["org"], **{**values, **kw})


def _history(alert):
    return list(AlertHistory.objects.filter(alert=alert, kind="state").order_by("at", "id").values_list(
        "from_state", "to_state", "reason"))


def test_a_breach_fires_at_once_without_for_and_resolves_when_it_ends(world):
    vm = world["a"]["resources"][0]
    rule = _rule(world, scope={"type": "ecs.instance"}, labels={"team": "ops"}, summary="CPU is high")
    store_points(vm, CPU, [(at(0), 95.5)])
    result = rule_evaluate(rule, now=at(10))
    assert result.series == 3
    alert = Alert.objects.get(rule=rule, resource=vm)
    assert (alert.state, alert.value, alert.starts_at, alert.ends_at, alert.state_changed_at) == (
        "firing", 95.5, at(10), None, at(10))
    assert alert.labels == {"alertname": "High CPU", "rule": rule.id, "severity": "critical", "resource": vm.pk,
                            "resource_name": vm.name, "platform": vm.platform_id,
                            "platform_name": world["a"]["platform"].name, "service": "ecs", "type": "ecs.instance",
                            "region": vm.region, "organization": str(rule.organization_id), "team": "ops"}
    assert (alert.annotations, alert.severity, alert.source, alert.name) == (
        {"summary": "CPU is high"}, "critical", "rule", "High CPU")
    store_points(vm, CPU, [(at(60), 80)])
    rule_evaluate(rule, now=at(65))
    alert.refresh_from_db()
    assert (alert.state, alert.value, alert.ends_at, alert.state_changed_at) == ("resolved", 80, at(65), at(65))
    assert _history(alert) == [
        ("ok", "firing", "last(CPUUtilization) over 60 s > 80: value 95.5"),
        ("firing", "resolved", "last(CPUUtilization) over 60 s > 80: value 80 no more: resolved")]
    assert AlertRule.objects.get(pk=rule.pk).last_evaluated_at == at(65)


def test_for_keeps_a_breach_pending_until_it_has_lasted_that_long(world):
    vm = world["a"]["resources"][0]
    rule = _rule(world, for_seconds=60, threshold=79.5, operator=">=")
    store_points(vm, CPU, [(at(0), 79.5)])
    rule_evaluate(rule, now=at(0))
    alert = Alert.objects.get(rule=rule, resource=vm)
    assert (alert.state, alert.pending_since, alert.starts_at) == ("pending", at(0), None)
    store_points(vm, CPU, [(at(30), 85)])
    rule_evaluate(rule, now=at(59))
    alert.refresh_from_db()
    assert alert.state == "pending" and alert.value == 85
    rule_evaluate(rule, now=at(60))
    alert.refresh_from_db()
    assert (alert.state, alert.starts_at, alert.ends_at) == ("firing", at(60), None)
    # still breaching while firing: nothing changes
    rule_evaluate(rule, now=at(80))
    assert _history(alert) == [
        ("ok", "pending", "last(CPUUtilization) over 60 s >= 79.5: value 79.5; firing after 60 s"),
        ("pending", "firing", "last(CPUUtilization) over 60 s >= 79.5: value 85 for 60 s")]


def test_a_pending_breach_that_ends_goes_back_to_ok(world):
    vm = world["a"]["resources"][0]
    rule = _rule(world, for_seconds=120, operator="<", threshold=10)
    store_points(vm, CPU, [(at(0), 5)])
    rule_evaluate(rule, now=at(0))
    store_points(vm, CPU, [(at(30), 10)])
    rule_evaluate(rule, now=at(30))
    alert = Alert.objects.get(rule=rule, resource=vm)
    assert (alert.state, alert.pending_since, alert.value) == ("ok", None, 10)
    assert _history(alert)[-1] == ("pending", "ok", "last(CPUUtilization) over 60 s < 10: value 10 no more "
                                                    "(before 120 s)")


def test_no_samples_is_insufficient_data_and_samples_again_are_ok(world):
    vm = world["a"]["resources"][0]
    rule = _rule(world, operator="<=", threshold=50)
    store_points(vm, CPU, [(at(0), 50)])
    rule_evaluate(rule, now=at(0))
    alert = Alert.objects.get(rule=rule, resource=vm)
    assert alert.state == "firing"
    quiet = Alert.objects.get(rule=rule, resource=world["a"]["resources"][1])
    assert (quiet.state, quiet.value) == ("insufficient_data", None)
    assert _history(quiet) == [("ok", "insufficient_data", "No samples of CPUUtilization in the last 60 s.")]
    rule_evaluate(rule, now=at(100))
    alert.refresh_from_db()
    assert (alert.state, alert.ends_at, alert.value, alert.pending_since) == ("insufficient_data", at(100), None, None)
    # insufficient data stays so without another change
    rule_evaluate(rule, now=at(110))
    assert len(_history(alert)) == 2
    store_points(vm, CPU, [(at(150), 70)])
    rule_evaluate(rule, now=at(160))
    alert.refresh_from_db()
    assert (alert.state, alert.value) == ("ok", 70)
    assert _history(alert)[-1] == ("insufficient_data", "ok",
                                   "Samples again: last(CPUUtilization) over 60 s <= 50: value 70 does not hold")


def test_a_quiet_series_with_data_has_no_alert_and_a_new_breach_clears_the_last_acknowledgement(world):
    vm, calm = world["a"]["resources"][:2]
    rule = _rule(world)
    store_points(calm, CPU, [(at(0), 10)])
    store_points(vm, CPU, [(at(0), 90)])
    rule_evaluate(rule, now=at(0))
    assert not Alert.objects.filter(rule=rule, resource=calm).exists()
    alert = Alert.objects.get(rule=rule, resource=vm)
    alert.acknowledged_at = alert.escalated_at = at(1)
    alert.acknowledged_by = world["a"]["user"]
    alert.save()
    store_points(vm, CPU, [(at(60), 10)])
    rule_evaluate(rule, now=at(60))
    store_points(vm, CPU, [(at(120), 99)])
    rule_evaluate(rule, now=at(120))
    alert.refresh_from_db()
    assert (alert.state, alert.starts_at, alert.acknowledged_at, alert.acknowledged_by, alert.escalated_at) == (
        "firing", at(120), None, None, None)


def test_every_enabled_threshold_rule_is_evaluated_for_one_organization_or_all(world):
    a, b = world["a"], world["b"]
    for org_world in (a, b):
        store_points(org_world["resources"][0], CPU, [(at(0), 99)])
    on = _rule(world)
    off = _rule(world, name="off", enabled=False)
    event = AlertRule.objects.create(organization=a["org"], name="event", kind="event", event_type="sync_failed")
    theirs = AlertRule.objects.create(organization=b["org"], name="theirs", metric=CPU, threshold=80,
                                      window_seconds=60, aggregation="last")
    assert [e.series for e in rules_evaluate(now=at(0), organization_id=a["org"].pk)] == [3]
    assert set(Alert.objects.values_list("rule_id", flat=True)) == {on.pk}
    assert len(rules_evaluate(now=at(10))) == 2
    assert set(Alert.objects.values_list("rule_id", flat=True)) == {on.pk, theirs.pk}
    assert not Alert.objects.filter(rule__in=[off, event]).exists()
