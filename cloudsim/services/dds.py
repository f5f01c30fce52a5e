"""ApsaraDB for MongoDB API (``Dds``, version 2015-12-01): replica set instances.

``DescribeDBInstances`` lists without the network placement (the real list has no VPC fields);
``DescribeDBInstanceAttribute`` gives ``VPCId`` and ``VSwitchId``. Creating -> Running.
"""

from __future__ import annotations

from typing import Any

from ..errors import CloudError
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import kv_tags, numbered, public, region_param, rid

V = "2015-12-01"
product(V, "Dds")
register_kind("dds")
CLASSES = {"dds.mongo.mid": (1, 2048), "dds.mongo.standard": (2, 4096), "dds.mongo.large": (4, 8192),
           "dds.mongo.xlarge": (8, 16384)}
VERSIONS = ("4.2", "4.4", "5.0", "6.0")
ATTRIBUTE_ONLY = ("VPCId", "VSwitchId")


@action(V, "CreateDBInstance")
def create_db_instance(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    db_class = p.str("DBInstanceClass", required=True)
    if db_class not in CLASSES:
        raise CloudError("InvalidDBInstanceClass.NotFound", "The specified DBInstanceClass does not exist.", 404)
    version = p.str("EngineVersion", required=True)
    if version not in VERSIONS:
        raise CloudError("InvalidEngineVersion.NotFound", "The specified EngineVersion is not supported.")
    storage = p.int("DBInstanceStorage", required=True, lo=10, hi=3000)
    zone = store.check_zone(region, p.str("ZoneId"))
    vpc_id, vsw_id = p.str("VpcId", ""), p.str("VSwitchId", "")
    if vsw_id and vsw_id not in store.tables["vswitch"]:
        raise CloudError("InvalidVSwitchId.NotFound", "The specified VSwitchId does not exist.", 404)
    if vsw_id and not vpc_id:
        vpc_id = store.tables["vswitch"][vsw_id]["VpcId"]
    db_id = rid("dds-", 7)
    record = store.add("dds", {
        "DBInstanceId": db_id, "DBInstanceDescription": p.str("DBInstanceDescription", db_id),
        "RegionId": region, "ZoneId": zone, "Engine": "MongoDB", "EngineVersion": version,
        "DBInstanceClass": db_class, "DBInstanceStorage": storage, "DBInstanceType": "replicate",
        "ReplicationFactor": p.str("ReplicationFactor", "3"), "StorageType": p.str("StorageType", "cloud_essd1"),
        "ChargeType": p.str("ChargeType", "PostPaid"), "NetworkType": "VPC", "LockMode": "Unlock",
        "KindCode": "1", "CreationTime": iso_now(), "ExpireTime": "", "ResourceGroupId": "rg-default",
        "VPCId": vpc_id, "VSwitchId": vsw_id, "_tags": {},
    }, "DBInstanceId")
    store.schedule(record, "Creating", "Running")
    return {"DBInstanceId": db_id, "OrderId": ""}


def _render(record: dict[str, Any]) -> dict[str, Any]:
    out = public(record, "DBInstanceStatus", drop=ATTRIBUTE_ONLY)
    out["Tags"] = {"Tag": kv_tags(record["_tags"])}
    return out


@action(V, "DescribeDBInstances")
def describe_db_instances(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    wanted = p.str("DBInstanceId")
    status = p.str("DBInstanceStatus")
    rows = [r for r in store.rows("dds", region) if (not wanted or r["DBInstanceId"] == wanted)
            and (not status or r["Status"] == status)]
    chunk, number, size = numbered(rows, p, default=30, max_size=100)
    return {"DBInstances": {"DBInstance": [_render(r) for r in chunk]}, "TotalCount": len(rows),
            "PageNumber": number, "PageSize": size}


@action(V, "DescribeDBInstanceAttribute")
def describe_db_instance_attribute(store: Store, p) -> dict[str, Any]:
    record = store.get("dds", p.str("DBInstanceId", required=True), "InvalidDBInstanceId.NotFound", "DB instance")
    out = public(record, "DBInstanceStatus")
    out["Tags"] = {"Tag": kv_tags(record["_tags"])}
    return {"DBInstances": {"DBInstance": [out]}}


@action(V, "DeleteDBInstance")
def delete_db_instance(store: Store, p) -> dict[str, Any]:
    record = store.get("dds", p.str("DBInstanceId", required=True), "InvalidDBInstanceId.NotFound", "DB instance")
    if record["Status"] != "Running":
        raise CloudError("IncorrectDBInstanceState", "The instance state does not support this operation.", 403)
    store.schedule(record, "Deleting", "Deleted")
    return {}
