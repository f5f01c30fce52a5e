"""ApsaraDB RDS backups (API version 2014-08-15): CreateBackup, DescribeBackupTasks, DescribeBackups,
CloneDBInstance (from a backup set or to a point in time), ModifyBackupPolicy,
ModifyInstanceCrossBackupPolicy and DescribeInstanceCrossBackupPolicy.

``CreateBackup`` (the instance ``Running``) starts a backup job: ``Uploading`` for one step, then
``Finished`` with its backup set (``DescribeBackups``: ``Success``, its size the instance's storage,
its ``ConsistentTime`` the job's start). ``CloneDBInstance`` makes a new instance like the source (class,
storage, network unless given) from a backup set of the source, or to a point in time between the
consistent time of its first backup set and now (``InvalidRestoreTime`` otherwise; cloudsim takes no
automatic backups, so a point-in-time restore needs one manual backup first).
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from ..errors import CloudError, invalid
from ..params import Params
from ..store import Store, iso_now, register_kind
from . import action
from .rds import create_db_instance, get_db

V = "2014-08-15"
register_kind("rds_backup")


def _not_running(db: dict[str, Any]) -> CloudError:
    return CloudError("IncorrectDBInstanceState",
                      f"Current DB instance state does not support this operation. (Status: {db['Status']})", 403)


def _iso_seconds(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _parse_time(value: str, name: str) -> float:
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ"):
        try:
            return float(calendar.timegm(time.strptime(value, fmt)))
        except ValueError:
            continue
    raise CloudError(f"Invalid{name}.Format", f"The specified {name} is not in the yyyy-MM-ddTHH:mm:ssZ format.")


def _job_number(store: Store) -> str:
    return str(100_000_000 + store.next_seq())


def _ready(store: Store, backup: dict[str, Any], now: float) -> bool:
    return now >= backup["_ready_at"]


@action(V, "CreateBackup")
def create_backup(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    if db["Status"] != "Running":
        raise _not_running(db)
    method = p.str("BackupMethod", "Physical", choices={"Physical", "Logical", "Snapshot"})
    kind = p.str("BackupType", "Auto", choices={"Auto", "FullBackup", "IncrementalBackup"})
    now = time.time()
    if any(b["DBInstanceId"] == db["DBInstanceId"] and not _ready(store, b, now) for b in store.rows("rds_backup")):
        raise CloudError("BackupJobExists", "A backup job of the instance is running.", 403)
    job_id = _job_number(store)
    backup_id = str(200_000_000 + store.next_seq())
    store.add("rds_backup", {
        "BackupId": backup_id, "DBInstanceId": db["DBInstanceId"], "RegionId": db["RegionId"],
        "BackupStatus": "Success", "BackupStartTime": _iso_seconds(now), "BackupEndTime": "",
        "BackupType": "FullBackup" if kind == "Auto" else kind, "BackupMode": "Manual", "BackupMethod": method,
        "BackupSize": int(db["DBInstanceStorage"]) * 1024 ** 3 // 10, "BackupInitiator": "User",
        "Engine": db["Engine"], "EngineVersion": db["EngineVersion"], "ConsistentTime": int(now), "IsAvail": 1,
        "StoreStatus": "Disabled", "StorageClass": "0", "CopyOnlyBackup": "0", "Encryption": "{}",
        "MetaStatus": "OK", "HostInstanceID": "1", "BackupDownloadURL": "", "BackupIntranetDownloadURL": "",
        "_job": job_id, "_ready_at": now + store.provision_seconds, "_started": now,
    }, "BackupId")
    return {"BackupJobId": job_id}


@action(V, "DescribeBackupTasks")
def describe_backup_tasks(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    job_id = p.str("BackupJobId")
    status = p.str("BackupJobStatus")
    now = time.time()
    jobs = []
    for b in store.rows("rds_backup"):
        if b["DBInstanceId"] != db["DBInstanceId"] or (job_id is not None and b["_job"] != job_id):
            continue
        done = _ready(store, b, now)
        job = {"BackupJobId": b["_job"], "BackupStatus": "Finished" if done else "Uploading",
               "BackupProgressStatus": "Finished" if done else "Uploading", "JobMode": "Manual",
               "Process": "100%" if done else "50%", "TaskAction": "NormalBackupTask",
               "BackupId": b["BackupId"] if done else ""}
        if status is None or job["BackupStatus"] == status:
            jobs.append(job)
    return {"Items": {"BackupJob": jobs}}


@action(V, "DescribeBackups")
def describe_backups(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    backup_id, status = p.str("BackupId"), p.str("BackupStatus", choices={"Success", "Failed"})
    start = _parse_time(p.str("StartTime") or "", "StartTime") if p.str("StartTime") else None
    end = _parse_time(p.str("EndTime") or "", "EndTime") if p.str("EndTime") else None
    now = time.time()
    rows = []
    for b in store.rows("rds_backup"):
        if b["DBInstanceId"] != db["DBInstanceId"] or not _ready(store, b, now):
            continue
        if (backup_id is not None and b["BackupId"] != backup_id) or (status is not None and
                                                                      b["BackupStatus"] != status):
            continue
        if (start is not None and b["_started"] < start) or (end is not None and b["_started"] > end):
            continue
        b["BackupEndTime"] = b["BackupEndTime"] or _iso_seconds(b["_ready_at"])
        rows.append({k: v for k, v in b.items() if not k.startswith("_") and k != "RegionId"})
    number = p.int("PageNumber", 1, lo=1)
    size = p.int("PageSize", 30, lo=30, hi=100)
    chunk = rows[(number - 1) * size: number * size]
    return {"Items": {"Backup": chunk}, "TotalRecordCount": str(len(rows)), "PageNumber": str(number),
            "PageRecordCount": str(len(chunk)), "TotalEcsSnapshotSize": 0}


@action(V, "CloneDBInstance")
def clone_db_instance(store: Store, p) -> dict[str, Any]:
    source = get_db(store, p.str("DBInstanceId", required=True))
    pay_type = p.str("PayType", required=True, choices={"Postpaid", "Prepaid", "Serverless"})
    backup_id, restore_time = p.str("BackupId"), p.str("RestoreTime")
    if backup_id is None and restore_time is None:
        raise CloudError("MissingParameter", 'Either "BackupId" or "RestoreTime" must be supplied.')
    now = time.time()
    backups = [b for b in store.rows("rds_backup") if b["DBInstanceId"] == source["DBInstanceId"]
               and _ready(store, b, now)]
    point: float | None = None
    if backup_id is not None:
        found = [b for b in backups if b["BackupId"] == backup_id]
        if not found:
            raise CloudError("InvalidBackupId.NotFound", "The specified backup set does not exist.", 404)
        point = float(found[0]["ConsistentTime"])
    if restore_time is not None:
        point = _parse_time(restore_time, "RestoreTime")
        earliest = min((float(b["ConsistentTime"]) for b in backups), default=None)
        if earliest is None or not earliest <= point <= now:
            raise CloudError("InvalidRestoreTime", "The restore time must lie between the first backup set's "
                             "consistent time and now.")
    values: dict[str, str] = {
        "RegionId": p.str("RegionId") or source["RegionId"], "Engine": source["Engine"],
        "EngineVersion": source["EngineVersion"],
        "DBInstanceClass": p.str("DBInstanceClass") or source["DBInstanceClass"],
        "DBInstanceStorage": str(p.int("DBInstanceStorage", int(source["DBInstanceStorage"]), lo=5, hi=32000)),
        "DBInstanceNetType": "Intranet", "PayType": pay_type, "SecurityIPList": source["SecurityIPList"],
        "VSwitchId": p.str("VSwitchId") or source["VSwitchId"], "ZoneId": p.str("ZoneId") or source["ZoneId"],
        "VPCId": p.str("VPCId") or source["VpcId"],
        "DBInstanceDescription": p.str("DBInstanceDescription") or f"Clone of {source['DBInstanceId']}",
        "DBInstanceStorageType": p.str("DBInstanceStorageType") or source["DBInstanceStorageType"],
    }
    for key, value in p.values.items():
        if key.startswith("Tag."):
            values[key] = value
    if values["RegionId"] != source["RegionId"]:
        raise invalid("RegionId", "A clone is made in the source instance's region.")
    created = create_db_instance(store, Params(values))
    clone = store.tables["rds"][created["DBInstanceId"]]
    clone["_restored_from"] = {"source": source["DBInstanceId"], "backup_id": backup_id, "point": point}
    store.touch(source["DBInstanceId"], read=True)
    return {"DBInstanceId": created["DBInstanceId"], "OrderId": ""}


@action(V, "ModifyBackupPolicy")
def modify_backup_policy(store: Store, p) -> dict[str, Any]:
    db = get_db(store, p.str("DBInstanceId", required=True))
    policy = db.setdefault("_backup_policy", {"PreferredBackupPeriod": "Monday,Wednesday,Friday",
                                              "PreferredBackupTime": "02:00Z-03:00Z", "BackupRetentionPeriod": "7"})
    for name in ("PreferredBackupPeriod", "PreferredBackupTime", "BackupRetentionPeriod", "BackupLog",
                 "LogBackupRetentionPeriod", "EnableBackupLog", "CompressType", "BackupMethod"):
        value = p.str(name)
        if value is not None:
            policy[name] = value
    retention = int(policy.get("BackupRetentionPeriod") or 7)
    if not 7 <= retention <= 730:
        raise invalid("BackupRetentionPeriod", "It must be between 7 and 730.")
    days = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
    if not set(policy["PreferredBackupPeriod"].split(",")) <= days:
        raise invalid("PreferredBackupPeriod")
    store.dirty = True
    return {"DBInstanceID": db["DBInstanceId"], "EnableBackupLog": policy.get("EnableBackupLog", "1"),
            "CompressType": policy.get("CompressType", "4"), "LocalLogRetentionHours": 18,
            "LocalLogRetentionSpace": "30", "HighSpaceUsageProtection": "Enable", "EnableIncrementDataBackup": False,
            "LogBackupLocalRetentionNumber": 60, "EnablePitrProtection": False, "IncBackupInterval": "-1"}


def _cross(db: dict[str, Any]) -> dict[str, Any]:
    return db.setdefault("_cross", {"BackupEnabled": "Disable", "LogBackupEnabled": "Disable", "CrossBackupRegion": "",
                                    "CrossBackupType": "1", "RetentType": 1, "Retention": 7,
                                    "BackupEnabledTime": "", "LogBackupEnabledTime": ""})


@action(V, "ModifyInstanceCrossBackupPolicy")
def modify_cross_backup_policy(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    db = get_db(store, p.str("DBInstanceId", required=True))
    if db["RegionId"] != region_id:
        raise CloudError("InvalidDBInstanceId.NotFound", "The specified DB instance does not exist.", 404)
    cross = _cross(db)
    enabled = p.str("BackupEnabled", choices={"0", "1"})
    log_enabled = p.str("LogBackupEnabled", choices={"0", "1"})
    dest = p.str("CrossBackupRegion")
    if enabled == "1":
        dest = dest or cross["CrossBackupRegion"]
        if not dest:
            raise CloudError("MissingParameter", 'The input parameter "CrossBackupRegion" that is mandatory is not '
                             "supplied.")
        if dest not in store.regions or dest == db["RegionId"]:
            raise CloudError("InvalidCrossBackupRegion.NotSupport", "The specified CrossBackupRegion is not a "
                             "different region of this cloud.")
    if dest is not None:
        cross["CrossBackupRegion"] = dest
    if enabled is not None:
        if db["Status"] != "Running":
            raise _not_running(db)
        cross["BackupEnabled"] = "Enable" if enabled == "1" else "Disable"
        cross["BackupEnabledTime"] = iso_now() if enabled == "1" else ""
    if log_enabled is not None:
        cross["LogBackupEnabled"] = "Enable" if log_enabled == "1" else "Disable"
        cross["LogBackupEnabledTime"] = iso_now() if log_enabled == "1" else ""
    for name in ("CrossBackupType", "Retention", "RetentType"):
        value = p.str(name)
        if value is not None:
            cross[name] = int(value) if name != "CrossBackupType" else value
    store.dirty = True
    return {"DBInstanceId": db["DBInstanceId"], "RegionId": db["RegionId"],
            "BackupEnabled": "1" if cross["BackupEnabled"] == "Enable" else "0",
            "LogBackupEnabled": "1" if cross["LogBackupEnabled"] == "Enable" else "0",
            "CrossBackupRegion": cross["CrossBackupRegion"], "CrossBackupType": cross["CrossBackupType"],
            "RetentType": cross["RetentType"], "Retention": cross["Retention"]}


@action(V, "DescribeInstanceCrossBackupPolicy")
def describe_cross_backup_policy(store: Store, p) -> dict[str, Any]:
    store.check_region(p.str("RegionId"))
    db = get_db(store, p.str("DBInstanceId", required=True))
    cross = _cross(db)
    return {"DBInstanceId": db["DBInstanceId"], "RegionId": db["RegionId"], "DBInstanceStatus": db["Status"],
            "DBInstanceDescription": db["DBInstanceDescription"], "Engine": db["Engine"],
            "EngineVersion": db["EngineVersion"], "LockMode": db.get("LockMode", "Unlock"), **cross}
