"""Sharing a dashboard with roles, and the home each role gets on the console and the portal."""

from __future__ import annotations

import pytest

from apps.core.errors import Conflict, Forbidden, InvalidInput
from apps.dashboards import selectors, services
from apps.dashboards.models import HomeDashboard
from apps.dashboards.tests.factories import dashboard
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
API = "/api/v1/dashboards/dashboards/"
EDITOR = ("dashboards:dashboard:*", "resources:resource:read", "core:operation:read",
          "organizations:organization:read", "organizations:user:read", "rbac:role:read")


@pytest.fixture
def world():
    hq = f.org("HQ")
    team, other = f.org("Team", parent=hq), f.org("Other")
    admin = f.user("admin", hq)
    f.grant(f.role(*EDITOR), admin, hq)
    night = f.role("resources:resource:read", key="night_shift")
    worker, outsider, plain = f.user("worker", team), f.user("outsider", other), f.user("plain", team)
    f.grant(night, worker, team)
    f.grant(night, outsider, other)
    return {"hq": hq, "team": team, "other": other, "admin": admin, "night": night, "worker": worker,
            "outsider": outsider, "plain": plain}


def test_a_dashboard_shared_with_a_role_is_read_by_its_holders_in_the_organizations_below_only(world):
    board = dashboard(world["hq"], "noc")
    assert api_as(world["worker"]).get(f"{API}noc/").status_code == 404
    reply = api_as(world["admin"]).post(f"{API}noc/share/", {"roles": ["night_shift"]}, format="json")
    assert reply.status_code == 200 and reply.json()["shared_roles"] == ["night_shift"]
    assert api_as(world["worker"]).get(f"{API}noc/").status_code == 200
    # The same role held in an unrelated organization, or no role at all: still not found.
    assert api_as(world["outsider"]).get(f"{API}noc/").status_code == 404
    assert api_as(world["plain"]).get(f"{API}noc/").status_code == 404
    assert set(board.shared_with_roles.values_list("key", flat=True)) == {"night_shift"}


def test_sharing_with_roles_keeps_the_people_it_was_shared_with_and_the_reverse(world):
    board = dashboard(world["hq"], "noc")
    client = api_as(world["admin"])
    assert client.post(f"{API}noc/share/", {"users": [str(world["plain"].pk)]}, format="json").status_code == 200
    assert client.post(f"{API}noc/share/", {"roles": ["night_shift"]}, format="json").status_code == 200
    assert list(board.shared_with.all()) == [world["plain"]]
    assert client.post(f"{API}noc/share/", {"roles": []}, format="json").status_code == 200
    assert api_as(world["worker"]).get(f"{API}noc/").status_code == 404
    assert api_as(world["plain"]).get(f"{API}noc/").status_code == 200


def test_sharing_with_an_unknown_role_or_with_nothing_is_refused_naming_the_field_and_changes_nothing(world):
    board = dashboard(world["hq"], "noc")
    client = api_as(world["admin"])
    unknown = client.post(f"{API}noc/share/", {"roles": ["night_shift", "no_such_role"]}, format="json")
    assert unknown.status_code == 400 and "roles" in unknown.json()["detail"]
    assert "no_such_role" in unknown.json()["message"]
    empty = client.post(f"{API}noc/share/", {}, format="json")
    assert empty.status_code == 400 and "users" in empty.json()["detail"]
    assert not board.shared_with_roles.exists()


def test_a_role_holder_may_not_share_a_dashboard_they_only_read(world):
    board = dashboard(world["hq"], "noc")
    board.shared_with_roles.add(world["night"])
    refused = api_as(world["worker"]).post(f"{API}noc/share/", {"roles": []}, format="json")
    assert refused.status_code in (403, 404)
    assert board.shared_with_roles.count() == 1


