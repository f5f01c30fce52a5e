"""The members of an organization through the API: listed through ``restrict`` (someone who may
see the organization but not its people sees none of them), a cursor page at a time, searched."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db


def members(client, org, **params) -> dict:
    response = client.get(f"/api/v1/organizations/organizations/{org.pk}/members/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_members_are_listed_only_to_whoever_may_see_people():
    hq = f.org("HQ")
    f.user("alice", hq)
    reader = f.user("reader", f.org("Elsewhere"))
    f.grant(f.role("organizations:organization:read"), reader, hq)
    people_reader = f.user("people-reader", f.org("Also elsewhere"))
    f.grant(f.role("organizations:organization:read", "organizations:user:read"), people_reader, hq)

    assert members(api_as(reader), hq)["results"] == []
    assert [m["username"] for m in members(api_as(people_reader), hq)["results"]] == ["alice"]


def test_members_page_by_cursor_and_search_by_name():
    hq = f.org("HQ")
    for i in range(7):
        f.user(f"bulk{i}", hq)
    f.user("zed", hq, display_name="Zed Bulkley")
    root = api_as(f.user("root", is_superuser=True))

    first = members(root, hq, page_size=3)
    assert [m["username"] for m in first["results"]] == ["bulk0", "bulk1", "bulk2"]
    seen = [m["username"] for m in first["results"]]
    url = first["next"]
    while url:
        body = root.get(url).json()
        seen += [m["username"] for m in body["results"]]
        url = body["next"]
    assert seen == [f"bulk{i}" for i in range(7)] + ["zed"]

    assert [m["username"] for m in members(root, hq, q="bulk")["results"]] == [f"bulk{i}" for i in range(7)] + ["zed"]
    assert [m["username"] for m in members(root, hq, q="zed b")["results"]] == ["zed"]
