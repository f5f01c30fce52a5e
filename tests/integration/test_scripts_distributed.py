"""Scripts on instances in the distributed mode: a run started in this process is driven to its end by a
separate Celery worker process over Redis, on PostgreSQL, against cloudsim in its own process; each
instance's output and exit code come back from Cloud Assistant."""

from __future__ import annotations

import time

import pytest

from tests.integration.test_lifecycle_chaos import IMAGE, REGION, Sim, estate, start_worker, stop, worker_env


@pytest.fixture
def sim(tmp_path):
    server = Sim(tmp_path / "cloudsim.log", provision_seconds=0.5)
    yield server
    server.stop()


def running_instances(world, count: int) -> list:
    from apps.clouds.adapters import adapter_for
    from apps.clouds.simulated import _wait, sim_adapter
    from apps.resources.models import Resource
    from apps.resources.services import resource_refresh

    cloud = sim_adapter(world["platform"].endpoint)
    rows = []
    for n in range(count):
        iid = cloud.create("ecs.instance", REGION, {"instance_type": "ecs.g6.large", "image_id": IMAGE,
                                                    "vswitch_id": world["vswitch"], "name": f"script-web-{n}",
                                                    "security_group_id": world["security_group"]})
        _wait(cloud, "ecs.instance", REGION, iid, {"running"})
        row = resource_refresh(platform=world["platform"], resource_type="ecs.instance", region=REGION,
                               external_id=iid, adapter=adapter_for(world["platform"]))
        Resource.objects.filter(pk=row.pk).update(organization=world["org"], project=world["project"])
        rows.append(row)
    return rows


@pytest.mark.django_db(transaction=True)
def test_a_script_run_is_driven_to_its_end_by_a_separate_worker_process(services_env, sim, tmp_path):
    from apps.core.models import Operation
    from apps.provisioning.models import ScriptRunTarget
    from apps.provisioning.scripts import script_run_start

    world = estate(sim, "scripts")
    rows = running_instances(world, 2)
    log = tmp_path / "worker.log"
    worker = start_worker(worker_env(services_env), log, "scripts")
    try:
        run = script_run_start(actor=world["tenant"], instances=[r.pk for r in rows],
                               content="hostname\necho {{greeting}}\nsleep 1\nexit 0",
                               parameters={"greeting": "from the worker"})
        deadline = time.monotonic() + 90
        while Operation.objects.get(pk=run.operation_id).status not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        stop(worker)
    op = Operation.objects.get(pk=run.operation_id)
    assert op.status == "succeeded", op.error
    targets = {t.instance_id: t for t in ScriptRunTarget.objects.filter(run=run)}
    assert set(targets) == {r.external_id for r in rows}
    for target in targets.values():
        assert (target.status, target.exit_code) == ("success", 0)
        assert target.output.endswith("from the worker\n"), target.output
    assert sim.control("GET", "/stats")["calls"].get("RunCommand") == 1
