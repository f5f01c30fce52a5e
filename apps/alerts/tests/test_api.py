"""The alerts API: invalid rules and silences are 400s naming the field and change nothing; templates
are sandboxed; handling is recorded in the history; another organization's objects are 404;
Alertmanager's bodies are accepted when signed with an AccessKey."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.alerts.models import Alert, AlertRule, ContactPoint, MessageTemplate, Silence
from apps.alerts.tests.factories import alert
from apps.rbac.models import Grant
from apps.security.client import sign
from apps.security.services import access_key_create
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
RULE = {"name": "High CPU", "metric": "CPUUtilization", "aggregation": "avg", "operator": ">", "threshold": 80,
        "window_seconds": 300, "for_seconds": 60, "severity": "critical"}


def test_a_valid_threshold_rule_is_created_and_listed(world):
    client = api_as(world["a"]["user"])
    created = client.post("/api/v1/alerts/rules/", {**RULE, "organization": str(world["a"]["org"].pk),
                                                     "scope": {"tag": "env=prod"}}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["scope"] == {"tag": "env=prod"} and created.json()["firing"] == 0
    listed = client.get("/api/v1/alerts/rules/").json()["results"]
    assert [r["id"] for r in listed] == [created.json()["id"]]


@pytest.mark.parametrize(("change", "field"), [
    ({"metric": "NoSuchMetric"}, "metric"),
    ({"window_seconds": 30}, "window_seconds"),
    ({"for_seconds": -5}, "for_seconds"),
    ({"operator": "=="}, "operator"),
    ({"aggregation": "p99"}, "aggregation"),
    ({"severity": "urgent"}, "severity"),
    ({"scope": {"colour": "red"}}, "scope.colour"),
    ({"scope": {"tag": "=x"}}, "scope.tag"),
    ({"labels": {"bad-name": "x"}}, "labels.bad-name"),
    ({"kind": "event", "event_type": "sunrise"}, "event_type"),
])
def test_an_invalid_rule_is_a_400_naming_the_field_and_creates_nothing(world, change, field):
    body = {**RULE, "organization": str(world["a"]["org"].pk), **change}
    response = api_as(world["a"]["user"]).post("/api/v1/alerts/rules/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]
    assert not AlertRule.objects.exists()


def test_a_change_that_makes_a_rule_invalid_is_refused_and_the_rule_is_unchanged(world):
    client = api_as(world["a"]["user"])
    rule = client.post("/api/v1/alerts/rules/", {**RULE, "organization": str(world["a"]["org"].pk)},
                       format="json").json()
    response = client.patch(f"/api/v1/alerts/rules/{rule['id']}/", {"window_seconds": 10}, format="json")
    assert response.status_code == 400 and "window_seconds" in response.json()["detail"]
    assert AlertRule.objects.get(pk=rule["id"]).window_seconds == 300


@pytest.mark.parametrize(("matchers", "field"), [
    ([], "matchers"),
    ([{"name": "9x", "value": "a"}], "matchers[0].name"),
    ([{"name": "a", "op": "~", "value": "a"}], "matchers[0].op"),
    ([{"name": "a", "op": "=~", "value": "("}], "matchers[0].value"),
])
def test_an_invalid_silence_is_a_400_naming_the_field(world, matchers, field):
    body = {"organization": str(world["a"]["org"].pk), "matchers": matchers,
            "ends_at": (timezone.now() + timedelta(hours=1)).isoformat()}
    response = api_as(world["a"]["user"]).post("/api/v1/alerts/silences/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]
    assert not Silence.objects.exists()


def test_another_organizations_alerts_silences_rules_and_contact_points_are_404(world):
    b = world["b"]
    foreign = alert(b["org"], alertname="disk full")
    rule = AlertRule.objects.create(organization=b["org"], name="b rule", metric="CPUUtilization")
    now = timezone.now()
    silence = Silence.objects.create(organization=b["org"], matchers=[{"name": "a", "op": "=", "value": "b"}],
                                     starts_at=now, ends_at=now + timedelta(hours=1))
    cp = ContactPoint.objects.create(organization=b["org"], name="b hook", kind="webhook",
                                     config={"url": "http://127.0.0.1:9/"})
    client = api_as(world["a"]["user"])
    for url in (f"/api/v1/alerts/alerts/{foreign.pk}/", f"/api/v1/alerts/alerts/{foreign.pk}/history/",
                f"/api/v1/alerts/rules/{rule.pk}/", f"/api/v1/alerts/silences/{silence.pk}/",
                f"/api/v1/alerts/contact-points/{cp.pk}/"):
        assert client.get(url).status_code == 404, url
    for url in (f"/api/v1/alerts/alerts/{foreign.pk}/acknowledge/", f"/api/v1/alerts/silences/{silence.pk}/expire/",
                f"/api/v1/alerts/contact-points/{cp.pk}/test/"):
        assert client.post(url, {}, format="json").status_code == 404, url
    assert client.delete(f"/api/v1/alerts/rules/{rule.pk}/").status_code == 404
    assert client.get("/api/v1/alerts/alerts/").json()["results"] == []
    assert client.get("/api/v1/alerts/alerts/summary/").json()["total"] == 0
    foreign.refresh_from_db()
    assert foreign.acknowledged_at is None and AlertRule.objects.filter(pk=rule.pk).exists()


def test_acknowledge_assign_and_comment_are_recorded_in_the_history(world):
    a = world["a"]
    firing = alert(a["org"], severity="critical", alertname="disk full")
    client = api_as(a["user"])
    assert client.get("/api/v1/alerts/alerts/summary/").json()["critical"] == 1
    ack = client.post(f"/api/v1/alerts/alerts/{firing.pk}/acknowledge/", {"comment": "looking"}, format="json")
    assert ack.status_code == 200 and ack.json()["acknowledged_by"] == a["user"].username
    assigned = client.post(f"/api/v1/alerts/alerts/{firing.pk}/assign/", {"assignee": str(a["user"].pk)}, format="json")
    assert assigned.json()["assignee"] == a["user"].username
    assert client.post(f"/api/v1/alerts/alerts/{firing.pk}/comment/", {"text": "disk grown"},
                       format="json").status_code == 201
    resolved = client.post(f"/api/v1/alerts/alerts/{firing.pk}/resolve/", {"reason": "fixed"}, format="json")
    assert resolved.json()["state"] == "resolved"
    history = client.get(f"/api/v1/alerts/alerts/{firing.pk}/history/").json()
    assert [h["kind"] for h in history] == ["acknowledge", "assign", "comment", "state"]
    assert history[-1]["reason"].endswith("fixed") and history[-1]["to_state"] == "resolved"
    again = client.post(f"/api/v1/alerts/alerts/{firing.pk}/resolve/", {}, format="json")
    assert again.status_code == 409


def test_assigning_to_someone_who_may_not_handle_the_alert_is_refused(world):
    firing = alert(world["a"]["org"])
    response = api_as(world["a"]["user"]).post(f"/api/v1/alerts/alerts/{firing.pk}/assign/",
                                               {"assignee": str(world["b"]["user"].pk)}, format="json")
    assert response.status_code == 400 and "assignee" in response.json()["detail"]
    firing.refresh_from_db()
    assert firing.assignee_id is None


@pytest.mark.parametrize("body", [
    "{{ settings.SECRET_KEY }}",                             # settings are not a variable
    "{{ alerts[0].__class__.__mro__ }}",                    # private attributes
    "{{ status.__class__.__subclasses__() }}",
    "{% for x in alerts %}{{ x.objects.all() }}{% endfor %}",  # no ORM behind the data
    "{% include '/etc/passwd' %}",                          # no file system
    "{% import 'os' as os %}",
    "{{ cycler.__init__.__globals__ }}",                    # no globals
    "{{ 'x' * 100000000 }}",                                # bounded output
    "{{ alerts.append(1) }}",                               # variables cannot be changed
    "{% for %}",                                            # a syntax error
])
def test_a_template_reaching_outside_its_variables_is_a_400_and_is_not_saved(world, body):
    client = api_as(world["a"]["user"])
    saved = client.post("/api/v1/alerts/templates/", {"organization": str(world["a"]["org"].pk), "name": "t",
                                                      "event_type": "alert", "subject": "s", "body": body},
                        format="json")
    assert saved.status_code == 400, saved.content
    assert "body" in saved.json()["detail"]
    assert not MessageTemplate.objects.exists()
    preview = client.post("/api/v1/alerts/templates/preview/", {"subject": "s", "body": body}, format="json")
    assert preview.status_code == 400 and "body" in preview.json()["detail"]


def test_a_template_reading_its_variables_previews_and_saves(world):
    client = api_as(world["a"]["user"])
    body = "{{ firing | length }} firing: {% for a in firing %}{{ a.labels.resource_name }} {% endfor %}"
    preview = client.post("/api/v1/alerts/templates/preview/", {"subject": "[{{ status }}] {{ title }}",
                                                                "body": body}, format="json")
    assert preview.status_code == 200
    assert preview.json() == {"subject": "[firing] High CPU (platform cp-demo)", "body": "1 firing: web-1 "}
    saved = client.post("/api/v1/alerts/templates/", {"organization": str(world["a"]["org"].pk), "name": "mine",
                                                      "event_type": "alert", "subject": "{{ title }}", "body": body},
                        format="json")
    assert saved.status_code == 201


def _signed_post(path: str, key, secret: str, body) -> object:
    raw = json.dumps(body).encode()
    headers = sign("POST", "http://testserver" + path, access_key_id=key.id, secret=secret, body=raw,
                   headers={"Content-Type": "application/json"})
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return APIClient().generic("POST", path, raw, content_type="application/json", **meta)


def test_alertmanager_bodies_signed_with_an_access_key_fire_and_resolve_alerts(world):
    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    assert key.organization_id == a["org"].pk
    firing = [{"labels": {"alertname": "NodeDown", "instance": "db-1", "severity": "critical"},
               "annotations": {"summary": "db-1 is down"}, "startsAt": "2026-03-01T12:00:00Z"}]
    answer = _signed_post("/api/v1/alerts/ingest/v2/alerts", key, secret, firing)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"received": 1, "firing": 1, "resolved": 0}
    assert _signed_post("/api/v1/alerts/ingest/v2/alerts", key, secret, firing).json()["firing"] == 1
    row = Alert.objects.get()
    assert (row.source, row.state, row.severity, row.organization_id) == ("external", "firing", "critical",
                                                                          a["org"].pk)
    webhook = {"version": "4", "status": "resolved", "receiver": "unimanager",
               "alerts": [{**firing[0], "status": "resolved", "endsAt": "2026-03-01T12:05:00Z"}]}
    done = _signed_post("/api/v1/alerts/ingest/webhook", key, secret, webhook)
    assert done.json() == {"received": 1, "firing": 0, "resolved": 1}
    row.refresh_from_db()
    assert row.state == "resolved" and Alert.objects.count() == 1


def test_a_key_whose_owner_left_its_organization_ingests_nothing_though_the_key_is_held(world):
    """The key's organization is read with the key and held with it for a few seconds: whether its owner
    may still see it is decided again for every request, as for a named organization."""
    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    path = "/api/v1/alerts/ingest/v2/alerts"
    assert _signed_post(path, key, secret, [{"labels": {"alertname": "First"}}]).status_code == 200
    f.leave(a["user"])
    for grant in Grant.objects.filter(user=a["user"]):
        grant.delete()
    answer = _signed_post(path, key, secret, [{"labels": {"alertname": "Second"}}])
    assert answer.status_code == 400 and answer.json()["detail"] == {"organization": ["Not found."]}, answer.content
    named = _signed_post(f"{path}?organization={a['org'].pk}", key, secret, [{"labels": {"alertname": "Third"}}])
    assert named.status_code == 400 and named.json()["detail"] == {"organization": ["Not found."]}, named.content
    assert list(Alert.objects.values_list("name", flat=True)) == ["First"]


def test_ingestion_refuses_a_session_and_bad_bodies_change_nothing(world):
    a = world["a"]
    body = [{"labels": {"alertname": "X"}}]
    session = api_as(a["user"]).post("/api/v1/alerts/ingest/v2/alerts", body, format="json")
    assert session.status_code == 403
    key, secret = access_key_create(actor=a["user"])
    for bad, field in (([{"labels": {}}], "alerts[0].labels"), ([{"labels": {"alertname": "X", "a-b": "1"}}],
                                                                 "alerts[0].labels"),
                       ([{"labels": {"alertname": "X"}, "startsAt": "yesterday"}], "alerts[0].startsAt"),
                       ([], "alerts")):
        answer = _signed_post("/api/v1/alerts/ingest/v2/alerts", key, secret, bad)
        assert answer.status_code == 400 and field in answer.json()["detail"], answer.content
    assert not Alert.objects.exists()


def test_dashboard_queries_count_only_the_viewers_firing_unmuted_alerts(world):
    from apps.core.widgets import QueryScope, get_query

    a, b = world["a"], world["b"]
    alert(a["org"], severity="critical")
    alert(a["org"], severity="warning")
    alert(a["org"], severity="critical", state="resolved")
    alert(b["org"], severity="critical")
    scope = QueryScope(a["user"])
    assert get_query("alerts.firing_count").run(scope, {"severity": "any"}) == {"value": 2, "total": None}
    assert get_query("alerts.firing_count").run(scope, {"severity": "critical"})["value"] == 1
    assert get_query("alerts.firing_by_severity").run(scope, {}) == {
        "categories": [{"name": "critical", "value": 1}, {"name": "warning", "value": 1}]}
    screen = QueryScope(None, organization_ids=[b["org"].pk])
    assert get_query("alerts.firing_count").run(screen, {"severity": "any"})["value"] == 1


@pytest.mark.parametrize("url", [
    "ftp://hooks.example.com/x", "http://127.0.0.1:99999/hook", "http://127.0.0.1:0/hook", "http://:8080/hook",
    "http://hooks.example.com/a b", "http://hooks.example.com/\x01", "https://hooks.example.com:port/x",
])
def test_a_contact_point_whose_url_cannot_be_posted_to_is_a_400_naming_it(world, url):
    a = world["a"]
    answer = api_as(a["user"]).post("/api/v1/alerts/contact-points/", {
        "organization": str(a["org"].pk), "name": "hook", "kind": "webhook", "config": {"url": url}}, format="json")
    assert answer.status_code == 400 and "config.url" in answer.json()["detail"], answer.content
    assert not ContactPoint.objects.exists()
