"""Fixtures of the disaster-recovery tests: a cloudsim with two regions in a thread, a platform on it,
an operator of the headquarters, an outsider of another organization, and helpers that make protected
resources and drive plans in this process as a worker would."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import cache

from apps.resources.tests.conftest import Control
from cloudsim.server import CloudSim
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 (fixtures)

PRIMARY, SECONDARY = "cn-hangzhou", "cn-shanghai"
OPERATOR = ("resilience:*", "resources:resource:read", "core:operation:*", "clouds:platform:read", "menu:*",
            "ecs:instance:*")


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setenv("UNIMANAGER_PROVISIONING_POLL_SECONDS", "0.02")


@pytest.fixture(scope="session")
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=[PRIMARY, SECONDARY]).start()
    yield server
    server.stop()


@pytest.fixture
def control(sim) -> Control:
    ctl = Control(sim)
    ctl.post("/reset")
    # Resources settle at once: the adapter's pair_create makes the secondary disk and pairs it in one go.
    ctl.post("/config", {"provision_seconds": 0})
    ctl.post("/replication", {"lag_seconds": 0})
    return ctl


@pytest.fixture
def world(db, sim, control, request):
    from apps.clouds.services import platform_discover_regions
    from apps.clouds.tests.factories import platform as make_platform
    from tests import factories as f

    request.getfixturevalue("rbac_scoping")
    hq, other = f.org("HQ"), f.org("Other")
    operator = f.user("operator", hq)
    viewer = f.user("viewer", hq)
    outsider = f.user("outsider", other)
    f.grant(f.role(*OPERATOR, key="dr_operator"), operator, hq)
    f.grant(f.role("resilience:group:read", "resilience:plan:read", key="dr_viewer"), viewer, hq)
    f.grant(f.role(*OPERATOR, key="dr_outsider"), outsider, other)
    platform = make_platform(hq, endpoint=sim.endpoint, name="Sim")
    platform_discover_regions(platform=platform)
    return {"hq": hq, "other": other, "operator": operator, "viewer": viewer, "outsider": outsider,
            "platform": platform, "sim": sim, "control": control}


def adapter(world: dict[str, Any], region: str = PRIMARY) -> Any:
    from apps.clouds.simulated import sim_adapter

    return sim_adapter(world["sim"].endpoint, region=region)


def make_disks(world: dict[str, Any], count: int, *, tags: dict[str, str] | None = None, org: Any = None,
               size_gib: int = 20) -> list[Any]:
    """``count`` disks in the primary zone, collected into the inventory as ``org``'s with ``tags``."""
    from apps.clouds.simulated import _wait
    from apps.resources.models import Resource
    from apps.resources.services import resource_refresh

    a = adapter(world)
    ids = [a.create("ecs.disk", PRIMARY, {"zone": f"{PRIMARY}-a", "size_gib": size_gib, "name": f"data-{i}"})
           for i in range(count)]
    rows = []
    for disk_id in ids:
        _wait(a, "ecs.disk", PRIMARY, disk_id, {"available"})
        row = resource_refresh(platform=world["platform"], resource_type="ecs.disk", region=PRIMARY,
                               external_id=disk_id, adapter=a)
        Resource.objects.filter(pk=row.pk).update(organization=org or world["hq"], tags=tags or {})
        rows.append(Resource.objects.get(pk=row.pk))
    return rows


def make_group(world: dict[str, Any], *, name: str = "shop", tag: str = "shop", **kw: Any) -> Any:
    from apps.resilience import services

    kw.setdefault("actor", world["operator"])
    kw.setdefault("organization", world["hq"])
    group = services.group_create(
        name=name, selection="tag", tag_key="app", tag_value=tag, primary_platform=world["platform"],
        primary_region=PRIMARY, primary_zone=f"{PRIMARY}-a", secondary_platform=world["platform"],
        secondary_region=SECONDARY, secondary_zone=f"{SECONDARY}-a", **kw)
    services.group_setup(group_id=group.id)
    return group


def wait_replicating(group: Any, timeout: float = 15.0) -> None:
    """Until every pair of ``group`` replicates and has a recovery point."""
    from apps.resilience import services

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        polled = services.group_poll(group=group)
        members = list(polled.members.exclude(channel="none"))
        if members and all(m.replica_status in ("normal", "syncing") and m.last_recovery_point for m in members):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{group.name} does not replicate")


def drive(run: Any, timeout: float = 60.0, *, until: Any = None, order: Any = None, after_each: Any = None) -> Any:
    """Run a plan's steps (and the lifecycle operations they start) in this process, as workers would (tests
    only), until it ends (or ``until(run)``). ``order(steps)`` picks the order of each round's deliveries;
    ``after_each()`` runs after every delivery."""
    from apps.provisioning.lifecycle import lifecycle_step
    from apps.provisioning.models import ChangeRecord
    from apps.resilience.models import PlanRun, PlanStep
    from apps.resilience.plans import step_run

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = PlanRun.objects.get(pk=run.pk)
        if current.status in PlanRun.FINAL or (until is not None and until(current)):
            return current
        steps = list(PlanStep.objects.filter(run=run, status=PlanStep.Status.RUNNING))
        changes = list(ChangeRecord.objects.exclude(phase=ChangeRecord.Phase.DONE))
        work = [("step", s) for s in steps] + [("change", c) for c in changes]
        for kind, item in (order(work) if order else work):
            if kind == "step":
                step_run(step_id=item.id, tick=PlanStep.objects.get(pk=item.pk).tick + 1)
            else:
                lifecycle_step(change_id=item.id, step=ChangeRecord.objects.get(pk=item.pk).step + 1)
            if after_each:
                after_each()
        if not steps and current.status == PlanRun.Status.WAITING:
            return current
        time.sleep(0.02)
    raise TimeoutError(f"plan {run.id} did not end")


def make_instances(world: dict[str, Any], count: int, *, tags: dict[str, str]) -> list[Any]:
    """``count`` running instances in the primary zone (with their network), in the inventory as the
    headquarters' with ``tags``."""
    from apps.clouds.simulated import _wait
    from apps.resources.models import Resource
    from apps.resources.services import resource_refresh

    a = adapter(world)
    vpc = a.create("vpc.vpc", PRIMARY, {"cidr_block": "192.168.0.0/16", "name": "prod"})
    _wait(a, "vpc.vpc", PRIMARY, vpc, {"available"})
    vsw = a.create("vpc.vswitch", PRIMARY, {"vpc_id": vpc, "zone": f"{PRIMARY}-a", "cidr_block": "192.168.1.0/24",
                                            "name": "web"})
    _wait(a, "vpc.vswitch", PRIMARY, vsw, {"available"})
    sg = a.create("ecs.security_group", PRIMARY, {"vpc_id": vpc, "name": "web"})
    rows = []
    for n in range(count):
        iid = a.create("ecs.instance", PRIMARY, {
            "instance_type": "ecs.g6.large", "image_id": "centos_7_9_x64_20G_alibase_20230919.vhd",
            "vswitch_id": vsw, "security_group_id": sg, "name": f"web-{n}"})
        _wait(a, "ecs.instance", PRIMARY, iid, {"running"})
        row = resource_refresh(platform=world["platform"], resource_type="ecs.instance", region=PRIMARY,
                               external_id=iid, adapter=a)
        Resource.objects.filter(pk=row.pk).update(organization=world["hq"], tags=tags)
        rows.append(Resource.objects.get(pk=row.pk))
    return rows
