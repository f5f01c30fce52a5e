"""Inventory breadth on the aws adapter, against a moto server on loopback: key pairs, the account's
AMIs, EKS clusters, ECR repositories, DynamoDB tables, KMS keys, Auto Scaling groups and
CloudFormation stacks are collected by a full sync, with their relations, under the shared catalog's
type codes."""

from __future__ import annotations

import json

import boto3
import pytest

from apps.clouds.adapters import adapter_class
from apps.clouds.tests.factories import platform as make_platform
from apps.resources.models import Resource, ResourceRelation
from apps.resources.services import sync_drive, sync_start
from tests.aws_server import moto_reset

pytestmark = pytest.mark.django_db
NEW_TYPES = {"ecs.key_pair", "ecs.image", "ack.cluster", "cr.repository", "ots.table", "kms.cmk",
             "ess.scaling_group", "ros.stack"}
STACK = {"Resources": {"Net": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}}}}


@pytest.fixture(scope="module")
def moto(moto_server):
    return moto_reset(moto_server)


def _client(service: str, endpoint: str):
    return boto3.client(service, region_name="us-east-1", endpoint_url=f"http://{endpoint}",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def people(db):
    from tests import factories as f

    return {"hq": f.org("HQ")}


@pytest.fixture
def estate(moto):
    ec2 = _client("ec2", moto)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"eks-{vpc}", Description="eks", VpcId=vpc)["GroupId"]
    base = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=base, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 SubnetId=subnet)["Instances"][0]["InstanceId"]
    ec2.create_key_pair(KeyName="deploy")
    ami = ec2.create_image(InstanceId=instance, Name="web-golden")["ImageId"]
    key = _client("kms", moto).create_key(Description="orders-data")["KeyMetadata"]
    _client("eks", moto).create_cluster(name="shop", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={
        "subnetIds": [subnet], "securityGroupIds": [sg]})
    repo = _client("ecr", moto).create_repository(repositoryName="shop/web", encryptionConfiguration={
        "encryptionType": "KMS", "kmsKey": key["Arn"]})["repository"]["repositoryArn"]
    _client("dynamodb", moto).create_table(
        TableName="sessions", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]})
    scaling = _client("autoscaling", moto)
    scaling.create_launch_configuration(LaunchConfigurationName="web-lc", ImageId=base, InstanceType="t3.micro")
    scaling.create_auto_scaling_group(AutoScalingGroupName="web-asg", LaunchConfigurationName="web-lc", MinSize=2,
                                      MaxSize=4, DesiredCapacity=2, VPCZoneIdentifier=subnet)
    members = [i["InstanceId"] for i in scaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=["web-asg"])["AutoScalingGroups"][0]["Instances"]]
    stack = _client("cloudformation", moto).create_stack(StackName="network", TemplateBody=json.dumps(STACK))["StackId"]
    return {"vpc": vpc, "subnet": subnet, "sg": sg, "ami": ami, "key": key["KeyId"], "repo": repo, "stack": stack,
            "members": members}


def test_the_aws_adapter_offers_the_matching_types():
    caps = adapter_class("aws").capabilities
    assert NEW_TYPES <= set(caps.resource_types)
    assert {"ack", "cr", "ots", "kms", "ess", "ros"} <= set(caps.services)


def test_a_full_sync_collects_every_new_aws_type_with_its_relations(people, moto, estate):
    platform = make_platform(people["hq"], type="aws", endpoint=moto, default_region="us-east-1",
                             access_key_id="testing", access_key_secret="testing", options={"regions": ["us-east-1"]})
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "succeeded", run.error
    found = {t: {r.external_id: r for r in Resource.objects.filter(platform=platform, type=t, deleted=False)}
             for t in NEW_TYPES}
    assert {t for t, rows in found.items() if not rows} == set()

    def rels(resource):
        return set(ResourceRelation.objects.filter(source=resource).values_list("kind", "target_type",
                                                                                "target_external_id"))

    assert "deploy" in found["ecs.key_pair"]
    assert list(found["ecs.image"]) == [estate["ami"]]  # only the account's own AMIs
    assert found["ecs.image"][estate["ami"]].name == "web-golden"
    cluster = found["ack.cluster"]["shop"]
    # moto's DescribeCluster leaves out resourcesVpcConfig.vpcId (EKS has it: then in_vpc is collected too).
    assert rels(cluster) - {("in_vpc", "vpc.vpc", estate["vpc"])} == {
        ("in_vswitch", "vpc.vswitch", estate["subnet"]), ("in_security_group", "ecs.security_group", estate["sg"])}
    assert rels(found["cr.repository"][estate["repo"]]) == {("encrypted_by", "kms.cmk", estate["key"])}
    assert rels(found["ots.table"]["sessions"]) == {("encrypted_by", "kms.cmk", estate["key"])}
    assert found["kms.cmk"][estate["key"]].name == "orders-data"
    group = found["ess.scaling_group"]["web-asg"]
    assert len(estate["members"]) == 2
    assert rels(group) == {("in_vswitch", "vpc.vswitch", estate["subnet"]),
                           *{("has_member", "ecs.instance", i) for i in estate["members"]}}
    assert (group.spec["min_size"], group.spec["max_size"]) == (2, 4)
    stack = found["ros.stack"][estate["stack"]]
    assert stack.name == "network" and stack.status == "available"
    assert {k for k, t, _e in rels(stack)} == {"manages"} and {t for _k, t, _e in rels(stack)} == {"vpc.vpc"}
