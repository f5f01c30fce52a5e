"""The security policy list pages (keyset) and searches instead of stopping at 500 organizations: a
search finds an organization far beyond the first page, another organization's never shows, and
a row on a further page still shows that its parent's policy applies."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.core.pagination import CursorPagination
from apps.security.models import SecurityPolicy
from tests import factories as f

pytestmark = pytest.mark.django_db
LIST = "/console/security/policies/"


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def tree():
    north, south = f.org("North"), f.org("South")
    admin = f.user("north-sec", north)
    f.grant(f.predefined("security_administrator"), admin, north)
    plants = [f.org(f"Plant {i:03}", north) for i in range(CursorPagination.page_size + 5)]
    return {"north": north, "south": south, "admin": admin, "last": max(plants, key=lambda o: o.path)}


def test_the_policy_list_pages_through_every_visible_organization(tree):
    client = client_of(tree["admin"])
    first = client.get(LIST)
    assert len(first.context["organizations"]) == CursorPagination.page_size
    second = client.get(f"{LIST}?{first.context['page'].next_query}")
    shown = {o.pk for o in first.context["organizations"]} | {o.pk for o in second.context["organizations"]}
    assert tree["last"].pk in shown and tree["south"].pk not in shown
    assert len(shown) == CursorPagination.page_size + 6


def test_a_search_finds_an_organization_beyond_the_first_page_and_its_inherited_policy(tree):
    SecurityPolicy.objects.create(organization=tree["north"])
    client = client_of(tree["admin"])
    assert tree["last"].pk not in {o.pk for o in client.get(LIST).context["organizations"]}
    found = client.get(LIST, {"q": tree["last"].name})
    assert [o.pk for o in found.context["organizations"]] == [tree["last"].pk]
    assert found.context["organizations"][0].inherits
    assert client.get(LIST, {"q": "South"}).context["organizations"] == []
