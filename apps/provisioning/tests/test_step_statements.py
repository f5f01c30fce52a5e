"""What one create costs the database, per stage: its call step, its share of a poll round and its finish.

Statement counts, not times (SQLite, inside the test's transaction: what subscribers do after commit is
not counted): each bound is what the stage does for a request of ten instances, so a change that adds
statements to every create fails here first; ``bench/provisioning`` measures the time."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.models import Operation
from apps.provisioning import lifecycle
from apps.provisioning.models import ChangeRecord, ProvisioningRequest
from apps.provisioning.tests.test_lifecycle import api, submit

pytestmark = pytest.mark.django_db

COUNT = 10


def approved(world, count: int) -> list[ChangeRecord]:
    body = submit(world, count=count).json()
    response = api(world["approver"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {},
                                           format="json")
    assert response.status_code == 202, response.content
    return list(ChangeRecord.objects.filter(request_id=body["id"]).order_by("pk"))


def per_create(statements: CaptureQueriesContext, count: int = COUNT) -> float:
    return len(statements.captured_queries) / count


def run_stages(world, monkeypatch) -> dict[str, float]:
    from apps.provisioning import tasks

    monkeypatch.setattr(tasks.lifecycle_poll_task, "apply_async", lambda *a, **kw: None)
    changes = approved(world, COUNT)
    with CaptureQueriesContext(connection) as call:
        # The call steps of a request go out in one task message (lifecycle._QueuedSteps).
        assert lifecycle.lifecycle_run_many(steps=[(change.id, 1) for change in changes]) == []  # all wait
    # Let every instance pass the simulator's provisioning time (0.05 s after its create) before the first
    # round, so one round hands the ten out in one group: the finish's count is then that of one group of
    # ten, not of however many groups the timing of the call step made.
    time.sleep(0.3)
    deadline = time.monotonic() + 20
    finishes: list[lifecycle.Finish] = []
    groups: list[list[lifecycle.Finish]] = []
    with CaptureQueriesContext(connection) as rounds:
        while len(finishes) < COUNT and time.monotonic() < deadline:
            lifecycle.lifecycle_poll(platform_id=world["platform"].pk, region="cn-hangzhou",
                                              resource_type="ecs.instance", hand_over=groups.append)
            finishes = [f for group in groups for f in group]
            time.sleep(0.03)
    assert len(finishes) == COUNT
    with CaptureQueriesContext(connection) as finish:
        for group in groups:
            lifecycle.lifecycle_finish_group(finishes=group)
    ops = Operation.objects.filter(pk__in=[c.operation_id for c in changes])
    assert set(ops.values_list("status", flat=True)) == {"succeeded"}
    request = ProvisioningRequest.objects.get(pk=changes[0].request_id)
    assert request.status == "completed"
    assert request.events.filter(kind="instance_ready").count() == COUNT
    assert len(groups) == 1, [len(group) for group in groups]
    stages = {"call": per_create(call), "rounds": per_create(rounds), "finish": per_create(finish)}
    return stages


def test_statements_per_create_stay_bounded(world, control, monkeypatch):
    stages = run_stages(world, monkeypatch)
    # Read the changes, then one locking read and one write of them and of their operations: 0.5 for ten.
    # Was 7.0 with a step task per change (its read, its conditional write, the operation's lock and write).
    assert stages["call"] <= 1, stages
    assert stages["rounds"] <= 3, stages
    # Was 26.2 with a request lock, a quota commit, an event write and an operation lock and save per change,
    # 8.0 with the inventory written per change (its lock, the rules, its insert, its relations); 2.8 with the
    # ten written together.
    assert stages["finish"] <= 4, stages
