"""Behaviour of provisioning requests and commands that nothing else pins down: a level's "all" and
"any" modes, auto-approval limits, which approval policy applies, batch operations, scheduled
operations, and ``Idempotency-Key`` on the provisioning commands. (Approval levels themselves and the
one-approver-per-level rule are covered by ``test_approvals``.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from apps.core.models import Operation
from apps.provisioning.models import (
    ApprovalDecision,
    ApprovalPolicy,
    ChangeRecord,
    ProvisioningRequest,
    ScheduledOperation,
)
from apps.provisioning.tasks import scheduled_operation_task
from apps.provisioning.tests.conftest import spec
from apps.rbac.models import Role
from apps.resources.tests.factories import resource
from tests import factories as f

pytestmark = pytest.mark.django_db
REQUESTS = "/api/v1/provisioning/requests/"
BATCH = "/api/v1/provisioning/instances/batch/"
SCHEDULES = "/api/v1/provisioning/schedules/"
POLICIES = "/api/v1/provisioning/policies/"
VCPU = 2  # ecs.g6.large, the instance type of ``spec``


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def submit(world: dict[str, Any], count: int = 1, project=None, **headers: str):
    body = {"project": str((project or world["project"]).pk), "platform": world["platform"].pk,
            "region": "cn-hangzhou", "spec": spec(world), "count": count}
    return api(world["tenant"]).post(REQUESTS, body, format="json", **headers)


def submitted(world: dict[str, Any], count: int = 1, project=None) -> dict[str, Any]:
    response = submit(world, count, project)
    assert response.status_code == 202, response.content
    return response.json()


def approve(user, request_id: str, **headers: str):
    return api(user).post(f"{REQUESTS}{request_id}/approve/", {"comment": "ok"}, format="json", **headers)


def approver_in(world: dict[str, Any], username: str):
    person = f.user(username, world["hq"])
    f.grant(Role.objects.get(key="approver_role"), person, world["hq"])
    return person


def policy(world: dict[str, Any], **fields: Any) -> ApprovalPolicy:
    fields.setdefault("levels", [{"mode": "any", "roles": [], "users": []}])
    return ApprovalPolicy.objects.create(organization=world["hq"], name=fields.pop("name", "policy"), **fields)


def status_of(request_id: str) -> str:
    return ProvisioningRequest.objects.get(pk=request_id).status


def creates_of(request_id: str) -> int:
    return ChangeRecord.objects.filter(request_id=request_id, action="create").count()


# -- "all" and "any" ---------------------------------------------------------------------------------

def test_an_any_level_is_complete_with_one_of_its_approvers(world):
    first, second = approver_in(world, "first"), approver_in(world, "second")
    policy(world, levels=[{"mode": "any", "users": [str(first.pk), str(second.pk)], "roles": []}])
    request = submitted(world)
    assert status_of(request["id"]) == "pending"
    response = approve(first, request["id"])
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "provisioning" and creates_of(request["id"]) == 1
    assert approve(second, request["id"]).json()["code"] == "request_decided"


def test_an_all_level_waits_for_every_named_approver(world):
    first, second = approver_in(world, "first"), approver_in(world, "second")
    policy(world, levels=[{"mode": "all", "users": [str(first.pk), str(second.pk)], "roles": []}])
    request = submitted(world)
    response = approve(first, request["id"])
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending" and response.json()["level"] == 0
    assert creates_of(request["id"]) == 0
    assert "all of" in ProvisioningRequest.objects.get(pk=request["id"]).events.filter(kind="waiting").first().message
    response = approve(second, request["id"])
    assert response.json()["status"] == "provisioning" and creates_of(request["id"]) == 1
    assert ApprovalDecision.objects.filter(request_id=request["id"], level=0).count() == 2


def test_an_all_level_of_roles_needs_each_role_and_any_needs_one(world):
    for key in ("reviewer", "finance"):
        Role.objects.create(key=key, name=key.title(), permissions=["provisioning:request:approve"])
    reviewer, accountant = approver_in(world, "reviewer"), approver_in(world, "accountant")
    f.grant(Role.objects.get(key="reviewer"), reviewer, world["hq"])
    f.grant(Role.objects.get(key="finance"), accountant, world["hq"])
    rule = policy(world, levels=[{"mode": "all", "roles": ["reviewer", "finance"], "users": []}])
    request = submitted(world)
    assert approve(reviewer, request["id"]).json()["status"] == "pending"
    assert approve(accountant, request["id"]).json()["status"] == "provisioning"
    rule.levels = [{"mode": "any", "roles": ["reviewer", "finance"], "users": []}]
    rule.save()
    request = submitted(world)
    assert approve(accountant, request["id"]).json()["status"] == "provisioning"


def test_someone_a_level_does_not_name_cannot_approve_it(world):
    named, other = approver_in(world, "named"), approver_in(world, "other")
    policy(world, levels=[{"mode": "any", "users": [str(named.pk)], "roles": []}])
    request = submitted(world)
    response = approve(other, request["id"])
    assert response.status_code == 403 and response.json()["code"] == "not_an_approver"
    assert status_of(request["id"]) == "pending" and not ApprovalDecision.objects.filter(request_id=request["id"])


# -- auto-approval -----------------------------------------------------------------------------------

@pytest.mark.parametrize("limits,count,automatic", [
    ({"auto_approve_max_count": 2}, 2, True),
    ({"auto_approve_max_count": 2}, 3, False),
    ({"auto_approve_max_vcpu": 2 * VCPU}, 2, True),
    ({"auto_approve_max_vcpu": 2 * VCPU}, 3, False),
    ({"auto_approve_max_count": 5, "auto_approve_max_vcpu": 2 * VCPU}, 3, False),
    ({"auto_approve_max_count": 2, "auto_approve_max_vcpu": 100 * VCPU}, 3, False),
    ({"auto_approve_max_count": 3, "auto_approve_max_vcpu": 3 * VCPU}, 3, True),
    ({"auto_approve_max_count": 0}, 1, False),
], ids=["count at the limit", "count over", "vcpu at the limit", "vcpu over", "count under, vcpu over",
        "vcpu under, count over", "both at their limits", "a limit of zero"])
def test_auto_approval_only_at_or_under_every_limit(world, limits, count, automatic):
    policy(world, name="limits", **limits)
    request = submitted(world, count)
    if automatic:
        assert request["status"] == "provisioning" and creates_of(request["id"]) == count
        events = ProvisioningRequest.objects.get(pk=request["id"]).events
        assert events.filter(kind="approved", message__contains="automatically by policy limits").exists()
    else:
        assert request["status"] == "pending" and creates_of(request["id"]) == 0


def test_a_policy_without_levels_approves_everything_and_no_policy_waits_for_an_approver(world):
    request = submitted(world)
    assert request["status"] == "pending" and request["levels"] == [{"mode": "any", "roles": [], "users": []}]
    policy(world, levels=[])
    assert submitted(world, 20)["status"] == "provisioning"


# -- which policy applies ------------------------------------------------------------------------------

def test_the_most_specific_active_policy_applies(world):
    other_project = f.project(world["hq"], world["tenant"], name="batch-jobs")
    policy(world, name="organization: automatic", levels=[])
    assert submitted(world)["status"] == "provisioning"
    # A policy for the service beats the organization-wide one...
    ecs = policy(world, name="ecs: review", service="ecs")
    request = submitted(world)
    assert request["status"] == "pending"
    assert ProvisioningRequest.objects.get(pk=request["id"]).policy_id == ecs.pk
    # ...and a policy of the project beats both, for that project only.
    web = policy(world, name="web: automatic", project=world["project"], levels=[])
    assert submitted(world)["status"] == "provisioning"
    assert ProvisioningRequest.objects.filter(policy=web).count() == 1
    assert submitted(world, project=other_project)["status"] == "pending"
    # An inactive policy is passed over.
    ApprovalPolicy.objects.filter(pk=web.pk).update(is_active=False)
    assert submitted(world)["status"] == "pending"


def test_a_policy_made_and_deleted_through_the_api_applies_and_stops_applying(world):
    client = api(world["approver"])
    made = client.post(POLICIES, {"organization": str(world["hq"].pk), "name": "small ones",
                                  "auto_approve_max_count": 1, "levels": [{"mode": "any"}]}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["levels"] == [{"mode": "any", "roles": [], "users": []}]
    assert submitted(world)["status"] == "provisioning"
    assert submitted(world, 2)["status"] == "pending"
    assert client.delete(f"{POLICIES}{made.json()['id']}/").status_code == 204
    assert not ApprovalPolicy.objects.exists()
    assert submitted(world)["status"] == "pending"


# -- batch operations ----------------------------------------------------------------------------------

def _instances(world, *statuses: str) -> list:
    return [resource(world["platform"], organization=world["hq"], project=world["project"], status=s,
                     spec={"instance_type": "ecs.g6.large"}) for s in statuses]


def test_a_batch_starts_one_operation_per_resource_and_lists_each_refusal(world):
    running, also_running, stopped = _instances(world, "running", "running", "stopped")
    response = api(world["tenant"]).post(BATCH, {"action": "stop", "comment": "night",
                                                 "resources": [running.id, also_running.id, stopped.id]},
                                         format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert len(body["operations"]) == 2
    assert {op["target_id"] for op in body["operations"]} == {running.id, also_running.id}
    assert [(r["resource"], r["code"]) for r in body["refused"]] == [(stopped.id, "invalid_transition")]
    changes = ChangeRecord.objects.filter(operation_id__in=[op["id"] for op in body["operations"]])
    assert {(c.resource_id, c.action, c.comment) for c in changes} == {(running.id, "stop", "night"),
                                                                        (also_running.id, "stop", "night")}
    assert not ChangeRecord.objects.filter(resource=stopped).exists()


def test_a_batch_refuses_a_resource_the_actor_may_not_operate_and_runs_the_rest(world):
    instance, = _instances(world, "running")
    database = resource(world["platform"], organization=world["hq"], project=world["project"],
                        type="rds.instance", status="running")
    response = api(world["tenant"]).post(BATCH, {"action": "reboot", "resources": [instance.id, database.id]},
                                         format="json")
    assert response.status_code == 202, response.content
    assert [op["target_id"] for op in response.json()["operations"]] == [instance.id]
    assert [(r["resource"], r["code"]) for r in response.json()["refused"]] == [(database.id, "forbidden")]


def test_a_batch_naming_another_organizations_resource_starts_nothing(world):
    mine, = _instances(world, "running")
    theirs = resource(world["platform"], organization=world["other"], project=world["foreign_project"])
    response = api(world["tenant"]).post(BATCH, {"action": "stop", "resources": [mine.id, theirs.id]},
                                         format="json")
    assert response.status_code == 400 and response.json()["detail"]["resources"] == [theirs.id]
    assert not Operation.objects.exists()


@pytest.mark.parametrize("body,field", [
    ({"action": "stop", "resources": []}, "resources"),
    ({"action": "attach", "resources": ["res-" + "0" * 28]}, "action"),
    ({"action": "stop", "resources": ["res-" + f"{n:028x}" for n in range(201)]}, "resources"),
], ids=["empty", "not a batch action", "over 200"])
def test_a_malformed_batch_is_refused_naming_the_field(world, body, field):
    response = api(world["tenant"]).post(BATCH, body, format="json")
    assert response.status_code == 400 and field in response.json()["detail"]
    assert not Operation.objects.exists()


# -- scheduled operations ------------------------------------------------------------------------------

def test_an_operation_scheduled_at_a_time_runs_once_then_the_schedule_is_disabled(world):
    instance, = _instances(world, "running")
    at = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    response = api(world["tenant"]).post(SCHEDULES, {"resource": instance.id, "action": "stop",
                                                     "run_at": at.isoformat(), "comment": "maintenance"},
                                         format="json")
    assert response.status_code == 201, response.content
    sched = ScheduledOperation.objects.get(pk=response.json()["id"])
    task = PeriodicTask.objects.get(pk=sched.periodic_task_id)
    assert task.one_off and task.clocked.clocked_time == at and task.enabled
    assert task.task == "apps.provisioning.tasks.scheduled_operation_task" and task.args == f'["{sched.id}"]'
    # The beat sends the task at that time; the task starts the operation as its author would have.
    scheduled_operation_task(sched.id)
    sched.refresh_from_db()
    change = ChangeRecord.objects.get(schedule=sched)
    assert (change.resource_id, change.action, change.actor_id, change.comment) == (
        instance.id, "stop", world["tenant"].pk, "maintenance")
    assert sched.last_operation_id == change.operation_id and sched.last_run_at and not sched.last_error
    assert not sched.enabled
    scheduled_operation_task(sched.id)
    assert ChangeRecord.objects.filter(schedule=sched).count() == 1


def test_a_recurring_schedule_runs_each_time_and_records_a_refusal(world):
    instance, = _instances(world, "running")
    response = api(world["tenant"]).post(SCHEDULES, {"resource": instance.id, "action": "reboot",
                                                     "cron": "30 2 * * 0"}, format="json")
    assert response.status_code == 201, response.content
    sched = ScheduledOperation.objects.get(pk=response.json()["id"])
    crontab = PeriodicTask.objects.get(pk=sched.periodic_task_id).crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, str(crontab.timezone)) == ("30", "2", "0", "UTC")
    scheduled_operation_task(sched.id)
    sched.refresh_from_db()
    first = sched.last_operation_id
    assert first and sched.enabled and not sched.last_error
    # The next run finds the first reboot still running: refused, recorded on the schedule, nothing started.
    scheduled_operation_task(sched.id)
    sched.refresh_from_db()
    assert "still running" in sched.last_error and sched.enabled
    assert ChangeRecord.objects.filter(schedule=sched).count() == 1
    Operation.objects.filter(pk=first).update(status=Operation.Status.SUCCEEDED)
    ChangeRecord.objects.filter(operation_id=first).update(phase=ChangeRecord.Phase.DONE)
    scheduled_operation_task(sched.id)
    sched.refresh_from_db()
    assert sched.last_operation_id != first and not sched.last_error
    assert ChangeRecord.objects.filter(schedule=sched).count() == 2


def test_a_disabled_schedule_starts_nothing_and_a_deleted_one_leaves_no_beat_task(world):
    instance, = _instances(world, "running")
    client = api(world["tenant"])
    response = client.post(SCHEDULES, {"resource": instance.id, "action": "stop", "cron": "0 20 * * 1-5"},
                           format="json")
    sched = ScheduledOperation.objects.get(pk=response.json()["id"])
    ScheduledOperation.objects.filter(pk=sched.pk).update(enabled=False)
    scheduled_operation_task(sched.id)
    assert not ChangeRecord.objects.filter(schedule=sched).exists()
    assert client.delete(f"{SCHEDULES}{sched.id}/").status_code == 204
    assert not PeriodicTask.objects.filter(pk=sched.periodic_task_id).exists()
    assert not ScheduledOperation.objects.exists()


@pytest.mark.parametrize("body,field", [
    ({"action": "stop", "cron": "every evening"}, "cron"),
    ({"action": "stop", "cron": "61 20 * * *"}, "cron"),
    ({"action": "release", "cron": "0 20 * * *"}, "action"),
    ({"action": "stop"}, "run_at"),
], ids=["not five fields", "minute out of range", "not schedulable", "neither time nor cron"])
def test_a_bad_schedule_is_refused_and_leaves_no_beat_task(world, body, field):
    instance, = _instances(world, "running")
    tasks = PeriodicTask.objects.count()
    response = api(world["tenant"]).post(SCHEDULES, {"resource": instance.id, **body}, format="json")
    assert response.status_code == 400 and field in response.json()["detail"], response.content
    assert PeriodicTask.objects.count() == tasks and not ScheduledOperation.objects.exists()


# -- Idempotency-Key on provisioning commands ----------------------------------------------------------

def test_a_request_submitted_twice_with_one_key_is_made_once(world):
    first = submit(world, HTTP_IDEMPOTENCY_KEY="order-1")
    again = submit(world, HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == again.status_code == 202, again.content
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert ProvisioningRequest.objects.count() == 1
    other = submit(world, 2, HTTP_IDEMPOTENCY_KEY="order-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert ProvisioningRequest.objects.count() == 1


def test_an_approval_sent_twice_with_one_key_decides_once(world):
    request = submitted(world)
    first = approve(world["approver"], request["id"], HTTP_IDEMPOTENCY_KEY="yes-1")
    again = approve(world["approver"], request["id"], HTTP_IDEMPOTENCY_KEY="yes-1")
    assert first.status_code == again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert ApprovalDecision.objects.filter(request_id=request["id"]).count() == 1
    assert creates_of(request["id"]) == 1


def test_an_instance_command_sent_twice_with_one_key_starts_one_operation(world):
    instance, other = _instances(world, "running", "running")
    client = api(world["tenant"])
    url = f"/api/v1/provisioning/instances/{instance.id}/stop/"
    first = client.post(url, {"comment": "cost"}, format="json", HTTP_IDEMPOTENCY_KEY="stop-1")
    again = client.post(url, {"comment": "cost"}, format="json", HTTP_IDEMPOTENCY_KEY="stop-1")
    assert first.status_code == again.status_code == 202, again.content
    assert again.json()["id"] == first.json()["id"]
    assert Operation.objects.count() == 1
    changed_body = client.post(url, {"comment": "other reason"}, format="json", HTTP_IDEMPOTENCY_KEY="stop-1")
    other_path = client.post(f"/api/v1/provisioning/instances/{other.id}/stop/", {"comment": "cost"},
                             format="json", HTTP_IDEMPOTENCY_KEY="stop-1")
    for refused in (changed_body, other_path):
        assert refused.status_code == 422 and refused.json()["code"] == "idempotency_key_reused"
    assert Operation.objects.count() == 1


def test_a_batch_sent_twice_with_one_key_starts_its_operations_once(world):
    instances = _instances(world, "running", "running")
    body = {"action": "stop", "resources": [i.id for i in instances]}
    client = api(world["tenant"])
    first = client.post(BATCH, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    again = client.post(BATCH, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert first.status_code == again.status_code == 202
    assert [op["id"] for op in again.json()["operations"]] == [op["id"] for op in first.json()["operations"]]
    assert Operation.objects.count() == 2
