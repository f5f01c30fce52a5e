"""``/metrics``: open by default (bind the server to a private address), or, with
``UNIMANAGER_METRICS_TOKEN`` set, only for ``Authorization: Bearer <token>``."""

from __future__ import annotations

import pytest
from django.test import Client

TOKEN = "s3cret-metrics-token"


def test_without_a_token_setting_metrics_are_served_to_anyone(settings):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert "unimanager_http_requests_total" in response.content.decode()


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}",
                                           f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"])
def test_with_a_token_setting_metrics_need_the_bearer_token(settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {} if authorization is None else {"Authorization": authorization}
    response = Client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == "not_authenticated"
    assert "unimanager_http_requests_total" not in response.content.decode()


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}", f"bearer {TOKEN}"])
def test_with_a_token_setting_the_right_token_gets_the_metrics(settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    response = Client().get("/metrics", headers={"Authorization": authorization})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "unimanager_http_requests_total" in response.content.decode()
