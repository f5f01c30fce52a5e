"""Fixtures of the provisioning tests: a cloudsim region in a thread with a small network, a platform
whose catalog was discovered from it, a tenant who may provision and an approver."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import cache

from apps.resources.tests.conftest import Control
from cloudsim.server import CloudSim
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 (fixtures)

TENANT_PERMISSIONS = ("ecs:instance:*", "resources:resource:read", "provisioning:request:read",
                      "provisioning:change:read", "provisioning:schedule:read", "provisioning:topology:read",
                      "core:operation:*", "menu:portal:*")


@pytest.fixture(autouse=True)
def fresh_cache():
    """Cached cloud offers and access snapshots do not leak from one test to the next."""
    cache.clear()


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setenv("UNIMANAGER_PROVISIONING_POLL_SECONDS", "0.02")


@pytest.fixture(scope="session")
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=["cn-hangzhou"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def network(sim) -> dict[str, Any]:
    from apps.clouds.simulated import _wait, sim_adapter

    a = sim_adapter(sim.endpoint)
    vpc = a.create("vpc.vpc", "cn-hangzhou", {"cidr_block": "192.168.0.0/16", "name": "prod"})
    _wait(a, "vpc.vpc", "cn-hangzhou", vpc, {"available"})
    vsw = a.create("vpc.vswitch", "cn-hangzhou", {"vpc_id": vpc, "zone": "cn-hangzhou-a",
                                                  "cidr_block": "192.168.1.0/24", "name": "web-a"})
    _wait(a, "vpc.vswitch", "cn-hangzhou", vsw, {"available"})
    sg = a.create("ecs.security_group", "cn-hangzhou", {"vpc_id": vpc, "name": "web"})
    return {"vpc": vpc, "vswitch": vsw, "security_group": sg}


@pytest.fixture
def control(sim) -> Control:
    ctl = Control(sim)
    ctl.call("DELETE", "/faults")
    ctl.post("/config", {"provision_seconds": 0.05})
    return ctl


@pytest.fixture
def world(db, sim, network, control):
    from apps.clouds.services import platform_discover_catalog, platform_discover_regions
    from apps.clouds.tests.factories import platform as make_platform
    from tests import factories as f

    hq, other = f.org("HQ"), f.org("Other")
    tenant = f.user("tenant", hq)
    approver = f.user("approver", hq)
    outsider = f.user("outsider", other)
    project = f.project(hq, tenant, name="web")
    foreign_project = f.project(other, outsider, name="theirs")
    f.grant(f.role(*TENANT_PERMISSIONS, key="tenant_role"), tenant, hq)
    f.grant(f.role(*TENANT_PERMISSIONS, key="outsider_role"), outsider, other)
    f.grant(f.role("provisioning:*", "resources:resource:read", "core:operation:*", "menu:*", key="approver_role"),
            approver, hq)
    platform = make_platform(hq, endpoint=sim.endpoint, name="Sim")
    platform_discover_regions(platform=platform)
    platform_discover_catalog(platform=platform)
    return {"hq": hq, "other": other, "tenant": tenant, "approver": approver, "outsider": outsider,
            "project": project, "foreign_project": foreign_project, "platform": platform, **network}


def spec(world: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"instance_type": "ecs.g6.large", "image_id": "centos_7_9_x64_20G_alibase_20230919.vhd",
            "zone": "cn-hangzhou-a", "vswitch_id": world["vswitch"], "security_group_id": world["security_group"],
            "name": "web", **kw}


def drive(change_id: str, timeout: float = 20.0) -> None:
    """Run a change's steps in this process, as a worker would (tests only)."""
    from apps.provisioning.lifecycle import lifecycle_step
    from apps.provisioning.models import ChangeRecord

    step = ChangeRecord.objects.values_list("step", flat=True).get(pk=change_id) + 1
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        more, delay, step = lifecycle_step(change_id=change_id, step=step)
        if not more:
            return
        time.sleep(min(delay, 0.05))
    raise TimeoutError(change_id)
