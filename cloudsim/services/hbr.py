"""Hybrid Backup Recovery (API version 2017-09-08): vaults, backup plans, backup jobs, backup snapshots
and restore jobs, for ECS instances' disks (``UDM_ECS``), OSS buckets and NAS file systems.

- Vaults (``CreateVault``, ``CreateReplicationVault`` in another region mirroring a source vault,
  ``DescribeVaults``, ``DeleteVault``): ``INITIALIZING`` for one step, then ``CREATED``.
- Plans (``CreateBackupPlan``, ``DescribeBackupPlans``, ``DeleteBackupPlan``): a vault ``CREATED``,
  ``Schedule`` ``I|<start epoch>|<ISO 8601 duration>``, ``Retention`` days; ``UDM_ECS`` names the
  instance and optionally, in ``Detail.diskIdList``, which of its disks.
- Jobs (``ExecuteBackupPlan``, ``DescribeBackupJobs2``): ``CREATED`` -> ``RUNNING`` -> ``COMPLETE``, one
  step each, ``Progress`` in hundredths of a percent (10000 when done); a complete job leaves a backup
  snapshot (``SearchHistoricalSnapshots``), also in the replication vault of its vault, if any.
- Restores (``CreateRestoreJob``, ``DescribeRestoreJobs2``): ``UDM_ECS_ROLLBACK`` (in place: the
  instance's disks rolled back), ``UDM_ECS_DISK`` (new disks from the backup, in the instance's zone;
  their ids in ``UdmDetail``), ``OSS`` (objects copied to ``TargetBucket``), ``NAS``.

A list without ``SourceType`` lists ``ECS_FILE`` items, as the real API does. Unknown plans, vaults,
snapshots and jobs answer ``<Thing>NotExist`` (404).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from ..errors import CloudError, invalid
from ..store import Store, new_id, register_kind
from . import action, product
from .ecs import new_disk

V = "2017-09-08"
product(V, "hbr")
register_kind("hbr_vault", "v-")
register_kind("hbr_plan", "po-")
register_kind("hbr_job", "job-")
register_kind("hbr_snapshot", "s-")
register_kind("hbr_restore", "r-")
GIB = 1024 ** 3
SOURCE_TYPES = ("UDM_ECS", "OSS", "NAS")
SCHEDULE_RE = re.compile(r"^I\|\d{9,11}\|P(?:\d+[YMWD])*(?:T(?:\d+[HMS])+)?$")
OK = {"Success": True, "Code": "200", "Message": "successful"}
PROGRESS = {"CREATED": 0, "RUNNING": 5000, "COMPLETE": 10000}


def _not_exist(what: str) -> CloudError:
    return CloudError(f"{what}NotExist", f"The specified {what.lower()} does not exist.", 404)


def _get(store: Store, kind: str, rid: str | None, what: str) -> dict[str, Any]:
    record = store.tables[kind].get(rid or "")
    if record is None or not store.settle(kind, record, time.time()):
        raise _not_exist(what)
    return record


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _page(rows: list[dict[str, Any]], p, *, default_size: int = 10) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    number = p.int("PageNumber", 1, lo=1)
    size = p.int("PageSize", default_size, lo=1, hi=100)
    return rows[(number - 1) * size: number * size], {"PageNumber": number, "PageSize": size, "TotalCount": len(rows)}


def _filters(p) -> list[tuple[str, str, list[str]]]:
    """``Filters.N.Key`` / ``Filters.N.Operator`` / ``Filters.N.Values.M`` as (key, operator, values)."""
    values: dict[int, list[tuple[int, str]]] = {}
    for k, v in p.values.items():
        m = re.match(r"^Filters\.(\d+)\.Values\.(\d+)$", k)
        if m:
            values.setdefault(int(m.group(1)), []).append((int(m.group(2)), v))
    out = []
    for k in sorted(p.values):
        m = re.match(r"^Filters\.(\d+)\.Key$", k)
        if m:
            index = int(m.group(1))
            out.append((p.values[k], (p.values.get(f"Filters.{index}.Operator") or "EQUAL").upper(),
                        [v for _n, v in sorted(values.get(index, []))]))
    return out


def _match(record: dict[str, Any], filters: list[tuple[str, str, list[str]]], fields: dict[str, str]) -> bool:
    for key, operator, values in filters:
        field = fields.get(key)
        if field is None:
            raise invalid("Filters.N.Key", f"Unknown filter key {key}.")
        value = str(record.get(field, ""))
        if operator in ("EQUAL", "IN") and value not in values:
            return False
        if operator in ("NOT_EQUAL", "NOT_IN") and value in values:
            return False
    return True


# -- vaults -------------------------------------------------------------------------------------------

def _new_vault(store: Store, p, *, region_id: str, replication: dict[str, Any] | None) -> dict[str, Any]:
    name = p.str("VaultName", required=True) or ""
    if not 1 <= len(name) <= 64:
        raise invalid("VaultName", "It must be 1 to 64 characters.")
    if any(v["VaultName"] == name and v["VaultRegionId"] == region_id for v in store.rows("hbr_vault")):
        raise CloudError("VaultNameExists", "A vault of this name exists in the region already.", 409)
    now = int(time.time())
    vault = store.add("hbr_vault", {
        "VaultId": new_id("hbr_vault"), "VaultName": name, "VaultRegionId": region_id,
        "Description": p.str("Description", ""), "VaultType": p.str("VaultType", "STANDARD",
                                                                     choices={"STANDARD", "OTS_BACKUP"}),
        "VaultStorageClass": p.str("VaultStorageClass", "STANDARD"), "RedundancyType": p.str("RedundancyType", "LRS"),
        "Status": "INITIALIZING", "CreatedTime": now, "UpdatedTime": now, "StorageSize": 0, "BytesDone": 0,
        "SnapshotCount": 0, "Replication": replication is not None, "ChargeType": "FREE", "Dedup": True,
        "EncryptType": p.str("EncryptType", "HBR_PRIVATE"), "ResourceGroupId": "", "WormEnabled": False,
        "ReplicationSourceVaultId": (replication or {}).get("VaultId", ""),
        "ReplicationSourceRegionId": (replication or {}).get("VaultRegionId", ""),
        "ReplicationTargetVaultId": "", "ReplicationTargetRegionId": "", "LatestReplicationTime": 0,
    }, "VaultId")
    store.schedule(vault, "INITIALIZING", "CREATED")
    return vault


@action(V, "CreateVault")
def create_vault(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("VaultRegionId", required=True))
    vault = _new_vault(store, p, region_id=region_id, replication=None)
    return {**OK, "VaultId": vault["VaultId"], "TaskId": new_id("hbr_job")}


@action(V, "CreateReplicationVault")
def create_replication_vault(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("VaultRegionId", required=True))
    source_region = p.str("ReplicationSourceRegionId", required=True)
    source = _get(store, "hbr_vault", p.str("ReplicationSourceVaultId", required=True), "Vault")
    if source["VaultRegionId"] != source_region:
        raise invalid("ReplicationSourceRegionId", f"The source vault is in {source['VaultRegionId']}.")
    if region_id == source_region:
        raise invalid("VaultRegionId", "A replication vault is in another region than its source.")
    if source["Status"] != "CREATED":
        raise CloudError("VaultStatusInvalid", f"The source vault is {source['Status']}.", 403)
    if source["ReplicationTargetVaultId"] and source["ReplicationTargetVaultId"] in store.tables["hbr_vault"]:
        raise CloudError("VaultReplicationExists", "The source vault has a replication vault already.", 409)
    vault = _new_vault(store, p, region_id=region_id, replication=source)
    source.update({"ReplicationTargetVaultId": vault["VaultId"], "ReplicationTargetRegionId": region_id})
    store.touch(source["VaultId"])
    return {**OK, "VaultId": vault["VaultId"], "TaskId": new_id("hbr_job")}


@action(V, "DescribeVaults")
def describe_vaults(store: Store, p) -> dict[str, Any]:
    region_id = p.str("VaultRegionId")
    vault_id, name, vault_type, status = p.str("VaultId"), p.str("VaultName"), p.str("VaultType"), p.str("Status")
    rows = [v for v in store.rows("hbr_vault")
            if (region_id is None or v["VaultRegionId"] == region_id) and (vault_id is None or v["VaultId"] == vault_id)
            and (name is None or v["VaultName"] == name) and (vault_type is None or v["VaultType"] == vault_type)
            and (status is None or v["Status"] == status)]
    for v in rows:
        snaps = [s for s in store.rows("hbr_snapshot") if s["VaultId"] == v["VaultId"]]
        v["SnapshotCount"] = len(snaps)
        v["StorageSize"] = v["BytesDone"] = sum(int(s["ActualBytes"]) for s in snaps)
    chunk, meta = _page(rows, p)
    return {**OK, "Vaults": {"Vault": [_public(v) for v in chunk]}, **meta}


@action(V, "DeleteVault")
def delete_vault(store: Store, p) -> dict[str, Any]:
    vault = _get(store, "hbr_vault", p.str("VaultId", required=True), "Vault")
    if any(pl["VaultId"] == vault["VaultId"] for pl in store.rows("hbr_plan")):
        raise CloudError("VaultHasPlans", "Delete the vault's backup plans first.", 403)
    for snapshot in [s for s in store.rows("hbr_snapshot") if s["VaultId"] == vault["VaultId"]]:
        store.remove("hbr_snapshot", snapshot)
    store.remove("hbr_vault", vault)
    return dict(OK)


# -- plans --------------------------------------------------------------------------------------------

def _source_of(store: Store, p, source_type: str) -> dict[str, Any]:
    """The plan's source fields, checked against what exists."""
    if source_type == "UDM_ECS":
        instance_id = p.str("InstanceId", required=True)
        instance = store.get("ecs_instance", instance_id, "InvalidInstanceId.NotFound", "instance")
        detail = _json(p.str("Detail"), "Detail")
        own = [d["DiskId"] for d in store.rows("disk") if d["InstanceId"] == instance["InstanceId"]]
        disks = list(detail.get("diskIdList") or own)
        for disk_id in disks:
            if disk_id not in own:
                raise invalid("Detail", f"The disk {disk_id} is not a disk of {instance['InstanceId']}.")
        return {"InstanceId": instance["InstanceId"], "Detail": json.dumps(detail) if detail else "", "_disks": disks,
                "_region": instance["RegionId"]}
    if source_type == "OSS":
        bucket = store.tables["bucket"].get(p.str("Bucket", required=True) or "")
        if bucket is None:
            raise CloudError("NoSuchBucket", "The specified bucket does not exist.", 404)
        return {"Bucket": bucket["Name"], "Prefix": p.str("Prefix", ""), "_region": bucket["RegionId"]}
    if source_type == "NAS":
        fs_id = p.str("FileSystemId", required=True) or ""
        table = store.tables.get("nas_fs")
        region = None
        if table is not None:  # cloudsim serves NAS: the file system must exist
            fs = table.get(fs_id)
            if fs is None:
                raise CloudError("InvalidFileSystem.NotFound", "The specified file system does not exist.", 404)
            region = fs.get("RegionId")
        return {"FileSystemId": fs_id, "CreateTime": p.int("CreateTime", 0), "_region": region}
    raise invalid("SourceType", f"cloudsim backs up {', '.join(SOURCE_TYPES)}.")


