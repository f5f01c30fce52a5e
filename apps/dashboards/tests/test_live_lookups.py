"""What live dashboards look up per event (the dashboards to tell, the organizations whose screens
show them, a screen organization's subtree) is kept per process, and a change to a dashboard, a
display token or an organization is seen by the very next event: a kept look-up never pushes a
screen values of organizations that are no longer below its own."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core.events import emit
from apps.dashboards import live
from apps.dashboards.tests.factories import dashboard
from apps.organizations import services as organizations
from apps.security import services as security
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def by_type(wid: str) -> dict:
    return {"id": wid, "type": "bar", "title": "By type", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 6},
            "query": {"name": "resources.by", "params": {"group_by": "type"}}, "options": {}}


@pytest.fixture
def pushed(monkeypatch):
    """The values pushed to wall screens, by organization, each change announced at once."""
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(live, "coalescer", live.Coalescer(0.0, live.announce))
    monkeypatch.setattr(live, "_notify", lambda org_id, topic, payload: sent.append((topic, payload)))
    return sent


def change_resources(org) -> None:
    with transaction.atomic():
        emit(org, "resource:res-test", {"event": "resource_changed", "id": "res-test"})


def categories(payload: dict) -> dict[str, int]:
    return {c["name"]: c["value"] for c in payload["widgets"]["types"]["result"]["categories"]}


def screen_values_of(sent: list[tuple[str, dict]]) -> list[dict]:
    return [payload for topic, payload in sent if topic.startswith("screen:")]


def test_a_kept_lookup_costs_no_query_before_the_widgets_own(pushed):
    a = f.org("A")
    f.resource(f.platform(a), organization=a, type="ecs.instance")
    dashboard(a, "wall-a", widgets=[by_type("types")])
    security.display_token_create(actor=None, organization=a, name="NOC", dashboards=["wall-a"])
    change_resources(a)  # looks everything up once
    with CaptureQueriesContext(connection) as queries:
        live.data_changed(a.pk, "resource:res-test", {"event": "resource_changed"})
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]  # the widget's query
    assert [categories(p) for p in screen_values_of(pushed)] == [{"ecs.instance": 1}] * 2


def test_a_display_token_created_after_a_lookup_gets_the_next_change_pushed(pushed):
    a = f.org("A")
    dashboard(a, "wall-a", widgets=[by_type("types")])
    change_resources(a)
    assert screen_values_of(pushed) == []  # no screen shows it: nothing computed
    security.display_token_create(actor=None, organization=a, name="NOC", dashboards=["wall-a"])
    change_resources(a)
    assert len(screen_values_of(pushed)) == 1


def test_an_edited_dashboard_is_computed_from_its_new_document_at_the_next_change(pushed):
    a = f.org("A")
    board = dashboard(a, "wall-a", widgets=[by_type("types")])
    security.display_token_create(actor=None, organization=a, name="NOC", dashboards=["wall-a"])
    change_resources(a)
    board.document = {**board.document, "widgets": [by_type("types"), {**by_type("more"), "id": "more"}]}
    board.version += 1
    board.save()
    change_resources(a)
    first, second = screen_values_of(pushed)
    assert set(first["widgets"]) == {"types"}
    assert set(second["widgets"]) == {"types", "more"} and second["version"] == first["version"] + 1


def test_an_organization_moved_away_is_no_longer_in_its_former_parents_screen_values(pushed):
    a, b = f.org("A"), f.org("B")
    team = f.org("team", parent=a)
    platform = f.platform(a)
    f.resource(platform, organization=a, type="ecs.instance")
    f.resource(platform, organization=team, type="ecs.disk")
    dashboard(a, "wall-a", widgets=[by_type("types")])
    security.display_token_create(actor=None, organization=a, name="NOC", dashboards=["wall-a"])
    change_resources(a)
    with transaction.atomic():
        organizations.organization_move(actor=None, organization=team, new_parent=b)
    change_resources(a)
    before, after = screen_values_of(pushed)
    assert categories(before) == {"ecs.instance": 1, "ecs.disk": 1}
    assert categories(after) == {"ecs.instance": 1}  # the team's disk went with it


def test_lookups_are_dropped_when_another_process_moves_the_generation():
    kept = live.Lookups()
    made: list[int] = []
    kept.fresh()
    assert kept.get("k", lambda: made.append(1) or "first") == "first"
    assert kept.get("k", lambda: made.append(2) or "second") == "first"
    live.Lookups()._move()  # another process's copy announcing a change through the shared cache
    kept.fresh()
    assert kept.get("k", lambda: made.append(3) or "third") == "third"
    assert made == [1, 3]
