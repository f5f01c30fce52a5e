"""A cloud platform's endpoint is what adapters connect to: an http(s) URL or a bare host with an
optional port, never a URL of another scheme."""

from __future__ import annotations

import pytest

from apps.clouds.models import CloudPlatform
from apps.clouds.tests.factories import platform
from tests import factories as f
from tests.fixtures import api_as, fast_passwords, rbac_scoping  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

REFUSED = ["file:///etc/passwd", "file://localhost/etc/passwd", "gopher://127.0.0.1:70/_x", "gopher://internal.example.com/x",
           "javascript:alert(1)", "javascript:alert", "ftp://mirror.example.com/", "dict://127.0.0.1:11211/",
           "127.0.0.1:99999"]
ACCEPTED = ["127.0.0.1:9100", "ecs.example.com", "http://127.0.0.1:9100", "https://ecs.example.com/api",
            "HTTPS://ecs.example.com", "[::1]:9100"]


@pytest.fixture
def hq():
    return f.org("HQ")


@pytest.fixture
def root(hq):
    return api_as(f.user("root", hq, is_superuser=True))


def body(hq, endpoint):
    return {"organization": str(hq.pk), "type": "apsara", "name": "Region", "endpoint": endpoint,
            "protocol": "http", "credentials": {"access_key_id": "a", "access_key_secret": "b"}}


@pytest.mark.parametrize("endpoint", REFUSED)
def test_an_endpoint_of_another_scheme_is_refused_on_create(hq, root, endpoint):
    response = root.post("/api/v1/clouds/platforms/", body(hq, endpoint), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert list(response.json()["detail"]) == ["endpoint"]
    assert not CloudPlatform.objects.exists()


@pytest.mark.parametrize("endpoint", REFUSED)
def test_an_endpoint_of_another_scheme_is_refused_on_update(hq, root, endpoint):
    existing = platform(hq, endpoint="127.0.0.1:9100")
    response = root.patch(f"/api/v1/clouds/platforms/{existing.pk}/", {"endpoint": endpoint}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["detail"]) == ["endpoint"]
    existing.refresh_from_db()
    assert existing.endpoint == "127.0.0.1:9100"


@pytest.mark.parametrize("endpoint", ACCEPTED)
def test_http_urls_and_bare_hosts_are_accepted(hq, root, endpoint):
    response = root.post("/api/v1/clouds/platforms/", body(hq, endpoint), format="json")
    assert response.status_code == 201, response.content
    assert CloudPlatform.objects.get(pk=response.json()["id"]).endpoint == endpoint
