"""A request is checked against the cloud before any transaction opens, so a slow cloud never holds
the database: with SQLite's immediate transactions, a transaction open around the cloud call would
hold the write lock for as long as the cloud takes, and every other write would wait behind it.

These tests commit for real (``transaction=True``): the request runs in its own thread with its own
connection, as a second web request would."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.provisioning import services
from apps.provisioning.models import ApprovalPolicy, ProvisioningRequest
from apps.provisioning.tests.conftest import spec

pytestmark = pytest.mark.django_db(transaction=True)
REQUESTS = "/api/v1/provisioning/requests/"
# Long enough that the other write is certainly done first; the test waits for the call to arrive, never
# for a duration.
CLOUD_LATENCY_MS = 3000


def submit_in_thread(world: dict[str, Any], headers: dict[str, str]) -> tuple[threading.Thread, dict[str, Any]]:
    client = APIClient()
    client.force_login(world["tenant"])
    body = {"project": str(world["project"].pk), "platform": world["platform"].pk, "region": "cn-hangzhou",
            "spec": spec(world), "count": 1}
    outcome: dict[str, Any] = {}

    def submit() -> None:
        try:
            outcome["response"] = client.post(REQUESTS, body, format="json", **headers)
        except BaseException as exc:  # reported by the test, not lost with the thread
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=submit, name="slow-request")
    thread.start()
    return thread, outcome


def wait_until_the_cloud_is_asked(control, thread: threading.Thread, outcome: dict[str, Any]) -> None:
    """The slow call has reached cloudsim once its one-shot fault rule is used up."""
    deadline = time.monotonic() + 60
    while control.get("/faults")["faults"][0]["remaining"] != 0:
        assert thread.is_alive(), outcome
        assert time.monotonic() < deadline, "the request never asked the cloud"
        time.sleep(0.01)


@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "slow-cloud-1"}],
                         ids=["plain", "with an Idempotency-Key"])
def test_other_writes_proceed_while_a_request_is_checked_against_a_slow_cloud(world, control, headers):
    control.post("/faults", {"action": "DescribeVSwitches", "latency_ms": CLOUD_LATENCY_MS, "remaining": 1})
    thread, outcome = submit_in_thread(world, headers)
    try:
        wait_until_the_cloud_is_asked(control, thread, outcome)
        policy = services.policy_create(actor=world["approver"], organization=world["hq"],
                                        name="written while the cloud answers")
        assert thread.is_alive(), "the other write waited until the request was done"
    finally:
        thread.join(timeout=60)
    assert "error" not in outcome, outcome
    response = outcome["response"]
    assert response.status_code == 202, response.content
    assert ProvisioningRequest.objects.filter(pk=response.json()["id"]).exists()
    assert ApprovalPolicy.objects.filter(pk=policy.pk).exists()


def test_a_retry_while_the_request_is_checked_is_told_it_is_in_progress(world, control):
    key = {"HTTP_IDEMPOTENCY_KEY": "slow-cloud-2"}
    control.post("/faults", {"action": "DescribeVSwitches", "latency_ms": CLOUD_LATENCY_MS, "remaining": 1})
    thread, outcome = submit_in_thread(world, key)
    try:
        wait_until_the_cloud_is_asked(control, thread, outcome)
        retry, retried = submit_in_thread(world, key)
        retry.join(timeout=60)
        early = retried["response"]
        assert thread.is_alive(), "the retry waited until the request was done"
    finally:
        thread.join(timeout=60)
    assert early.status_code == 409, early.content
    assert early.json()["code"] == "idempotency_in_progress"
    first = outcome["response"]
    assert first.status_code == 202, first.content
    again, answer = submit_in_thread(world, key)
    again.join(timeout=60)
    assert answer["response"].status_code == 202 and answer["response"]["Idempotent-Replayed"] == "true"
    assert answer["response"].json()["id"] == first.json()["id"]
    assert ProvisioningRequest.objects.count() == 1
