"""Companion of the apsara adapter: the inventory services beyond the core seven (see ``extensions``).

Each service is collected through its official Alibaba Cloud SDK, with the product's own paging
(PageNumber, PageNo, PageNum from 0, NextToken) and field names, and converted to ``CloudResource``
with its relations (a MongoDB instance's VPC, a PolarDB node's cluster, a scaling group's instances,
a backup plan's database, a repository's namespace ...). Only fields the SDK's response model
defines are read (``apps/clouds/tests/test_sdk_fidelity.py`` holds this module to it).

Products whose API takes no region (KMS, NAS, API Gateway, Container Registry, Tablestore) answer
for their endpoint's region: a listing keeps the items that name the region being collected, and
Tablestore, whose answers name no region, is collected in the region its endpoint serves (the
platform's default region unless the endpoint names ``{region}``).

This module must not import ``apsara`` (which imports it): it calls the adapter it is handed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alibabacloud_alikafka20190916 import models as kafka_models
from alibabacloud_alikafka20190916.client import Client as KafkaClient
from alibabacloud_cloudapi20160714 import models as apigw_models
from alibabacloud_cloudapi20160714.client import Client as ApiGatewayClient
from alibabacloud_cr20181201 import models as cr_models
from alibabacloud_cr20181201.client import Client as CrClient
from alibabacloud_dbs20190306 import models as dbs_models
from alibabacloud_dbs20190306.client import Client as DbsClient
from alibabacloud_dds20151201 import models as dds_models
from alibabacloud_dds20151201.client import Client as DdsClient
from alibabacloud_dts20200101 import models as dts_models
from alibabacloud_dts20200101.client import Client as DtsClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ess20220222 import models as ess_models
from alibabacloud_ess20220222.client import Client as EssClient
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_nas20170626 import models as nas_models
from alibabacloud_nas20170626.client import Client as NasClient
from alibabacloud_oos20190601 import models as oos_models
from alibabacloud_oos20190601.client import Client as OosClient
from alibabacloud_ots20160620 import models as ots_models
from alibabacloud_ots20160620.client import Client as OtsClient
from alibabacloud_polardb20170801 import models as polardb_models
from alibabacloud_polardb20170801.client import Client as PolardbClient
from alibabacloud_ros20190910 import models as ros_models
from alibabacloud_ros20190910.client import Client as RosClient

from apps.clouds.adapters.base import CloudCallError, CloudResource, Relation, ResourcePage
from apps.clouds.adapters.extensions import Listing, register_listing, register_product, register_service

A = "apsara"
# product code -> (SDK client, the product code an ASAPI gateway knows it by)
PRODUCTS = {
    "dds": (DdsClient, "Dds"), "polardb": (PolardbClient, "polardb"), "kms": (KmsClient, "Kms"),
    "ess": (EssClient, "Ess"), "ros": (RosClient, "ROS"), "oos": (OosClient, "oos"), "nas": (NasClient, "Nas"),
    "dts": (DtsClient, "Dts"), "dbs": (DbsClient, "Dbs"), "cloudapi": (ApiGatewayClient, "CloudAPI"),
    "alikafka": (KafkaClient, "alikafka"), "cr": (CrClient, "cr"), "ots": (OtsClient, "ots"),
}
# catalog service code -> display name (the catalog's own codes: MongoDB is "mongodb", API Gateway "apigateway")
SERVICES = {
    "mongodb": "ApsaraDB for MongoDB", "polardb": "PolarDB", "kms": "Key Management Service",
    "ess": "Auto Scaling", "ros": "Resource Orchestration Service", "oos": "Operation Orchestration Service",
    "nas": "File Storage NAS", "dts": "Data Transmission Service", "dbs": "Database Backup",
    "apigateway": "API Gateway", "kafka": "Message Queue for Apache Kafka", "cr": "Container Registry",
    "ots": "Tablestore",
}
PAGE = 50

# Each product's states in the console's words (the rest: lower-cased).
_STATES = {
    "Running": "running", "Creating": "pending", "Deleting": "deleting", "Pending": "pending", "Stopped": "stopped",
    "Inactive": "stopped", "Active": "running", "Deleted": "deleted", "Enabled": "available",
    "Disabled": "disabled", "PendingDeletion": "deleting", "PendingImport": "pending",
    "CREATE_IN_PROGRESS": "pending", "CREATE_COMPLETE": "available", "CREATE_FAILED": "failed",
    "UPDATE_IN_PROGRESS": "changing", "UPDATE_COMPLETE": "available", "DELETE_IN_PROGRESS": "deleting",
    "ROLLBACK_COMPLETE": "failed", "Success": "succeeded", "Failed": "failed", "Cancelled": "cancelled",
    "Available": "available", "NotStarted": "pending", "Prechecking": "pending", "Migrating": "running",
    "Synchronizing": "running", "Finished": "succeeded", "check_pass": "pending", "running": "running",
    "stop": "stopped", "wait": "pending", "init": "pending", "RUNNING": "running", "NORMAL": "available",
    "normal": "running", "Creating_Image": "pending", "Waiting": "pending",
}
_KAFKA_STATES = {0: "pending", 1: "pending", 2: "pending", 3: "pending", 5: "running", 6: "changing",
                 7: "changing", 10: "deleted", 15: "stopped"}


def _status(raw: Any) -> str:
    text = str(raw or "").strip()
    return _STATES.get(text, text.lower().replace(" ", "_"))


def _ints(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _kv(items: Any, key: str = "Key", value: str = "Value") -> dict[str, str]:
    out: dict[str, str] = {}
    for t in items or []:
        name = t.get(key)
        if name:
            out[str(name)] = str(t.get(value) or "")
    return out


def _net(vpc_id: Any, vswitch_id: Any = "") -> list[Relation]:
    rels = []
    if vpc_id:
        rels.append(Relation("in_vpc", "vpc.vpc", str(vpc_id)))
    if vswitch_id:
        rels.append(Relation("in_vswitch", "vpc.vswitch", str(vswitch_id)))
    return rels


def _next(number: int, size: int, total: Any, got: int, first: int = 1) -> str | None:
    """The next page number, while the pages so far hold fewer than ``total`` rows."""
    return str(number + 1) if got and (number - first + 1) * size < _ints(total) else None


def _home_region(adapter: Any, product: str) -> str:
    """The region a region-less product's endpoint serves: the platform's default region, unless the
    endpoint names ``{region}`` (then every region has its own, and the collected one is it)."""
    return adapter.region or "cn-hangzhou"


def _region_bound(adapter: Any, product: str, region: str) -> bool:
    try:
        return adapter.connection.target(product, region).host != adapter.connection.target(product, "~").host
    except CloudCallError:
        return False


# -- MongoDB (dds) ---------------------------------------------------------------------------------

def _dds_attribute(adapter: Any, region: str, db_id: str) -> dict[str, Any]:
    try:
        body = adapter._invoke("dds", region, "describe_dbinstance_attribute",
                               dds_models.DescribeDBInstanceAttributeRequest(dbinstance_id=db_id))
    except CloudCallError as exc:
        if exc.code == "InvalidDBInstanceId.NotFound":
            return {}
        raise
    found = (body.get("DBInstances") or {}).get("DBInstance") or []
    return found[0] if found else {}


def to_mongodb(region: str, r: dict[str, Any], detail: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="mongodb.instance", external_id=r["DBInstanceId"], region=region, zone=r.get("ZoneId") or "",
        name=r.get("DBInstanceDescription") or r["DBInstanceId"], status=_status(r.get("DBInstanceStatus")),
        spec={"cloud_status": r.get("DBInstanceStatus"), "engine": r.get("Engine"),
              "engine_version": r.get("EngineVersion"), "class": r.get("DBInstanceClass"),
              "storage_gib": r.get("DBInstanceStorage"), "storage_type": r.get("StorageType"),
              "instance_type": r.get("DBInstanceType"), "replication_factor": r.get("ReplicationFactor"),
              "charge_type": r.get("ChargeType"), "network_type": r.get("NetworkType"),
              "created_at": r.get("CreationTime")},
        tags=_kv((r.get("Tags") or {}).get("Tag")), relations=_net(detail.get("VPCId"), detail.get("VSwitchId")),
        storage_gib=_ints(r.get("DBInstanceStorage")), vpc_id=str(detail.get("VPCId") or ""),
        resource_group=r.get("ResourceGroupId") or "")


def list_mongodb(adapter: Any, region: str, token: str | None) -> ResourcePage:
    number = int(token or 1)
    body = adapter._invoke("dds", region, "describe_dbinstances", dds_models.DescribeDBInstancesRequest(
        region_id=region, page_number=number, page_size=PAGE))
    rows = (body.get("DBInstances") or {}).get("DBInstance") or []
    items = [to_mongodb(region, r, _dds_attribute(adapter, region, r["DBInstanceId"])) for r in rows]
    return ResourcePage(items, _next(number, PAGE, body.get("TotalCount"), len(rows)))


# -- PolarDB ---------------------------------------------------------------------------------------

def _polardb_page(adapter: Any, region: str, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    number = int(token or 1)
    body = adapter._invoke("polardb", region, "describe_dbclusters", polardb_models.DescribeDBClustersRequest(
        region_id=region, page_number=number, page_size=PAGE))
    rows = (body.get("Items") or {}).get("DBCluster") or []
    return rows, _next(number, PAGE, body.get("TotalRecordCount"), len(rows))


def to_polardb_cluster(region: str, r: dict[str, Any]) -> CloudResource:
    nodes = (r.get("DBNodes") or {}).get("DBNode") or []
    return CloudResource(
        type="polardb.cluster", external_id=r["DBClusterId"], region=region, zone=r.get("ZoneId") or "",
        name=r.get("DBClusterDescription") or r["DBClusterId"], status=_status(r.get("DBClusterStatus")),
        spec={"cloud_status": r.get("DBClusterStatus"), "db_type": r.get("DBType"), "db_version": r.get("DBVersion"),
              "node_class": r.get("DBNodeClass"), "nodes": r.get("DBNodeNumber"), "pay_type": r.get("PayType"),
              "category": r.get("Category"), "storage_used_bytes": r.get("StorageUsed"),
              "storage_type": r.get("StorageType"), "node_ids": [n.get("DBNodeId") for n in nodes],
              "created_at": r.get("CreateTime")},
        tags=_kv((r.get("Tags") or {}).get("Tag")), relations=_net(r.get("VpcId"), r.get("VswitchId")),
        vcpu=_ints(r.get("CpuCores")), memory_mib=_ints(r.get("MemorySize")), vpc_id=r.get("VpcId") or "",
        storage_gib=_ints(r.get("StorageSpace")) // (1024 ** 3), resource_group=r.get("ResourceGroupId") or "")


def to_polardb_node(region: str, cluster: dict[str, Any], n: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="polardb.node", external_id=n["DBNodeId"], region=region, zone=n.get("ZoneId") or "",
        name=f"{cluster.get('DBClusterDescription') or cluster['DBClusterId']} {n.get('DBNodeRole') or ''}".strip(),
        status=_status(cluster.get("DBClusterStatus")),
        spec={"role": n.get("DBNodeRole"), "class": n.get("DBNodeClass"), "cluster_id": cluster["DBClusterId"],
              "hot_replica": n.get("HotReplicaMode"), "imci": n.get("ImciSwitch")},
        relations=[Relation("member_of", "polardb.cluster", cluster["DBClusterId"])],
        vpc_id=cluster.get("VpcId") or "", resource_group=cluster.get("ResourceGroupId") or "")


def list_polardb_clusters(adapter: Any, region: str, token: str | None) -> ResourcePage:
    rows, nxt = _polardb_page(adapter, region, token)
    return ResourcePage([to_polardb_cluster(region, r) for r in rows], nxt)


def list_polardb_nodes(adapter: Any, region: str, token: str | None) -> ResourcePage:
    rows, nxt = _polardb_page(adapter, region, token)
    return ResourcePage([to_polardb_node(region, r, n) for r in rows
                         for n in (r.get("DBNodes") or {}).get("DBNode") or []], nxt)


# -- KMS -------------------------------------------------------------------------------------------

def to_kms_key(region: str, m: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="kms.cmk", external_id=m["KeyId"], region=region, name=m.get("Description") or m["KeyId"],
        status=_status(m.get("KeyState")),
        spec={"cloud_status": m.get("KeyState"), "arn": m.get("Arn"), "key_spec": m.get("KeySpec"),
              "key_usage": m.get("KeyUsage"), "origin": m.get("Origin"), "protection_level": m.get("ProtectionLevel"),
              "automatic_rotation": m.get("AutomaticRotation"), "rotation_interval": m.get("RotationInterval"),
              "delete_date": m.get("DeleteDate"), "created_at": m.get("CreationDate")})


def list_kms_keys(adapter: Any, region: str, token: str | None) -> ResourcePage:
    number = int(token or 1)
    body = adapter._invoke("kms", region, "list_keys", kms_models.ListKeysRequest(page_number=number,
                                                                                   page_size=PAGE))
    rows = (body.get("Keys") or {}).get("Key") or []
    items = []
    for k in rows:
        if (k.get("KeyArn") or "").split(":")[2:3] not in ([region], []):
            continue  # another region's key (the ARN names its region)
        try:
            meta = adapter._invoke("kms", region, "describe_key", kms_models.DescribeKeyRequest(key_id=k["KeyId"]))
        except CloudCallError as exc:
            if exc.code == "Forbidden.KeyNotFound":  # deleted between the list and this call
                continue
            raise
        items.append(to_kms_key(region, meta.get("KeyMetadata") or {}))
    return ResourcePage(items, _next(number, PAGE, body.get("TotalCount"), len(rows)))


# -- Auto Scaling (ess) ----------------------------------------------------------------------------

def _ess_members(adapter: Any, region: str, group_id: str) -> list[str]:
    out: list[str] = []
    number = 1
    while True:
        body = adapter._invoke("ess", region, "describe_scaling_instances", ess_models.DescribeScalingInstancesRequest(
            region_id=region, scaling_group_id=group_id, page_number=number, page_size=50))
        rows = body.get("ScalingInstances") or []
        out += [r["InstanceId"] for r in rows if r.get("InstanceId")]
        if _next(number, 50, body.get("TotalCount"), len(rows)) is None:
            return out
        number += 1


def to_scaling_group(region: str, g: dict[str, Any], members: list[str]) -> CloudResource:
    vswitches = list(g.get("VSwitchIds") or ([g["VSwitchId"]] if g.get("VSwitchId") else []))
    rels = _net(g.get("VpcId"))
    rels += [Relation("in_vswitch", "vpc.vswitch", v) for v in vswitches]
    rels += [Relation("has_member", "ecs.instance", i) for i in members]
    rels += [Relation("balanced_by", "slb.instance", lb) for lb in g.get("LoadBalancerIds") or []]
    rels += [Relation("registers_in", "rds.instance", db) for db in g.get("DBInstanceIds") or []]
    return CloudResource(
        type="ess.scaling_group", external_id=g["ScalingGroupId"], region=region,
        name=g.get("ScalingGroupName") or g["ScalingGroupId"], status=_status(g.get("LifecycleState")),
        spec={"cloud_status": g.get("LifecycleState"), "min_size": g.get("MinSize"), "max_size": g.get("MaxSize"),
              "desired_capacity": g.get("DesiredCapacity"), "total_capacity": g.get("TotalCapacity"),
              "group_type": g.get("GroupType"), "health_check_type": g.get("HealthCheckType"),
              "multi_az_policy": g.get("MultiAZPolicy"), "vswitch_ids": vswitches, "instance_ids": members,
              "created_at": g.get("CreationTime")},
        tags=_kv(g.get("Tags"), "TagKey", "TagValue"), relations=rels, vpc_id=g.get("VpcId") or "",
        resource_group=g.get("ResourceGroupId") or "")


def list_scaling_groups(adapter: Any, region: str, token: str | None) -> ResourcePage:
    number = int(token or 1)
    body = adapter._invoke("ess", region, "describe_scaling_groups", ess_models.DescribeScalingGroupsRequest(
        region_id=region, page_number=number, page_size=50))
    rows = body.get("ScalingGroups") or []
    items = [to_scaling_group(region, g, _ess_members(adapter, region, g["ScalingGroupId"])) for g in rows]
    return ResourcePage(items, _next(number, 50, body.get("TotalCount"), len(rows)))


# -- ROS -------------------------------------------------------------------------------------------

def to_stack(region: str, s: dict[str, Any]) -> CloudResource:
    rels = [Relation("nested_in", "ros.stack", s["ParentStackId"])] if s.get("ParentStackId") else []
    return CloudResource(
        type="ros.stack", external_id=s["StackId"], region=region, name=s.get("StackName") or s["StackId"],
        status=_status(s.get("Status")),
        spec={"cloud_status": s.get("Status"), "status_reason": s.get("StatusReason"),
              "stack_type": s.get("StackType"), "timeout_minutes": s.get("TimeoutInMinutes"),
              "disable_rollback": s.get("DisableRollback"), "deletion_protection": s.get("DeletionProtection"),
              "drift_status": s.get("StackDriftStatus"), "created_at": s.get("CreateTime"),
              "updated_at": s.get("UpdateTime")},
        tags=_kv(s.get("Tags")), relations=rels, resource_group=s.get("ResourceGroupId") or "")


def list_stacks(adapter: Any, region: str, token: str | None) -> ResourcePage:
    number = int(token or 1)
    body = adapter._invoke("ros", region, "list_stacks", ros_models.ListStacksRequest(
        region_id=region, page_number=number, page_size=50))
    rows = body.get("Stacks") or []
    return ResourcePage([to_stack(region, s) for s in rows], _next(number, 50, body.get("TotalCount"), len(rows)))


# -- OOS -------------------------------------------------------------------------------------------

def to_oos_template(region: str, t: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="oos.template", external_id=t["TemplateId"], region=region, name=t.get("TemplateName") or t["TemplateId"],
        status="available",
        spec={"version": t.get("TemplateVersion"), "format": t.get("TemplateFormat"),
              "template_type": t.get("TemplateType"), "share_type": t.get("ShareType"),
              "executions": t.get("TotalExecutionCount"), "has_trigger": t.get("HasTrigger"),
              "description": t.get("Description"), "created_by": t.get("CreatedBy"),
              "created_at": t.get("CreatedDate"), "updated_at": t.get("UpdatedDate")},
        tags={str(k): str(v) for k, v in (t.get("Tags") or {}).items()}, resource_group=t.get("ResourceGroupId") or "")


def to_oos_execution(region: str, e: dict[str, Any]) -> CloudResource:
    rels = [Relation("runs_template", "oos.template", e["TemplateId"])] if e.get("TemplateId") else []
    if e.get("ParentExecutionId"):
        rels.append(Relation("child_of", "oos.execution", e["ParentExecutionId"]))
    return CloudResource(
        type="oos.execution", external_id=e["ExecutionId"], region=region,
        name=f"{e.get('TemplateName') or ''} {e['ExecutionId']}".strip(), status=_status(e.get("Status")),
        spec={"cloud_status": e.get("Status"), "template": e.get("TemplateName"),
              "template_version": e.get("TemplateVersion"), "mode": e.get("Mode"), "executed_by": e.get("ExecutedBy"),
              "status_message": e.get("StatusMessage"), "started_at": e.get("StartDate"), "ended_at": e.get("EndDate")},
        tags={str(k): str(v) for k, v in (e.get("Tags") or {}).items()}, relations=rels,
        resource_group=e.get("ResourceGroupId") or "")


def list_oos_templates(adapter: Any, region: str, token: str | None) -> ResourcePage:
    body = adapter._invoke("oos", region, "list_templates", oos_models.ListTemplatesRequest(
        region_id=region, max_results=PAGE, next_token=token or None, share_type="Private"))
    rows = body.get("Templates") or []
    return ResourcePage([to_oos_template(region, t) for t in rows], body.get("NextToken") or None)


def list_oos_executions(adapter: Any, region: str, token: str | None) -> ResourcePage:
    body = adapter._invoke("oos", region, "list_executions", oos_models.ListExecutionsRequest(
        region_id=region, max_results=PAGE, next_token=token or None))
    rows = body.get("Executions") or []
    return ResourcePage([to_oos_execution(region, e) for e in rows], body.get("NextToken") or None)


# -- NAS -------------------------------------------------------------------------------------------

def to_file_system(region: str, f: dict[str, Any]) -> CloudResource:
    targets = (f.get("MountTargets") or {}).get("MountTarget") or []
    rels = _net(f.get("VpcId"))
    rels += [Relation("in_vswitch", "vpc.vswitch", t["VswId"]) for t in targets if t.get("VswId")]
    if f.get("KMSKeyId"):
        rels.append(Relation("encrypted_by", "kms.cmk", f["KMSKeyId"]))
    return CloudResource(
        type="nas.file_system", external_id=f["FileSystemId"], region=region, zone=f.get("ZoneId") or "",
        name=f.get("Description") or f["FileSystemId"], status=_status(f.get("Status")),
        spec={"cloud_status": f.get("Status"), "protocol": f.get("ProtocolType"), "storage_type": f.get("StorageType"),
              "file_system_type": f.get("FileSystemType"), "capacity_gib": f.get("Capacity"),
              "metered_size_bytes": f.get("MeteredSize"), "charge_type": f.get("ChargeType"),
              "encrypt_type": f.get("EncryptType"),
              "mount_targets": [t.get("MountTargetDomain") for t in targets], "created_at": f.get("CreateTime")},
        tags=_kv((f.get("Tags") or {}).get("Tag")), relations=rels, storage_gib=_ints(f.get("Capacity")),
        vpc_id=f.get("VpcId") or "", resource_group=f.get("ResourceGroupId") or "")


def list_file_systems(adapter: Any, region: str, token: str | None) -> ResourcePage:
    number = int(token or 1)
    body = adapter._invoke("nas", region, "describe_file_systems", nas_models.DescribeFileSystemsRequest(
        page_number=number, page_size=PAGE))
    rows = (body.get("FileSystems") or {}).get("FileSystem") or []
    items = [to_file_system(region, f) for f in rows if (f.get("RegionId") or region) == region]
    return ResourcePage(items, _next(number, PAGE, body.get("TotalCount"), len(rows)))


# -- DTS -------------------------------------------------------------------------------------------

_ENDPOINT_TYPES = {"RDS": "rds.instance", "POLARDB": "polardb.cluster", "MONGODB": "mongodb.instance",
                   "ECS": "ecs.instance", "REDIS": "redis.instance"}


def to_dts_job(region: str, j: dict[str, Any], resource_type: str) -> CloudResource:
    source, target = j.get("SourceEndpoint") or {}, j.get("DestinationEndpoint") or {}
    rels = []
    for kind, end in (("reads_from", source), ("writes_to", target)):
        t = _ENDPOINT_TYPES.get(str(end.get("InstanceType") or "").upper())
        if t and end.get("InstanceID"):
            rels.append(Relation(kind, t, end["InstanceID"]))
    return CloudResource(
        type=resource_type, external_id=j["DtsJobId"], region=region, name=j.get("DtsJobName") or j["DtsJobId"],
        status=_status(j.get("Status")),
        spec={"cloud_status": j.get("Status"), "job_type": j.get("JobType"), "dts_instance": j.get("DtsInstanceID"),
              "job_class": j.get("DtsJobClass"), "direction": j.get("DtsJobDirection"), "pay_type": j.get("PayType"),
              "delay_ms": j.get("Delay"),
              "source": {"type": source.get("InstanceType"), "id": source.get("InstanceID"),
                         "engine": source.get("EngineName"), "region": source.get("Region")},
              "destination": {"type": target.get("InstanceType"), "id": target.get("InstanceID"),
                              "engine": target.get("EngineName"), "region": target.get("Region")},
              "created_at": j.get("CreateTime")},
        relations=rels, resource_group=j.get("ResourceGroupId") or "")


def _dts_lister(job_type: str, resource_type: str) -> Callable[[Any, str, str | None], ResourcePage]:
    def list_jobs(adapter: Any, region: str, token: str | None) -> ResourcePage:
        number = int(token or 1)
        body = adapter._invoke("dts", region, "describe_dts_jobs", dts_models.DescribeDtsJobsRequest(
            region_id=region, job_type=job_type, page_number=number, page_size=PAGE))
        rows = body.get("DtsJobList") or []
        return ResourcePage([to_dts_job(region, j, resource_type) for j in rows],
                            _next(number, PAGE, body.get("TotalRecordCount"), len(rows)))
    return list_jobs


# -- DBS -------------------------------------------------------------------------------------------

_BACKUP_SOURCES = {"RDS": "rds.instance", "DDS": "mongodb.instance", "ECS": "ecs.instance",
                   "POLARDB": "polardb.cluster"}


def to_backup_plan(region: str, b: dict[str, Any]) -> CloudResource:
    rels = []
    source = _BACKUP_SOURCES.get(str(b.get("SourceEndpointInstanceType") or "").upper())
    if source and b.get("SourceEndpointInstanceID"):
        rels.append(Relation("backs_up", source, b["SourceEndpointInstanceID"]))
    return CloudResource(
        type="dbs.backup_plan", external_id=b["BackupPlanId"], region=region,
        name=b.get("BackupPlanName") or b["BackupPlanId"], status=_status(b.get("BackupPlanStatus")),
        spec={"cloud_status": b.get("BackupPlanStatus"), "database_type": b.get("DatabaseType"),
              "instance_class": b.get("InstanceClass"), "method": b.get("BackupMethod"),
              "period": b.get("BackupPeriod"), "start_time": b.get("BackupStartTime"),
              "retention_days": b.get("BackupRetentionPeriod"), "storage_type": b.get("BackupStorageType"),
              "source_type": b.get("SourceEndpointInstanceType"), "source_id": b.get("SourceEndpointInstanceID"),
              "source_database": b.get("SourceEndpointDatabaseName"), "charge_type": b.get("InstanceChargeType"),
              "created_at_ms": b.get("BackupPlanCreateTime")},
        relations=rels, resource_group=b.get("ResourceGroupId") or "")


def list_backup_plans(adapter: Any, region: str, token: str | None) -> ResourcePage:
    number = int(token or 0)  # DescribeBackupPlanList counts pages from 0
    body = adapter._invoke("dbs", region, "describe_backup_plan_list", dbs_models.DescribeBackupPlanListRequest(
        region=region, page_num=number, page_size=PAGE))
    rows = (body.get("Items") or {}).get("BackupPlanDetail") or []
    items = [to_backup_plan(region, b) for b in rows if (b.get("BackupPlanRegion") or region) == region]
    return ResourcePage(items, _next(number, PAGE, body.get("TotalElements"), len(rows), first=0))


# -- API Gateway -----------------------------------------------------------------------------------

def to_api_group(region: str, g: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="apigateway.api_group", external_id=g["GroupId"], region=region, name=g.get("GroupName") or g["GroupId"],
        status=_status(g.get("BillingStatus") or "NORMAL"),
        spec={"billing_status": g.get("BillingStatus"), "illegal_status": g.get("IllegalStatus"),
              "sub_domain": g.get("SubDomain"), "base_path": g.get("BasePath"), "instance_id": g.get("InstanceId"),
              "instance_type": g.get("InstanceType"), "traffic_limit": g.get("TrafficLimit"),
              "https_policy": g.get("HttpsPolicy"), "description": g.get("Description"),
              "created_at": g.get("CreatedTime"), "modified_at": g.get("ModifiedTime")},
        tags=_kv((g.get("Tags") or {}).get("TagInfo")))


def list_api_groups(adapter: Any, region: str, token: str | None) -> ResourcePage:
    number = int(token or 1)
    body = adapter._invoke("cloudapi", region, "describe_api_groups", apigw_models.DescribeApiGroupsRequest(
        page_number=number, page_size=PAGE))
    rows = (body.get("ApiGroupAttributes") or {}).get("ApiGroupAttribute") or []
    items = [to_api_group(region, g) for g in rows if (g.get("RegionId") or region) == region]
    return ResourcePage(items, _next(number, PAGE, body.get("TotalCount"), len(rows)))


# -- Message Queue for Apache Kafka ----------------------------------------------------------------

def to_kafka(region: str, k: dict[str, Any]) -> CloudResource:
    state = k.get("ServiceStatus")
    return CloudResource(
        type="kafka.instance", external_id=k["InstanceId"], region=region, zone=k.get("ZoneId") or "",
        name=k.get("Name") or k["InstanceId"], status=_KAFKA_STATES.get(_ints(state), "unknown"),
        spec={"cloud_status": state, "spec_type": k.get("SpecType"), "deploy_type": k.get("DeployType"),
              "disk_gib": k.get("DiskSize"), "disk_type": k.get("DiskType"), "io_max": k.get("IoMax"),
              "io_max_spec": k.get("IoMaxSpec"), "topic_limit": k.get("TopicNumLimit"),
              "endpoint": k.get("EndPoint"), "paid_type": k.get("PaidType"), "created_at_ms": k.get("CreateTime")},
        tags=_kv((k.get("Tags") or {}).get("TagVO")), relations=_net(k.get("VpcId"), k.get("VSwitchId")),
        storage_gib=_ints(k.get("DiskSize")), vpc_id=k.get("VpcId") or "",
        resource_group=k.get("ResourceGroupId") or "")


def list_kafka(adapter: Any, region: str, token: str | None) -> ResourcePage:
    body = adapter._invoke("alikafka", region, "get_instance_list",
                           kafka_models.GetInstanceListRequest(region_id=region))
    rows = (body.get("InstanceList") or {}).get("InstanceVO") or []
    return ResourcePage([to_kafka(region, k) for k in rows], None)  # GetInstanceList has no paging


# -- Container Registry ----------------------------------------------------------------------------

def _cr_instances(adapter: Any, region: str, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    number = int(token or 1)
    body = adapter._invoke("cr", region, "list_instance", cr_models.ListInstanceRequest(page_no=number,
                                                                                         page_size=PAGE))
    rows = body.get("Instances") or []
    return ([r for r in rows if (r.get("RegionId") or region) == region],
            _next(number, PAGE, body.get("TotalCount"), len(rows)))


def to_cr_instance(region: str, r: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="cr.instance", external_id=r["InstanceId"], region=region, name=r.get("InstanceName") or r["InstanceId"],
        status=_status(r.get("InstanceStatus")),
        spec={"cloud_status": r.get("InstanceStatus"), "specification": r.get("InstanceSpecification"),
              "issue": r.get("InstanceIssue"), "created_at": r.get("CreateTime"), "modified_at": r.get("ModifiedTime")},
        tags=_kv(r.get("Tags"), "TagKey", "TagValue"), resource_group=r.get("ResourceGroupId") or "")


def list_cr_instances(adapter: Any, region: str, token: str | None) -> ResourcePage:
    rows, nxt = _cr_instances(adapter, region, token)
    return ResourcePage([to_cr_instance(region, r) for r in rows], nxt)


def _walk(fetch: Callable[[int], tuple[list[dict[str, Any]], Any]], size: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    number = 1
    while True:
        rows, total = fetch(number)
        out += rows
        if _next(number, size, total, len(rows)) is None:
            return out
        number += 1


def _cr_namespaces(adapter: Any, region: str, instance_id: str) -> list[dict[str, Any]]:
    def fetch(number: int) -> tuple[list[dict[str, Any]], Any]:
        body = adapter._invoke("cr", region, "list_namespace", cr_models.ListNamespaceRequest(
            instance_id=instance_id, page_no=number, page_size=PAGE))
        return body.get("Namespaces") or [], body.get("TotalCount")
    return _walk(fetch, PAGE)


def _cr_repositories(adapter: Any, region: str, instance_id: str) -> list[dict[str, Any]]:
    def fetch(number: int) -> tuple[list[dict[str, Any]], Any]:
        body = adapter._invoke("cr", region, "list_repository", cr_models.ListRepositoryRequest(
            instance_id=instance_id, page_no=number, page_size=PAGE))
        return body.get("Repositories") or [], body.get("TotalCount")
    return _walk(fetch, PAGE)


def to_cr_namespace(region: str, n: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="cr.namespace", external_id=n["NamespaceId"], region=region, name=n.get("NamespaceName") or "",
        status=_status(n.get("NamespaceStatus")),
        spec={"cloud_status": n.get("NamespaceStatus"), "instance_id": n.get("InstanceId"),
              "auto_create_repo": n.get("AutoCreateRepo"), "default_repo_type": n.get("DefaultRepoType")},
        relations=[Relation("in_instance", "cr.instance", n["InstanceId"])] if n.get("InstanceId") else [],
        resource_group=n.get("ResourceGroupId") or "")


def to_cr_repository(region: str, r: dict[str, Any], namespaces: dict[str, str]) -> CloudResource:
    rels = [Relation("in_instance", "cr.instance", r["InstanceId"])] if r.get("InstanceId") else []
    ns = namespaces.get(str(r.get("RepoNamespaceName") or ""))
    if ns:
        rels.append(Relation("in_namespace", "cr.namespace", ns))
    return CloudResource(
        type="cr.repository", external_id=r["RepoId"], region=region,
        name=f"{r.get('RepoNamespaceName') or ''}/{r.get('RepoName') or ''}", status=_status(r.get("RepoStatus")),
        spec={"cloud_status": r.get("RepoStatus"), "repo_type": r.get("RepoType"), "build_type": r.get("RepoBuildType"),
              "summary": r.get("Summary"), "tag_immutability": r.get("TagImmutability"),
              "namespace": r.get("RepoNamespaceName"), "instance_id": r.get("InstanceId"),
              "created_at_ms": r.get("CreateTime")},
        relations=rels, resource_group=r.get("ResourceGroupId") or "")


def list_cr_namespaces(adapter: Any, region: str, token: str | None) -> ResourcePage:
    rows, nxt = _cr_instances(adapter, region, token)
    return ResourcePage([to_cr_namespace(region, n) for r in rows
                         for n in _cr_namespaces(adapter, region, r["InstanceId"])], nxt)


def list_cr_repositories(adapter: Any, region: str, token: str | None) -> ResourcePage:
    rows, nxt = _cr_instances(adapter, region, token)
    items = []
    for r in rows:
        namespaces = {n.get("NamespaceName"): n["NamespaceId"]
                      for n in _cr_namespaces(adapter, region, r["InstanceId"])}
        items += [to_cr_repository(region, repo, namespaces)
                  for repo in _cr_repositories(adapter, region, r["InstanceId"])]
    return ResourcePage(items, nxt)


# -- Tablestore (ots) ------------------------------------------------------------------------------

def to_ots_instance(region: str, i: dict[str, Any]) -> CloudResource:
    tags = (i.get("TagInfos") or {}).get("TagInfo") or []
    return CloudResource(
        type="ots.instance", external_id=i["InstanceName"], region=region, name=i["InstanceName"],
        status=_status(i.get("Status")),
        spec={"cloud_status": i.get("Status"), "cluster_type": i.get("ClusterType"), "network": i.get("Network"),
              "read_capacity": i.get("ReadCapacity"), "write_capacity": i.get("WriteCapacity"),
              "description": i.get("Description"), "created_at": i.get("CreateTime")},
        tags=_kv(tags, "TagKey", "TagValue"))


def list_ots_instances(adapter: Any, region: str, token: str | None) -> ResourcePage:
    if not _region_bound(adapter, "ots", region) and region != _home_region(adapter, "ots"):
        return ResourcePage([], None)  # one endpoint for every region: its instances are the home region's
    number = int(token or 1)
    body = adapter._invoke("ots", region, "list_instance", ots_models.ListInstanceRequest(page_num=number,
                                                                                            page_size=PAGE))
    rows = (body.get("InstanceInfos") or {}).get("InstanceInfo") or []
    items = []
    for row in rows:
        try:
            detail = adapter._invoke("ots", region, "get_instance",
                                     ots_models.GetInstanceRequest(instance_name=row["InstanceName"]))
        except CloudCallError as exc:
            if exc.code == "OTSInstanceNotFound":
                continue
            raise
        items.append(to_ots_instance(region, detail.get("InstanceInfo") or {}))
    return ResourcePage(items, _next(number, PAGE, body.get("TotalCount"), len(rows)))


# -- ECS key pairs and custom images ---------------------------------------------------------------

def to_key_pair(region: str, k: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="ecs.key_pair", external_id=k["KeyPairName"], region=region, name=k["KeyPairName"], status="available",
        spec={"fingerprint": k.get("KeyPairFingerPrint"), "created_at": k.get("CreationTime")},
        tags=_kv((k.get("Tags") or {}).get("Tag"), "TagKey", "TagValue"), resource_group=k.get("ResourceGroupId") or "")


def list_key_pairs(adapter: Any, region: str, token: str | None) -> ResourcePage:
    number = int(token or 1)
    body = adapter._invoke("ecs", region, "describe_key_pairs", ecs_models.DescribeKeyPairsRequest(
        region_id=region, page_number=number, page_size=50))
    rows = (body.get("KeyPairs") or {}).get("KeyPair") or []
    return ResourcePage([to_key_pair(region, k) for k in rows], _next(number, 50, body.get("TotalCount"), len(rows)))


def to_image(region: str, i: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="ecs.image", external_id=i["ImageId"], region=region, name=i.get("ImageName") or i["ImageId"],
        status=_status(i.get("Status")),
        spec={"cloud_status": i.get("Status"), "os_name": i.get("OSName"), "os_type": i.get("OSType"),
              "platform": i.get("Platform"), "architecture": i.get("Architecture"), "size_gib": i.get("Size"),
              "family": i.get("ImageFamily"), "usage": i.get("Usage"), "description": i.get("Description"),
              "created_at": i.get("CreationTime")},
        tags=_kv((i.get("Tags") or {}).get("Tag"), "TagKey", "TagValue"), storage_gib=_ints(i.get("Size")),
        resource_group=i.get("ResourceGroupId") or "")


def list_images(adapter: Any, region: str, token: str | None) -> ResourcePage:
    """The account's own images (``ImageOwnerAlias=self``): public images are the catalog, not inventory."""
    number = int(token or 1)
    body = adapter._invoke("ecs", region, "describe_images", ecs_models.DescribeImagesRequest(
        region_id=region, image_owner_alias="self", page_number=number, page_size=100))
    rows = (body.get("Images") or {}).get("Image") or []
    return ResourcePage([to_image(region, i) for i in rows], _next(number, 100, body.get("TotalCount"), len(rows)))


