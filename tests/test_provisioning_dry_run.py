"""A provisioning request is checked by the cloud itself (DryRun) before anything is reserved or created:
cloudsim in strict Apsara Stack mode refuses what the real API would, and the console answers 422 with the
cloud's code; a request the cloud accepts goes on, and the check created nothing."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from apps.clouds.services import platform_discover_catalog, platform_discover_regions
from apps.clouds.simulated import _wait, sim_adapter
from apps.provisioning.models import ProvisioningRequest
from cloudsim.server import CloudSim
from tests import factories as f
from tests.fixtures import api_as, fast_passwords, rbac_scoping  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"
IMAGE = "centos_7_9_x64_20G_alibase_20230919.vhd"


@pytest.fixture(scope="module")
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=[REGION]).start()
    yield server
    server.stop()


def control(sim: CloudSim, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(f"http://{sim.endpoint}/_cloudsim{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture
def world(sim):
    a = sim_adapter(sim.endpoint)
    vpc = a.create("vpc.vpc", REGION, {"cidr_block": "192.168.0.0/16"})
    _wait(a, "vpc.vpc", REGION, vpc, {"available"})
    vsw = a.create("vpc.vswitch", REGION, {"vpc_id": vpc, "zone": f"{REGION}-a", "cidr_block": "192.168.1.0/24"})
    _wait(a, "vpc.vswitch", REGION, vsw, {"available"})
    sg = a.create("ecs.security_group", REGION, {"vpc_id": vpc, "name": "web"})
    hq = f.org("HQ")
    tenant = f.user("tenant", hq)
    project = f.project(hq, tenant, name="web")
    f.grant(f.role("ecs:instance:*", "provisioning:request:read", "core:operation:*", key="tenant_role"), tenant, hq)
    platform = f.platform(hq, endpoint=sim.endpoint, name="Sim")
    platform_discover_regions(platform=platform)
    platform_discover_catalog(platform=platform)
    yield {"tenant": tenant, "project": project, "platform": platform, "vswitch": vsw, "security_group": sg}
    control(sim, "POST", "/config", {"capacity": {"zone_vcpu": 20_000}})


def submit(world: dict[str, Any], count: int) -> Any:
    spec = {"instance_type": "ecs.g6.large", "image_id": IMAGE, "zone": f"{REGION}-a",
            "vswitch_id": world["vswitch"], "security_group_id": world["security_group"], "name": "web"}
    return api_as(world["tenant"]).post("/api/v1/provisioning/requests/", {
        "project": str(world["project"].pk), "platform": world["platform"].pk, "region": REGION, "spec": spec,
        "count": count}, format="json")


def test_the_cloud_refuses_a_request_it_cannot_place_and_nothing_is_created(sim, world):
    control(sim, "POST", "/config", {"capacity": {"zone_vcpu": 8}})  # room for four 2-vCPU instances
    before = control(sim, "GET", "/stats")["calls"]
    response = submit(world, 5)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "cloud_refused" and body["detail"]["cloud"]["code"] == "OperationDenied.NoStock"
    assert not ProvisioningRequest.objects.exists()
    calls = control(sim, "GET", "/stats")["calls"]
    assert calls.get("RunInstances:DryRun", 0) == before.get("RunInstances:DryRun", 0) + 1
    assert calls.get("RunInstances", 0) == before.get("RunInstances", 0)
    assert control(sim, "GET", "/stats")["resources"]["ecs_instance"]["total"] == 0


def test_a_request_the_cloud_accepts_goes_on(sim, world):
    control(sim, "POST", "/config", {"capacity": {"zone_vcpu": 8}})
    response = submit(world, 4)
    assert response.status_code in (201, 202), response.content
    assert ProvisioningRequest.objects.count() == 1
