"""EKS node groups and CloudWatch Logs log groups collected by the aws adapter (``aws_containers``) through
boto3 against a moto server, with relations (a node group's cluster, subnets and Auto Scaling groups)."""

from __future__ import annotations

import boto3
import pytest

from apps.clouds.adapters.aws import AwsAdapter
from tests.aws_server import moto_reset

REGION, OTHER = "us-east-1", "eu-west-1"
CREDS = {"access_key_id": "testing", "access_key_secret": "testing"}
ROLE = "arn:aws:iam::123456789012:role/eks"


@pytest.fixture(scope="module")
def moto(moto_server):
    return moto_reset(moto_server)


@pytest.fixture(scope="module")
def cloud(moto) -> AwsAdapter:
    return AwsAdapter(endpoint=moto, protocol="http", region=REGION, credentials=CREDS)


def boto(moto: str, service: str, region: str = REGION):
    return boto3.client(service, region_name=region, endpoint_url=f"http://{moto}", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def test_the_adapter_collects_node_groups_and_log_groups(cloud):
    caps = cloud.capabilities
    assert {"ack.cluster", "ack.node_pool", "sls.logstore"} <= set(caps.resource_types)
    assert "sls" in caps.services


def test_node_groups_are_collected_with_their_cluster_subnets_and_scaling_groups(cloud, moto):
    ec2 = boto(moto, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24")["Subnet"]["SubnetId"] for n in (1, 2)]
    eks = boto(moto, "eks")
    eks.create_cluster(name="shop-eks", roleArn=ROLE, resourcesVpcConfig={"subnetIds": subnets})
    eks.create_nodegroup(clusterName="shop-eks", nodegroupName="web", nodeRole=ROLE, subnets=subnets,
                         scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 2}, instanceTypes=["t3.large"],
                         tags={"team": "shop"})
    eks.create_nodegroup(clusterName="shop-eks", nodegroupName="batch", nodeRole=ROLE, subnets=subnets[:1])
    pools = {p.name: p for p in cloud.iter_resources("ack.node_pool", REGION)}
    assert set(pools) == {"web", "batch"}
    web = pools["web"]
    assert (web.external_id, web.status, web.tags) == ("shop-eks/web", "running", {"team": "shop"})
    assert (web.spec["desired_size"], web.spec["max_size"], web.spec["instance_types"]) == (2, 4, ["t3.large"])
    rels = {(r.kind, r.target_type, r.target_external_id) for r in web.relations}
    assert ("member_of", "ack.cluster", "shop-eks") in rels
    assert {e for k, t, e in rels if k == "in_vswitch"} == set(subnets)
    assert {t for k, t, _e in rels if k == "scaled_by"} <= {"ess.scaling_group"}
    clusters = [c.external_id for c in cloud.iter_resources("ack.cluster", REGION)]
    assert "shop-eks" in clusters  # the node groups' cluster, collected by aws_inventory
    assert cloud.get_resource("ack.node_pool", REGION, "shop-eks/batch").name == "batch"
    assert list(cloud.iter_resources("ack.node_pool", OTHER)) == []


def test_log_groups_are_collected_by_page_with_retention_and_key(cloud, moto, monkeypatch):
    logs = boto(moto, "logs")
    key = boto(moto, "kms").create_key()["KeyMetadata"]["Arn"]
    logs.create_log_group(logGroupName="/shop/nginx", tags={"team": "shop"})
    logs.put_retention_policy(logGroupName="/shop/nginx", retentionInDays=30)
    logs.create_log_group(logGroupName="/shop/app", kmsKeyId=key)
    logs.create_log_group(logGroupName="/audit/trail")
    boto(moto, "logs", OTHER).create_log_group(logGroupName="/elsewhere")
    first = cloud.list_resources("sls.logstore", REGION, None)
    assert first.items
    groups = {g.external_id: g for g in cloud.iter_resources("sls.logstore", REGION)}
    assert {"/shop/nginx", "/shop/app", "/audit/trail"} <= set(groups)
    assert "/elsewhere" not in groups
    assert groups["/shop/nginx"].spec["ttl_days"] == 30 and groups["/shop/nginx"].status == "available"
    assert [(r.kind, r.target_type, r.target_external_id) for r in groups["/shop/app"].relations] == [
        ("encrypted_by", "kms.cmk", key.rsplit("key/", 1)[-1])]
    pages: list[int] = []
    monkeypatch.setattr(cloud, "_invoke", _one_per_page(cloud._invoke, pages))
    assert {g.external_id for g in cloud.iter_resources("sls.logstore", REGION)} == set(groups)
    assert len(pages) >= 3  # one group per page: the listing followed nextToken


def _one_per_page(invoke, pages: list[int]):
    """The adapter's call with log groups asked one per page (each page counted)."""
    def call(service, region, method, **params):
        if method == "describe_log_groups":
            params["limit"] = 1
            pages.append(1)
        return invoke(service, region, method, **params)
    return call