# -- registration ----------------------------------------------------------------------------------

for _code, (_client, _asapi) in PRODUCTS.items():
    register_product(A, _code, _client, _asapi)
for _code, _name in SERVICES.items():
    register_service(A, _code, _name)
for _listing in (
    Listing("mongodb.instance", "mongodb", list_mongodb),
    Listing("polardb.cluster", "polardb", list_polardb_clusters),
    Listing("polardb.node", "polardb", list_polardb_nodes),
    Listing("kms.cmk", "kms", list_kms_keys),
    Listing("ess.scaling_group", "ess", list_scaling_groups),
    Listing("ros.stack", "ros", list_stacks),
    Listing("oos.template", "oos", list_oos_templates),
    Listing("oos.execution", "oos", list_oos_executions),
    Listing("nas.file_system", "nas", list_file_systems),
    Listing("dts.migration_task", "dts", _dts_lister("MIGRATION", "dts.migration_task")),
    Listing("dts.sync_task", "dts", _dts_lister("SYNC", "dts.sync_task")),
    Listing("dbs.backup_plan", "dbs", list_backup_plans),
    Listing("apigateway.api_group", "apigateway", list_api_groups),
    Listing("kafka.instance", "kafka", list_kafka),
    Listing("cr.instance", "cr", list_cr_instances),
    Listing("cr.namespace", "cr", list_cr_namespaces),
    Listing("cr.repository", "cr", list_cr_repositories),
    Listing("ots.instance", "ots", list_ots_instances),
    Listing("ecs.key_pair", "ecs", list_key_pairs),
    Listing("ecs.image", "ecs", list_images),
):
    register_listing(A, _listing)


def extensions_types() -> list[str]:
    """The resource types this module collects."""
    from apps.clouds.adapters.extensions import registry

    return [t for t, item in registry(A).listings.items() if getattr(item.list, "__module__", "") == __name__]
