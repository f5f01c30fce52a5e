"""The Apsara adapter's day-2 and NAT gateway calls (``apsara_day2``, ``apsara_nat``) held to the official
SDKs' description of each API, as ``apps/clouds/tests/test_sdk_fidelity`` holds the adapter's core:
every OpenAPI action those modules name is driven against cloudsim in strict Apsara Stack mode; every
parameter the SDK's request model requires is sent; every field read from an answer is in the SDK's
response model; and cloudsim answers no field the model lacks."""

from __future__ import annotations

import time

import pytest

from apps.clouds.adapters import apsara_day2, apsara_nat
from apps.clouds.simulated import sim_connection
from apps.clouds.tests.test_sdk_fidelity import (
    IMAGE,
    REGION,
    RecordingAdapter,
    adapter_actions,
    read_violations,
    wait,
)
from cloudsim.server import CloudSim
from cloudsim.tests.sdk_schema import missing_required, undefined


def drive(a: RecordingAdapter) -> None:
    vpc = a.create("vpc.vpc", REGION, {"cidr_block": "192.168.0.0/16", "name": "day2"})
    wait(a, "vpc.vpc", vpc, {"available"})
    vsw = a.create("vpc.vswitch", REGION, {"vpc_id": vpc, "zone": f"{REGION}-a", "cidr_block": "192.168.1.0/24"})
    wait(a, "vpc.vswitch", vsw, {"available"})
    sg = a.create("ecs.security_group", REGION, {"vpc_id": vpc, "name": "web", "rules": [
        {"protocol": "tcp", "port_range": "443/443", "source_cidr": "0.0.0.0/0"}]})
    a.modify("ecs.security_group", REGION, sg, "rule_add", {"protocol": "tcp", "port_range": "22/22",
                                                            "source_cidr": "10.0.0.0/8"})
    assert len(a.details("ecs.security_group", REGION, sg)["rules"]) == 2
    a.modify("ecs.security_group", REGION, sg, "rule_remove", {"protocol": "tcp", "port_range": "22/22",
                                                               "source_cidr": "10.0.0.0/8"})
    iid = a.create("ecs.instance", REGION, {"instance_type": "ecs.g6.large", "image_id": IMAGE, "vswitch_id": vsw,
                                            "security_group_id": sg, "zone": f"{REGION}-a", "name": "web"})
    disk = a.create("ecs.disk", REGION, {"zone": f"{REGION}-a", "size_gib": 40, "name": "data"})
    eip = a.create("eip.eip", REGION, {"bandwidth_mbps": 5})
    nat_eip = a.create("eip.eip", REGION, {"bandwidth_mbps": 5})
    db = a.create("rds.instance", REGION, {"engine": "MySQL", "engine_version": "8.0", "class": "mysql.n2.medium.1",
                                           "storage_gib": 50, "vswitch_id": vsw, "name": "orders"})
    lb = a.create("slb.instance", REGION, {"vswitch_id": vsw, "name": "front"})
    nat = a.create("nat.nat_gateway", REGION, {"vpc_id": vpc, "vswitch_id": vsw, "spec": "Small", "name": "egress"})
    a.create("oss.bucket", REGION, {"name": "day2-fidelity"})
    wait(a, "ecs.disk", disk, {"available"})
    a.modify("ecs.disk", REGION, disk, "disk_resize", {"size_gib": 60})
    a.modify("eip.eip", REGION, eip, "bandwidth", {"bandwidth_mbps": 50})
    wait(a, "ecs.instance", iid, {"running"})
    a.modify("slb.instance", REGION, lb, "listener_add", {"protocol": "tcp", "port": 80, "backend_port": 8080})
    a.modify("slb.instance", REGION, lb, "listener_add", {"protocol": "udp", "port": 53, "backend_port": 53})
    a.modify("slb.instance", REGION, lb, "backend_add", {"instance_id": iid, "weight": 50})
    assert a.details("slb.instance", REGION, lb)["backends"] == [{"instance_id": iid, "weight": 50}]
    a.modify("slb.instance", REGION, lb, "backend_remove", {"instance_id": iid})
    a.modify("slb.instance", REGION, lb, "listener_remove", {"protocol": "tcp", "port": 80})
    wait(a, "rds.instance", db, {"running"})
    a.modify("rds.instance", REGION, db, "account_create", {"name": "shop_app", "password": "Sh0p-secret"})
    a.modify("rds.instance", REGION, db, "database_create", {"name": "orders", "charset": "utf8mb4"})
    a.modify("oss.bucket", REGION, "day2-fidelity", "acl", {"acl": "public-read"})
    a.modify("oss.bucket", REGION, "day2-fidelity", "lifecycle", {"prefix": "logs/", "days": 30})
    wait(a, "nat.nat_gateway", nat, {"available"})
    a.modify("nat.nat_gateway", REGION, nat, "eip_bind", {"eip_id": nat_eip})
    wait(a, "eip.eip", nat_eip, {"in_use"})
    ip = a.get_resource("eip.eip", REGION, nat_eip).spec["ip_address"]
    a.modify("nat.nat_gateway", REGION, nat, "snat_add", {"ip_address": ip, "vswitch_id": vsw})
    a.modify("nat.nat_gateway", REGION, nat, "dnat_add", {"ip_address": ip, "protocol": "tcp", "external_port": 80,
                                                          "internal_ip": "192.168.1.10", "internal_port": 8080})
    found = a.details("nat.nat_gateway", REGION, nat)
    a.modify("nat.nat_gateway", REGION, nat, "snat_remove", {"entry_id": found["snat_entries"][0]["entry_id"]})
    a.modify("nat.nat_gateway", REGION, nat, "dnat_remove", {"entry_id": found["dnat_entries"][0]["entry_id"]})
    a.modify("nat.nat_gateway", REGION, nat, "eip_unbind", {"eip_id": nat_eip})
    for rtype, rid in (("rds.instance", db), ("oss.bucket", "day2-fidelity"), ("ecs.disk", disk)):
        assert isinstance(a.details(rtype, REGION, rid), dict)
    a.delete("nat.nat_gateway", REGION, nat)
    deadline = time.monotonic() + 20
    while a.get_resource("nat.nat_gateway", REGION, nat) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.fixture(scope="module")
