"""Lifecycle operations under faults, on real PostgreSQL, Redis, cloudsim and Celery worker processes
this test starts (and kills): a worker dies in the middle of a create, the cloud fails 30% of calls,
one call fails permanently."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from devtools.services import free_port, wait_for_port
from tests.integration.conftest import ROOT, database_url_for

REGION = "cn-hangzhou"
IMAGE = "centos_7_9_x64_20G_alibase_20230919.vhd"


class Sim:
    """cloudsim in its own process, and its control API."""

    def __init__(self, log: Path, provision_seconds: float):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cloudsim", "--port", str(self.port), "--provision-seconds", str(provision_seconds)],
            cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, timeout=30)
        self.endpoint = f"127.0.0.1:{self.port}"

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://{self.endpoint}/_cloudsim{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def instances(self) -> list[dict[str, Any]]:
        found = self.control("GET", "/resources?type=ecs_instance")
        return found["resources"] if isinstance(found, dict) else found

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def worker_env(services_env: dict[str, str], **extra: str) -> dict[str, str]:
    from django.db import connection

    env = dict(services_env)
    env["DATABASE_URL"] = database_url_for(connection.settings_dict["NAME"])
    env.pop("UNIMANAGER_EMBEDDED_WORKER", None)
    env.update({"UNIMANAGER_PROVISIONING_POLL_SECONDS": "0.2", **extra})
    return env


def start_worker(env: dict[str, str], log: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "unimanager", "worker", "--pool=solo",
                             "--loglevel=INFO", "--without-heartbeat", "--without-mingle", "--without-gossip",
                             "-n", f"{name}-{os.getpid()}@%h"], cwd=ROOT, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill(process)


def estate(sim: Sim, name: str, *, auto_approve: bool = True) -> dict[str, Any]:
    """An organization with a project, a tenant, an approver, the platform registered through the clouds
    services with its catalog discovered, and a network on the cloud."""
    from apps.clouds import services as clouds
    from apps.clouds.simulated import _wait, sim_adapter
    from apps.provisioning.requests import policy_create
    from tests import factories as f

    org = f.org(f"{name} Org")
    admin = f.user(f"{name}-admin", org, is_superuser=True)
    tenant = f.user(f"{name}-tenant", org)
    approver = f.user(f"{name}-approver", org)
    for user in (admin, tenant, approver):
        user.set_password("lifecycle-pass-1234")
        user.save()
    project = f.project(org, tenant, name=f"{name}-project")
    f.grant(f.role("ecs:instance:*", "resources:resource:read", "provisioning:request:read", "core:operation:*",
                   "provisioning:change:read", "menu:portal:*", key=f"{name}_tenant"), tenant, org)
    f.grant(f.role("provisioning:*", "resources:resource:read", "core:operation:*", "menu:*",
                   key=f"{name}_approver"), approver, org)
    platform = clouds.platform_create(
        actor=admin, organization=org, type="apsara", name=f"{name} cloudsim", endpoint=sim.endpoint,
        protocol="http", default_region=REGION,
        credentials={"access_key_id": "cloudsim-access-key", "access_key_secret": "cloudsim-access-secret"})
    clouds.platform_discover_regions(platform=platform)
    clouds.platform_discover_catalog(platform=platform)
    a = sim_adapter(sim.endpoint)
    vpc = a.create("vpc.vpc", REGION, {"cidr_block": "192.168.0.0/16", "name": f"{name}-vpc"})
    _wait(a, "vpc.vpc", REGION, vpc, {"available"})
    vsw = a.create("vpc.vswitch", REGION, {"vpc_id": vpc, "zone": f"{REGION}-a", "cidr_block": "192.168.1.0/24",
                                           "name": f"{name}-web"})
    _wait(a, "vpc.vswitch", REGION, vsw, {"available"})
    sg = a.create("ecs.security_group", REGION, {"vpc_id": vpc, "name": f"{name}-sg"})
    if auto_approve:
        policy_create(actor=admin, organization=org, name="auto", levels=[])
    return {"org": org, "admin": admin, "tenant": tenant, "approver": approver, "project": project,
            "platform": platform, "vswitch": vsw, "security_group": sg}


def request(world: dict[str, Any], count: int, name: str) -> Any:
    from django.db import transaction

    from apps.provisioning.requests import request_create

    with transaction.atomic():
        return request_create(actor=world["tenant"], project=world["project"], platform=world["platform"],
                              region=REGION, count=count, spec={
                                  "instance_type": "ecs.g6.large", "image_id": IMAGE,
                                  "zone": f"{REGION}-a", "vswitch_id": world["vswitch"],
                                  "security_group_id": world["security_group"], "name": name})


def wait_final(request_id: str, timeout: float, check=lambda: None) -> list[Any]:
    from apps.core.models import Operation

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        ops = list(Operation.objects.filter(change_record__request_id=request_id))
        if ops and all(op.is_final for op in ops):
            return ops
        time.sleep(0.3)
    states = list(Operation.objects.filter(change_record__request_id=request_id).values("status", "message"))
    raise TimeoutError(f"operations of {request_id} did not finish: {states}")


@pytest.fixture
def sim(tmp_path):
    server = Sim(tmp_path / "cloudsim.log", provision_seconds=1.5)
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_during_a_create_leaves_exactly_one_instance(services_env, sim, tmp_path):
    from apps.core.models import Operation
    from apps.provisioning.lifecycle import reconcile
    from apps.provisioning.models import ChangeRecord
    from apps.resources.models import Resource

    world = estate(sim, "chaos")
    env = worker_env(services_env)
    log = tmp_path / "workers.log"
    first = start_worker(env, log, "doomed")
    try:
        req = request(world, 1, "survivor")
        change = ChangeRecord.objects.get(request=req)
        deadline = time.monotonic() + 60
        while not ChangeRecord.objects.get(pk=change.pk).external_id:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
    finally:
        kill(first)
    assert Operation.objects.get(pk=change.operation_id).status == "running"
    killed = ChangeRecord.objects.get(pk=change.pk)
    second = start_worker(env, log, "heir")
    try:
        # The dead worker either held the next step (unacknowledged: the broker gives it back only after its
        # visibility timeout, so the reconciler must resume the change) or had published it without fetching
        # it yet (the heir runs it by itself, keeps the change fresh, and the reconciler must leave it alone).
        time.sleep(2.5)
        if reconcile(stale_after=2)["resumed"] != 1:
            now = ChangeRecord.objects.get(pk=change.pk)
            assert now.heartbeat_at != killed.heartbeat_at, "nobody resumed the change of the dead worker"
        ops = wait_final(req.id, 60)
    finally:
        stop(second)
    assert [op.status for op in ops] == ["succeeded"], ops[0].error
    named = [i for i in sim.instances() if i.get("InstanceName") == "survivor"]
    assert len(named) == 1
    change.refresh_from_db()
    assert named[0]["InstanceId"] == change.external_id
    row = Resource.objects.get(platform=world["platform"], external_id=change.external_id)
    assert row.status == "running" and row.project_id == world["project"].pk
    assert not Operation.objects.filter(status__in=["pending", "running"]).exists()


def until(condition, timeout: float, message: str):
    """Wait for ``condition()`` to be truthy (polled), at most ``timeout`` seconds; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_the_cloud_created_the_instance_but_before_the_id_was_recorded(
        services_env, sim, tmp_path):
    """The window the ClientToken exists for: cloudsim has created the instance, but the worker dies before it
    reads the answer and records the id. The step runs again in another worker, calls RunInstances again with
    the same ClientToken and gets the first answer back: the cloud keeps exactly one instance."""
    from apps.core.models import Operation
    from apps.provisioning.lifecycle import reconcile
    from apps.provisioning.models import ChangeRecord
    from apps.resources.models import Resource

    world = estate(sim, "window")
    sim.control("POST", "/config", {"provision_seconds": 0.3})
    env = worker_env(services_env)
    log = tmp_path / "workers.log"

    def run_instances_calls() -> int:
        return sim.control("GET", "/stats")["calls"].get("RunInstances", 0)

    def named() -> list[dict[str, Any]]:
        return [i for i in sim.instances() if i.get("InstanceName") == "window"]

    calls = run_instances_calls()
    # cloudsim holds the first RunInstances for 8 s before it acts, then answers (wide enough that a loaded
    # machine still freezes the worker while the call is in flight).
    sim.control("POST", "/faults", {"action": "RunInstances", "latency_ms": 8000, "remaining": 1})
    first = start_worker(env, log, "doomed")
    try:
        req = request(world, 1, "window")
        change = ChangeRecord.objects.get(request=req)
        until(lambda: run_instances_calls() > calls, 60, "the worker never called RunInstances")
        # The call is in flight: freeze the worker so that it cannot read the answer, let cloudsim create the
        # instance and answer into the frozen worker's socket, then kill the worker.
        os.killpg(first.pid, signal.SIGSTOP)
        until(named, 30, "cloudsim did not create the instance")
    finally:
        kill(first)
    killed = ChangeRecord.objects.get(pk=change.pk)
    assert (killed.phase, killed.external_id) == (ChangeRecord.Phase.CALL, ""), "the kill missed the window"
    assert not Operation.objects.get(pk=change.operation_id).is_final
    assert len(named()) == 1
    second = start_worker(env, log, "heir")
    try:
        # The dead worker held the step unacknowledged (the broker gives it back only after its visibility
        # timeout): the reconciler resumes the change, whose heartbeat stopped when the call began.
        assert reconcile(stale_after=2)["resumed"] == 1
        ops = wait_final(req.id, 60)
    finally:
        stop(second)
    assert [op.status for op in ops] == ["succeeded"], ops[0].error
    assert run_instances_calls() == calls + 2, "the step did not call the cloud again"
    instances = named()
    assert len(instances) == 1, f"{len(instances)} instances for one request: {[i['InstanceId'] for i in instances]}"
    change.refresh_from_db()
    assert instances[0]["InstanceId"] == change.external_id
    row = Resource.objects.get(platform=world["platform"], external_id=change.external_id)
    assert row.status == "running" and row.project_id == world["project"].pk


