"""ApsaraDB RDS API (version 2014-08-15): database instances."""

from __future__ import annotations

from typing import Any

from ..catalog import RDS_CLASSES, RDS_ENGINES
from ..errors import CloudError
from ..store import REMOVE_HOOKS, Store, iso_now, new_id
from . import action, match_tags
from .ecs import paged
from .vpc import allocate_ip, place_in_vswitch, release_ip

V = "2014-08-15"


def _not_ready(db: dict[str, Any]) -> CloudError:
    return CloudError("IncorrectDBInstanceState",
                      f"Current DB instance state does not support this operation. (Status: {db['Status']})",
                      403)


def get_db(store: Store, db_id: str | None) -> dict[str, Any]:
    return store.get("rds", db_id, "InvalidDBInstanceId.NotFound", "DB instance")


def render(db: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in db.items() if not k.startswith("_") and k != "Status"}
    out["DBInstanceStatus"] = db["Status"]
    return out


@action(V, "CreateDBInstance")
def create_db_instance(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    engine = p.str("Engine", required=True)
    if engine not in RDS_ENGINES:
        raise CloudError("InvalidEngine.Malformed", "The specified Engine is not valid.")
    version = p.str("EngineVersion", required=True)
    if version not in RDS_ENGINES[engine]:
        raise CloudError("InvalidEngineVersion.Malformed", "The specified EngineVersion is not valid.")
    db_class = p.str("DBInstanceClass", required=True)
    if db_class not in RDS_CLASSES:
        raise CloudError("InvalidDBInstanceClass.NotFound", "The specified DBInstanceClass does not exist.", 404)
    storage = p.int("DBInstanceStorage", required=True, lo=5, hi=32000)
    p.str("DBInstanceNetType", required=True)
    vsw, zone_id = place_in_vswitch(store, region_id=region_id, zone_id=p.str("ZoneId"),
                                    vswitch_id=p.str("VSwitchId", required=True), vpc_id=p.str("VPCId"))
    cores, memory, connections = RDS_CLASSES[db_class]
    db_id = new_id("rds")
    ip = allocate_ip(vsw)
    db = store.add("rds", {
        "DBInstanceId": db_id, "DBInstanceDescription": p.str("DBInstanceDescription", db_id),
        "RegionId": region_id, "ZoneId": zone_id, "Engine": engine, "EngineVersion": version,
        "DBInstanceClass": db_class, "DBInstanceCPU": str(cores), "DBInstanceMemory": memory,
        "DBInstanceStorage": storage, "DBInstanceStorageType": p.str("DBInstanceStorageType", "cloud_essd"),
        "MaxConnections": connections, "DBInstanceType": "Primary", "DBInstanceNetType": "Intranet",
        "InstanceNetworkType": "VPC", "VpcId": vsw["VpcId"], "VSwitchId": vsw["VSwitchId"],
        "ConnectionString": f"{db_id}.rds.cloudsim.internal", "Port": "3306" if engine == "MySQL" else "5432",
        "PayType": "Postpaid", "Category": p.str("Category", "HighAvailability"), "LockMode": "Unlock",
        "CreateTime": iso_now(), "ExpireTime": "", "MutriORsignle": False, "ResourceGroupId": "rg-default",
        "Status": "Creating", "_ip": ip, "_tags": p.tags(),
    }, "DBInstanceId")
    store.schedule(db, "Creating", "Running")
    return {"DBInstanceId": db_id, "ConnectionString": db["ConnectionString"], "Port": db["Port"], "OrderId": ""}


@action(V, "DescribeDBInstances")
def describe_db_instances(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = set(filter(None, (p.str("DBInstanceId") or "").split(",")))
    status, engine, vpc_id = p.str("DBInstanceStatus"), p.str("Engine"), p.str("VpcId")
    zone_id = p.str("ZoneId")
    tags = p.tags()
    rows = [d for d in store.rows("rds", region_id)
            if (not ids or d["DBInstanceId"] in ids) and (status is None or d["Status"] == status)
            and (engine is None or d["Engine"] == engine) and (vpc_id is None or d["VpcId"] == vpc_id)
            and (zone_id is None or d["ZoneId"] == zone_id) and match_tags(d, tags)]
    chunk, meta = paged(rows, p, max_size=100)
    body = {"Items": {"DBInstance": [render(d) for d in chunk]}, "TotalRecordCount": meta["TotalCount"],
            "PageRecordCount": len(chunk)}
    if "PageNumber" in meta:
        body["PageNumber"] = meta["PageNumber"]
    else:
        body["NextToken"] = meta["NextToken"]
    return body


@action(V, "DescribeDBInstanceAttribute")
def describe_db_instance_attribute(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    return {"Items": {"DBInstanceAttribute": [render(db)]}}


@action(V, "ModifyDBInstanceSpec")
def modify_db_instance_spec(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    db_class = p.str("DBInstanceClass")
    storage = p.int("DBInstanceStorage", lo=5, hi=32000)
    if db_class is None and storage is None:
        raise CloudError("MissingParameter", 'Either "DBInstanceClass" or "DBInstanceStorage" must be supplied.')
    if db_class is not None and db_class not in RDS_CLASSES:
        raise CloudError("InvalidDBInstanceClass.NotFound", "The specified DBInstanceClass does not exist.", 404)
    if db["Status"] != "Running":
        raise _not_ready(db)
    if storage is not None and storage < db["DBInstanceStorage"]:
        raise CloudError("InvalidDBInstanceStorage.Decrease", "The storage of the instance cannot be reduced.")
    if db_class is not None:
        cores, memory, connections = RDS_CLASSES[db_class]
        db.update({"DBInstanceClass": db_class, "DBInstanceCPU": str(cores), "DBInstanceMemory": memory,
                   "MaxConnections": connections})
    if storage is not None:
        db["DBInstanceStorage"] = storage
    store.schedule(db, "DBInstanceClassChanging", "Running")
    return {"OrderId": ""}


@action(V, "RestartDBInstance")
def restart_db_instance(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    if db["Status"] != "Running":
        raise _not_ready(db)
    store.schedule(db, "Restarting", "Running")
    return {}


@action(V, "DeleteDBInstance")
def delete_db_instance(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    if db["Status"] not in ("Running", "Creating"):
        raise _not_ready(db)
    store.schedule(db, "Deleting", "Deleted")
    return {}


def on_remove(store: Store, db: dict[str, Any]) -> None:
    release_ip(store, db["VSwitchId"], db["_ip"])


REMOVE_HOOKS["rds"] = on_remove
