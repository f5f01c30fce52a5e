"""The cloud calls of a batch of call steps (a request's creates) are made side by side, each thread with an
adapter of its own, and recorded together as before: each create once, with its own client token."""

from __future__ import annotations

import threading

import pytest

from apps.provisioning import lifecycle
from apps.provisioning.models import ChangeRecord
from apps.provisioning.tests.test_lifecycle import api, cloud_instances, submit

pytestmark = pytest.mark.django_db


def test_a_batchs_calls_run_side_by_side_with_an_adapter_per_thread(world, control, monkeypatch):
    before = len(cloud_instances(control))
    body = submit(world, count=lifecycle.CALL_THREADS).json()
    response = api(world["approver"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {},
                                           format="json")
    assert response.status_code == 202, response.content
    changes = list(ChangeRecord.objects.filter(request_id=body["id"]).order_by("pk"))
    # Every call waits until all of them have started: made one after the other, the first would wait alone
    # (and fail when the barrier gives up).
    together = threading.Barrier(len(changes), timeout=30)
    adapters: dict[str, int] = {}
    real_call = lifecycle._call

    def call(change, adapter):
        adapters[threading.current_thread().name] = id(adapter)
        together.wait()
        return real_call(change, adapter)

    monkeypatch.setattr(lifecycle, "_call", call)
    assert lifecycle.lifecycle_run_many(steps=[(change.id, 1) for change in changes]) == []
    assert len(adapters) == len(set(adapters.values())) == len(changes)
    recorded = ChangeRecord.objects.filter(request_id=body["id"])
    assert set(recorded.values_list("phase", flat=True)) == {"wait"}
    assert len({c.external_id for c in recorded}) == len(changes)
    assert len(cloud_instances(control)) == before + len(changes)
