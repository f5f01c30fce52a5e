"""NAT gateways on the AWS adapter against moto: created in a subnet with an Elastic IP, collected
with its VPC, subnet and EIP relations, read by id, and deleted."""

from __future__ import annotations

import time

import pytest

from apps.clouds.adapters.aws import AwsAdapter
from apps.resources.tests.test_aws import CREDS, moto  # noqa: F401 (the moto server fixture)


def test_a_nat_gateway_is_created_collected_with_relations_and_deleted(moto):  # noqa: F811
    a = AwsAdapter(endpoint=moto, protocol="http", region="us-east-1", credentials=CREDS)
    assert a.capabilities.supports("nat.nat_gateway", "create") and "nat" in a.capabilities.services
    vpc = a.create("vpc.vpc", "us-east-1", {"cidr_block": "10.40.0.0/16", "name": "nat-vpc"})
    subnet = a.create("vpc.vswitch", "us-east-1", {"vpc_id": vpc, "cidr_block": "10.40.1.0/24",
                                                   "zone": "us-east-1a", "name": "nat-subnet"})
    eip = a.create("eip.eip", "us-east-1", {})
    nat = a.create("nat.nat_gateway", "us-east-1", {"vpc_id": vpc, "vswitch_id": subnet, "allocation_id": eip,
                                                    "name": "egress"})
    listed = {r.external_id: r for r in a.iter_resources("nat.nat_gateway", "us-east-1")}
    found = listed[nat]
    assert found.name == "egress" and found.vpc_id == vpc and found.spec["vswitch_id"] == subnet
    assert {(r.kind, r.target_external_id) for r in found.relations} == {
        ("in_vpc", vpc), ("in_vswitch", subnet), ("associated_with", eip)}
    assert a.get_resource("nat.nat_gateway", "us-east-1", nat).external_id == nat
    a.delete("nat.nat_gateway", "us-east-1", nat)
    deadline = time.monotonic() + 10
    while a.get_resource("nat.nat_gateway", "us-east-1", nat) is not None:
        assert time.monotonic() < deadline, "the NAT gateway was never deleted"
        time.sleep(0.1)
    assert a.get_resource("nat.nat_gateway", "us-east-1", "nat-0000000000000000") is None


@pytest.mark.parametrize("connectivity", ["private"])
def test_a_nat_gateway_without_an_eip_is_private(moto, connectivity):  # noqa: F811
    a = AwsAdapter(endpoint=moto, protocol="http", region="us-east-1", credentials=CREDS)
    vpc = a.create("vpc.vpc", "us-east-1", {"cidr_block": "10.41.0.0/16"})
    subnet = a.create("vpc.vswitch", "us-east-1", {"vpc_id": vpc, "cidr_block": "10.41.1.0/24", "zone": "us-east-1a"})
    nat = a.create("nat.nat_gateway", "us-east-1", {"vpc_id": vpc, "vswitch_id": subnet})
    assert a.get_resource("nat.nat_gateway", "us-east-1", nat).spec["connectivity"] == connectivity
