"""The policy editor page answers hostile documents with its form and an error, never a 500."""

import pytest

from apps.rbac.models import AccessPolicy
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("document", ["[" * 5000 + "]" * 5000, '{"a":' * 5000 + "1" + "}" * 5000, "{nope"])
def test_a_document_nested_too_deep_or_broken_is_refused_on_the_page(client, document):
    hq = f.org("HQ")
    admin = f.user("sam", hq)
    f.grant(f.predefined("security_administrator"), admin, None)
    client.force_login(admin)
    response = client.post("/console/access/policies/new/", {
        "name": "deep", "description": "", "organization": str(hq.pk), "document": document,
    })
    assert response.status_code == 400
    assert "not JSON" in response.content.decode()
    assert not AccessPolicy.objects.filter(name="deep").exists()


def test_a_cursor_nested_too_deep_is_ignored_not_a_500(client):
    import base64

    hq = f.org("HQ")
    root = f.user("root", hq, is_superuser=True)
    client.force_login(root)
    cursor = base64.urlsafe_b64encode(("[" * 5000 + "]" * 5000).encode()).decode().rstrip("=")
    response = client.get("/console/organizations/users/", {"cursor": cursor})
    assert response.status_code == 200
