"""Every console, portal and screen page that takes an id shows the 404 page for an id that names
nothing, never a 500. The routes are discovered from the URL configuration; each is asked with the
method it answers (GET, else POST), as a platform administrator, who could see the object if it
existed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern

from apps.organizations.models import User
from tests.test_tenant_isolation import GROUP_RE, url_of

pytestmark = pytest.mark.django_db
PAGE_ROOTS = ("console/", "portal/", "screens/")


def page_routes_with_an_id() -> Iterator[tuple[str, URLPattern]]:
    from django.urls import URLResolver, get_resolver

    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for p in patterns:
            piece = p.pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + piece)
            else:
                yield prefix + piece, p

    for route, pattern in walk(get_resolver().url_patterns, ""):
        if route.startswith(PAGE_ROOTS) and GROUP_RE.search(route):
            yield route, pattern


def test_routes_are_discovered():
    routes = {route for route, _ in page_routes_with_an_id()}
    assert "console/provisioning/requests/(?P<request_id>[^/]+)/" in routes
    assert "portal/provisioning/requests/(?P<request_id>[^/]+)/" in routes
    assert len(routes) >= 20


def test_every_page_with_an_id_answers_404_for_an_unknown_id():
    admin = User.objects.create_superuser("pages-admin", password="x-Unimanager-9")
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    answers = {}
    for route, _pattern in page_routes_with_an_id():
        url = url_of(route, uuid.uuid4())
        response = client.get(url)
        method = "GET"
        if response.status_code == 405:
            response, method = client.post(url, {}), "POST"
        answers[f"{method} {url}"] = response.status_code
    wrong = {k: v for k, v in answers.items() if v != 404}
    assert not wrong, wrong


@pytest.mark.parametrize("root", ["console", "portal"])
def test_an_unknown_provisioning_request_is_the_404_page(root):
    admin = User.objects.create_superuser("pages-admin", password="x-Unimanager-9")
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    response = client.get(f"/{root}/provisioning/requests/preq-00000000000000000000/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
