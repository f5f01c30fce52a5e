"""The dashboards API: validation naming what is wrong, versions and restore, export and import,
tenant isolation, and widget data scoped to whoever looks."""

from __future__ import annotations

import json

import pytest

from apps.dashboards.models import Dashboard, DashboardVersion
from apps.dashboards.tests.factories import dashboard, document
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
API = "/api/v1/dashboards/dashboards/"
EDITOR = ("dashboards:dashboard:*", "resources:resource:read", "core:operation:read",
          "organizations:organization:read", "organizations:user:read")


@pytest.fixture
def world():
    a, b = f.org("A"), f.org("B")
    alice, bob = f.user("alice", a), f.user("bob", b)
    editor = f.role(*EDITOR)
    f.grant(editor, alice, a)
    f.grant(editor, bob, b)
    platform_a, platform_b = f.platform(a, name="pa"), f.platform(b, name="pb")
    for _ in range(3):
        f.resource(platform_a, organization=a)
    f.resource(platform_b, organization=b)
    return {"a": a, "b": b, "alice": alice, "bob": bob}


def test_a_dashboard_with_an_unknown_widget_type_is_refused_naming_it(world):
    doc = document("bad-type")
    doc["widgets"][1]["type"] = "sparkline3d"
    response = api_as(world["alice"]).post(API, {"document": doc}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "sparkline3d" in body["message"]
    assert "widgets[1].type" in body["detail"]
    assert not Dashboard.objects.filter(pk="bad-type").exists()


def test_a_save_with_an_unknown_query_is_refused_naming_it_and_changes_nothing(world):
    row = dashboard(world["a"], "ops")
    doc = document("ops")
    doc["widgets"][0]["query"]["name"] = "billing.moon_phase"
    response = api_as(world["alice"]).put(f"{API}ops/", {"document": doc}, format="json")
    assert response.status_code == 400
    assert "billing.moon_phase" in response.json()["message"]
    assert "widgets[0].query.name" in response.json()["detail"]
    row.refresh_from_db()
    assert row.version == 1 and row.versions.count() == 1


def test_a_query_parameter_outside_its_choices_is_refused_naming_it(world):
    doc = document("p")
    doc["widgets"][1]["query"]["params"] = {"group_by": "colour", "shoe_size": 3}
    body = api_as(world["alice"]).post(API, {"document": doc}, format="json").json()
    assert {"widgets[1].query.params.group_by", "widgets[1].query.params.shoe_size"} <= set(body["detail"])


def test_a_widget_outside_the_24_column_grid_is_refused(world):
    doc = document("wide")
    doc["widgets"][0]["gridPos"] = {"x": 20, "y": 0, "w": 6, "h": 4}
    response = api_as(world["alice"]).post(API, {"document": doc}, format="json")
    assert response.status_code == 400 and "widgets[0].gridPos" in response.json()["detail"]


def test_every_save_is_a_version_and_restoring_one_saves_it_as_the_newest(world):
    client = api_as(world["alice"])
    created = client.post(API, {"document": document("ver")}, format="json")
    assert created.status_code == 201 and created.json()["version"] == 1
    changed = document("ver", title="Renamed")
    saved = client.put(f"{API}ver/", {"document": changed, "base_version": 1}, format="json")
    assert saved.status_code == 200 and saved.json()["version"] == 2 and saved.json()["title"] == "Renamed"
    versions = client.get(f"{API}ver/versions/").json()
    assert [v["version"] for v in versions] == [2, 1]
    restored = client.post(f"{API}ver/restore/", {"version": 1}, format="json")
    assert restored.status_code == 200
    assert restored.json()["version"] == 3 and restored.json()["title"] == "Test board"
    assert DashboardVersion.objects.filter(dashboard_id="ver").count() == 3


def test_a_save_over_a_newer_version_is_a_conflict(world):
    client = api_as(world["alice"])
    dashboard(world["a"], "race")
    assert client.put(f"{API}race/", {"document": document("race", title="one"), "base_version": 1},
                      format="json").status_code == 200
    late = client.put(f"{API}race/", {"document": document("race", title="two"), "base_version": 1}, format="json")
    assert late.status_code == 409
    assert Dashboard.objects.get(pk="race").title == "one"


def test_export_then_import_gives_the_same_dashboard_back(world):
    client = api_as(world["alice"])
    row = dashboard(world["a"], "roundtrip")
    exported = client.get(f"{API}roundtrip/export/")
    assert exported.status_code == 200 and "attachment" in exported["Content-Disposition"]
    doc = json.loads(exported.content)
    assert client.post(f"{API}import/", {"document": doc}, format="json").status_code == 409
    overwritten = client.post(f"{API}import/", {"document": doc, "overwrite": True}, format="json")
    assert overwritten.status_code == 201 and overwritten.json()["version"] == 2
    row.delete()
    imported = client.post(f"{API}import/", {"document": doc, "organization": str(world["a"].pk)}, format="json")
    assert imported.status_code == 201
    assert Dashboard.objects.get(pk="roundtrip").document == doc


def test_import_cannot_overwrite_another_organizations_dashboard(world):
    dashboard(world["a"], "theirs")
    doc = document("theirs", title="hijacked")
    response = api_as(world["bob"]).post(f"{API}import/", {"document": doc, "overwrite": True}, format="json")
    assert response.status_code == 409
    assert Dashboard.objects.get(pk="theirs").title == "Test board"


def test_another_organizations_dashboard_is_not_found_and_not_changed(world):
    dashboard(world["a"], "a-only")
    client = api_as(world["bob"])
    assert client.get(f"{API}a-only/").status_code == 404
    assert client.get(f"{API}a-only/data/").status_code == 404
    assert client.put(f"{API}a-only/", {"document": document("a-only", title="x")}, format="json").status_code == 404
    assert client.delete(f"{API}a-only/").status_code == 404
    assert Dashboard.objects.get(pk="a-only").title == "Test board"
    assert "a-only" not in [r["uid"] for r in client.get(API).json()["results"]]


def test_a_reader_who_may_not_write_is_refused_and_nothing_changes(world):
    reader = f.user("reader", world["a"])
    f.grant(f.role("dashboards:dashboard:read"), reader, world["a"])
    dashboard(world["a"], "ro")
    client = api_as(reader)
    assert client.get(f"{API}ro/").status_code == 200
    assert client.put(f"{API}ro/", {"document": document("ro", title="x")}, format="json").status_code == 403
    assert client.delete(f"{API}ro/").status_code == 403
    assert Dashboard.objects.get(pk="ro").version == 1


def test_widget_data_is_what_the_viewer_may_see_even_on_a_shared_dashboard(world):
    row = dashboard(world["a"], "shared")
    # Carol belongs to both organizations but holds her grants in B only.
    carol = f.user("carol", world["a"], world["b"])
    f.grant(f.role(*EDITOR), carol, world["b"])
    alice, other = api_as(world["alice"]), api_as(carol)
    assert other.get(f"{API}shared/").status_code == 404
    assert alice.post(f"{API}shared/share/", {"users": [str(carol.pk)]}, format="json").status_code == 200
    assert other.get(f"{API}shared/").status_code == 200
    for client, expected in ((alice, 3), (other, 1)):
        data = client.get(f"{API}{row.uid}/data/").json()
        types = data["widgets"]["types"]["result"]["categories"]
        assert types == [{"name": "ecs.instance", "value": expected}]


def test_the_organization_variable_narrows_to_an_organization_the_viewer_may_read(world):
    child = f.org("A-child", parent=world["a"])
    f.resource(f.platform(world["a"], name="pc"), organization=child)
    dashboard(world["a"], "vars")
    client = api_as(world["alice"])
    narrowed = client.get(f"{API}vars/data/", {"organization": str(child.pk)}).json()
    assert narrowed["widgets"]["types"]["result"]["categories"] == [{"name": "ecs.instance", "value": 1}]
    for other in (str(world["b"].pk), "not-an-id"):
        refused = client.get(f"{API}vars/data/", {"organization": other})
        assert refused.status_code == 400 and "organization" in refused.json()["detail"]


def test_a_dashboard_from_a_template_gets_a_new_uid_and_the_templates_widgets(world):
    response = api_as(world["alice"]).post(API, {"template": "network", "organization": str(world["a"].pk)},
                                           format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["uid"] != "network" and body["title"] == "Network" and len(body["document"]["widgets"]) == 8
    unknown = api_as(world["alice"]).post(API, {"template": "nope"}, format="json")
    assert unknown.status_code == 400 and "nope" in unknown.json()["message"]


def test_the_catalog_lists_every_apps_queries_and_the_widget_kinds(world):
    body = api_as(world["alice"]).get("/api/v1/dashboards/catalog/").json()
    names = {q["name"] for q in body["queries"]}
    assert {"core.operations_running", "resources.by", "resources.network", "security.mfa_coverage",
            "security.signins_by_result", "provisioning.requests_waiting", "clouds.platforms_healthy",
            "organizations.count"} <= names
    assert {k["name"] for k in body["widget_kinds"]} == {"stat", "gauge", "line", "bar", "pie", "table", "map",
                                                         "topology"}
    assert {t["name"] for t in body["templates"]} == {"resources", "network", "operations", "organization", "security",
                                                      "alerting"}


def test_every_predefined_dashboard_reads_without_errors(world):
    from apps.dashboards import predefined, services

    reader = f.user("auditor-like", world["a"])
    f.grant(f.role("*:*:read", "dashboards:dashboard:write"), reader, world["a"])
    client = api_as(reader)
    for name in predefined.PREDEFINED:
        row = services.dashboard_from_template(actor=reader, organization=world["a"], template=name)
        widgets = client.get(f"{API}{row.uid}/data/").json()["widgets"]
        assert len(widgets) == len(row.document["widgets"])
        assert all("result" in w for w in widgets.values()), {k: w.get("error") for k, w in widgets.items()}


def test_a_widget_the_viewer_may_not_query_shows_an_error_not_the_data(world):
    from apps.dashboards import services

    row = services.dashboard_from_template(actor=world["alice"], organization=world["a"], template="resources")
    widgets = api_as(world["alice"]).get(f"{API}{row.uid}/data/").json()["widgets"]
    assert "result" not in widgets["platforms"] and widgets["platforms"]["error"]
    assert widgets["total"]["result"] == {"value": 3, "total": None}


def test_the_editor_previews_an_unsaved_widget_with_the_viewers_data_and_names_bad_fields(world):
    dashboard(world["a"], "prev")
    client = api_as(world["alice"])
    widget = {"id": "new1", "type": "pie", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
              "query": {"name": "resources.by", "params": {"group_by": "status"}}}
    preview = client.post(f"{API}prev/preview/", {"widget": widget}, format="json")
    assert preview.status_code == 200
    assert preview.json()["result"]["categories"] == [{"name": "running", "value": 3}]
    widget["type"] = "radar"
    refused = client.post(f"{API}prev/preview/", {"widget": widget}, format="json")
    assert refused.status_code == 400 and "widget.type" in refused.json()["detail"]
    assert api_as(world["bob"]).post(f"{API}prev/preview/", {"widget": widget}, format="json").status_code == 404
