"""A fault inside one change's step (not a cloud error) stops that change only: the rest of the batch it was
queued with is recorded and goes on, and the reconciler resumes the one that failed."""

from __future__ import annotations

import pytest

from apps.provisioning import lifecycle
from apps.provisioning.models import ChangeRecord
from apps.provisioning.tests.test_lifecycle import api, cloud_instances, submit

pytestmark = pytest.mark.django_db


def test_a_fault_in_one_call_step_leaves_the_rest_of_its_batch_going(world, control, monkeypatch):
    before = len(cloud_instances(control))
    body = submit(world, count=3).json()
    response = api(world["approver"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {},
                                           format="json")
    assert response.status_code == 202, response.content
    changes = list(ChangeRecord.objects.filter(request_id=body["id"]).order_by("pk"))
    broken = changes[1]
    real_call = lifecycle._call

    def call(change, adapter):
        if change.pk == broken.pk:
            raise RuntimeError("a bug in this change's step")
        return real_call(change, adapter)

    monkeypatch.setattr(lifecycle, "_call", call)
    following = lifecycle.lifecycle_run_many(steps=[(change.id, 1) for change in changes])
    assert following == []  # the two called wait in the poll round; the broken one has no next step here
    phases = dict(ChangeRecord.objects.filter(request_id=body["id"]).values_list("pk", "phase"))
    assert phases == {changes[0].pk: "wait", broken.pk: "call", changes[2].pk: "wait"}
    assert len(cloud_instances(control)) == before + 2
    monkeypatch.setattr(lifecycle, "_call", real_call)
    assert lifecycle.reconcile(stale_after=-1)["resumed"] >= 1  # queued again at its call step
    assert lifecycle.lifecycle_run_many(steps=[(broken.id, 1)]) == []
    assert ChangeRecord.objects.get(pk=broken.pk).phase == "wait"
    assert len(cloud_instances(control)) == before + 3
