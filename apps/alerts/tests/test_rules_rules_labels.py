"""Alert evaluation's rules, continued: the labels of an alert on a resource without a name or in a
project, its platform, annotations only from a summary the rule has, a firing series never stopping
the evaluation of the others, a hand resolution's history entry (its actor, its reason cut to
the column), and the order in which every rule is evaluated (oldest first, a tie of
creation time by id, the same every run); what each refusal of a rule says; another organization's
resources on the rule's platform left out; a tag value with "="; the last value by time; window
values read 2,000 series a query."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.alerts.metrics import store_points
from apps.alerts.models import Alert, AlertHistory, AlertRule
from apps.alerts.rules import rule_evaluate, rule_resources, rules_evaluate, validate_rule, window_values
from apps.alerts.services import alert_resolve
from apps.alerts.tests.factories import alert
from apps.core.errors import InvalidInput
from tests import factories as f

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CPU = "CPUUtilization"


def _rule(org, **kw):
    values = {"name": "High CPU", "metric": CPU, "operator": ">", "threshold": 80, "window_seconds": 60,
              "aggregation": "last"}
    return AlertRule.objects.create(organization=org, **{**values, **kw})


def test_an_alert_names_a_resource_without_a_name_by_its_cloud_id_and_carries_its_project(world):
    a = world["a"]
    web = f.project(a["org"], name="web")
    unnamed = f.resource(a["platform"], organization=a["org"], project=web, name="", external_id="i-bp1unnamed")
    store_points(unnamed, CPU, [(T0, 99)])
    rule = _rule(a["org"])
    rule_evaluate(rule, now=T0)
    alert = Alert.objects.get(rule=rule, resource=unnamed)
    assert (alert.labels["resource_name"], alert.labels["project"]) == ("i-bp1unnamed", str(web.pk))
    named = Alert.objects.filter(rule=rule, resource=a["resources"][0]).first()
    assert named is None or "project" not in named.labels


def test_rules_are_evaluated_oldest_first_and_a_tie_of_creation_time_by_id(world):
    a = world["a"]
    store_points(a["resources"][0], CPU, [(T0, 99)])
    older = _rule(a["org"], id="arule-55555555555555555555", name="older")
    newer = _rule(a["org"], id="arule-00000000000000000000", name="newer")

    def order(seconds):
        now = T0.replace(second=seconds)
        Alert.objects.all().delete()
        return [e.changes[0].alert.rule_id for e in rules_evaluate(now=now, organization_id=a["org"].pk)]

    assert order(1) == [older.pk, newer.pk]
    # Made in the same instant: by id, which is neither the order they were made in nor its reverse.
    _rule(a["org"], id="arule-ffffffffffffffffffff")
    _rule(a["org"], id="arule-88888888888888888888")
    AlertRule.objects.update(created_at=older.created_at)
    assert order(2) == ["arule-00000000000000000000", "arule-55555555555555555555", "arule-88888888888888888888",
                        "arule-ffffffffffffffffffff"]


def test_a_series_still_firing_does_not_keep_the_rules_later_series_from_being_evaluated(world):
    a = world["a"]
    rule = _rule(a["org"])
    *firing, newcomer = list(rule_resources(rule))
    for vm in firing:
        store_points(vm, CPU, [(T0, 95)])
    store_points(newcomer, CPU, [(T0, 10)])
    rule_evaluate(rule, now=T0)
    for vm in (*firing, newcomer):
        store_points(vm, CPU, [(T0.replace(second=30), 95)])
    result = rule_evaluate(rule, now=T0.replace(second=30))
    assert [(c.alert.resource_id, c.to_state) for c in result.changes] == [(newcomer.pk, "firing")]
    assert set(Alert.objects.filter(rule=rule, state="firing").values_list("resource_id", flat=True)) == {
        vm.pk for vm in (*firing, newcomer)}


def test_an_alert_is_on_its_resources_platform_and_a_rule_without_summary_annotates_nothing(world):
    a = world["a"]
    vm = a["resources"][0]
    store_points(vm, CPU, [(T0, 99)])
    rule = _rule(a["org"])
    rule_evaluate(rule, now=T0)
    alert = Alert.objects.get(rule=rule, resource=vm)
    assert (alert.platform_id, alert.annotations) == (a["platform"].pk, {})
    assert set(Alert.objects.filter(rule=rule).values_list("platform_id", flat=True)) == {a["platform"].pk}


def test_a_hand_resolution_records_who_did_it_and_a_reason_cut_to_what_the_history_keeps(world):
    a = world["a"]
    firing = alert(a["org"])
    alert_resolve(actor=a["user"], alert=firing, reason="x" * 2000)
    [entry] = AlertHistory.objects.filter(alert=firing, kind="state")
    assert (entry.actor, entry.from_state, entry.to_state) == (a["user"], "firing", "resolved")
    assert len(entry.reason) == 1000 and entry.reason.startswith(f"Resolved by {a['user']}: xxx")


# -- what a refusal says, and what a rule watches ----------------------------------------------------------

@pytest.mark.parametrize(("data", "field", "message"), [
    ({"metric": CPU}, "name", "A name of 1 to 128 characters is required."),
    ({"name": "r", "metric": CPU, "kind": "other"}, "kind", "One of threshold, event."),
    ({"name": "r", "metric": CPU, "severity": "huge"}, "severity", "One of critical, warning, info."),
    ({"name": "r", "metric": CPU, "enabled": "yes"}, "enabled", "true or false."),
    ({"name": "r", "metric": "Nope"}, "metric", "Unknown metric; see the metric catalog."),
    ({"name": "r", "metric": CPU, "aggregation": "sum"}, "aggregation", "One of avg, max, min, last."),
    ({"name": "r", "metric": CPU, "operator": "=="}, "operator", "One of >, >=, <, <=."),
    ({"name": "r", "metric": CPU, "threshold": "80"}, "threshold", "A number."),
    ({"name": "r", "metric": CPU, "window_seconds": 7 * 86400 + 1}, "window_seconds",
     "Whole seconds, at most 604800."),
    ({"name": "r", "metric": CPU, "window_seconds": 59}, "window_seconds",
     "Shorter than the collection interval (60 s)."),
    ({"name": "r", "kind": "event", "event_type": "x"}, "event_type",
     "One of operation_failed, sync_failed, platform_unreachable, quota_threshold, budget_threshold, "
     "resource_deleted."),
    ({"name": "r", "metric": CPU, "for_seconds": -1}, "for_seconds", "Whole seconds from 0 to 604800."),
    ({"name": "r", "metric": CPU, "scope": []}, "scope", "An object."),
    ({"name": "r", "metric": CPU, "scope": {"zone": "a"}}, "scope.zone",
     "Not a scope; one of platform, service, type, project, tag."),
    ({"name": "r", "metric": CPU, "scope": {"type": ""}}, "scope.type", "Text of 1 to 255 characters."),
    ({"name": "r", "metric": CPU, "scope": {"tag": "team"}}, "scope.tag", "key=value."),
    ({"name": "r", "metric": CPU, "scope": {"tag": "=a=b"}}, "scope.tag", "key=value."),
    ({"name": "r", "metric": CPU, "labels": []}, "labels", "An object of at most 20 labels."),
    ({"name": "r", "metric": CPU, "labels": {"9bad": "v"}}, "labels.9bad", "A label name with a text value."),
    ({"name": "r", "metric": CPU, "summary": 5}, "summary", "Text of at most 500 characters."),
])
def test_a_refusal_tells_what_the_field_takes(data, field, message):
    with pytest.raises(InvalidInput) as refused:
        validate_rule(data)
    assert (refused.value.message, refused.value.detail) == (f"{field}: {message}", {field: [message]})


def test_a_rule_does_not_watch_another_organizations_resources_on_its_platform(world):
    a, b = world["a"], world["b"]
    lent = f.resource(a["platform"], organization=b["org"], name="lent")
    rule = _rule(a["org"])
    assert set(rule_resources(rule)) == set(a["resources"])
    assert lent in set(rule_resources(_rule(b["org"])))


def test_a_tag_scope_matches_a_value_that_holds_an_equals_sign(world):
    a = world["a"]
    tagged = f.resource(a["platform"], organization=a["org"], name="tagged", tags={"env": "a=b"})
    f.resource(a["platform"], organization=a["org"], name="other", tags={"env": "a"})
    assert list(rule_resources(_rule(a["org"], scope={"tag": "env=a=b"}))) == [tagged]


# -- the values of a window --------------------------------------------------------------------------------

def test_the_last_value_is_the_latest_sample_whatever_order_the_samples_arrived_in(world):
    vm = world["a"]["resources"][0]
    store_points(vm, CPU, [(T0.replace(second=50), 70)])
    store_points(vm, CPU, [(T0.replace(second=10), 10), (T0.replace(second=30), 30)])
    rule = _rule(world["a"]["org"])
    assert window_values(rule, [vm.pk], T0.replace(second=55)) == {vm.pk: 70}


def test_window_values_read_2000_series_a_query_and_miss_none(world, django_assert_num_queries):
    vm = world["a"]["resources"][0]
    store_points(vm, CPU, [(T0, 42)])
    rule = _rule(world["a"]["org"])
    with django_assert_num_queries(1):
        assert window_values(rule, ["x", "y", vm.pk], T0) == {vm.pk: 42}
    absent = [f"res-{n}" for n in range(2000)]
    with django_assert_num_queries(2):
        assert window_values(rule, [*absent, vm.pk], T0) == {vm.pk: 42}