def _json(raw: str | None, name: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise invalid(name, "It must be a JSON object.") from None
    if not isinstance(value, dict):
        raise invalid(name, "It must be a JSON object.")
    return value


@action(V, "CreateBackupPlan")
def create_backup_plan(store: Store, p) -> dict[str, Any]:
    source_type = p.str("SourceType", required=True) or ""
    if source_type not in SOURCE_TYPES:
        raise invalid("SourceType", f"cloudsim backs up {', '.join(SOURCE_TYPES)}.")
    vault = _get(store, "hbr_vault", p.str("VaultId", required=True), "Vault")
    if vault["Status"] != "CREATED":
        raise CloudError("VaultStatusInvalid", f"The vault is {vault['Status']}.", 403)
    if vault["Replication"]:
        raise CloudError("VaultIsReplication", "A replication vault receives copies only; back up to its source.", 403)
    schedule = p.str("Schedule", required=True) or ""
    if not SCHEDULE_RE.match(schedule):
        raise invalid("Schedule", "It must be I|<start epoch seconds>|<ISO 8601 duration>, e.g. I|1700000000|P1D.")
    retention = p.int("Retention", required=True, lo=1, hi=36500)
    source = _source_of(store, p, source_type)
    if source.get("_region") and source["_region"] != vault["VaultRegionId"]:
        raise invalid("VaultId", "The vault must be in the region of the backed-up resource.")
    now = int(time.time())
    paths = p.repeated("Path")
    plan = store.add("hbr_plan", {
        "PlanId": new_id("hbr_plan"), "PlanName": p.str("PlanName", ""), "SourceType": source_type,
        "VaultId": vault["VaultId"], "Schedule": schedule, "Retention": retention, "Disabled": p.bool("Disabled"),
        "BackupType": p.str("BackupType", "COMPLETE"), "CreatedTime": now, "UpdatedTime": now, "CreateTime": 0,
        "InstanceId": "", "Bucket": "", "FileSystemId": "", "Prefix": "", "Detail": "",
        "Paths": {"Path": paths}, **{k: v for k, v in source.items() if not k.startswith("_")},
        "_disks": source.get("_disks", []), "_region": vault["VaultRegionId"],
    }, "PlanId")
    store.touch(vault["VaultId"], read=True)
    return {**OK, "PlanId": plan["PlanId"]}


PLAN_FILTERS = {"planId": "PlanId", "vaultId": "VaultId", "instanceId": "InstanceId", "bucket": "Bucket",
                "fileSystemId": "FileSystemId", "planName": "PlanName"}


@action(V, "DescribeBackupPlans")
def describe_backup_plans(store: Store, p) -> dict[str, Any]:
    source_type = p.str("SourceType")
    filters = _filters(p)
    rows = [pl for pl in store.rows("hbr_plan") if (source_type is None or pl["SourceType"] == source_type)
            and _match(pl, filters, PLAN_FILTERS)]
    chunk, meta = _page(rows, p)
    return {**OK, "BackupPlans": {"BackupPlan": [_public(pl) for pl in chunk]}, **meta}


@action(V, "DeleteBackupPlan")
def delete_backup_plan(store: Store, p) -> dict[str, Any]:
    plan = _get(store, "hbr_plan", p.str("PlanId", required=True), "Plan")
    if p.bool("RequireNoRunningJobs") and any(j["PlanId"] == plan["PlanId"] and j["Status"] != "COMPLETE"
                                              for j in store.rows("hbr_job")):
        raise CloudError("PlanHasRunningJobs", "The plan has running jobs.", 403)
    store.remove("hbr_plan", plan)
    return dict(OK)


# -- jobs and snapshots -----------------------------------------------------------------------------------

def _bytes_of(store: Store, plan: dict[str, Any]) -> int:
    if plan["SourceType"] == "UDM_ECS":
        disks = store.tables["disk"]
        return sum(int(disks[d]["Size"]) for d in plan["_disks"] if d in disks) * GIB // 10
    if plan["SourceType"] == "OSS":
        bucket = store.tables["bucket"].get(plan["Bucket"])
        return sum(int(o.get("size", 0)) for o in (bucket or {}).get("_objects", {}).values())
    return GIB


@action(V, "ExecuteBackupPlan")
def execute_backup_plan(store: Store, p) -> dict[str, Any]:
    plan = _get(store, "hbr_plan", p.str("PlanId", required=True), "Plan")
    if p.str("SourceType") not in (None, plan["SourceType"]):
        raise invalid("SourceType", f"The plan backs up {plan['SourceType']}.")
    if plan["Disabled"]:
        raise CloudError("PlanDisabled", "The backup plan is disabled.", 403)
    vault = _get(store, "hbr_vault", plan["VaultId"], "Vault")
    now = int(time.time())
    total = _bytes_of(store, plan)
    job = store.add("hbr_job", {
        "JobId": new_id("hbr_job"), "JobName": plan["PlanName"], "PlanId": plan["PlanId"], "VaultId": vault["VaultId"],
        "SourceType": plan["SourceType"], "InstanceId": plan["InstanceId"], "Bucket": plan["Bucket"],
        "FileSystemId": plan["FileSystemId"], "Prefix": plan["Prefix"], "BackupType": plan["BackupType"],
        "Status": "CREATED", "Progress": 0, "BytesTotal": total, "BytesDone": 0, "ActualBytes": 0, "Speed": 0,
        "CreatedTime": now, "StartTime": now, "CompleteTime": 0, "UpdatedTime": now, "TriggerMode": "MANUAL",
        "ErrorMessage": "", "_plan": dict(plan), "_snapshot": None,
        "_objects": dict((store.tables["bucket"].get(plan["Bucket"]) or {}).get("_objects", {})),
    }, "JobId")
    store.schedule(job, "CREATED", "RUNNING", "COMPLETE")
    store.touch(plan["PlanId"], vault["VaultId"])
    return {**OK, "JobId": job["JobId"]}


def _finish_job(store: Store, job: dict[str, Any]) -> None:
    """A job's figures at its status; the backup snapshot (and its copy in a replication vault) once complete."""
    job["Progress"] = PROGRESS.get(job["Status"], 0)
    job["BytesDone"] = job["BytesTotal"] * job["Progress"] // 10000
    job["UpdatedTime"] = int(time.time())
    if job["Status"] != "COMPLETE" or job["_snapshot"] is not None:
        return
    job["ActualBytes"] = job["BytesTotal"]
    job["CompleteTime"] = int(time.time())
    plan = job["_plan"]
    vaults = [job["VaultId"]]
    source_vault = store.tables["hbr_vault"].get(job["VaultId"])
    if source_vault and source_vault["ReplicationTargetVaultId"] in store.tables["hbr_vault"]:
        vaults.append(source_vault["ReplicationTargetVaultId"])
        source_vault["LatestReplicationTime"] = job["CompleteTime"]
    for vault_id in vaults:
        snapshot = store.add("hbr_snapshot", {
            "SnapshotId": new_id("hbr_snapshot"), "SnapshotHash": secrets.token_hex(32), "JobId": job["JobId"],
            "VaultId": vault_id, "SourceType": job["SourceType"], "InstanceId": job["InstanceId"],
            "Bucket": job["Bucket"], "FileSystemId": job["FileSystemId"], "Prefix": job["Prefix"],
            "Path": "/", "Status": "COMPLETE", "BackupType": job["BackupType"], "CreatedTime": job["CreatedTime"],
            "CreateTime": job["CreatedTime"], "StartTime": job["StartTime"], "CompleteTime": job["CompleteTime"],
            "UpdatedTime": job["CompleteTime"], "BytesTotal": job["BytesTotal"], "BytesDone": job["BytesTotal"],
            "ActualBytes": job["BytesTotal"], "Retention": plan["Retention"],
            "ExpireTime": job["CompleteTime"] + int(plan["Retention"]) * 86400,
            "_disks": {d: int(store.tables["disk"][d]["Size"]) for d in plan["_disks"] if d in store.tables["disk"]},
            "_objects": job["_objects"],
        }, "SnapshotId")
        if job["_snapshot"] is None:
            job["_snapshot"] = snapshot["SnapshotId"]


JOB_FILTERS = {"jobId": "JobId", "planId": "PlanId", "vaultId": "VaultId", "instanceId": "InstanceId",
               "status": "Status", "bucket": "Bucket", "fileSystemId": "FileSystemId"}


@action(V, "DescribeBackupJobs2")
def describe_backup_jobs(store: Store, p) -> dict[str, Any]:
    source_type = p.str("SourceType", "ECS_FILE")
    filters = _filters(p)
    rows = []
    for job in store.rows("hbr_job"):
        _finish_job(store, job)
        if job["SourceType"] == source_type and _match(job, filters, JOB_FILTERS):
            rows.append(job)
    if (p.str("SortDirection") or "DESC").upper() == "DESC":
        rows.reverse()
    chunk, meta = _page(rows, p)
    return {**OK, "BackupJobs": {"BackupJob": [_public(j) for j in chunk]}, **meta}


SNAPSHOT_FIELDS = {"snapshotId": "SnapshotId", "jobId": "JobId", "vaultId": "VaultId", "instanceId": "InstanceId",
                   "bucket": "Bucket", "fileSystemId": "FileSystemId", "status": "Status"}


@action(V, "SearchHistoricalSnapshots")
def search_snapshots(store: Store, p) -> dict[str, Any]:
    source_type = p.str("SourceType", required=True)
    raw = p.str("Query") or "[]"
    try:
        query = json.loads(raw)
    except ValueError:
        raise invalid("Query", "It must be a JSON list.") from None
    if not isinstance(query, list) or not all(isinstance(q, dict) for q in query):
        raise invalid("Query", "It must be a JSON list of {field, value, operation}.")
    for job in store.rows("hbr_job"):
        _finish_job(store, job)
    rows = []
    for snap in store.rows("hbr_snapshot"):
        if snap["SourceType"] != source_type:
            continue
        keep = True
        for q in query:
            field = SNAPSHOT_FIELDS.get(str(q.get("field")))
            if field is None:
                raise invalid("Query", f"Unknown field {q.get('field')}.")
            operation = str(q.get("operation") or "MATCH_TERM").upper()
            value = q.get("value")
            if operation == "MATCH_TERM" and str(snap.get(field)) != str(value):
                keep = False
            elif operation == "IN" and str(snap.get(field)) not in [str(v) for v in (value or [])]:
                keep = False
        if keep:
            rows.append(snap)
    limit = p.int("Limit", 10, lo=1, hi=100)
    start = int(p.str("NextToken") or 0) if (p.str("NextToken") or "0").isdigit() else 0
    chunk = rows[start:start + limit]
    body: dict[str, Any] = {**OK, "Snapshots": {"Snapshot": [_public(s) for s in chunk]}, "TotalCount": len(rows),
                            "Limit": limit}
    if start + limit < len(rows):
        body["NextToken"] = str(start + limit)
    return body


# -- restores -------------------------------------------------------------------------------------------

RESTORE_TYPES = {"UDM_ECS": ("UDM_ECS_ROLLBACK", "UDM_ECS_DISK"), "OSS": ("OSS",), "NAS": ("NAS",)}


@action(V, "CreateRestoreJob")
def create_restore_job(store: Store, p) -> dict[str, Any]:
    source_type = p.str("SourceType", required=True) or ""
    restore_type = p.str("RestoreType", required=True) or ""
    if restore_type not in RESTORE_TYPES.get(source_type, ()):
        raise invalid("RestoreType", f"A {source_type} backup restores as one of "
                      f"{', '.join(RESTORE_TYPES.get(source_type, ())) or 'nothing in cloudsim'}.")
    snapshot = _get(store, "hbr_snapshot", p.str("SnapshotId", required=True), "Snapshot")
    if snapshot["SourceType"] != source_type:
        raise invalid("SourceType", f"The snapshot is a {snapshot['SourceType']} backup.")
    if p.str("SnapshotHash") not in (None, snapshot["SnapshotHash"]):
        raise invalid("SnapshotHash", "It is not the snapshot's hash.")
    if p.str("VaultId") not in (None, snapshot["VaultId"]):
        raise invalid("VaultId", "The snapshot is in another vault.")
    detail = _json(p.str("UdmDetail"), "UdmDetail")
    target: dict[str, Any] = {"TargetInstanceId": "", "TargetBucket": "", "TargetPrefix": "", "TargetFileSystemId": "",
                              "TargetPath": ""}
    touched: list[str] = []
    if restore_type in ("UDM_ECS_ROLLBACK", "UDM_ECS_DISK"):
        instance_id = p.str("TargetInstanceId") or detail.get("targetInstanceId") or snapshot["InstanceId"]
        instance = store.get("ecs_instance", instance_id, "InvalidInstanceId.NotFound", "instance")
        target["TargetInstanceId"] = instance["InstanceId"]
        if restore_type == "UDM_ECS_ROLLBACK":
            if instance["InstanceId"] != snapshot["InstanceId"]:
                raise invalid("TargetInstanceId", "A rollback restores the backed-up instance itself.")
            touched = [instance["InstanceId"], *snapshot["_disks"]]
    elif restore_type == "OSS":
        bucket = store.tables["bucket"].get(p.str("TargetBucket", required=True) or "")
        if bucket is None:
            raise CloudError("NoSuchBucket", "The target bucket does not exist.", 404)
        target.update({"TargetBucket": bucket["Name"], "TargetPrefix": p.str("TargetPrefix", "")})
        touched = [bucket["Name"]]
    else:
        target.update({"TargetFileSystemId": p.str("TargetFileSystemId", required=True),
                       "TargetPath": p.str("TargetPath", "/")})
        touched = [target["TargetFileSystemId"]]
    now = int(time.time())
    job = store.add("hbr_restore", {
        "RestoreId": new_id("hbr_restore"), "RestoreType": restore_type, "SourceType": source_type,
        "SnapshotId": snapshot["SnapshotId"], "SnapshotHash": snapshot["SnapshotHash"], "VaultId": snapshot["VaultId"],
        "Status": "CREATED", "Progress": 0, "BytesTotal": snapshot["BytesTotal"], "BytesDone": 0, "ActualBytes": 0,
        "CreatedTime": now, "StartTime": now, "CompleteTime": 0, "UpdatedTime": now, "ExpireTime": 0,
        "UdmDetail": json.dumps(detail) if detail else "", "SourceInstanceId": snapshot["InstanceId"],
        "ErrorMessage": "", **target, "_done": False,
        "_name": detail.get("restoreName") or p.str("TargetInstanceName", ""),
    }, "RestoreId")
    store.schedule(job, "CREATED", "RUNNING", "COMPLETE")
    store.touch(snapshot["SnapshotId"], read=True)
    store.touch(*touched)
    return {**OK, "RestoreId": job["RestoreId"]}


def _finish_restore(store: Store, job: dict[str, Any]) -> None:
    job["Progress"] = PROGRESS.get(job["Status"], 0)
    job["BytesDone"] = job["BytesTotal"] * job["Progress"] // 10000
    if job["Status"] != "COMPLETE" or job["_done"]:
        return
    job["_done"] = True
    job["CompleteTime"] = job["UpdatedTime"] = int(time.time())
    job["ActualBytes"] = job["BytesTotal"]
    snapshot = store.tables["hbr_snapshot"].get(job["SnapshotId"])
    if snapshot is None:
        return
    if job["RestoreType"] == "UDM_ECS_DISK":
        instance = store.tables["ecs_instance"].get(job["TargetInstanceId"])
        if instance is None:
            job["Status"], job["ErrorMessage"] = "FAILED", "The target instance no longer exists."
            return
        made = []
        for disk_id, size in snapshot["_disks"].items():
            disk = new_disk(store, region_id=instance["RegionId"], zone_id=instance["ZoneId"], size=int(size),
                            category="cloud_essd", disk_type="data",
                            name=f"{job['_name'] or 'restored'}-{disk_id}")
            disk["SourceSnapshotId"] = ""
            made.append(disk["DiskId"])
        detail = json.loads(job["UdmDetail"] or "{}")
        detail["diskIdList"] = made
        job["UdmDetail"] = json.dumps(detail)
    elif job["RestoreType"] == "OSS":
        bucket = store.tables["bucket"].get(job["TargetBucket"])
        if bucket is not None:
            for key, obj in snapshot["_objects"].items():
                bucket["_objects"][job["TargetPrefix"] + key] = dict(obj)
    elif job["RestoreType"] == "UDM_ECS_ROLLBACK":
        for disk_id in snapshot["_disks"]:
            io = store.disk_io.get(disk_id)
            if io is not None:
                io["resets"] = io.get("resets", 0) + 1
    store.dirty = True


RESTORE_FILTERS = {"restoreId": "RestoreId", "vaultId": "VaultId", "snapshotId": "SnapshotId", "status": "Status",
                   "targetInstanceId": "TargetInstanceId", "targetBucket": "TargetBucket"}


@action(V, "DescribeRestoreJobs2")
def describe_restore_jobs(store: Store, p) -> dict[str, Any]:
    restore_type = p.str("RestoreType", "ECS_FILE")
    filters = _filters(p)
    rows = []
    for job in store.rows("hbr_restore"):
        _finish_restore(store, job)
        if job["RestoreType"] == restore_type and _match(job, filters, RESTORE_FILTERS):
            rows.append(job)
    chunk, meta = _page(rows, p)
    return {**OK, "RestoreJobs": {"RestoreJob": [_public(j) for j in chunk]}, **meta}
