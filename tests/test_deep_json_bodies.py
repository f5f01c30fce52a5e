"""A JSON body nested thousands of levels deep is a 400 ``parse_error`` on every API route that
reads a body, and never a 500 anywhere.

The routes are discovered from the URL configuration (every POST, PUT and PATCH under /api/v1/),
each detail route is called with an object that exists, as a platform administrator, so the view
gets as far as reading the body. Which routes read it is observed, not listed: the project's
parser records each body it is handed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core.api import parsers
from apps.organizations.models import User
from tests.test_tenant_isolation import (
    GROUP_RE,
    _all_objects,
    _default_objects,
    _methods,
    _viewset_routes,
    api_routes,
    objects_of,
    url_of,
)

pytestmark = pytest.mark.django_db
DEPTH = 5000
DEEP_BODY = '{"a": ' * DEPTH + "1" + "}" * DEPTH
BODY_METHODS = ("post", "put", "patch")


@pytest.fixture
def parsed_bodies(monkeypatch) -> list[int]:
    """Counts the bodies the project's JSON parser is handed (it still parses them itself)."""
    calls: list[int] = []
    parse = parsers.JSONParser.parse

    def recording(self, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(parsers.JSONParser, "parse", recording)
    return calls


def _group_regex(route: str) -> re.Pattern[str]:
    match = GROUP_RE.search(route)
    assert match is not None
    inner = match.group(0)[match.group(0).index(">") + 1:-1]
    return re.compile(inner)


def _targets(settings_objects: list[Any], route: str, pattern: Any) -> list[tuple[str, list[str]]]:
    """(url, methods) for the route: one url per existing object its id group accepts."""
    actions = getattr(pattern.callback, "actions", None)
    methods = [m for m in (actions or {}) if m in BODY_METHODS] if actions else \
        [m for m in _methods(pattern) if m in BODY_METHODS]
    if not methods:
        return []
    if not GROUP_RE.search(route):
        return [(url_of(route), methods)]
    accepts = _group_regex(route)
    model = getattr(getattr(pattern.callback, "cls", None), "queryset", None)
    model = model.model if model is not None and actions else None
    ids = [str(o.pk) for o in settings_objects
           if accepts.fullmatch(str(o.pk)) and (model is None or isinstance(o, model))]
    assert ids, f"no object to call {route} with"
    return [(url_of(route, pk), methods) for pk in ids]


def test_a_deeply_nested_body_is_a_parse_error_on_every_route_that_reads_it(parsed_bodies):
    made: dict[str, list[Any]] = {}
    from tests import factories as f

    org = f.org("Deep")
    made.update(_default_objects(org, "deep"))
    for _route, _pattern, model, _actions in _viewset_routes():
        objects_of(model, org, made)
    objects = _all_objects(org, made)
    admin = User.objects.create_superuser("deep-admin", password="x-Unimanager-9")
    client = APIClient()
    client.force_login(admin)
    routes_read, answers = set(), {}
    for route, pattern in api_routes():
        for url, methods in _targets(objects, route, pattern):
            for method in methods:
                before = len(parsed_bodies)
                response = getattr(client, method)(url, data=DEEP_BODY, content_type="application/json")
                answers[f"{method.upper()} {url}"] = response.status_code
                assert response.status_code < 500, f"{method.upper()} {url}: {response.status_code}"
                if len(parsed_bodies) > before:
                    body = json.loads(response.content)
                    assert response.status_code == 400, f"{method.upper()} {url}: {response.status_code} {body}"
                    assert body["code"] == "parse_error" and body["message"] and isinstance(body["detail"], dict)
                    routes_read.add((route, method))
    # The routes named in the issue are among those reached; most routes read a body.
    read = {f"{m.upper()} /{r}" for r, m in routes_read}
    assert {"POST /api/v1/organizations/projects/", "POST /api/v1/rbac/roles/", "POST /api/v1/rbac/policies/",
            "POST /api/v1/provisioning/requests/", "POST /api/v1/provisioning/schedules/"} <= read, sorted(read)
    assert len(routes_read) >= 40, answers
