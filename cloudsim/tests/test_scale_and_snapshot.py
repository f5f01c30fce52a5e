"""Bulk creation for scale tests, statistics, snapshots and the command line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

from alibabacloud_ecs20140526 import models as m
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_vpc20160428 import models as vm
from alibabacloud_vpc20160428.client import Client as VpcClient

from cloudsim.server import CloudSim

from .conftest import REGION, ZONE_B, make_network, run_instances, sdk_config


def test_bulk_create_100k_instances_then_page_through_them(ecs, control):
    result = control.post("/bulk", {"type": "ecs_instance", "count": 100_000, "zone_id": ZONE_B,
                                    "tags": {"load": "yes"}})
    assert result["created"] == 100_000
    stats = control.get("/stats")
    assert stats["resources"]["ecs_instance"] == {"total": 100_000, "by_status": {"Running": 100_000}}
    first = ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION, page_size=100)).body
    assert first.total_count == 100_000 and len(first.instances.instance) == 100
    last = ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION, page_size=100, page_number=1000)).body
    assert [i.instance_name for i in last.instances.instance][-1] == "bulk-99999"
    ips = {i.vpc_attributes.private_ip_address.ip_address[0] for i in last.instances.instance}
    assert len(ips) == 100
    token, walked = None, 0
    for _ in range(5):
        page = ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION, max_results=100,
                                                                 next_token=token)).body
        walked += len(page.instances.instance)
        token = page.next_token
    assert walked == 500 and token
    pick = [first.instances.instance[3].instance_id, last.instances.instance[7].instance_id]
    chosen = ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION, instance_ids=json.dumps(pick))).body
    assert [i.instance_id for i in chosen.instances.instance] == pick
    running = ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION, status="Running",
                                                                tag=[m.DescribeInstancesRequestTag(key="load")]))
    assert running.body.total_count == 100_000
    assert stats["calls"] == {}
    assert control.get("/stats")["calls"]["DescribeInstances"] == 9


def test_snapshot_round_trip(tmp_path, vpc, ecs, control):
    _, vsw = make_network(vpc)
    ids = run_instances(ecs, vsw, amount=2)
    path = tmp_path / "state.json"
    control.post("/snapshot", {"path": str(path)})
    restored = CloudSim(port=0, provision_seconds=0.2, snapshot_path=str(path)).start()
    try:
        client = EcsClient(sdk_config(restored))
        body = client.describe_instances(m.DescribeInstancesRequest(region_id=REGION)).body
        assert [i.instance_id for i in body.instances.instance] == ids
        assert [i.vpc_attributes.v_switch_id for i in body.instances.instance] == [vsw, vsw]
        listed = VpcClient(sdk_config(restored)).describe_vswitches(vm.DescribeVSwitchesRequest(region_id=REGION))
        assert listed.body.v_switches.v_switch[0].available_ip_address_count == 250
        more = run_instances(client, vsw)
        assert more[0] not in ids
    finally:
        restored.stop()
    saved = json.loads(path.read_text())
    assert len(saved["tables"]["ecs_instance"]) == 3  # saved again at stop


def test_command_line_starts_a_server(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-m", "cloudsim", "--port", str(port), "--regions", "cn-test-1",
                             "--snapshot", str(tmp_path / "s.json")], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_cloudsim/health", timeout=1) as r:
                    assert json.loads(r.read())["regions"] == ["cn-test-1"]
                    break
            except OSError:
                assert time.monotonic() < deadline, "cloudsim did not start"
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert (tmp_path / "s.json").exists()