def test_the_home_shows_the_dashboards_set_for_a_role_the_person_holds_in_order(world):
    first, second = dashboard(world["hq"], "first"), dashboard(world["hq"], "second")
    for board in (first, second):
        board.shared_with_roles.add(world["night"])
    services.home_assign(actor=world["admin"], organization=world["hq"], surface="portal", dashboard=second,
                         role=world["night"], position=2)
    services.home_assign(actor=world["admin"], organization=world["hq"], surface="portal", dashboard=first,
                         role=world["night"], position=1)
    assert [d.uid for d in selectors.home_dashboards(actor=world["worker"], surface="portal")] == ["first", "second"]
    assert selectors.home_dashboards(actor=world["worker"], surface="console") == []
    assert selectors.home_dashboards(actor=world["outsider"], surface="portal") == []


def test_without_a_home_for_the_role_the_predefined_dashboard_is_the_fallback_when_readable(world):
    dashboard(world["hq"], "resources")
    assert [d.uid for d in selectors.home_dashboards(actor=world["admin"], surface="console")] == ["resources"]
    assert selectors.home_dashboards(actor=world["plain"], surface="console") == []


def test_a_home_with_no_role_applies_to_everyone_in_and_below_the_organization(world):
    board = dashboard(world["hq"], "lobby")
    member = f.predefined("organization_member")
    board.shared_with_roles.add(member)
    services.home_assign(actor=world["admin"], organization=world["hq"], surface="portal", dashboard=board)
    assert [d.uid for d in selectors.home_dashboards(actor=world["plain"], surface="portal")] == ["lobby"]
    assert selectors.home_dashboards(actor=world["outsider"], surface="portal") == []


def test_a_home_refuses_a_foreign_dashboard_a_bad_surface_a_duplicate_and_a_person_who_may_not_write(world):
    foreign = dashboard(world["other"], "foreign")
    own = dashboard(world["hq"], "own")
    with pytest.raises(InvalidInput) as bad:
        services.home_assign(actor=None, organization=world["hq"], surface="portal", dashboard=foreign)
    assert "dashboard" in bad.value.detail
    with pytest.raises(InvalidInput) as bad:
        services.home_assign(actor=None, organization=world["hq"], surface="desk", dashboard=own)
    assert "surface" in bad.value.detail
    services.home_assign(actor=None, organization=world["hq"], surface="portal", dashboard=own)
    with pytest.raises(Conflict):
        services.home_assign(actor=None, organization=world["hq"], surface="portal", dashboard=own)
    with pytest.raises(Forbidden):
        services.home_assign(actor=world["worker"], organization=world["hq"], surface="console", dashboard=own)
    assert HomeDashboard.objects.count() == 1


def test_the_console_overview_and_the_portal_home_show_the_home_dashboard(world, client):
    board = dashboard(world["hq"], "lobby")
    board.shared_with_roles.add(f.predefined("organization_member"))
    services.home_assign(actor=None, organization=world["hq"], surface="portal", dashboard=board)
    client.force_login(world["plain"])
    page = client.get("/portal/")
    assert page.status_code == 200 and b'data-testid="home-dashboards"' in page.content
    assert b'"topic": "dashboard:lobby"' in page.content
    client.force_login(world["outsider"])
    assert b'data-testid="home-dashboards"' not in client.get("/portal/").content


def test_the_homes_page_adds_and_removes_a_home_and_shows_a_refusal_without_a_change(world, client):
    board = dashboard(world["hq"], "lobby")
    client.force_login(world["admin"])
    added = client.post("/console/dashboards/homes/", {"organization": str(world["hq"].pk), "surface": "console",
                                                       "role": "", "dashboard": "lobby", "position": "3"})
    assert added.status_code == 302
    home = HomeDashboard.objects.get()
    assert (home.dashboard, home.surface, home.role, home.position) == (board, "console", None, 3)
    refused = client.post("/console/dashboards/homes/", {"organization": str(world["hq"].pk), "surface": "tv",
                                                         "dashboard": "lobby"})
    assert refused.status_code == 400 and b"surface must be" in refused.content
    assert HomeDashboard.objects.count() == 1
    assert client.post("/console/dashboards/homes/", {"remove": home.pk}).status_code == 302
    assert not HomeDashboard.objects.exists()
