"""The cloud calls of a batch of call steps (a request's creates) are made side by side when the cloud is slow
to answer (each thread with an adapter of its own), one after the other when it answers at once, and
recorded together as before: each create once, with its own client token."""

from __future__ import annotations

import threading

import pytest

from apps.provisioning import lifecycle
from apps.provisioning.models import ChangeRecord
from apps.provisioning.tests.test_lifecycle import api, cloud_instances, submit

pytestmark = pytest.mark.django_db


def approved(world, count: int) -> list[ChangeRecord]:
    body = submit(world, count=count).json()
    response = api(world["approver"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {},
                                           format="json")
    assert response.status_code == 202, response.content
    return list(ChangeRecord.objects.filter(request_id=body["id"]).order_by("pk"))


def test_a_slow_clouds_calls_run_side_by_side_with_an_adapter_per_thread(world, control, monkeypatch):
    before = len(cloud_instances(control))
    monkeypatch.setattr(lifecycle, "CALL_SIDE_BY_SIDE_AFTER", 0.0)  # every cloud is slow enough
    body = submit(world, count=lifecycle.CALL_THREADS + lifecycle.CALLS_TIMED).json()
    response = api(world["approver"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {},
                                           format="json")
    assert response.status_code == 202, response.content
    changes = list(ChangeRecord.objects.filter(request_id=body["id"]).order_by("pk"))
    # The first two calls are made on their own (they tell how slow the cloud is); every other one waits until
    # all of them have started: made one after the other, one would wait alone (and fail when the barrier gives
    # up).
    timed = {c.pk for c in changes[:lifecycle.CALLS_TIMED]}
    together = threading.Barrier(len(changes) - len(timed), timeout=30)
    adapters: dict[str, int] = {}
    real_call = lifecycle._call

    def call(change, adapter):
        if change.pk not in timed:
            adapters[threading.current_thread().name] = id(adapter)
            together.wait()
        return real_call(change, adapter)

    monkeypatch.setattr(lifecycle, "_call", call)
    assert lifecycle.lifecycle_run_many(steps=[(change.id, 1) for change in changes]) == []
    assert len(adapters) == len(set(adapters.values())) == len(changes) - len(timed)
    recorded = ChangeRecord.objects.filter(request_id=body["id"])
    assert set(recorded.values_list("phase", flat=True)) == {"wait"}
    assert len({c.external_id for c in recorded}) == len(changes)
    assert len(cloud_instances(control)) == before + len(changes)


def test_a_quick_clouds_calls_are_made_one_after_the_other_in_the_workers_thread(world, control, monkeypatch):
    changes = approved(world, 3)
    threads: set[str] = set()
    real_call = lifecycle._call

    def call(change, adapter):
        threads.add(threading.current_thread().name)
        return real_call(change, adapter)

    monkeypatch.setattr(lifecycle, "_call", call)
    monkeypatch.setattr(lifecycle, "CALL_SIDE_BY_SIDE_AFTER", 3600.0)  # no cloud is that slow
    assert lifecycle.lifecycle_run_many(steps=[(change.id, 1) for change in changes]) == []
    assert threads == {threading.current_thread().name}
    assert set(ChangeRecord.objects.filter(pk__in=[c.pk for c in changes]).values_list("phase", flat=True)) == {"wait"}


def test_a_slow_first_call_alone_does_not_make_a_quick_clouds_calls_side_by_side(world, control, monkeypatch):
    """A process's first call to a cloud also opens its connection: the quicker of the first two decides."""
    import time

    changes = approved(world, 5)
    threads: set[str] = set()
    real_call = lifecycle._call

    def call(change, adapter):
        threads.add(threading.current_thread().name)
        if change.pk == changes[0].pk:
            time.sleep(0.2)  # opening the connection
        return real_call(change, adapter)

    monkeypatch.setattr(lifecycle, "_call", call)
    monkeypatch.setattr(lifecycle, "CALL_SIDE_BY_SIDE_AFTER", 0.1)
    assert lifecycle.lifecycle_run_many(steps=[(change.id, 1) for change in changes]) == []
    assert threads == {threading.current_thread().name}
    assert set(ChangeRecord.objects.filter(pk__in=[c.pk for c in changes]).values_list("phase", flat=True)) == {"wait"}
