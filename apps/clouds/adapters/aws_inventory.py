"""Companion of the aws adapter: the inventory services beyond EC2, VPC, RDS and S3 (see ``extensions``).

Each type is listed through boto3 with the service's own paging (EC2 and Auto Scaling ``NextToken``,
KMS ``Marker``, DynamoDB ``ExclusiveStartTableName``, EKS and ECR ``nextToken``) and named by the shared
catalog's codes, so an AWS resource sits beside its Apsara counterpart: key pairs and AMIs (the
account's own) under ``ecs``, EKS clusters as ``ack.cluster``, ECR repositories as ``cr.repository``,
DynamoDB tables as ``ots.table``, KMS keys as ``kms.cmk``, Auto Scaling groups as
``ess.scaling_group`` and CloudFormation stacks as ``ros.stack``. Relations: a group's subnets and
instances, a cluster's VPC and subnets, a stack's EC2 resources, a table's or repository's KMS key.

This module must not import ``aws`` (which imports it): it calls the adapter it is handed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apps.clouds.adapters.base import CloudCallError, CloudResource, Relation, ResourcePage
from apps.clouds.adapters.extensions import Listing, register_listing, register_service

A = "aws"
SERVICES = {"ack": "Amazon EKS", "cr": "Amazon ECR", "ots": "Amazon DynamoDB", "kms": "AWS KMS",
            "ess": "Amazon EC2 Auto Scaling", "ros": "AWS CloudFormation"}
# CloudFormation resource types whose physical id is a collected resource.
STACK_TYPES = {"AWS::EC2::Instance": "ecs.instance", "AWS::EC2::VPC": "vpc.vpc", "AWS::EC2::Subnet": "vpc.vswitch",
               "AWS::EC2::SecurityGroup": "ecs.security_group", "AWS::EC2::Volume": "ecs.disk",
               "AWS::RDS::DBInstance": "rds.instance", "AWS::S3::Bucket": "oss.bucket",
               "AWS::DynamoDB::Table": "ots.table", "AWS::KMS::Key": "kms.cmk",
               "AWS::ECR::Repository": "cr.repository", "AWS::EKS::Cluster": "ack.cluster",
               "AWS::AutoScaling::AutoScalingGroup": "ess.scaling_group"}
_STATES = {"available": "available", "pending": "pending", "failed": "failed", "deregistered": "deleted",
           "ACTIVE": "running", "CREATING": "pending", "DELETING": "deleting", "FAILED": "failed",
           "UPDATING": "changing", "Enabled": "available", "Disabled": "disabled", "PendingDeletion": "deleting",
           "PendingImport": "pending", "CREATE_COMPLETE": "available", "CREATE_IN_PROGRESS": "pending",
           "CREATE_FAILED": "failed", "UPDATE_COMPLETE": "available", "UPDATE_IN_PROGRESS": "changing",
           "DELETE_IN_PROGRESS": "deleting", "ROLLBACK_COMPLETE": "failed"}


def _status(raw: Any) -> str:
    text = str(raw or "")
    return _STATES.get(text, text.lower())


def _iso(value: Any) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else str(value or "")


def _tags(raw: Any, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {str(t[key]): str(t.get(value) or "") for t in raw or [] if t.get(key)}


def _key_id(arn_or_id: Any) -> str:
    """A KMS key id from its ARN (``arn:aws:kms:<region>:<account>:key/<id>``) or the id itself."""
    text = str(arn_or_id or "")
    return text.rsplit("key/", 1)[-1] if "key/" in text else text


# -- EC2 key pairs and AMIs ------------------------------------------------------------------------

def list_key_pairs(adapter: Any, region: str, token: str | None) -> ResourcePage:
    body = adapter._invoke("ec2", region, "describe_key_pairs")
    items = [CloudResource(
        type="ecs.key_pair", external_id=k["KeyName"], region=region, name=k["KeyName"], status="available",
        spec={"fingerprint": k.get("KeyFingerprint"), "key_type": k.get("KeyType"), "key_pair_id": k.get("KeyPairId"),
              "created_at": _iso(k.get("CreateTime"))},
        tags=_tags(k.get("Tags"))) for k in body.get("KeyPairs", [])]
    return ResourcePage(items, None)  # DescribeKeyPairs has no paging


def to_image(region: str, i: dict[str, Any]) -> CloudResource:
    snapshots = [m["Ebs"]["SnapshotId"] for m in i.get("BlockDeviceMappings") or []
                 if (m.get("Ebs") or {}).get("SnapshotId")]
    return CloudResource(
        type="ecs.image", external_id=i["ImageId"], region=region, name=i.get("Name") or i["ImageId"],
        status=_status(i.get("State")),
        spec={"cloud_status": i.get("State"), "architecture": i.get("Architecture"),
              "platform": i.get("PlatformDetails"),
              "root_device_type": i.get("RootDeviceType"), "virtualization": i.get("VirtualizationType"),
              "description": i.get("Description"), "public": i.get("Public"), "created_at": i.get("CreationDate")},
        tags=_tags(i.get("Tags")), relations=[Relation("made_from", "ecs.snapshot", s) for s in snapshots])


def list_images(adapter: Any, region: str, token: str | None) -> ResourcePage:
    """The account's own AMIs (``Owners=self``): public ones are the catalog, not inventory."""
    params: dict[str, Any] = {"Owners": ["self"], "MaxResults": 500}
    if token:
        params["NextToken"] = token
    body = adapter._invoke("ec2", region, "describe_images", **params)
    return ResourcePage([to_image(region, i) for i in body.get("Images", [])], body.get("NextToken") or None)


