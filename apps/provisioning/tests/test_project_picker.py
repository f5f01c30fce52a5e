"""The project a request names is chosen among the projects the platform serves that the person
may provision in, through ``restrict``: page by page (a cursor) and searched as they type (``?q=``),
in the API and in the portal's request form."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.fixtures import api_as as api

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/provisioning/projects/"


def names(client, **params) -> list[str]:
    response = client.get(PROJECTS, params)
    assert response.status_code == 200, response.content
    return [p["name"] for p in response.json()["results"]]


def test_only_projects_the_platform_serves_and_the_person_may_provision_in(world):
    f.project(world["hq"], name="also-hq")
    f.project(f.org("Department", world["hq"]), name="department")
    platform = str(world["platform"].pk)
    assert names(api(world["tenant"]), platform=platform) == ["also-hq", "department", "web"]
    # The outsider may provision only in their own organization, which the platform does not serve.
    assert names(api(world["outsider"]), platform=platform) == []


def test_a_grant_on_the_platform_itself_offers_every_project_it_serves(world):
    operator = f.user("operator", world["other"])
    f.grant(f.role("ecs:instance:create"), operator, scope_type="cloud_platform", scope_key=world["platform"].pk)
    assert names(api(operator), platform=str(world["platform"].pk)) == ["web"]


def test_the_projects_page_by_cursor_and_narrow_as_you_type(world):
    for i in range(55):
        f.project(world["hq"], name=f"batch-{i:02d}")
    client = api(world["tenant"])
    first = client.get(PROJECTS, {"platform": str(world["platform"].pk)}).json()
    assert len(first["results"]) == 50 and first["next"]
    rest = client.get(first["next"]).json()
    assert [p["name"] for p in rest["results"]] == ["batch-50", "batch-51", "batch-52", "batch-53", "batch-54", "web"]
    assert rest["next"] is None
    assert names(client, platform=str(world["platform"].pk), q="TCH-5") == [f"batch-5{i}" for i in range(5)]

    form = client.get("/api/v1/provisioning/form/", {"platform": str(world["platform"].pk)}).json()
    assert len(form["projects"]) == 50 and form["more_projects"] is True
    assert names(client, **dict(p.split("=") for p in form["projects_url"].split("?")[1].split("&"))) \
        == [p["name"] for p in form["projects"]]


def test_the_request_form_searches_its_projects_as_you_type(world, client):
    for i in range(3):
        f.project(world["hq"], name=f"shop-{i}")
    client.force_login(world["tenant"])
    page = client.get(f"/portal/provisioning/new/{world['platform'].pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="f-project-search"' in html and "shop-2 (HQ)" in html
    options = client.get(f"/portal/provisioning/new/{world['platform'].pk}/projects/", {"q": "shop-1"})
    assert options.status_code == 200
    assert "shop-1 (HQ)" in options.content.decode() and "shop-2" not in options.content.decode()

    client.force_login(world["outsider"])
    assert client.get(f"/portal/provisioning/new/{world['platform'].pk}/").status_code == 404
    assert client.get(f"/portal/provisioning/new/{world['platform'].pk}/projects/").status_code == 404
