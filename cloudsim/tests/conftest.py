"""A cloudsim server on a free loopback port, driven through the official Alibaba Cloud SDK clients."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_cms20190101.client import Client as CmsClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_r_kvstore20150101.client import Client as RedisClient
from alibabacloud_rds20140815.client import Client as RdsClient
from alibabacloud_slb20140515.client import Client as SlbClient
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils_models import GlobalParameters
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpc20160428.client import Client as VpcClient

from cloudsim.server import (
    APSARA_ACCESS_KEY_ID,
    APSARA_ACCESS_KEY_SECRET,
    APSARA_ORGANIZATION_ID,
    APSARA_RESOURCE_SET_ID,
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    CloudSim,
)

REGION = "cn-hangzhou"
ZONE_A, ZONE_B = "cn-hangzhou-a", "cn-hangzhou-b"
IMAGE = "centos_7_9_x64_20G_alibase_20230919.vhd"
STEP = 0.2


@pytest.fixture(scope="session")
def sim():
    server = CloudSim(port=0, provision_seconds=STEP).start()
    yield server
    server.stop()


def sdk_config(sim: CloudSim, **overrides: Any) -> Config:
    values = {"access_key_id": DEFAULT_ACCESS_KEY_ID, "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
              "endpoint": sim.endpoint, "protocol": "http", "region_id": REGION, **overrides}
    return Config(**values)


def apsara_config(sim: CloudSim, *, organization: str | None = APSARA_ORGANIZATION_ID,
                  resource_set: str | None = APSARA_RESOURCE_SET_ID, **overrides: Any) -> Config:
    """An SDK Config of the Apsara Stack AccessKey, naming its organization and resource set in headers."""
    headers = {"x-acs-regionid": REGION}
    if organization is not None:
        headers["x-acs-organizationid"] = organization
    if resource_set is not None:
        headers["x-acs-resourcegroupid"] = resource_set
    overrides = {"access_key_id": APSARA_ACCESS_KEY_ID, "access_key_secret": APSARA_ACCESS_KEY_SECRET, **overrides}
    return sdk_config(sim, global_parameters=GlobalParameters(headers=headers), **overrides)


class Control:
    """The unsigned JSON control endpoint."""

    def __init__(self, sim: CloudSim):
        self.base = f"http://{sim.endpoint}/_cloudsim"

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def post(self, path: str, body: dict | None = None) -> Any:
        status, payload = self.call("POST", path, body or {})
        assert status < 300, payload
        return payload

    def get(self, path: str) -> Any:
        status, payload = self.call("GET", path)
        assert status < 300, payload
        return payload


@pytest.fixture
def control(sim) -> Control:
    ctl = Control(sim)
    ctl.post("/reset")
    ctl.post("/config", {"provision_seconds": STEP, "capacity": {
        "zone_vcpu": 20_000, "zone_memory_gib": 80_000, "zone_private_ips": 60_000, "region_eips": 500}})
    return ctl


@pytest.fixture
def ecs(sim, control) -> EcsClient:
    return EcsClient(sdk_config(sim))


@pytest.fixture
def vpc(sim, control) -> VpcClient:
    return VpcClient(sdk_config(sim))


@pytest.fixture
def rds(sim, control) -> RdsClient:
    return RdsClient(sdk_config(sim))


@pytest.fixture
def redis(sim, control) -> RedisClient:
    return RedisClient(sdk_config(sim))


@pytest.fixture
def slb(sim, control) -> SlbClient:
    return SlbClient(sdk_config(sim))


@pytest.fixture
def cms(sim, control) -> CmsClient:
    return CmsClient(sdk_config(sim))


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def make_network(vpc: VpcClient, *, zone: str = ZONE_A, cidr: str = "192.168.0.0/16",
                 vsw_cidr: str = "192.168.1.0/24") -> tuple[str, str]:
    """A VPC with one vSwitch, both Available: (vpc id, vSwitch id)."""
    vpc_id = vpc.create_vpc(vpc_models.CreateVpcRequest(region_id=REGION, cidr_block=cidr)).body.vpc_id
    wait_for(lambda: vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=REGION, vpc_id=vpc_id))
             .body.vpcs.vpc[0].status == "Available")
    vsw_id = vpc.create_vswitch(vpc_models.CreateVSwitchRequest(
        vpc_id=vpc_id, zone_id=zone, cidr_block=vsw_cidr)).body.v_switch_id
    wait_for(lambda: vpc.describe_vswitches(vpc_models.DescribeVSwitchesRequest(region_id=REGION, v_switch_id=vsw_id))
             .body.v_switches.v_switch[0].status == "Available")
    return vpc_id, vsw_id


def security_group(ecs: EcsClient, vsw_id: str) -> str:
    """A security group in the vSwitch's VPC (created once per VPC), as every instance in a VPC needs one."""
    vpc = VpcClient(Config(credential=ecs._credential, endpoint=ecs._endpoint, protocol=ecs._protocol,
                           region_id=REGION, global_parameters=ecs._global_parameters))
    vpc_id = vpc.describe_vswitches(vpc_models.DescribeVSwitchesRequest(region_id=REGION, v_switch_id=vsw_id)) \
        .body.v_switches.v_switch[0].vpc_id
    found = ecs.describe_security_groups(ecs_models.DescribeSecurityGroupsRequest(
        region_id=REGION, vpc_id=vpc_id)).body.security_groups.security_group
    if found:
        return found[0].security_group_id
    return ecs.create_security_group(ecs_models.CreateSecurityGroupRequest(
        region_id=REGION, vpc_id=vpc_id, security_group_name="default")).body.security_group_id


def run_instances(ecs: EcsClient, vsw_id: str, *, amount: int = 1, instance_type: str = "ecs.g6.large",
                  **extra: Any) -> list[str]:
    extra.setdefault("security_group_id", security_group(ecs, vsw_id))
    request = ecs_models.RunInstancesRequest(region_id=REGION, instance_type=instance_type, image_id=IMAGE,
                                             v_switch_id=vsw_id, amount=amount, **extra)
    return ecs.run_instances(request).body.instance_id_sets.instance_id_set


def instance(ecs: EcsClient, instance_id: str):
    body = ecs.describe_instances(ecs_models.DescribeInstancesRequest(
        region_id=REGION, instance_ids=json.dumps([instance_id]))).body
    return body.instances.instance[0] if body.instances.instance else None


def wait_status(ecs: EcsClient, instance_id: str, status: str) -> None:
    wait_for(lambda: instance(ecs, instance_id).status == status)
