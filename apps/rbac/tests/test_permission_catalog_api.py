"""The permission catalog's read: its filters are free text, so any value answers a list (possibly
empty) and never a 400, and the OpenAPI document says just that."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests import factories as f
from tests.fixtures import api_as

PERMISSIONS = "/api/v1/rbac/permissions/"


@pytest.mark.django_db
@pytest.mark.parametrize("query", [
    {"service": "no-such-service"}, {"q": "%%\x7f' OR 1=1 --"}, {"service": "", "q": ""},
    {"q": "x" * 3000}, {"service": "rbac", "q": "*:*"}, {"cursor": "not-a-cursor", "page_size": "-1"},
])
def test_any_filter_value_answers_a_list(query):
    response = api_as(f.user("reader", f.org("HQ"))).get(PERMISSIONS, query)
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"next", "previous", "results"}


@pytest.mark.django_db
def test_a_filter_narrows_the_list_to_what_it_names():
    client = api_as(f.user("reader", f.org("HQ")))
    everything = client.get(PERMISSIONS).json()["results"]
    rbac = client.get(PERMISSIONS, {"service": "rbac"}).json()["results"]
    assert rbac and all(p["service"] == "rbac" for p in rbac)
    assert [p["code"] for p in rbac] == [p["code"] for p in everything if p["service"] == "rbac"]
    assert client.get(PERMISSIONS, {"service": "no-such-service"}).json()["results"] == []


def test_the_document_lists_no_400_for_the_catalog_and_keeps_its_other_statuses():
    operation = SchemaGenerator().get_schema(request=None, public=True)["paths"][PERMISSIONS]["get"]
    assert set(operation["responses"]) == {"200", "401", "403"}
    assert {p["name"] for p in operation["parameters"]} == {"service", "q"}

