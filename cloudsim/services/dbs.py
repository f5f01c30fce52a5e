"""Database Backup API (``Dbs``, version 2019-03-06): backup plans.

``CreateBackupPlan`` buys a plan (``check_pass`` until configured); ``ConfigureBackupPlan`` names
its source database (an RDS instance of this cloud is checked to exist) and ``StartBackupPlan``
starts it (running). ``DescribeBackupPlanList`` takes the region as ``Region`` and pages by
``PageNum`` (from 0) and ``PageSize`` (at most 100), as the real API does.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..errors import CloudError
from ..store import Store, register_kind
from . import action, product
from .inventory_kit import optional_region, rid

V = "2019-03-06"
product(V, "Dbs")
register_kind("dbs_plan")
DATABASES = {"MySQL", "MSSQL", "Oracle", "MariaDB", "PostgreSQL", "DRDS", "MongoDB", "Redis"}
CLASSES = {"micro", "small", "medium", "large", "xlarge"}


def _plan(store: Store, p) -> dict[str, Any]:
    return store.get("dbs_plan", p.str("BackupPlanId", required=True), "InvalidBackupPlanId.NotFound", "backup plan")


@action(V, "CreateBackupPlan")
def create_backup_plan(store: Store, p) -> dict[str, Any]:
    region = optional_region(store, p, "Region") or store.regions[0]
    database = p.str("DatabaseType", required=True) or ""
    if database not in DATABASES:
        raise CloudError("InvalidParameter", "The specified DatabaseType is not valid.")
    instance_class = p.str("InstanceClass", required=True, choices=CLASSES)
    method = p.str("BackupMethod", required=True, choices={"logical", "physical", "duplication"})
    plan_id = rid("dbs", 6)
    store.add("dbs_plan", {
        "BackupPlanId": plan_id, "BackupPlanName": plan_id, "BackupPlanRegion": region, "RegionId": region,
        "DatabaseType": database, "InstanceClass": instance_class, "BackupMethod": method,
        "InstanceChargeType": "PostPaid" if p.str("PayType", "PostPay") == "PostPay" else "PrePaid",
        "BackupPlanCreateTime": int(time.time() * 1000), "BackupPeriod": "Monday",
        "BackupStartTime": "14:22", "BackupRetentionPeriod": 730, "BackupStorageType": "system",
        "SourceEndpointInstanceType": "", "SourceEndpointInstanceID": "", "SourceEndpointRegion": "",
        "SourceEndpointDatabaseName": "", "BackupObjects": "", "ResourceGroupId": "rg-default",
        "Status": "check_pass",
    }, "BackupPlanId")
    return {"BackupPlanId": plan_id, "OrderId": rid("", 6), "Success": True, "HttpStatusCode": 200}


@action(V, "ConfigureBackupPlan")
def configure_backup_plan(store: Store, p) -> dict[str, Any]:
    plan = _plan(store, p)
    name = p.str("BackupPlanName", required=True)
    kind = p.str("SourceEndpointInstanceType", required=True, choices={"RDS", "ECS", "Express", "Agent", "DDS",
                                                                         "Other"})
    instance = p.str("SourceEndpointInstanceID", "") or ""
    if kind == "RDS" and instance not in store.tables["rds"]:
        raise CloudError("InvalidParameter.InstanceNotFound", f"The RDS instance {instance!r} does not exist.", 404)
    plan.update({"BackupPlanName": name, "SourceEndpointInstanceType": kind, "SourceEndpointInstanceID": instance,
                 "SourceEndpointRegion": p.str("SourceEndpointRegion", plan["BackupPlanRegion"]),
                 "SourceEndpointDatabaseName": p.str("SourceEndpointDatabaseName", ""),
                 "BackupObjects": p.str("BackupObjects", ""), "BackupPeriod": p.str("BackupPeriod", "Monday"),
                 "BackupStartTime": p.str("BackupStartTime", "14:22"),
                 "BackupRetentionPeriod": p.int("BackupRetentionPeriod", 730, lo=1, hi=1825)})
    store.dirty = True
    return {"BackupPlanId": plan["BackupPlanId"], "Success": True, "HttpStatusCode": 200}


@action(V, "StartBackupPlan")
def start_backup_plan(store: Store, p) -> dict[str, Any]:
    plan = _plan(store, p)
    if not plan["SourceEndpointInstanceType"]:
        raise CloudError("BackupPlanNotConfigured", "Configure the backup plan before starting it.", 403)
    plan["Status"] = "running"
    store.dirty = True
    return {"BackupPlanId": plan["BackupPlanId"], "Success": True, "HttpStatusCode": 200}


@action(V, "DescribeBackupPlanList")
def describe_backup_plan_list(store: Store, p) -> dict[str, Any]:
    region = optional_region(store, p, "Region")
    wanted, status = p.str("BackupPlanId"), p.str("BackupPlanStatus")
    rows = [b for b in store.rows("dbs_plan", region) if (not wanted or b["BackupPlanId"] == wanted)
            and (not status or b["Status"] == status)]
    number = p.int("PageNum", 0, lo=0, hi=10_000_000)
    size = p.int("PageSize", 30, lo=1, hi=100)
    chunk = rows[number * size:(number + 1) * size]
    items = [{**{k: v for k, v in b.items() if not k.startswith("_") and k not in ("Status", "RegionId")},
              "BackupPlanStatus": b["Status"]} for b in chunk]
    return {"Items": {"BackupPlanDetail": items}, "TotalElements": len(rows), "TotalPages": math.ceil(len(rows) / size),
            "PageNum": number, "PageSize": size, "Success": True, "HttpStatusCode": 200}
