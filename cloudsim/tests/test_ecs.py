"""ECS through the official SDK: asynchronous lifecycle, paging, filters, capacity, disks, security groups."""

from __future__ import annotations

import json

import pytest
from alibabacloud_ecs20140526 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from .conftest import (
    IMAGE,
    REGION,
    ZONE_A,
    ZONE_B,
    instance,
    make_network,
    run_instances,
    security_group,
    wait_for,
    wait_status,
)


def error_of(call) -> ClientException:
    with pytest.raises(ClientException) as exc:
        call()
    return exc.value


def test_run_instances_moves_through_pending_and_starting_to_running(ecs, vpc):
    _, vsw = make_network(vpc)
    [iid] = run_instances(ecs, vsw, instance_name="web-1", tag=[m.RunInstancesRequestTag(key="env", value="dev")])
    first = instance(ecs, iid)
    assert first.status in ("Pending", "Starting")
    assert first.instance_name == "web-1"
    assert first.cpu == 2 and first.memory == 8192
    assert first.vpc_attributes.v_switch_id == vsw
    assert first.vpc_attributes.private_ip_address.ip_address[0].startswith("192.168.1.")
    assert {t.tag_key: t.tag_value for t in first.tags.tag} == {"env": "dev"}
    wait_status(ecs, iid, "Running")


def test_stop_start_reboot_and_delete(ecs, vpc):
    _, vsw = make_network(vpc)
    [iid] = run_instances(ecs, vsw)
    wait_status(ecs, iid, "Running")
    ecs.stop_instance(m.StopInstanceRequest(instance_id=iid))
    assert instance(ecs, iid).status == "Stopping"
    assert error_of(lambda: ecs.start_instance(m.StartInstanceRequest(instance_id=iid))).code == \
        "IncorrectInstanceStatus"
    wait_status(ecs, iid, "Stopped")
    ecs.start_instance(m.StartInstanceRequest(instance_id=iid))
    wait_status(ecs, iid, "Running")
    ecs.reboot_instance(m.RebootInstanceRequest(instance_id=iid))
    assert instance(ecs, iid).status == "Stopping"
    wait_status(ecs, iid, "Running")
    exc = error_of(lambda: ecs.delete_instance(m.DeleteInstanceRequest(instance_id=iid)))
    assert (exc.code, exc.status_code) == ("IncorrectInstanceStatus", 403)
    ecs.delete_instance(m.DeleteInstanceRequest(instance_id=iid, force=True))
    assert instance(ecs, iid) is None
    exc = error_of(lambda: ecs.stop_instance(m.StopInstanceRequest(instance_id=iid)))
    assert (exc.code, exc.status_code) == ("InvalidInstanceId.NotFound", 404)


def test_create_instance_ends_stopped(ecs, vpc):
    _, vsw = make_network(vpc)
    iid = ecs.create_instance(m.CreateInstanceRequest(region_id=REGION, instance_type="ecs.c6.large", image_id=IMAGE,
                                                      v_switch_id=vsw, security_group_id=security_group(ecs, vsw))
                              ).body.instance_id
    wait_status(ecs, iid, "Stopped")


def test_modify_spec_is_refused_while_running_and_applied_when_stopped(ecs, vpc):
    _, vsw = make_network(vpc)
    [iid] = run_instances(ecs, vsw)
    wait_status(ecs, iid, "Running")
    exc = error_of(lambda: ecs.modify_instance_spec(m.ModifyInstanceSpecRequest(instance_id=iid,
                                                                                instance_type="ecs.g6.xlarge")))
    assert (exc.code, exc.status_code) == ("IncorrectInstanceStatus", 403)
    ecs.stop_instance(m.StopInstanceRequest(instance_id=iid))
    wait_status(ecs, iid, "Stopped")
    ecs.modify_instance_spec(m.ModifyInstanceSpecRequest(instance_id=iid, instance_type="ecs.g6.xlarge"))
    got = instance(ecs, iid)
    assert (got.instance_type, got.cpu, got.memory) == ("ecs.g6.xlarge", 4, 16384)
    exc = error_of(lambda: ecs.modify_instance_spec(m.ModifyInstanceSpecRequest(instance_id=iid,
                                                                                instance_type="ecs.nope")))
    assert exc.code == "InvalidInstanceType.NotFound"


def test_describe_instances_pages_by_number_and_by_token(ecs, vpc):
    _, vsw = make_network(vpc)
    ids = run_instances(ecs, vsw, amount=25)
    pages = []
    for number in (1, 2, 3):
        body = ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION, page_number=number,
                                                                 page_size=10)).body
        assert body.total_count == 25 and body.page_number == number
        pages.extend(i.instance_id for i in body.instances.instance)
    assert pages == ids
    seen, token = [], None
    while True:
        body = ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION, max_results=7,
                                                                 next_token=token)).body
        seen.extend(i.instance_id for i in body.instances.instance)
        token = body.next_token
        if not token:
            break
    assert seen == ids


