"""Requests, approvals and lifecycle operations against cloudsim, steps driven in this process."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.core.models import Operation
from apps.provisioning import lifecycle
from apps.provisioning.models import ChangeRecord, ProvisioningRequest
from apps.provisioning.tests.conftest import drive, spec
from apps.resources.models import Resource

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def submit(world, count=1, **kw):
    body = {"project": str(world["project"].pk), "platform": world["platform"].pk, "region": "cn-hangzhou",
            "spec": spec(world, **kw), "count": count, "reason": "load test"}
    return api(world["tenant"]).post("/api/v1/provisioning/requests/", body, format="json")


def cloud_instances(control) -> list[dict]:
    return control.get("/resources?type=ecs_instance")["resources"] if isinstance(
        control.get("/resources?type=ecs_instance"), dict) else control.get("/resources?type=ecs_instance")


def approve_and_run(world, request_id: str) -> list[ChangeRecord]:
    response = api(world["approver"]).post(f"/api/v1/provisioning/requests/{request_id}/approve/",
                                           {"comment": "ok"}, format="json")
    assert response.status_code == 202, response.content
    changes = list(ChangeRecord.objects.filter(request_id=request_id))
    for change in changes:
        drive(change.id)
    return changes


def test_a_request_waits_for_approval_then_creates_each_instance_once(world, control):
    response = submit(world, count=2)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["operations"] == []
    before = len(cloud_instances(control))
    changes = approve_and_run(world, body["id"])
    assert len(changes) == 2
    for change in changes:
        op = Operation.objects.get(pk=change.operation_id)
        assert op.status == "succeeded", op.error
        row = Resource.objects.get(platform=world["platform"], external_id=op.result["external_id"])
        assert row.status == "running" and row.project_id == world["project"].pk
    assert len(cloud_instances(control)) == before + 2
    request = ProvisioningRequest.objects.get(pk=body["id"])
    assert request.status == "completed"
    kinds = list(request.events.values_list("kind", flat=True))
    assert kinds[:3] == ["submitted", "waiting", "approval"] and kinds[-1] == "completed"


def test_a_create_step_run_twice_creates_nothing_twice(world, control):
    body = submit(world).json()
    api(world["approver"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {}, format="json")
    change = ChangeRecord.objects.get(request_id=body["id"])
    before = len(cloud_instances(control))
    # A worker dies after the cloud answered but before the step was recorded: the step runs again.
    adapter = lifecycle.adapter_for(change.platform, region=change.region)
    first, _ = lifecycle._call(change, adapter)
    drive(change.id)
    change.refresh_from_db()
    assert first.endswith(change.external_id)
    assert len(cloud_instances(control)) == before + 1


@pytest.mark.parametrize("field,value", [("instance_type", "ecs.nope.large"), ("zone", "mars-1a")])
def test_bad_input_is_refused_without_a_cloud_call(world, control, field, value):
    calls = control.get("/stats")["calls"]
    response = submit(world, **{field: value})
    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert control.get("/stats")["calls"] == calls
    assert not ProvisioningRequest.objects.exists()


def test_negative_count_and_foreign_project_are_refused(world, control):
    calls = control.get("/stats")["calls"]
    assert submit(world, count=-1).status_code == 400
    body = {"project": str(world["foreign_project"].pk), "platform": world["platform"].pk, "region": "cn-hangzhou",
            "spec": spec(world), "count": 1}
    response = api(world["tenant"]).post("/api/v1/provisioning/requests/", body, format="json")
    assert response.status_code == 400 and "project" in response.json()["detail"]
    assert control.get("/stats")["calls"] == calls


def _running_instance(world) -> Resource:
    body = submit(world).json()
    change = approve_and_run(world, body["id"])[0]
    change.refresh_from_db()
    return change.resource


def test_stop_resize_release_with_state_machine(world, control):
    row = _running_instance(world)
    client = api(world["tenant"])
    url = f"/api/v1/provisioning/instances/{row.id}"
    refused = client.post(f"{url}/resize/", {"params": {"instance_type": "ecs.g6.xlarge"}}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "resource_must_be_stopped"
    stop = client.post(f"{url}/stop/", {"comment": "maintenance"}, format="json")
    assert stop.status_code == 202
    assert client.post(f"{url}/start/", {}, format="json").json()["code"] == "operation_in_progress"
    drive(ChangeRecord.objects.get(operation_id=stop.json()["id"]).id)
    row.refresh_from_db()
    assert row.status == "stopped"
    resize = client.post(f"{url}/resize/", {"params": {"instance_type": "ecs.g6.xlarge"}}, format="json")
    assert resize.status_code == 202, resize.content
    change = ChangeRecord.objects.get(operation_id=resize.json()["id"])
    drive(change.id)
    change.refresh_from_db()
    assert change.before["instance_type"] == "ecs.g6.large" and change.after["instance_type"] == "ecs.g6.xlarge"
    release = client.post(f"{url}/release/", {}, format="json")
    drive(ChangeRecord.objects.get(operation_id=release.json()["id"]).id)
    row.refresh_from_db()
    assert row.deleted
    assert row.external_id not in {i["InstanceId"] for i in cloud_instances(control)}


def test_a_permanent_error_fails_the_operation_with_the_clouds_message(world, control):
    control.post("/faults", {"action": "RunInstances", "error_rate": 1, "code": "OperationDenied.NoStock",
                             "status": 403, "message": "The zone has no stock left", "remaining": 1})
    body = submit(world).json()
    change = approve_and_run(world, body["id"])[0]
    op = Operation.objects.get(pk=change.operation_id)
    assert op.status == "failed" and "OperationDenied.NoStock" in op.error and "no stock" in op.error
    assert ProvisioningRequest.objects.get(pk=body["id"]).status == "failed"


def _cloud_counts(control, action: str) -> tuple[int, int]:
    stats = control.get("/stats")
    return stats["errors"].get("ServiceUnavailable", 0), stats["calls"].get(action, 0)


def test_transient_errors_are_retried(world, control):
    body = submit(world, count=3).json()
    before = len(cloud_instances(control))
    errors, _calls = _cloud_counts(control, "RunInstances")
    control.post("/faults", {"action": "*", "error_rate": 0.3, "code": "ServiceUnavailable"})
    try:
        changes = approve_and_run(world, body["id"])
    finally:
        control.call("DELETE", "/faults")
    assert _cloud_counts(control, "RunInstances")[0] > errors, "no fault was injected"
    assert all(Operation.objects.get(pk=c.operation_id).status == "succeeded" for c in changes)
    assert len(cloud_instances(control)) == before + 3


def test_a_create_failing_more_often_than_the_adapter_retries_is_run_again_by_its_step(world, control):
    faults = lifecycle.adapter_for(world["platform"], region="cn-hangzhou").retry_attempts + 1
    body = submit(world).json()
    before = len(cloud_instances(control))
    errors, calls = _cloud_counts(control, "RunInstances")
    control.post("/faults", {"action": "RunInstances", "error_rate": 1.0, "code": "ServiceUnavailable",
                             "remaining": faults})
    change = approve_and_run(world, body["id"])[0]
    assert _cloud_counts(control, "RunInstances") == (errors + faults, calls + faults + 1)
    op = Operation.objects.get(pk=change.operation_id)
    assert op.status == "succeeded", op.error
    assert len(cloud_instances(control)) == before + 1


def test_denial_needs_a_comment_and_ends_the_request(world):
    body = submit(world).json()
    client = api(world["approver"])
    assert client.post(f"/api/v1/provisioning/requests/{body['id']}/deny/", {}, format="json").status_code == 400
    response = client.post(f"/api/v1/provisioning/requests/{body['id']}/deny/", {"comment": "too big"},
                           format="json")
    assert response.status_code == 202 and response.json()["status"] == "denied"
    assert not ChangeRecord.objects.exists()


def test_the_requester_cannot_approve_their_own_request(world):
    from tests import factories as f

    # The requester may approve requests in general: only the own-request rule can refuse this one.
    f.grant(f.role("provisioning:request:approve", key="tenant_approves"), world["tenant"], world["hq"])
    body = submit(world).json()
    own = api(world["tenant"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {}, format="json")
    assert own.status_code == 403 and own.json()["code"] == "own_request", own.content
    assert ProvisioningRequest.objects.get(pk=body["id"]).status == "pending"
    other = submit(world).json()
    ProvisioningRequest.objects.filter(pk=other["id"]).update(requester=world["approver"])
    response = api(world["tenant"]).post(f"/api/v1/provisioning/requests/{other['id']}/approve/", {},
                                         format="json")
    assert response.status_code == 202 and response.json()["status"] == "provisioning", response.content


def test_reconciler_resumes_a_change_whose_worker_died(world, control):
    body = submit(world).json()
    api(world["approver"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {}, format="json")
    change = ChangeRecord.objects.get(request_id=body["id"])
    assert lifecycle.reconcile(stale_after=3600) == {"resumed": 0, "closed": 0}
    assert lifecycle.reconcile(stale_after=-1)["resumed"] == 1
    drive(change.id)
    assert Operation.objects.get(pk=change.operation_id).status == "succeeded"


def test_pages_render_for_tenant_and_approver(world, control):
    row = _running_instance(world)
    tenant, approver = api(world["tenant"]), api(world["approver"])
    for url in ("/portal/provisioning/", f"/portal/provisioning/new/{world['platform'].pk}/",
                "/portal/provisioning/requests/", "/portal/provisioning/resources/"):
        response = tenant.get(url)
        assert response.status_code == 200, url
    assert row.name.encode() in tenant.get("/portal/provisioning/resources/").content
    for url in ("/console/provisioning/approvals/", "/console/provisioning/changes/",
                "/console/provisioning/schedules/", f"/console/provisioning/topology/?resource={row.id}"):
        assert approver.get(url).status_code == 200, url
    graph = approver.get(f"/api/v1/provisioning/topology/?resource={row.id}").json()
    assert {"ecs.instance", "vpc.vswitch", "vpc.vpc"} <= {n["type"] for n in graph["nodes"]}


def test_root_cause_ranks_the_shared_vswitch_first(world, control):
    body = submit(world, count=3).json()
    changes = approve_and_run(world, body["id"])
    ids = [ChangeRecord.objects.get(pk=c.id).resource_id for c in changes]
    result = api(world["approver"]).get("/api/v1/provisioning/root-cause/?resources=" + ",".join(ids)).json()
    assert result["candidates"][0]["type"] == "vpc.vswitch" and result["candidates"][0]["shared_by"] == 3


def _collected(world, resource_type: str, external_id: str) -> Resource:
    from apps.clouds.adapters import adapter_for
    from apps.resources.services import resource_refresh

    row = resource_refresh(platform=world["platform"], resource_type=resource_type, region="cn-hangzhou",
                           external_id=external_id, adapter=adapter_for(world["platform"], region="cn-hangzhou"))
    Resource.objects.filter(pk=row.pk).update(organization=world["hq"], project=world["project"])
    row.refresh_from_db()
    return row


def test_attach_and_detach_a_disk_and_an_eip(world, control):
    from apps.clouds.simulated import _wait, sim_adapter

    instance = _running_instance(world)
    a = sim_adapter(world["platform"].endpoint)
    disk_id = a.create("ecs.disk", "cn-hangzhou", {"zone": "cn-hangzhou-a", "size_gib": 20, "category": "cloud_essd"})
    far_id = a.create("ecs.disk", "cn-hangzhou", {"zone": "cn-hangzhou-b", "size_gib": 20, "category": "cloud_essd"})
    eip_id = a.create("eip.eip", "cn-hangzhou", {})
    for rtype, ext in (("ecs.disk", disk_id), ("ecs.disk", far_id), ("eip.eip", eip_id)):
        _wait(a, rtype, "cn-hangzhou", ext, {"available"})
    disk, far, eip = (_collected(world, t, e) for t, e in (("ecs.disk", disk_id), ("ecs.disk", far_id),
                                                            ("eip.eip", eip_id)))
    admin = world["tenant"]
    with pytest.raises(lifecycle.InvalidInput, match="only to an instance in its zone"):
        lifecycle.operation_start(actor=admin, resource=far, action="attach", params={"instance": instance.pk},
                                  check=False)
    with pytest.raises(lifecycle.Conflict):
        lifecycle.operation_start(actor=admin, resource=disk, action="detach", check=False)
    for row in (disk, eip):
        change = lifecycle.operation_start(actor=admin, resource=row, action="attach",
                                           params={"instance": instance.pk}, check=False)
        drive(change.id)
        change.refresh_from_db()
        assert change.operation.status == "succeeded", change.operation.error
        row.refresh_from_db()
        assert row.status == "in_use" and row.spec["instance_id"] == instance.external_id
        assert a.get_resource(row.type, "cn-hangzhou", row.external_id).spec["instance_id"] == instance.external_id
        # A second attach is refused by the state machine, with no cloud call.
        with pytest.raises(lifecycle.Conflict):
            lifecycle.operation_start(actor=admin, resource=row, action="attach", params={"instance": instance.pk},
                                      check=False)
        change = lifecycle.operation_start(actor=admin, resource=row, action="detach", check=False)
        drive(change.id)
        row.refresh_from_db()
        assert row.status == "available" and not row.spec["instance_id"]
        assert a.get_resource(row.type, "cn-hangzhou", row.external_id).status == "available"
