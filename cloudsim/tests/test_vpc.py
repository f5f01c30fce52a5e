"""VPC, vSwitch and EIP through the official VPC SDK."""

from __future__ import annotations

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vpc20160428 import models as m

from .conftest import REGION, ZONE_A, make_network, run_instances, wait_for


def error_of(call) -> ClientException:
    with pytest.raises(ClientException) as exc:
        call()
    return exc.value


def test_vswitch_must_lie_inside_its_vpc_and_not_overlap(vpc):
    vpc_id, vsw = make_network(vpc)
    exc = error_of(lambda: vpc.create_vswitch(m.CreateVSwitchRequest(vpc_id=vpc_id, zone_id=ZONE_A,
                                                                     cidr_block="10.0.0.0/24")))
    assert exc.code == "InvalidCidrBlock.Malformed"
    exc = error_of(lambda: vpc.create_vswitch(m.CreateVSwitchRequest(vpc_id=vpc_id, zone_id=ZONE_A,
                                                                     cidr_block="192.168.1.128/25")))
    assert exc.code == "InvalidCidrBlock.Overlapped"
    exc = error_of(lambda: vpc.create_vswitch(m.CreateVSwitchRequest(vpc_id=vpc_id, zone_id="mars-a",
                                                                     cidr_block="192.168.9.0/24")))
    assert exc.code == "InvalidZoneId.NotFound"
    listed = vpc.describe_vswitches(m.DescribeVSwitchesRequest(region_id=REGION, vpc_id=vpc_id)).body
    assert listed.total_count == 1
    assert listed.v_switches.v_switch[0].available_ip_address_count == 252
    assert vpc.describe_vpcs(m.DescribeVpcsRequest(region_id=REGION)).body.vpcs.vpc[0].v_switch_ids.v_switch_id == \
        [vsw]
    assert error_of(lambda: vpc.delete_vpc(m.DeleteVpcRequest(vpc_id=vpc_id))).code == "DependencyViolation.VSwitch"
    vpc.delete_vswitch(m.DeleteVSwitchRequest(v_switch_id=vsw))
    vpc.delete_vpc(m.DeleteVpcRequest(vpc_id=vpc_id))
    assert vpc.describe_vpcs(m.DescribeVpcsRequest(region_id=REGION)).body.total_count == 0


def test_vpc_cidr_outside_private_ranges_is_refused(vpc):
    exc = error_of(lambda: vpc.create_vpc(m.CreateVpcRequest(region_id=REGION, cidr_block="8.8.0.0/16")))
    assert (exc.code, exc.status_code) == ("InvalidCidrBlock.Malformed", 400)


def test_eip_allocate_associate_unassociate_release(vpc, ecs):
    _, vsw = make_network(vpc)
    [iid] = run_instances(ecs, vsw)
    eip = vpc.allocate_eip_address(m.AllocateEipAddressRequest(region_id=REGION, bandwidth="10")).body

    def state():
        return vpc.describe_eip_addresses(m.DescribeEipAddressesRequest(
            region_id=REGION, allocation_id=eip.allocation_id)).body.eip_addresses.eip_address[0]

    assert state().status == "Available" and state().ip_address == eip.eip_address
    exc = error_of(lambda: vpc.associate_eip_address(m.AssociateEipAddressRequest(
        allocation_id=eip.allocation_id, instance_id=iid)))
    assert exc.code == "IncorrectInstanceStatus"  # still Pending
    from .conftest import instance, wait_status
    wait_status(ecs, iid, "Running")
    vpc.associate_eip_address(m.AssociateEipAddressRequest(allocation_id=eip.allocation_id, instance_id=iid))
    assert state().status == "Associating"
    wait_for(lambda: state().status == "InUse")
    assert state().instance_id == iid
    assert instance(ecs, iid).eip_address.ip_address == eip.eip_address
    assert error_of(lambda: vpc.release_eip_address(m.ReleaseEipAddressRequest(
        allocation_id=eip.allocation_id))).code == "IncorrectEipStatus"
    vpc.unassociate_eip_address(m.UnassociateEipAddressRequest(allocation_id=eip.allocation_id, instance_id=iid))
    wait_for(lambda: state().status == "Available")
    assert instance(ecs, iid).eip_address.ip_address == ""
    vpc.release_eip_address(m.ReleaseEipAddressRequest(allocation_id=eip.allocation_id))
    assert vpc.describe_eip_addresses(m.DescribeEipAddressesRequest(region_id=REGION)).body.total_count == 0


def test_eip_quota_per_region(vpc, control):
    control.post("/config", {"capacity": {"region_eips": 2}})
    for _ in range(2):
        vpc.allocate_eip_address(m.AllocateEipAddressRequest(region_id=REGION))
    exc = error_of(lambda: vpc.allocate_eip_address(m.AllocateEipAddressRequest(region_id=REGION)))
    assert (exc.code, exc.status_code) == ("QuotaExceeded.Eip", 400)
    vpc.allocate_eip_address(m.AllocateEipAddressRequest(region_id="cn-shanghai"))