def test_describe_instances_filters(ecs, vpc):
    vpc_id, vsw_a = make_network(vpc)
    from alibabacloud_vpc20160428 import models as vm
    vsw_b = vpc.create_vswitch(vm.CreateVSwitchRequest(vpc_id=vpc_id, zone_id=ZONE_B,
                                                       cidr_block="192.168.2.0/24")).body.v_switch_id
    wait_for(lambda: vpc.describe_vswitches(vm.DescribeVSwitchesRequest(region_id=REGION, v_switch_id=vsw_b))
             .body.v_switches.v_switch[0].status == "Available")
    in_a = run_instances(ecs, vsw_a, amount=3, tag=[m.RunInstancesRequestTag(key="team", value="blue")])
    in_b = run_instances(ecs, vsw_b, amount=2)

    def ids(**kw):
        body = ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION, page_size=100, **kw)).body
        return [i.instance_id for i in body.instances.instance]

    assert ids(zone_id=ZONE_B) == in_b
    assert ids(vpc_id=vpc_id) == in_a + in_b
    assert ids(instance_ids=json.dumps([in_a[1], in_b[0], "i-missing"])) == [in_a[1], in_b[0]]
    assert ids(tag=[m.DescribeInstancesRequestTag(key="team", value="blue")]) == in_a
    wait_status(ecs, in_b[1], "Running")
    ecs.stop_instance(m.StopInstanceRequest(instance_id=in_b[1]))
    wait_status(ecs, in_b[1], "Stopped")
    assert ids(status="Stopped") == [in_b[1]]
    exc = error_of(lambda: ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION, instance_ids="[oops")))
    assert exc.code == "InvalidInstanceIds.Malformed"


def test_bad_input_gets_the_clouds_parameter_errors(ecs, vpc):
    _, vsw = make_network(vpc)
    exc = error_of(lambda: ecs.run_instances(m.RunInstancesRequest(region_id=REGION, image_id=IMAGE,
                                                                   v_switch_id=vsw)))
    assert (exc.code, exc.status_code) == ("MissingParameter", 400)
    exc = error_of(lambda: run_instances(ecs, vsw, instance_type="ecs.unknown.large"))
    assert (exc.code, exc.status_code) == ("InvalidInstanceType.NotFound", 404)
    exc = error_of(lambda: ecs.run_instances(m.RunInstancesRequest(region_id=REGION, image_id="nope",
                                                                   instance_type="ecs.g6.large", v_switch_id=vsw)))
    assert exc.code == "InvalidImageId.NotFound"
    exc = error_of(lambda: ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION, page_size=1000)))
    assert (exc.code, exc.status_code) == ("InvalidParameter", 400)
    exc = error_of(lambda: ecs.describe_instances(m.DescribeInstancesRequest(region_id="mars-1")))
    assert exc.code == "InvalidRegionId.NotFound"
    assert error_of(lambda: ecs.describe_instances(m.DescribeInstancesRequest())).code == "MissingParameter"


def test_zone_capacity_is_enforced_with_the_clouds_codes(ecs, vpc, control):
    _, vsw = make_network(vpc)
    control.post("/config", {"capacity": {"zone_vcpu": 8}})
    run_instances(ecs, vsw, amount=3)  # 6 vCPU
    exc = error_of(lambda: run_instances(ecs, vsw, amount=2))
    assert (exc.code, exc.status_code) == ("OperationDenied.NoStock", 403)
    assert len(run_instances(ecs, vsw, amount=3, min_amount=1)) == 1  # MinAmount takes what is left
    stats = control.get("/stats")
    assert stats["zone_usage"][ZONE_A]["vcpu"] == 8


def test_private_addresses_run_out_per_vswitch_and_per_zone(ecs, vpc, control):
    _, vsw = make_network(vpc, vsw_cidr="192.168.5.0/29")  # 8 addresses, 4 kept back by the cloud
    assert len(run_instances(ecs, vsw, amount=4)) == 4
    exc = error_of(lambda: run_instances(ecs, vsw))
    assert (exc.code, exc.status_code) == ("InvalidVSwitchId.IpNotEnough", 403)
    control.post("/config", {"capacity": {"zone_private_ips": 4}})
    _, vsw2 = make_network(vpc, cidr="10.0.0.0/8", vsw_cidr="10.1.0.0/24")
    exc = error_of(lambda: run_instances(ecs, vsw2))
    assert exc.code == "QuotaExceed.PrivateIpAddress"


