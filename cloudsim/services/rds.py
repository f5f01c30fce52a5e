"""ApsaraDB RDS API (version 2014-08-15): database instances, their classes and tags.

``DescribeDBInstances`` answers the list fields of the real API only: storage, port and tags come
from ``DescribeDBInstanceAttribute`` and ``ListTagResources``, as on the real cloud.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..catalog import RDS_CLASSES, RDS_ENGINES
from ..errors import CloudError, invalid, missing
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


# Fields of a DBInstanceAttribute that a DescribeDBInstances item does not have.
DETAIL_ONLY = ("DBInstanceStorage", "Port", "MaxConnections", "SecurityIPList", "CreationTime")


def render(db: dict[str, Any]) -> dict[str, Any]:
    """An item of DescribeDBInstances."""
    out = {k: v for k, v in db.items() if not k.startswith("_") and k != "Status" and k not in DETAIL_ONLY}
    out["DBInstanceStatus"] = db["Status"]
    return out


def render_attribute(db: dict[str, Any]) -> dict[str, Any]:
    """A DBInstanceAttribute of DescribeDBInstanceAttribute."""
    out = {k: v for k, v in db.items() if not k.startswith("_") and k not in ("Status", "CreateTime", "MutriORsignle")}
    out["DBInstanceStatus"] = db["Status"]
    return out


def _security_ips(value: str) -> str:
    entries = [e.strip() for e in value.split(",")]
    if not entries or len(entries) > 1000 or len(set(entries)) != len(entries):
        raise invalid("SecurityIPList")
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise CloudError("InvalidSecurityIPList.Format", "The specified SecurityIPList is not valid.") from None
    return ",".join(entries)


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
    pay_type = p.str("PayType", required=True, choices={"Postpaid", "Prepaid", "Serverless"})
    security_ips = _security_ips(p.str("SecurityIPList", required=True) or "")
    vswitch_id = p.str("VSwitchId", required=True)
    if not p.str("ZoneId"):  # an instance in a vSwitch names the vSwitch's zone
        raise missing("ZoneId")
    vsw, zone_id = place_in_vswitch(store, region_id=region_id, zone_id=p.str("ZoneId"), vswitch_id=vswitch_id,
                                    vpc_id=p.str("VPCId"))
    if p.bool("DryRun"):  # RDS answers a passed precheck with DryRunResult instead of an error
        return {"DryRun": True, "DryRunResult": True}
    cores, memory, connections = RDS_CLASSES[db_class]
    db_id = new_id("rds")
    now = iso_now()
    ip = allocate_ip(vsw)
    db = store.add("rds", {
        "DBInstanceId": db_id, "DBInstanceDescription": p.str("DBInstanceDescription", db_id),
        "RegionId": region_id, "ZoneId": zone_id, "Engine": engine, "EngineVersion": version,
        "DBInstanceClass": db_class, "DBInstanceCPU": str(cores), "DBInstanceMemory": memory,
        "DBInstanceStorage": storage, "DBInstanceStorageType": p.str("DBInstanceStorageType", "cloud_essd"),
        "MaxConnections": connections, "DBInstanceType": "Primary", "DBInstanceNetType": "Intranet",
        "InstanceNetworkType": "VPC", "VpcId": vsw["VpcId"], "VSwitchId": vsw["VSwitchId"],
        "ConnectionString": f"{db_id}.rds.cloudsim.internal", "Port": "3306" if engine == "MySQL" else "5432",
        "PayType": pay_type, "Category": p.str("Category", "HighAvailability"), "LockMode": "Unlock",
        "SecurityIPList": security_ips, "CreateTime": now, "CreationTime": now, "ExpireTime": "",
        "MutriORsignle": False, "ResourceGroupId": "rg-default",
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
    chunk, meta = paged(rows, p, max_size=100, token=True)
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
    return {"Items": {"DBInstanceAttribute": [render_attribute(db)]}}


@action(V, "ListClasses")
def list_classes(store: Store, p) -> dict[str, Any]:
    """The classes on sale; memory in GB, as the real API reports it."""
    p.str("CommodityCode", required=True, choices={"bards", "rds", "rords", "rds_rordspre_public_cn",
                                                   "bards_intl", "rds_intl", "rords_intl"})
    p.str("OrderType", required=True, choices={"BUY", "UPGRADE", "RENEW", "CONVERT"})
    engine = p.str("Engine")
    prefix = {"MySQL": "mysql.", "PostgreSQL": "pg.", "SQLServer": "mssql.", "MariaDB": "mariadb."}.get(engine or "")
    items = [{"ClassCode": code, "ClassGroup": "General-purpose", "Cpu": str(cores),
              "MemoryClass": f"{memory / 1024:g}GB", "MaxConnections": str(connections), "MaxIOPS": str(cores * 3000),
              "MaxIOMBPS": str(cores * 64), "ReferencePrice": str(cores * 1000), "InstructionSetArch": ""}
             for code, (cores, memory, connections) in RDS_CLASSES.items() if prefix is None or code.startswith(prefix)]
    return {"Items": items, "RegionId": p.str("RegionId", "")}


@action(V, "ListTagResources")
def list_tag_resources(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    if (p.str("ResourceType", required=True) or "").upper() != "INSTANCE":
        raise invalid("ResourceType", "Supported: INSTANCE.")
    ids = p.repeated("ResourceId")
    if len(ids) > 50:
        raise invalid("ResourceId.N", "At most 50 resource ids are allowed.")
    wanted = p.tags()
    live = {r["DBInstanceId"]: r for r in store.rows("rds", region_id)}
    records = [live[i] for i in ids if i in live] if ids else list(live.values())  # unknown ids: no tags
    out = [{"ResourceId": r["DBInstanceId"], "ResourceType": "ALIYUN::RDS::INSTANCE", "TagKey": k, "TagValue": v}
           for r in records if not wanted or match_tags(r, wanted) for k, v in r["_tags"].items()]
    start = int(p.str("NextToken") or 0) if (p.str("NextToken") or "0").isdigit() else 0
    chunk = out[start:start + 50]
    body: dict[str, Any] = {"TagResources": {"TagResource": chunk}}
    if start + 50 < len(out):
        body["NextToken"] = str(start + 50)
    return body


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
    store.schedule(db, "Rebooting", "Running")
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


# -- accounts and databases ---------------------------------------------------------------------------

def _running(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    if db["Status"] != "Running":
        raise _not_ready(db)
    return db


@action(V, "CreateAccount")
def create_account(store: Store, p) -> dict[str, Any]:
    db = _running(store, p)
    name = p.str("AccountName", required=True) or ""
    password = p.str("AccountPassword", required=True) or ""
    if not (2 <= len(name) <= 32 and name[0].isalpha() and name.replace("_", "").isalnum() and name.islower()):
        raise CloudError("InvalidAccountName.Malformed", "The specified parameter AccountName is not valid.")
    if not 8 <= len(password) <= 32:
        raise CloudError("InvalidAccountPassword.Malformed", "The specified parameter AccountPassword is not valid.")
    accounts = db.setdefault("_accounts", [])
    if any(a["AccountName"] == name for a in accounts):
        raise CloudError("InvalidAccountName.Duplicate", "The specified account name already exists.")
    accounts.append({"AccountName": name, "AccountStatus": "Available",
                     "AccountType": p.str("AccountType", "Normal", choices={"Normal", "Super"}),
                     "AccountDescription": p.str("AccountDescription", "")})
    store.dirty = True
    return {}


@action(V, "DescribeAccounts")
def describe_accounts(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    rows = [{**a, "DBInstanceId": db["DBInstanceId"], "DatabasePrivileges": {"DatabasePrivilege": []}}
            for a in db.get("_accounts", [])]
    return {"Accounts": {"DBInstanceAccount": rows}}


@action(V, "CreateDatabase")
def create_database(store: Store, p) -> dict[str, Any]:
    db = _running(store, p)
    name = p.str("DBName", required=True) or ""
    charset = p.str("CharacterSetName", required=True) or ""
    if not (2 <= len(name) <= 64 and name[0].isalpha() and name.replace("_", "").replace("-", "").isalnum()):
        raise CloudError("InvalidDBName.Malformed", "The specified parameter DBName is not valid.")
    if charset not in ("utf8", "utf8mb4", "gbk", "latin1", "UTF8", "SQL_Latin1_General_CP1_CI_AS"):
        raise CloudError("InvalidCharacterSetName.Format", "The specified CharacterSetName is not valid.")
    databases = db.setdefault("_databases", [])
    if any(d["DBName"] == name for d in databases):
        raise CloudError("InvalidDBName.Duplicate", "The specified database name already exists.")
    databases.append({"DBName": name, "DBStatus": "Running", "CharacterSetName": charset, "Engine": db["Engine"],
                      "DBDescription": p.str("DBDescription", "")})
    store.dirty = True
    return {}


@action(V, "DescribeDatabases")
def describe_databases(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    rows = [{**d, "DBInstanceId": db["DBInstanceId"], "Accounts": {"AccountPrivilegeInfo": []}}
            for d in db.get("_databases", [])]
    return {"Databases": {"Database": rows}}