@pytest.mark.django_db(transaction=True)
def test_a_batch_of_20_completes_despite_30_percent_transient_errors(services_env, sim, tmp_path):
    world = estate(sim, "flaky")
    sim.control("POST", "/config", {"provision_seconds": 0.3})
    env = worker_env(services_env)
    worker = start_worker(env, tmp_path / "worker.log", "flaky")
    try:
        sim.control("POST", "/faults", {"action": "*", "error_rate": 0.3, "code": "ServiceUnavailable"})
        req = request(world, 20, "flaky")
        ops = wait_final(req.id, 150)
    finally:
        sim.control("DELETE", "/faults")
        stop(worker)
    assert sorted(op.status for op in ops) == ["succeeded"] * 20, [op.error for op in ops if op.error]
    assert len([i for i in sim.instances() if i.get("InstanceName", "").startswith("flaky-")]) == 20


@pytest.mark.django_db(transaction=True)
def test_a_permanent_error_fails_only_its_own_operation(services_env, sim, tmp_path):
    world = estate(sim, "denied")
    sim.control("POST", "/config", {"provision_seconds": 0.3})
    worker = start_worker(worker_env(services_env), tmp_path / "worker.log", "denied")
    try:
        sim.control("POST", "/faults", {"action": "RunInstances", "error_rate": 1, "code": "OperationDenied.NoStock",
                                        "status": 403, "message": "The zone has no stock left", "remaining": 1})
        req = request(world, 3, "stock")
        ops = wait_final(req.id, 60)
    finally:
        stop(worker)
    failed = [op for op in ops if op.status == "failed"]
    assert len(failed) == 1 and sum(op.status == "succeeded" for op in ops) == 2
    assert "OperationDenied.NoStock" in failed[0].error and "no stock" in failed[0].error