def test_disk_attaches_only_in_the_same_zone(ecs, vpc):
    _, vsw = make_network(vpc)
    [iid] = run_instances(ecs, vsw)
    near = ecs.create_disk(m.CreateDiskRequest(region_id=REGION, zone_id=ZONE_A, size=40,
                                               disk_category="cloud_essd")).body.disk_id
    far = ecs.create_disk(m.CreateDiskRequest(region_id=REGION, zone_id=ZONE_B, size=40)).body.disk_id

    def disk(disk_id):
        return ecs.describe_disks(m.DescribeDisksRequest(region_id=REGION, disk_ids=json.dumps([disk_id])))\
            .body.disks.disk[0]

    assert disk(near).status == "Creating"
    exc = error_of(lambda: ecs.attach_disk(m.AttachDiskRequest(instance_id=iid, disk_id=near)))
    assert exc.code == "IncorrectDiskStatus"
    wait_for(lambda: disk(near).status == "Available" and disk(far).status == "Available")
    wait_status(ecs, iid, "Running")
    exc = error_of(lambda: ecs.attach_disk(m.AttachDiskRequest(instance_id=iid, disk_id=far)))
    assert (exc.code, exc.status_code) == ("InvalidDiskId.ZoneNotMatch", 403)
    ecs.attach_disk(m.AttachDiskRequest(instance_id=iid, disk_id=near))
    wait_for(lambda: disk(near).status == "In_use")
    assert disk(near).instance_id == iid and disk(near).device == "/dev/xvdb"
    attached = ecs.describe_disks(m.DescribeDisksRequest(region_id=REGION, instance_id=iid)).body.disks.disk
    assert sorted(d.type for d in attached) == ["data", "system"]
    assert error_of(lambda: ecs.delete_disk(m.DeleteDiskRequest(disk_id=near))).code == "IncorrectDiskStatus"
    ecs.detach_disk(m.DetachDiskRequest(instance_id=iid, disk_id=near))
    wait_for(lambda: disk(near).status == "Available")
    ecs.delete_disk(m.DeleteDiskRequest(disk_id=near))
    assert error_of(lambda: ecs.delete_disk(m.DeleteDiskRequest(disk_id=near))).code == "InvalidDiskId.NotFound"


def test_security_groups_rules_and_tags(ecs, vpc):
    vpc_id, vsw = make_network(vpc)
    sg = ecs.create_security_group(m.CreateSecurityGroupRequest(region_id=REGION, vpc_id=vpc_id,
                                                                security_group_name="web")).body.security_group_id
    ecs.authorize_security_group(m.AuthorizeSecurityGroupRequest(
        region_id=REGION, security_group_id=sg, ip_protocol="tcp", port_range="22/22", source_cidr_ip="10.0.0.0/8"))
    exc = error_of(lambda: ecs.authorize_security_group(m.AuthorizeSecurityGroupRequest(
        region_id=REGION, security_group_id=sg, ip_protocol="tcp", port_range="99999/1")))
    assert exc.code == "InvalidPortRange.Malformed"
    rules = ecs.describe_security_group_attribute(m.DescribeSecurityGroupAttributeRequest(
        region_id=REGION, security_group_id=sg)).body.permissions.permission
    assert [(r.ip_protocol, r.port_range, r.source_cidr_ip) for r in rules] == [("TCP", "22/22", "10.0.0.0/8")]
    [iid] = run_instances(ecs, vsw, security_group_id=sg)
    assert instance(ecs, iid).security_group_ids.security_group_id == [sg]
    groups = ecs.describe_security_groups(m.DescribeSecurityGroupsRequest(region_id=REGION)).body
    assert [g.security_group_id for g in groups.security_groups.security_group] == [sg]
    exc = error_of(lambda: ecs.delete_security_group(m.DeleteSecurityGroupRequest(region_id=REGION,
                                                                                  security_group_id=sg)))
    assert exc.code == "DependencyViolation"

    ecs.tag_resources(m.TagResourcesRequest(region_id=REGION, resource_type="instance", resource_id=[iid],
                                            tag=[m.TagResourcesRequestTag(key="owner", value="ops")]))
    listed = ecs.list_tag_resources(m.ListTagResourcesRequest(region_id=REGION, resource_type="instance",
                                                              resource_id=[iid])).body
    assert [(t.resource_id, t.tag_key, t.tag_value) for t in listed.tag_resources.tag_resource] == [
        (iid, "owner", "ops")]
    ecs.untag_resources(m.UntagResourcesRequest(region_id=REGION, resource_type="instance", resource_id=[iid],
                                                tag_key=["owner"]))
    assert instance(ecs, iid).tags.tag == []


def test_catalog_actions(ecs):
    types = ecs.describe_instance_types(m.DescribeInstanceTypesRequest()).body.instance_types.instance_type
    assert {"ecs.g6.large", "ecs.c6.xlarge"} <= {t.instance_type_id for t in types}
    large = next(t for t in types if t.instance_type_id == "ecs.g6.large")
    assert (large.cpu_core_count, large.memory_size) == (2, 8.0)
    images = ecs.describe_images(m.DescribeImagesRequest(region_id=REGION, page_size=50)).body
    assert IMAGE in [i.image_id for i in images.images.image] and images.total_count >= 5
    zones = ecs.describe_zones(m.DescribeZonesRequest(region_id=REGION)).body.zones.zone
    assert "ecs.g6.large" in zones[0].available_instance_types.instance_types


def test_client_token_makes_run_instances_idempotent(ecs, vpc):
    _, vsw = make_network(vpc)
    first = run_instances(ecs, vsw, client_token="order-42")
    again = run_instances(ecs, vsw, client_token="order-42")
    assert first == again
    assert ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION)).body.total_count == 1
