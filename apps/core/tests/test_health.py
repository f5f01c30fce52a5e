"""Probes, metrics and the API documentation: all served by the console itself, offline."""

from __future__ import annotations

import re

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from apps.core import readiness

pytestmark = pytest.mark.django_db


def test_healthz_says_alive_without_touching_anything(monkeypatch, django_assert_num_queries):
    looked_at = []
    for check in ("_database", "_broker", "_channel_layer"):
        def unreachable(check=check):
            looked_at.append(check)
            raise ConnectionError(f"{check} is down")

        monkeypatch.setattr(readiness, check, unreachable)
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert looked_at == [], "a liveness probe must not look at its dependencies"
    assert response.status_code == 200
    assert response.json() == {"status": "alive", "mode": "embedded"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_in_the_embedded_mode_passes_all_three_checks():
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready" and body["mode"] == "embedded"
    assert set(body["checks"]) == {"database", "broker", "channel_layer"}
    assert all(check["ok"] for check in body["checks"].values()), body
    assert body["checks"]["database"]["detail"] == "sqlite"


def test_readyz_is_503_and_names_the_failing_check(monkeypatch):
    def broken_database():
        raise ConnectionError("database is on holiday")

    monkeypatch.setattr(readiness, "_database", broken_database)
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    database = body["checks"]["database"]
    assert (database["ok"], database["detail"]) == (False, "ConnectionError: database is on holiday")
    assert body["checks"]["broker"]["ok"] and body["checks"]["channel_layer"]["ok"]


def test_metrics_are_prometheus_text_with_the_request_counter():
    client = Client()
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "# TYPE unimanager_http_requests_total counter" in text
    assert re.search(r'unimanager_http_requests_total\{method="GET",status="200",view="healthz"\} \d', text)
    assert "unimanager_http_request_duration_seconds_bucket" in text


def test_invented_http_methods_do_not_create_new_metric_series():
    client = Client()
    client.generic("BREW", "/healthz")
    text = client.get("/metrics").content.decode()
    assert 'method="BREW"' not in text
    assert 'method="other"' in text


def test_unmatched_paths_share_one_metric_label():
    client = Client()
    client.get("/no-such-page-1/")
    client.get("/no-such-page-2/")
    text = client.get("/metrics").content.decode()
    assert "no-such-page" not in text
    assert 'view="unmatched"' in text


def test_the_openapi_schema_is_served():
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/core/operations/" in schema["paths"]
    assert "/api/v1/core/operations/diagnostics/" in schema["paths"]


def test_the_openapi_schema_is_served_as_json_too():
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Unimanager API"


def _referenced_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_the_api_docs_page_uses_only_local_static_files():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    for cdn in ("cdn.jsdelivr", "unpkg", "cdnjs", "googleapis"):
        assert cdn not in html
    urls = _referenced_urls(html)
    assert any(url.endswith(".js") for url in urls)
    for url in urls:
        assert url.startswith(settings.STATIC_URL), url
        assert finders.find(url.removeprefix(settings.STATIC_URL)), f"{url} is not a static file here"


def test_the_api_docs_page_does_not_send_the_schema_to_an_online_validator():
    # Swagger UI's default shows a badge fetched from validator.swagger.io, passing it the schema URL.
    html = Client().get("/api/docs/").content.decode()
    assert '"validatorUrl": null' in html


def test_the_sign_in_page_uses_only_local_static_files():
    response = Client().get("/signin/")
    assert response.status_code == 200
    for url in _referenced_urls(response.content.decode()):
        assert not url.startswith(("http://", "https://", "//")), url
