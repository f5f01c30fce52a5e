"""PolarDB API (version 2017-08-01): clusters and their nodes.

``CreateDBCluster`` makes a cluster with one writer and ``DBNodeNum - 1`` readers;
``DescribeDBClusters`` lists clusters with their nodes (``DBNodes.DBNode``), paged by PageNumber.
Creating -> Running.
"""

from __future__ import annotations

from typing import Any

from ..errors import CloudError
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import ids_filter, kv_tags, numbered, public, region_param, rid

V = "2017-08-01"
product(V, "polardb")
register_kind("polardb")
DB_TYPES = {"MySQL": ("5.6", "5.7", "8.0"), "PostgreSQL": ("11", "14"), "Oracle": ("11",)}
NODE_CLASSES = {"polar.mysql.x4.medium": (2, 8192), "polar.mysql.x4.large": (4, 16384),
                "polar.mysql.x8.xlarge": (8, 65536), "polar.pg.x4.medium": (2, 8192)}


@action(V, "CreateDBCluster")
def create_db_cluster(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    db_type = p.str("DBType", required=True)
    if db_type not in DB_TYPES:
        raise CloudError("InvalidDBType", "The specified DBType is not valid.")
    version = p.str("DBVersion", required=True)
    if version not in DB_TYPES[db_type]:
        raise CloudError("InvalidDBVersion", "The specified DBVersion is not valid.")
    pay_type = p.str("PayType", required=True, choices={"Postpaid", "Prepaid"})
    node_class = p.str("DBNodeClass", "polar.mysql.x4.medium")
    if node_class not in NODE_CLASSES:
        raise CloudError("InvalidDBNodeClass.Malformed", "The specified DBNodeClass is not valid.")
    nodes = p.int("DBNodeNum", 2, lo=1, hi=16)
    zone = store.check_zone(region, p.str("ZoneId"))
    vsw_id = p.str("VSwitchId", "")
    if vsw_id and vsw_id not in store.tables["vswitch"]:
        raise CloudError("InvalidVSwitchId.NotFound", "The specified VSwitchId does not exist.", 404)
    vpc_id = p.str("VPCId") or (store.tables["vswitch"][vsw_id]["VpcId"] if vsw_id else "")
    cluster_id = rid("pc-", 7)
    cores, memory = NODE_CLASSES[node_class]
    node_list = [{"DBNodeId": rid("pi-", 7), "DBNodeClass": node_class, "DBNodeRole": "Writer" if n == 0 else "Reader",
                  "RegionId": region, "ZoneId": zone, "HotReplicaMode": "OFF", "ImciSwitch": "OFF",
                  "Serverless": ""} for n in range(nodes)]
    record = store.add("polardb", {
        "DBClusterId": cluster_id, "DBClusterDescription": p.str("DBClusterDescription", cluster_id),
        "RegionId": region, "ZoneId": zone, "DBType": db_type, "DBVersion": version, "Engine": "POLARDB",
        "DBNodeClass": node_class, "DBNodeNumber": nodes, "CpuCores": str(cores), "MemorySize": str(memory),
        "PayType": pay_type, "Category": "Normal", "DBClusterNetworkType": "VPC", "VpcId": vpc_id,
        "VswitchId": vsw_id, "StorageType": "psl5", "StorageUsed": 3 * 1024 ** 3, "StorageSpace": 50 * 1024 ** 3,
        "LockMode": "Unlock", "DeletionLock": 0, "Expired": "false", "ExpireTime": "", "CreateTime": iso_now(),
        "ResourceGroupId": "rg-default", "_nodes": node_list, "_tags": {},
    }, "DBClusterId")
    store.schedule(record, "Creating", "Running")
    return {"DBClusterId": cluster_id, "OrderId": "", "ResourceGroupId": "rg-default"}


def _render(record: dict[str, Any]) -> dict[str, Any]:
    out = public(record, "DBClusterStatus")
    out["DBNodes"] = {"DBNode": [dict(n) for n in record["_nodes"]]}
    out["Tags"] = {"Tag": kv_tags(record["_tags"])}
    return out


@action(V, "DescribeDBClusters")
def describe_db_clusters(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    ids = ids_filter(p.str("DBClusterIds"))
    status = p.str("DBClusterStatus")
    rows = [r for r in store.rows("polardb", region) if (not ids or r["DBClusterId"] in ids)
            and (not status or r["Status"] == status)]
    chunk, number, _size = numbered(rows, p, default=30, max_size=100)
    return {"Items": {"DBCluster": [_render(r) for r in chunk]}, "TotalRecordCount": len(rows),
            "PageRecordCount": len(chunk), "PageNumber": number}


@action(V, "DeleteDBCluster")
def delete_db_cluster(store: Store, p) -> dict[str, Any]:
    record = store.get("polardb", p.str("DBClusterId", required=True), "InvalidDBClusterId.NotFound", "DB cluster")
    if record["Status"] != "Running":
        raise CloudError("IncorrectDBInstanceState", "The cluster state does not support this operation.", 403)
    store.schedule(record, "Deleting", "Deleted")
    return {}
