"""Disaster recovery on AWS through boto3: the same contract as ``apsara_dr`` where AWS has the service.

Companion of the ``aws`` adapter (see ``extensions``). The functions take the adapter first and call
through ``adapter._invoke(service, region, method, **params)`` (timeouts, retries of transient
failures, the cloud's error codes). ``offered(adapter)`` names the groups AWS has here:

- ``snapshots``: EBS snapshots (``snapshot_create``, ``snapshot_copy`` across regions, ``snapshot_get``,
  ``snapshot_delete``, ``disk_from_snapshot``). ``disk_rollback`` is not offered: EC2 has no call that
  rolls a volume back in place (make a volume from the snapshot and swap it instead).
- ``images``: AMIs (``image_create(adapter, region, instance_id, *, name, tags) -> image id``,
  ``image_copy(adapter, region, image_id, *, dest_region, name) -> image id``, ``image_get``,
  ``image_delete``).
- ``rds_backups``: RDS snapshots (``rds_backup_create -> snapshot id``, ``rds_backup_job_get``,
  ``rds_backups``, ``rds_restore`` from a snapshot or to a point in time, ``rds_snapshot_copy`` across
  regions, ``rds_snapshot_delete``). ``rds_cross_region_backup`` is not offered (automated backup
  replication is not served).
- ``rds_replicas``: read replicas (``rds_replica_create(adapter, region, db_id, *, dest_region, name,
  tags) -> replica id``, ``rds_replica_promote(adapter, region, replica_id)``).
- ``dns``: Route 53 (``change_record(adapter, zone_id, name, value)``: an A record for an address, a
  CNAME otherwise, TTL 60, UPSERT).

Not offered on AWS (``UnsupportedOperation``, never faked): snapshot-consistent groups
(``snapshot_group_*``), replication pairs (``pair_*``), Hybrid
Backup Recovery (``vault_*``, ``backup_plan_*``, ``backup_job_*``, ``restore_job_*``) and OSS replication
(``bucket_replication_*``).

``client_token`` is accepted wherever ``apsara_dr`` takes it and sent where the AWS call has one
(``CreateVolume``, ``CopyImage``); EBS snapshots and RDS calls have none: a retried step finds what a
lost answer made by its name or tags. RDS names are the identifiers (``name`` made into one).

Snapshot statuses are EC2's (``pending``, ``completed``, ``error``); ``snapshot_get`` returns the same
keys as on Apsara Stack.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

from apps.clouds.adapters import extensions
from apps.clouds.adapters.base import CloudCallError, CloudResource, Relation, ResourcePage, UnsupportedOperation

ADAPTER = "aws"
GROUPS = frozenset({"snapshots", "images", "rds_backups", "rds_replicas", "dns"})
PAGE = 500
_NAME_RE = re.compile(r"[^A-Za-z0-9-]")


def offered(adapter: Any) -> set[str]:
    return set(GROUPS)


def _tag_list(tags: dict[str, str], name: str | None = None) -> list[dict[str, str]]:
    out = [{"Key": "Name", "Value": name}] if name else []
    return out + [{"Key": str(k), "Value": str(v)} for k, v in tags.items() if k != "Name"]


def _tags(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in raw or [] if "Key" in t}


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def _identifier(name: str) -> str:
    """An RDS identifier from a display name: letters, digits and hyphens, starting with a letter."""
    text = _NAME_RE.sub("-", name).strip("-").lower() or "db"
    if not text[0].isalpha():
        text = "db-" + text
    return re.sub("-{2,}", "-", text)[:63].rstrip("-")


def _not_offered(what: str) -> UnsupportedOperation:
    return UnsupportedOperation(f"AWS does not offer {what} to this console.")


# -- EBS snapshots --------------------------------------------------------------------------------------

def snapshot_create(adapter: Any, region: str, disk_id: str, *, name: str, tags: dict[str, str],
                    client_token: str | None = None) -> str:
    body = adapter._invoke("ec2", region, "create_snapshot", VolumeId=disk_id, Description=name,
                           TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tag_list(tags, name)}])
    return body["SnapshotId"]


def snapshot_copy(adapter: Any, region: str, snapshot_id: str, *, dest_region: str, name: str,
                  tags: dict[str, str], client_token: str | None = None) -> str:
    """A copy in ``dest_region`` (the call goes to the destination, naming the source region)."""
    body = adapter._invoke("ec2", dest_region, "copy_snapshot", SourceRegion=region, SourceSnapshotId=snapshot_id,
                           Description=name,
                           TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tag_list(tags, name)}])
    return body["SnapshotId"]


def snapshot_delete(adapter: Any, region: str, snapshot_id: str) -> None:
    adapter._invoke("ec2", region, "delete_snapshot", SnapshotId=snapshot_id)


def _snapshot_dict(region: str, s: dict[str, Any]) -> dict[str, Any]:
    tags = _tags(s.get("Tags"))
    progress = str(s.get("Progress") or "0").rstrip("%")
    return {"id": s["SnapshotId"], "status": s.get("State", ""), "progress": int(float(progress or 0)),
            "created_at": _epoch(s.get("StartTime")), "disk_id": s.get("VolumeId") or "",
            "size_gib": int(s.get("VolumeSize") or 0), "region": region,
            "name": tags.get("Name") or s.get("Description") or "", "tags": tags,
            "source_snapshot_id": "", "source_region": ""}


def snapshot_get(adapter: Any, region: str, snapshot_id: str) -> dict[str, Any] | None:
    try:
        body = adapter._invoke("ec2", region, "describe_snapshots", SnapshotIds=[snapshot_id])
    except CloudCallError as exc:
        if exc.code in ("InvalidSnapshot.NotFound", "InvalidSnapshotID.NotFound"):
            return None
        raise
    rows = [s for s in body.get("Snapshots", []) if s.get("SnapshotId") == snapshot_id]
    return _snapshot_dict(region, rows[0]) if rows else None


def disk_rollback(adapter: Any, region: str, disk_id: str, snapshot_id: str) -> None:
    raise _not_offered("rolling a volume back in place (make a volume from the snapshot instead)")


def disk_from_snapshot(adapter: Any, region: str, *, zone: str, snapshot_id: str, name: str,
                       tags: dict[str, str], client_token: str | None = None) -> str:
    extra = {"ClientToken": client_token} if client_token else {}
    body = adapter._invoke("ec2", region, "create_volume", AvailabilityZone=zone, SnapshotId=snapshot_id, **extra,
                           TagSpecifications=[{"ResourceType": "volume", "Tags": _tag_list(tags, name)}])
    return body["VolumeId"]


def _snapshot_resource(region: str, s: dict[str, Any]) -> CloudResource:
    d = _snapshot_dict(region, s)
    return CloudResource(
        type="ecs.snapshot", external_id=d["id"], region=region, name=d["name"] or d["id"],
        status={"completed": "available", "pending": "creating", "error": "error"}.get(d["status"], "unknown"),
        spec={"cloud_status": d["status"], "progress": d["progress"], "disk_id": d["disk_id"],
              "size_gib": d["size_gib"], "created_at": s["StartTime"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
              if isinstance(s.get("StartTime"), datetime) else ""},
        tags=d["tags"], storage_gib=d["size_gib"],
        relations=[Relation("snapshot_of", "ecs.disk", d["disk_id"])] if d["disk_id"] else [])


def _snapshot_page(adapter: Any, region: str, token: str | None) -> ResourcePage:
    params: dict[str, Any] = {"OwnerIds": ["self"], "MaxResults": PAGE}
    if token:
        params["NextToken"] = token
    body = adapter._invoke("ec2", region, "describe_snapshots", **params)
    return ResourcePage([_snapshot_resource(region, s) for s in body.get("Snapshots", [])],
                        body.get("NextToken") or None)


def _snapshot_get_resource(adapter: Any, region: str, snapshot_id: str) -> CloudResource | None:
    try:
        body = adapter._invoke("ec2", region, "describe_snapshots", SnapshotIds=[snapshot_id])
    except CloudCallError as exc:
        if exc.code in ("InvalidSnapshot.NotFound", "InvalidSnapshotID.NotFound"):
            return None
        raise
    found = [s for s in body.get("Snapshots", []) if s.get("SnapshotId") == snapshot_id]
    return _snapshot_resource(region, found[0]) if found else None


# -- AMIs -------------------------------------------------------------------------------------------------

def image_create(adapter: Any, region: str, instance_id: str, *, name: str, tags: dict[str, str]) -> str:
    body = adapter._invoke("ec2", region, "create_image", InstanceId=instance_id, Name=name, NoReboot=True,
                           TagSpecifications=[{"ResourceType": "image", "Tags": _tag_list(tags)}] if tags else [])
    return body["ImageId"]


def image_copy(adapter: Any, region: str, image_id: str, *, dest_region: str, name: str,
               client_token: str | None = None) -> str:
    extra = {"ClientToken": client_token} if client_token else {}
    return adapter._invoke("ec2", dest_region, "copy_image", SourceRegion=region, SourceImageId=image_id,
                           Name=name, **extra)["ImageId"]


def image_get(adapter: Any, region: str, image_id: str) -> dict[str, Any] | None:
    try:
        body = adapter._invoke("ec2", region, "describe_images", ImageIds=[image_id])
    except CloudCallError as exc:
        if exc.code in ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"):
            return None
        raise
    found = [i for i in body.get("Images", []) if i.get("ImageId") == image_id]
    if not found:
        return None
    i = found[0]
    return {"id": image_id, "status": i.get("State", ""), "name": i.get("Name", ""), "region": region,
            "tags": _tags(i.get("Tags")),
            "snapshot_ids": [m["Ebs"]["SnapshotId"] for m in i.get("BlockDeviceMappings", [])
                             if m.get("Ebs", {}).get("SnapshotId")]}


def image_delete(adapter: Any, region: str, image_id: str) -> None:
    adapter._invoke("ec2", region, "deregister_image", ImageId=image_id)


# -- RDS ----------------------------------------------------------------------------------------------------

def rds_backup_create(adapter: Any, region: str, db_id: str) -> str:
    """A manual DB snapshot; its identifier (also the "job": ``rds_backup_job_get`` follows it)."""
    snapshot = _identifier(f"{db_id}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}")
    adapter._invoke("rds", region, "create_db_snapshot", DBInstanceIdentifier=db_id, DBSnapshotIdentifier=snapshot)
    return snapshot


def _db_snapshot(adapter: Any, region: str, snapshot_id: str) -> dict[str, Any] | None:
    try:
        body = adapter._invoke("rds", region, "describe_db_snapshots", DBSnapshotIdentifier=snapshot_id)
    except CloudCallError as exc:
        if exc.code == "DBSnapshotNotFound":
            return None
        raise
    found = body.get("DBSnapshots", [])
    return found[0] if found else None


def rds_backup_job_get(adapter: Any, region: str, db_id: str, job_id: str) -> dict[str, Any] | None:
    s = _db_snapshot(adapter, region, job_id)
    if s is None:
        return None
    status = {"available": "Finished", "failed": "Failed", "error": "Failed"}.get(s.get("Status", ""), "Uploading")
    return {"id": job_id, "status": status, "progress": int(s.get("PercentProgress") or 0),
            "backup_id": job_id if status == "Finished" else ""}


def rds_backups(adapter: Any, region: str, db_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    marker = None
    while True:
        params: dict[str, Any] = {"DBInstanceIdentifier": db_id, "MaxRecords": 100}
        if marker:
            params["Marker"] = marker
        body = adapter._invoke("rds", region, "describe_db_snapshots", **params)
        for s in body.get("DBSnapshots", []):
            out.append({"id": s["DBSnapshotIdentifier"],
                        "status": "Success" if s.get("Status") == "available" else s.get("Status", ""),
                        "started_at": _epoch(s.get("SnapshotCreateTime")), "ended_at": None,
                        "size_bytes": int(s.get("AllocatedStorage") or 0) * 1024 ** 3,
                        "method": "Snapshot", "type": s.get("SnapshotType", "")})
        marker = body.get("Marker")
        if not marker:
            return out


def rds_restore(adapter: Any, region: str, db_id: str, *, backup_id: str | None = None,
                restore_time: float | None = None, name: str, tags: dict[str, str],
                client_token: str | None = None) -> str:
    if (backup_id is None) == (restore_time is None):
        raise CloudCallError("Give exactly one of backup_id and restore_time.", code="InvalidParameter")
    target = _identifier(name)
    tag_list = _tag_list(tags)
    if backup_id is not None:
        source = _db_snapshot(adapter, region, backup_id)
        extra = {"DBInstanceClass": source["DBInstanceClass"]} if source and source.get("DBInstanceClass") else {}
        adapter._invoke("rds", region, "restore_db_instance_from_db_snapshot", DBInstanceIdentifier=target,
                        DBSnapshotIdentifier=backup_id, Tags=tag_list, **extra)
    else:
        adapter._invoke("rds", region, "restore_db_instance_to_point_in_time", SourceDBInstanceIdentifier=db_id,
                        TargetDBInstanceIdentifier=target,
                        RestoreTime=datetime.fromtimestamp(float(restore_time), UTC),  # type: ignore[arg-type]
                        Tags=tag_list)
    return target


def rds_snapshot_copy(adapter: Any, region: str, snapshot_id: str, *, dest_region: str, name: str) -> str:
    """A copy of a DB snapshot in ``dest_region``; its identifier there."""
    described = _db_snapshot(adapter, region, snapshot_id)
    arn = (described or {}).get("DBSnapshotArn") or snapshot_id
    target = _identifier(name)
    adapter._invoke("rds", dest_region, "copy_db_snapshot", SourceDBSnapshotIdentifier=arn,
                    TargetDBSnapshotIdentifier=target, SourceRegion=region)
    return target


def rds_snapshot_delete(adapter: Any, region: str, snapshot_id: str) -> None:
    """Delete a manual DB snapshot (a copy made by ``rds_snapshot_copy`` or one ``rds_backup_create`` took)."""
    adapter._invoke("rds", region, "delete_db_snapshot", DBSnapshotIdentifier=snapshot_id)


def rds_cross_region_backup(adapter: Any, region: str, db_id: str, *, dest_region: str, enabled: bool) -> None:
    raise _not_offered("cross-region automated backup replication (copy snapshots with rds_snapshot_copy)")


def rds_replica_create(adapter: Any, region: str, db_id: str, *, dest_region: str, name: str,
                       tags: dict[str, str]) -> str:
    """A read replica of ``db_id`` in ``dest_region`` (the call goes there, naming the source by ARN)."""
    source: Any = db_id
    if dest_region != region:
        body = adapter._invoke("rds", region, "describe_db_instances", DBInstanceIdentifier=db_id)
        source = body["DBInstances"][0]["DBInstanceArn"]
    target = _identifier(name)
    extra = {"SourceRegion": region} if dest_region != region else {}
    adapter._invoke("rds", dest_region, "create_db_instance_read_replica", DBInstanceIdentifier=target,
                    SourceDBInstanceIdentifier=source, Tags=_tag_list(tags), **extra)
    return target


def rds_replica_promote(adapter: Any, region: str, replica_id: str) -> None:
    adapter._invoke("rds", region, "promote_read_replica", DBInstanceIdentifier=replica_id)


# -- Route 53 ---------------------------------------------------------------------------------------------

def change_record(adapter: Any, zone_id: str, name: str, value: str) -> None:
    """Point ``name`` at ``value`` (UPSERT; A for an address, CNAME otherwise)."""
    try:
        ipaddress.ip_address(value)
        kind = "A"
    except ValueError:
        kind = "CNAME"
    adapter._invoke("route53", None, "change_resource_record_sets", HostedZoneId=zone_id, ChangeBatch={
        "Comment": "Unimanager endpoint switch",
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": name, "Type": kind, "TTL": 60, "ResourceRecords": [{"Value": value}]}}]})


def record_get(adapter: Any, zone_id: str, name: str) -> str | None:
    """The value ``name`` points at now (A or CNAME), or ``None``."""
    wanted = name.rstrip(".") + "."
    body = adapter._invoke("route53", None, "list_resource_record_sets", HostedZoneId=zone_id,
                           StartRecordName=wanted, MaxItems="10")
    for r in body.get("ResourceRecordSets", []):
        if r.get("Name") == wanted and r.get("Type") in ("A", "CNAME") and r.get("ResourceRecords"):
            return r["ResourceRecords"][0]["Value"]
    return None


# -- not offered on AWS -------------------------------------------------------------------------------------

def _unsupported(group: str) -> Any:
    def fn(adapter: Any, *args: Any, **kwargs: Any) -> Any:
        raise _not_offered(group)
    return fn


pair_create = pair_start = pair_stop = pair_failover = pair_reprotect = pair_delete = pair_get = \
    pair_drill_start = pair_drill_get = pair_drill_clear = pair_drills = _unsupported("EBS replication pairs")
vault_create = vault_get = backup_plan_create = backup_job_run = backup_job_get = restore_job_create = \
    restore_job_get = _unsupported("Hybrid Backup Recovery vaults, plans and jobs")
bucket_replication_create = bucket_replication_progress = _unsupported("OSS bucket replication")
snapshot_group_create = snapshot_group_get = snapshot_group_delete = _unsupported("snapshot-consistent groups")


def register_listings() -> None:
    """Register ``ecs.snapshot`` (EBS snapshots) as a collected type."""
    extensions.register_listing(ADAPTER, extensions.Listing(type="ecs.snapshot", service="ecs", list=_snapshot_page,
                                                           get=_snapshot_get_resource))


register_listings()
