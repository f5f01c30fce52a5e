"""Client input never causes a 500 on "Why?" and the access matrix: only tenant-scoped kinds of
objects can be explained (400 otherwise) and malformed ids are a clear 400 or 404."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer():
    a = f.org("A")
    person = f.user("v", a)
    f.grant(f.predefined("viewer"), person, a)
    f.grant(f.predefined("organization_administrator"), person, a)
    return person


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.parametrize("target_type", ["sessions.session", "contenttypes.contenttype", "security.signinlock",
                                         "security.auditchainhead", "organizations.membership", "nope.nothing",
                                         "auth.permission"])
def test_explaining_an_object_that_belongs_to_no_organization_is_a_400(viewer, target_type):
    response = _client(viewer).get("/api/v1/rbac/explain/", {"user": str(viewer.pk), "action": "core:operation:read",
                                                             "target_type": target_type, "target_id": "1"})
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "invalid" and "target_type" in response.json()["detail"]


def test_explaining_a_malformed_target_id_is_a_404(viewer):
    response = _client(viewer).get("/api/v1/rbac/explain/", {
        "user": str(viewer.pk), "action": "core:operation:read", "target_type": "organizations.organization",
        "target_id": "nope"})
    assert response.status_code == 404


ERROR_RE = re.compile(r'role="alert" data-testid="error">.*?<h4 class="alert-title">(?P<title>[^<]*)</h4>\s*'
                      r'<div>(?P<message>[^<]*)</div>', re.S)


@pytest.mark.parametrize("query,status,title,message", [
    ({"user": "not-a-uuid", "action": "core:operation:read"}, 400, "Check the form",
     "The user must be an id (a UUID)."),
    ({"action": "core:operation:read", "target_type": "sessions.session", "target_id": "x"}, 400, "Check the form",
     "Unknown target type: use 'platform' or the <app_label>.<model> of an object that belongs to an "
     "organization."),
    ({"action": "core:operation:read", "target_type": "organizations.organization", "target_id": "nope"}, 404,
     "Not done", "Target not found."),
    ({"action": "core:operation:read", "target_type": "organizations.organization", "target_id": "\x00"}, 404,
     "Not done", "Target not found."),
    ({"action": "not an action"}, 400, "Check the form",
     "The action must be a permission code (service:resource:action)."),
])
def test_the_why_page_answers_bad_input_with_a_message(viewer, query, status, title, message):
    response = _client(viewer).get("/console/access/explain/", query)
    assert response.status_code == status
    body = response.content.decode()
    shown = ERROR_RE.search(body)
    assert shown is not None, "no error alert on the page"
    assert (shown["title"].strip(), html.unescape(shown["message"].strip())) == (title, message)
    assert 'data-testid="explain-result"' not in body


@pytest.mark.parametrize("value", ["zz", "\x00", "1" * 300])
def test_the_matrix_answers_a_malformed_organization_with_a_message(viewer, value):
    client = _client(viewer)
    page = client.get("/console/access/matrix/", {"organization": value})
    assert page.status_code == 400 and "Organization" in page.content.decode()
    page = client.get("/console/access/matrix/", {"organization": value, "export": "csv"})
    assert page.status_code == 400
    api = client.get("/api/v1/rbac/matrix/", {"organization": value})
    assert api.status_code == 400 and api.json()["code"] == "invalid"