# -- EKS -------------------------------------------------------------------------------------------

def to_cluster(region: str, c: dict[str, Any]) -> CloudResource:
    vpc_config = c.get("resourcesVpcConfig") or {}
    vpc_id = vpc_config.get("vpcId") or ""
    rels = [Relation("in_vpc", "vpc.vpc", vpc_id)] if vpc_id else []
    rels += [Relation("in_vswitch", "vpc.vswitch", s) for s in vpc_config.get("subnetIds") or []]
    rels += [Relation("in_security_group", "ecs.security_group", g) for g in vpc_config.get("securityGroupIds") or []]
    return CloudResource(
        type="ack.cluster", external_id=c["name"], region=region, name=c["name"], status=_status(c.get("status")),
        spec={"cloud_status": c.get("status"), "arn": c.get("arn"), "version": c.get("version"),
              "platform_version": c.get("platformVersion"), "endpoint": c.get("endpoint"),
              "role_arn": c.get("roleArn"), "created_at": _iso(c.get("createdAt"))},
        tags={str(k): str(v) for k, v in (c.get("tags") or {}).items()}, relations=rels, vpc_id=vpc_id)


def list_clusters(adapter: Any, region: str, token: str | None) -> ResourcePage:
    params: dict[str, Any] = {"maxResults": 100}
    if token:
        params["nextToken"] = token
    body = adapter._invoke("eks", region, "list_clusters", **params)
    items = []
    for name in body.get("clusters", []):
        try:
            items.append(to_cluster(region, adapter._invoke("eks", region, "describe_cluster", name=name)["cluster"]))
        except CloudCallError as exc:
            if exc.code != "ResourceNotFoundException":  # deleted between the list and this call
                raise
    return ResourcePage(items, body.get("nextToken") or None)


# -- ECR -------------------------------------------------------------------------------------------

