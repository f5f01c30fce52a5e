"""Dashboard pages and wall screens: who sees which dashboard and whose data."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.dashboards.tests.factories import dashboard
from apps.security import services as security
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    a, b = f.org("A"), f.org("B")
    child = f.org("A1", parent=a)
    alice = f.user("alice", a)
    f.grant(f.role("dashboards:dashboard:*", "resources:resource:read", "core:operation:read",
                   "organizations:organization:read", "menu:console:dashboards"), alice, a)
    pa, pb = f.platform(a, name="pa"), f.platform(b, name="pb")
    f.resource(pa, organization=a)
    f.resource(pa, organization=child)
    f.resource(pa, organization=None)  # unassigned, on A's platform
    f.resource(pb, organization=b)
    return {"a": a, "b": b, "alice": alice}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def screen(raw: str) -> Client:
    client = Client(REMOTE_ADDR="10.1.1.1")
    assert client.post("/screens/signin/", {"token": raw}).status_code == 302
    return client


def test_the_list_view_and_editor_pages_render_for_an_editor(world):
    dashboard(world["a"], "ops")
    client = signed_in(world["alice"])
    listing = client.get("/console/dashboards/")
    assert listing.status_code == 200 and b'data-uid="ops"' in listing.content
    assert client.get("/console/dashboards/ops/").status_code == 200
    edit = client.get("/console/dashboards/ops/edit/")
    assert edit.status_code == 200 and b"editor-grid" in edit.content


def test_creating_from_a_template_opens_the_editor(world):
    client = signed_in(world["alice"])
    response = client.post("/console/dashboards/new/", {"template": "security", "title": "SOC",
                                                        "organization": str(world["a"].pk)})
    assert response.status_code == 302 and response["Location"].endswith("/edit/")


def test_another_organizations_dashboard_page_is_not_found(world):
    dashboard(world["b"], "b-board")
    client = signed_in(world["alice"])
    for url in ("/console/dashboards/b-board/", "/console/dashboards/b-board/edit/", "/screens/d/b-board/",
                "/screens/d/b-board/data/"):
        assert client.get(url).status_code == 404, url


def test_a_wall_screen_reads_its_tokens_organization_and_below(world):
    dashboard(world["a"], "wall")
    _token, raw = security.display_token_create(actor=None, organization=world["a"], name="NOC",
                                                dashboards=["wall"])
    wall = screen(raw)
    page = wall.get("/screens/d/wall/")
    assert page.status_code == 200 and b"screen-data" in page.content
    data = wall.get("/screens/d/wall/data/").json()
    # A's two resources, its child's and the unassigned one on A's platform; never B's.
    assert data["widgets"]["types"]["result"]["categories"] == [{"name": "ecs.instance", "value": 3}]


def test_a_wall_screen_cannot_show_another_organizations_dashboard_even_if_its_token_names_it(world):
    dashboard(world["b"], "b-wall")
    _token, raw = security.display_token_create(actor=None, organization=world["a"], name="NOC",
                                                dashboards=["b-wall"])
    wall = screen(raw)
    page = wall.get("/screens/d/b-wall/")
    assert page.status_code == 200 and b'"missing": true' in page.content
    assert b"Test board" not in page.content
    assert wall.get("/screens/d/b-wall/data/").status_code == 404


def test_a_wall_screen_without_a_token_is_sent_to_sign_in(world):
    dashboard(world["a"], "wall")
    assert Client().get("/screens/d/wall/")["Location"] == "/screens/signin/"
    assert Client().get("/screens/d/wall/data/").status_code == 401


def test_a_token_playlist_shows_its_dashboards_in_order(world):
    dashboard(world["a"], "one", title="First")
    dashboard(world["a"], "two", title="Second")
    _token, raw = security.display_token_create(actor=None, organization=world["a"], name="NOC",
                                                dashboards=["two", "one"])
    page = screen(raw).get("/screens/").content.decode()
    assert page.index('data-uid="one"') < page.index('data-uid="two"')


def test_a_table_uploaded_from_the_console_is_listed_and_a_bad_one_names_row_and_column(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.dashboards.models import DataSource

    f.grant(f.role("dashboards:datasource:*"), world["alice"], world["a"])
    client = signed_in(world["alice"])
    bad = client.post("/console/dashboards/data-sources/", {
        "kind": "table", "name": "Costs", "organization": str(world["a"].pk),
        "file": SimpleUploadedFile("costs.csv", b"team,cost\na,2\nb,lots\n", content_type="text/csv")})
    assert bad.status_code == 400 and b"row 3, column B (cost)" in bad.content
    assert not DataSource.objects.exists()
    good = client.post("/console/dashboards/data-sources/", {
        "kind": "table", "name": "Costs", "organization": str(world["a"].pk),
        "file": SimpleUploadedFile("costs.csv", b"team,cost\na,2\nb,3\n", content_type="text/csv")})
    assert good.status_code == 302
    listing = client.get(good["Location"])
    assert b"team, cost" in listing.content and DataSource.objects.get().organization == world["a"]
    refused = client.post("/console/dashboards/data-sources/", {
        "kind": "http_json", "name": "Metadata", "organization": str(world["a"].pk), "url": "http://169.254.169.254/"})
    assert refused.status_code == 400 and b"link-local" in refused.content
