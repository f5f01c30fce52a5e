"""The scripts-on-instances contract of both adapters: ``apsara_command`` through the official ECS SDK
against cloudsim in strict Apsara Stack mode (Cloud Assistant), ``aws_command`` through boto3 against a
moto server (Systems Manager Run Command)."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import boto3
import pytest

from apps.clouds.adapters import apsara_command, aws_command
from apps.clouds.adapters.apsara import ApsaraAdapter
from apps.clouds.adapters.aws import AwsAdapter
from apps.clouds.adapters.base import CloudCallError
from apps.clouds.simulated import sim_connection
from cloudsim.server import CloudSim
from cloudsim.tests.sdk_schema import missing_required
from tests.aws_server import moto_reset

REGION = "cn-hangzhou"
IMAGE = "centos_7_9_x64_20G_alibase_20230919.vhd"


class CheckedAdapter(ApsaraAdapter):
    """The adapter, holding every request to the SDK's required parameters."""

    calls: list[str]

    def _invoke(self, product: str, region: str | None, method: str, request: Any) -> dict[str, Any]:
        assert missing_required(request) == [], f"{method} leaves out {missing_required(request)}"
        self.calls.append(method)
        return super()._invoke(product, region, method, request)


@pytest.fixture(scope="module")
def sim():
    server = CloudSim(port=0, provision_seconds=0.1, regions=[REGION]).start()
    yield server
    server.stop()


@pytest.fixture
def cloud(sim) -> CheckedAdapter:
    request = urllib.request.Request(f"http://{sim.endpoint}/_cloudsim/reset", method="POST", data=b"{}",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()
    connection = sim_connection()
    adapter = CheckedAdapter(endpoint=sim.endpoint, protocol="http", region=REGION, timeout=10,
                             credentials=connection["credentials"],
                             options={"organization_id": connection["organization_id"],
                                      "resource_set_id": connection["resource_set_id"]})
    adapter.calls = []
    adapter.retry_backoff = 0.01
    return adapter


def until(check, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def instances(cloud: ApsaraAdapter, count: int) -> list[str]:
    vpc = cloud.create("vpc.vpc", REGION, {"cidr_block": "192.168.0.0/16", "name": "scripts"})
    until(lambda: cloud.get_resource("vpc.vpc", REGION, vpc).status == "available")
    vsw = cloud.create("vpc.vswitch", REGION, {"vpc_id": vpc, "zone": f"{REGION}-a", "cidr_block": "192.168.1.0/24"})
    until(lambda: cloud.get_resource("vpc.vswitch", REGION, vsw).status == "available")
    sg = cloud.create("ecs.security_group", REGION, {"vpc_id": vpc, "name": "scripts"})
    ids = [cloud.create("ecs.instance", REGION, {"instance_type": "ecs.g6.large", "image_id": IMAGE,
                                                 "vswitch_id": vsw, "security_group_id": sg, "name": f"web-{n}"})
           for n in range(count)]
    for iid in ids:
        until(lambda i=iid: cloud.get_resource("ecs.instance", REGION, i).status == "running")
    return ids


def test_apsara_runs_a_script_on_two_instances_and_reads_each_output_and_exit_code(cloud):
    ids = instances(cloud, 2)
    invoke = apsara_command.run_command(cloud, REGION, ids, "echo release {{version}}\nhostname\nexit 0",
                                        parameters={"version": "2.1"}, timeout=60, name="deploy",
                                        client_token="tok-1")
    again = apsara_command.run_command(cloud, REGION, ids, "echo release {{version}}\nhostname\nexit 0",
                                       parameters={"version": "2.1"}, timeout=60, name="deploy",
                                       client_token="tok-1")
    assert again == invoke  # the same token: the cloud ran it once
    early = apsara_command.command_results(cloud, REGION, invoke)
    assert set(early) == set(ids) and {r["status"] for r in early.values()} <= {"running", "success"}
    done = until(lambda: (lambda r: r if all(v["status"] == "success" for v in r.values()) else None)(
        apsara_command.command_results(cloud, REGION, invoke)))
    for result in done.values():
        assert result["exit_code"] == 0 and result["output"].startswith("release 2.1\n")
        assert result["finished_at"]
    assert "run_command" in cloud.calls and "describe_invocation_results" in cloud.calls


def test_apsara_failures_carry_the_exit_code_and_stop_ends_a_running_script(cloud):
    ids = instances(cloud, 1)
    failing = apsara_command.run_command(cloud, REGION, ids, "echo oops\nexit 4")
    result = until(lambda: (lambda r: r if r[ids[0]]["status"] != "running" else None)(
        apsara_command.command_results(cloud, REGION, failing)))[ids[0]]
    assert (result["status"], result["exit_code"], result["error_code"], result["output"]) == \
        ("failed", 4, "ExitCodeNonzero", "oops\n")
    slow = apsara_command.run_command(cloud, REGION, ids, "sleep 60", timeout=120)
    apsara_command.stop_command(cloud, REGION, slow)
    assert apsara_command.command_results(cloud, REGION, slow)[ids[0]]["status"] == "stopped"


def test_apsara_refusals_come_back_with_the_clouds_code(cloud):
    ids = instances(cloud, 1)
    cloud.stop("ecs.instance", REGION, ids[0])
    until(lambda: cloud.get_resource("ecs.instance", REGION, ids[0]).status == "stopped")
    with pytest.raises(CloudCallError) as info:
        apsara_command.run_command(cloud, REGION, ids, "hostname")
    assert info.value.code == "InvalidInstance.NotRunning"


# -- AWS through moto ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def moto(moto_server):
    return moto_reset(moto_server)


def test_aws_sends_the_script_through_ssm_and_reads_each_instances_invocation(moto):
    cloud = AwsAdapter(endpoint=moto, protocol="http", region="us-east-1",
                       credentials={"access_key_id": "testing", "access_key_secret": "testing"})
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=f"http://{moto}", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2)["Instances"]]
    command = aws_command.run_command(cloud, "us-east-1", ids, "echo {{greeting}}\nuptime",
                                      parameters={"greeting": "hello"}, timeout=120, name="check")
    ssm = boto3.client("ssm", region_name="us-east-1", endpoint_url=f"http://{moto}", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    sent = ssm.list_commands(CommandId=command)["Commands"][0]
    assert sent["DocumentName"] == "AWS-RunShellScript"
    assert sent["Parameters"]["commands"] == ["echo hello", "uptime"]  # placeholders filled before sending
    results = aws_command.command_results(cloud, "us-east-1", command)
    assert set(results) == set(ids)
    assert all(r["status"] == "success" and r["exit_code"] == 0 for r in results.values())
    with pytest.raises(CloudCallError):
        aws_command.command_results(cloud, "us-east-1", "00000000-0000-0000-0000-000000000000")