def list_repositories(adapter: Any, region: str, token: str | None) -> ResourcePage:
    params: dict[str, Any] = {"maxResults": 1000}
    if token:
        params["nextToken"] = token
    body = adapter._invoke("ecr", region, "describe_repositories", **params)
    items = []
    for r in body.get("repositories", []):
        encryption = r.get("encryptionConfiguration") or {}
        rels = [Relation("encrypted_by", "kms.cmk", _key_id(encryption["kmsKey"]))] if encryption.get("kmsKey") else []
        items.append(CloudResource(
            type="cr.repository", external_id=r["repositoryArn"], region=region, name=r["repositoryName"],
            status="available",
            spec={"uri": r.get("repositoryUri"), "tag_mutability": r.get("imageTagMutability"),
                  "scan_on_push": (r.get("imageScanningConfiguration") or {}).get("scanOnPush"),
                  "encryption": encryption.get("encryptionType"), "registry_id": r.get("registryId"),
                  "created_at": _iso(r.get("createdAt"))},
            relations=rels))
    return ResourcePage(items, body.get("nextToken") or None)


# -- DynamoDB --------------------------------------------------------------------------------------

def to_table(region: str, t: dict[str, Any]) -> CloudResource:
    sse = t.get("SSEDescription") or {}
    rels = [Relation("encrypted_by", "kms.cmk", _key_id(sse["KMSMasterKeyArn"]))] if sse.get("KMSMasterKeyArn") else []
    throughput = t.get("ProvisionedThroughput") or {}
    return CloudResource(
        type="ots.table", external_id=t["TableName"], region=region, name=t["TableName"],
        status=_status(t.get("TableStatus")),
        spec={"cloud_status": t.get("TableStatus"), "arn": t.get("TableArn"), "items": t.get("ItemCount"),
              "size_bytes": t.get("TableSizeBytes"),
              "billing_mode": (t.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED",
              "read_capacity": throughput.get("ReadCapacityUnits"),
              "write_capacity": throughput.get("WriteCapacityUnits"),
              "keys": {k["AttributeName"]: k["KeyType"] for k in t.get("KeySchema") or []},
              "created_at": _iso(t.get("CreationDateTime"))},
        relations=rels)


def list_tables(adapter: Any, region: str, token: str | None) -> ResourcePage:
    params: dict[str, Any] = {"Limit": 100}
    if token:
        params["ExclusiveStartTableName"] = token
    body = adapter._invoke("dynamodb", region, "list_tables", **params)
    items = []
    for name in body.get("TableNames", []):
        try:
            table = adapter._invoke("dynamodb", region, "describe_table", TableName=name)["Table"]
            items.append(to_table(region, table))
        except CloudCallError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
    return ResourcePage(items, body.get("LastEvaluatedTableName") or None)


# -- KMS -------------------------------------------------------------------------------------------

def list_keys(adapter: Any, region: str, token: str | None) -> ResourcePage:
    params: dict[str, Any] = {"Limit": 100}
    if token:
        params["Marker"] = token
    body = adapter._invoke("kms", region, "list_keys", **params)
    items = []
    for k in body.get("Keys", []):
        try:
            m = adapter._invoke("kms", region, "describe_key", KeyId=k["KeyId"])["KeyMetadata"]
        except CloudCallError as exc:
            if exc.code != "NotFoundException":
                raise
            continue
        items.append(CloudResource(
            type="kms.cmk", external_id=m["KeyId"], region=region, name=m.get("Description") or m["KeyId"],
            status=_status(m.get("KeyState")),
            spec={"cloud_status": m.get("KeyState"), "arn": m.get("Arn"), "key_spec": m.get("KeySpec"),
                  "key_usage": m.get("KeyUsage"), "origin": m.get("Origin"), "manager": m.get("KeyManager"),
                  "multi_region": m.get("MultiRegion"), "delete_date": _iso(m.get("DeletionDate")),
                  "created_at": _iso(m.get("CreationDate"))}))
    return ResourcePage(items, body.get("NextMarker") if body.get("Truncated") else None)


# -- Auto Scaling ----------------------------------------------------------------------------------

def to_group(region: str, g: dict[str, Any]) -> CloudResource:
    subnets = [s for s in (g.get("VPCZoneIdentifier") or "").split(",") if s]
    instances = [i["InstanceId"] for i in g.get("Instances") or []]
    rels = [Relation("in_vswitch", "vpc.vswitch", s) for s in subnets]
    rels += [Relation("has_member", "ecs.instance", i) for i in instances]
    return CloudResource(
        type="ess.scaling_group", external_id=g["AutoScalingGroupName"], region=region,
        name=g["AutoScalingGroupName"], status="deleting" if g.get("Status") else "running",
        spec={"min_size": g.get("MinSize"), "max_size": g.get("MaxSize"), "desired_capacity": g.get("DesiredCapacity"),
              "arn": g.get("AutoScalingGroupARN"), "health_check_type": g.get("HealthCheckType"),
              "launch_template": (g.get("LaunchTemplate") or {}).get("LaunchTemplateName"),
              "launch_configuration": g.get("LaunchConfigurationName"), "zones": g.get("AvailabilityZones"),
              "vswitch_ids": subnets, "instance_ids": instances, "created_at": _iso(g.get("CreatedTime"))},
        tags=_tags(g.get("Tags")), relations=rels)


def list_groups(adapter: Any, region: str, token: str | None) -> ResourcePage:
    params: dict[str, Any] = {"MaxRecords": 100}
    if token:
        params["NextToken"] = token
    body = adapter._invoke("autoscaling", region, "describe_auto_scaling_groups", **params)
    return ResourcePage([to_group(region, g) for g in body.get("AutoScalingGroups", [])],
                        body.get("NextToken") or None)


# -- CloudFormation --------------------------------------------------------------------------------

def _stack_relations(adapter: Any, region: str, stack_id: str) -> list[Relation]:
    try:
        body = adapter._invoke("cloudformation", region, "describe_stack_resources", StackName=stack_id)
    except CloudCallError as exc:
        if exc.code != "ValidationError":  # the stack went away meanwhile
            raise
        return []
    return [Relation("manages", STACK_TYPES[r["ResourceType"]], r["PhysicalResourceId"])
            for r in body.get("StackResources", [])
            if r.get("ResourceType") in STACK_TYPES and r.get("PhysicalResourceId")]


def list_stacks(adapter: Any, region: str, token: str | None) -> ResourcePage:
    params: dict[str, Any] = {"NextToken": token} if token else {}
    body = adapter._invoke("cloudformation", region, "describe_stacks", **params)
    items = []
    for s in body.get("Stacks", []):
        if s.get("StackStatus") == "DELETE_COMPLETE":
            continue
        rels = _stack_relations(adapter, region, s["StackId"])
        if s.get("ParentId"):
            rels.append(Relation("nested_in", "ros.stack", s["ParentId"]))
        items.append(CloudResource(
            type="ros.stack", external_id=s["StackId"], region=region, name=s["StackName"],
            status=_status(s.get("StackStatus")),
            spec={"cloud_status": s.get("StackStatus"), "status_reason": s.get("StackStatusReason"),
                  "description": s.get("Description"), "termination_protection": s.get("EnableTerminationProtection"),
                  "drift_status": (s.get("DriftInformation") or {}).get("StackDriftStatus"),
                  "created_at": _iso(s.get("CreationTime")), "updated_at": _iso(s.get("LastUpdatedTime"))},
            tags=_tags(s.get("Tags")), relations=rels))
    return ResourcePage(items, body.get("NextToken") or None)


for _code, _name in SERVICES.items():
    register_service(A, _code, _name)
for _listing in (
    Listing("ecs.key_pair", "ecs", list_key_pairs),
    Listing("ecs.image", "ecs", list_images),
    Listing("ack.cluster", "ack", list_clusters),
    Listing("cr.repository", "cr", list_repositories),
    Listing("ots.table", "ots", list_tables),
    Listing("kms.cmk", "kms", list_keys),
    Listing("ess.scaling_group", "ess", list_groups),
    Listing("ros.stack", "ros", list_stacks),
):
    register_listing(A, _listing)