def recorded() -> RecordingAdapter:
    sim = CloudSim(port=0, provision_seconds=0.05, regions=[REGION]).start()
    try:
        connection = sim_connection()
        adapter = RecordingAdapter(endpoint=sim.endpoint, protocol="http", region=REGION,
                                   credentials=connection["credentials"],
                                   options={"organization_id": connection["organization_id"],
                                            "resource_set_id": connection["resource_set_id"]})
        drive(adapter)
        yield adapter
    finally:
        sim.stop()


def test_the_day2_and_nat_modules_name_the_actions_they_call():
    actions = adapter_actions(apsara_day2) | adapter_actions(apsara_nat)
    assert {("ecs", "resize_disk"), ("vpc", "create_nat_gateway"), ("slb", "create_load_balancer_tcplistener"),
            ("rds", "create_account"), ("vpc", "describe_forward_table_entries")} <= actions


def test_every_day2_and_nat_action_was_driven(recorded):
    called = {(product, method) for product, method, _request in recorded.requests}
    assert (adapter_actions(apsara_day2) | adapter_actions(apsara_nat)) - called == set()


def test_every_required_parameter_is_sent(recorded):
    missing = {f"{method}: {', '.join(m)}" for _p, method, request in recorded.requests
               if (m := missing_required(request))}
    assert missing == set()


def test_every_field_read_is_in_the_sdk_response_model(recorded):
    assert recorded.reads
    assert read_violations(recorded.reads) == []


def test_cloudsim_answers_only_fields_the_sdk_response_model_defines(recorded):
    problems = set()
    for product, action, raw in recorded.raw:
        model = recorded.models.get((product, f"{action}ResponseBody"))
        if model is None:
            continue
        problems |= {f"{product} {action}: {path}" for path in undefined(model, raw)}
    assert sorted(problems) == []
