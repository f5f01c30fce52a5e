"""Commands honour ``Idempotency-Key``: a retried request replays the first answer and starts nothing."""

from __future__ import annotations

import pytest

from apps.core.models import IdempotencyRecord, Operation

DIAGNOSTICS = "/api/v1/core/operations/diagnostics/"


@pytest.fixture
def post(alice_api):
    def send(body: dict, key: str | None = None):
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
        return alice_api.post(DIAGNOSTICS, body, format="json", **headers)

    return send


def test_a_retried_command_with_the_same_key_starts_the_work_once(post):
    first = post({"steps": 2, "interval": 0}, key="retry-1")
    second = post({"steps": 2, "interval": 0}, key="retry-1")
    assert first.status_code == second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert Operation.objects.filter(kind="diagnostic").count() == 1


def test_without_a_key_each_command_starts_its_own_work(post):
    post({"steps": 2, "interval": 0})
    post({"steps": 2, "interval": 0})
    assert Operation.objects.filter(kind="diagnostic").count() == 2


def test_reusing_a_key_for_a_different_request_is_refused(post):
    post({"steps": 2, "interval": 0}, key="k")
    response = post({"steps": 3, "interval": 0}, key="k")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Operation.objects.filter(kind="diagnostic").count() == 1


def test_a_refused_command_does_not_keep_its_key(post):
    assert post({"steps": 0}, key="k2").status_code == 400
    assert not IdempotencyRecord.objects.filter(key="k2").exists()
    assert post({"steps": 2, "interval": 0}, key="k2").status_code == 202


def test_keys_belong_to_their_user(post, bob_api, world):
    post({"steps": 2, "interval": 0}, key="shared")
    other = bob_api.post(DIAGNOSTICS, {"steps": 2, "interval": 0}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert other.status_code == 202
    assert Operation.objects.filter(kind="diagnostic").count() == 2


@pytest.mark.parametrize("key", ["", "x" * 129, "bad\nkey"])
def test_a_malformed_key_is_refused(post, key):
    response = post({"steps": 2, "interval": 0}, key=key)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Operation.objects.exists()
