"""Disaster recovery on Apsara Stack / Alibaba Cloud: the cloud side of protection, drills and recovery.

Companion of the ``apsara`` adapter (see ``extensions``): it registers the EBS and HBR products and
the collected types ``ecs.snapshot``, ``ebs.replication_pair``, ``asr.backup_vault`` and
``asr.backup_plan`` at import, and offers module-level functions, each taking the adapter first and
calling the cloud through the official SDKs (``adapter._invoke(product, region, method, request)``,
so every call has the adapter's timeouts, retries of transient failures and error classification).
Every failure is a ``CloudCallError`` with the cloud's code (e.g. ``OperationDenied.PairStatus`` for
an action the pair's state refuses); ``UnsupportedOperation`` marks what the cloud does not offer.

Every function that changes something in ECS, EBS or RDS also takes ``client_token`` (keyword): give
the same token on every attempt of one step (e.g. derived from the operation and step) and the cloud
acts once even when an answer was lost; without one the adapter makes a token per call, so its own
retries are safe. HBR's API has no client token: a lost answer to ``vault_create`` or
``backup_job_run`` may leave a second vault (refused by name) or job.

The contract (the same names and signatures in ``aws_dr``; ``offered(adapter)`` says which groups an
adapter has):

Snapshots (group ``snapshots``; ECS 2014-05-26)
    ``snapshot_create(adapter, region, disk_id, *, name, tags) -> snapshot id``
    ``snapshot_copy(adapter, region, snapshot_id, *, dest_region, name, tags) -> snapshot id in dest_region``
    ``snapshot_delete(adapter, region, snapshot_id)``
    ``snapshot_get(adapter, region, snapshot_id) -> {"id", "status" (progressing | accomplished | failed),
    "progress" (0-100), "created_at" (epoch seconds), "disk_id", "size_gib", "region", "name", "tags"}``
    or ``None`` when the snapshot is gone
    ``disk_rollback(adapter, region, disk_id, snapshot_id)`` (``ResetDisk``: the disk must be detached or
    its instance stopped)
    ``disk_from_snapshot(adapter, region, *, zone, snapshot_id, name, tags) -> disk id``

Snapshot-consistent groups (group ``snapshot_groups``; ECS 2014-05-26)
    ``snapshot_group_create(adapter, region, instance_id, *, name, tags, disk_ids=None) -> group id``: one
    consistent point for all of an instance's disks (or ``disk_ids``); ``snapshot_group_get(adapter, region,
    group_id) -> {"id", "status", "instance_id", "name", "created_at", "snapshots": {disk id: snapshot
    id}}`` or ``None``; ``snapshot_group_delete`` (with its snapshots)

Images (group ``images``; ECS 2014-05-26; the same names as ``aws_dr``'s AMIs)
    ``image_create(adapter, region, instance_id=None, *, name, tags, snapshot_id=None) -> image id`` (of an
    instance, or of a system disk's snapshot), ``image_copy(adapter, region, image_id, *, dest_region,
    name) -> image id``, ``image_get -> {"id", "status", "name", "region", "tags", "snapshot_ids"}`` or
    ``None``, ``image_delete``

Replication pairs (group ``replication_pairs``; EBS async replication 2021-07-30)
    ``pair_create(adapter, region, *, source_disk_id, dest_region, dest_zone, rpo_seconds, name, tags)
    -> pair id``: creates the secondary disk (same size and category, ``name`` + "-secondary") in
    ``dest_zone``, waits (bounded) until it is Available, then the pair (``CreateDiskReplicaPair``; the
    API takes ``rpo_seconds`` 900 only); the pair is ``created`` and replicates after ``pair_start``.
    ``wait=False`` (with a ``client_token``) does not wait: while the disk is not Available it raises
    ``CloudCallError`` code ``SecondaryDiskNotReady``; the same call later finds the same disk.
    ``pair_start``, ``pair_stop``, ``pair_failover``, ``pair_reprotect``, ``pair_delete``:
    ``fn(adapter, region, pair_id)``; ``region`` is the region the pair was created in (the adapter
    sends failover and reprotect to the secondary's region, as the API requires).
    ``pair_get(adapter, region, pair_id) -> dict`` or ``None`` when gone: ``status`` (the API's names:
    creating, created, initial_syncing, syncing, normal, stopping, stopped, failovering, failovered,
    reprotecting, deleting, and ``*_failed``), ``status_message``, ``last_recovery_point`` (epoch
    seconds of the last replicated point, ``None`` before the first sync: RPO = now - it),
    ``rpo_seconds`` (the pair's target), ``progress`` (0-100, ``None`` if not reported),
    ``bytes_moved`` (``None``: the API does not report it; cloudsim counts it in its control API),
    ``source_disk_id``, ``dest_disk_id``, ``source_region``, ``source_zone``, ``dest_region``,
    ``dest_zone``, ``direction`` ("forward": from the primary site, "reverse": after a reprotect),
    ``name``, ``tags``.
    ``pair_drills(adapter, region, pair_id) -> [drill]``: every drill the pair still has (as
    ``pair_drill_get`` renders one), whoever started it.
    ``pairs_get(adapter, region, pair_ids) -> {pair id: pair_get's dict or None}``: many pairs in one call
    per 100 ids (what a plan polls a whole batch with).
    The pair actions and ``pair_drill_*`` also take ``source_region`` and ``dest_region`` (keywords, from
    a ``pair_get`` just made): given both, the adapter does not look the pair up before acting.
    ``pair_reprotect`` reverses the direction (the old secondary becomes the source) and leaves the pair
    ``stopped``; ``pair_start`` then moves only the data changed since the failover.
    ``pair_drill_start(adapter, region, pair_id) -> drill id``: a drill disk at the secondary, made from
    the last recovery point, replication going on; ``pair_drill_get(adapter, region, pair_id, drill_id)
    -> {"id", "status" (executing | executed | execute_failed | clearing | clear_failed), "disk_id",
    "disk_status", "recovery_point"}`` or ``None``; ``pair_drill_clear(adapter, region, pair_id,
    drill_id)`` deletes the drill disk.

RDS (group ``rds_backups``; RDS 2014-08-15)
    ``rds_backup_create(adapter, region, db_id) -> backup job id``; ``rds_backup_job_get(adapter, region,
    db_id, job_id) -> {"id", "status" (NoStart | Preparing | Waiting | Uploading | Checking | Finished |
    Failed), "progress", "backup_id" (once finished)}``
    ``rds_backups(adapter, region, db_id) -> [{"id", "status" (Success | Failed), "started_at",
    "ended_at", "size_bytes", "method", "type"}]``
    ``rds_restore(adapter, region, db_id, *, backup_id=None, restore_time=None, name, tags) -> new
    instance id`` (``CloneDBInstance``: from a backup, or to a point in time given as epoch seconds)
    ``rds_cross_region_backup(adapter, region, db_id, *, dest_region, enabled)``
    (``ModifyInstanceCrossBackupPolicy``: backups and log backups copied to ``dest_region``)

Backup and recovery (group ``hbr``; HBR 2017-09-08)
    ``vault_create(adapter, region, *, name, kind="local"|"cross_region", dest_region=None) -> vault id``
    (cross-region: a vault in ``region`` and its replication vault in ``dest_region``; the id returned is
    the source vault's); ``vault_get(adapter, region, vault_id) -> {"id", "name", "status", "kind",
    "region", "replica_vault_id"}`` or ``None``
    ``backup_plan_create(adapter, region, *, vault_id, source_type="ECS_DISK"|"RDS"|"OSS"|"NAS",
    source_id, schedule, retention_days, name) -> plan id``; ``schedule`` is HBR's
    ``I|<start epoch>|<ISO 8601 interval>`` (e.g. ``I|1700000000|PT24H``). An ECS disk is backed up
    as HBR ``UDM_ECS`` of its instance with that disk only. RDS has no HBR source type: its plan is the
    instance's own backup policy (``ModifyBackupPolicy``) and its id is ``rds:<db id>``; ``backup_job_run``
    of it takes an RDS backup.
    ``backup_job_run(adapter, region, plan_id) -> job id``; ``backup_job_get(adapter, region, job_id) ->
    {"id", "status" (CREATED | RUNNING | COMPLETE | PARTIAL_COMPLETE | FAILED | CANCELED), "progress"
    (0-100), "bytes", "snapshot_id" (once complete)}`` or ``None``
    ``restore_job_create(adapter, region, *, snapshot_id, target="in_place"|"new", name) -> restore id``
    (``snapshot_id`` from ``backup_job_get``; an ECS backup restores in place as ``UDM_ECS_ROLLBACK`` or as
    new disks, ``UDM_ECS_DISK``; an RDS backup as a new instance only); ``restore_job_get(adapter, region,
    restore_id) -> {"id", "status", "progress", "target_id"}`` or ``None`` (``target_id``: the instance,
    bucket or file system restored to; the new disks' ids, comma-separated; an RDS restore's new instance)

OSS (group ``oss_replication``; ``oss2``)
    ``bucket_replication_create(adapter, region, bucket, *, dest_region, dest_bucket) -> rule id`` (the
    destination bucket must exist, in another region)
    ``bucket_replication_progress(adapter, region, bucket, rule_id) -> {"status" (starting | doing |
    closing), "historical_progress" (0..1), "new_object_point" (epoch seconds, ``None`` before any)}``

Endpoint switch (group ``dns``): not offered on Apsara Stack (no DNS API in the platform's list):
``change_record`` raises ``UnsupportedOperation``.

``offered(adapter) -> set[str]``: the groups above this adapter offers.
"""

from __future__ import annotations

import calendar
import json
import time
import uuid
from typing import Any

import oss2
from alibabacloud_ebs20210730 import models as ebs_models
from alibabacloud_ebs20210730.client import Client as EbsClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_hbr20170908 import models as hbr_models
from alibabacloud_hbr20170908.client import Client as HbrClient
from alibabacloud_rds20140815 import models as rds_models

from apps.clouds.adapters import extensions
from apps.clouds.adapters.base import CloudCallError, CloudResource, Relation, ResourcePage, UnsupportedOperation

ADAPTER = "apsara"
GROUPS = frozenset({"snapshots", "snapshot_groups", "images", "replication_pairs", "rds_backups", "hbr",
                    "oss_replication"})
PAGE_SIZE = 100
PAIR_PAGE = 100
HBR_SOURCES = ("UDM_ECS", "OSS", "NAS")
RESTORE_TYPES = ("UDM_ECS_ROLLBACK", "UDM_ECS_DISK", "OSS", "NAS")
_SNAP_FIELDS = {"snapshotId": "SnapshotId", "jobId": "JobId"}

extensions.register_product(ADAPTER, "ebs", EbsClient, "ebs")
extensions.register_product(ADAPTER, "hbr", HbrClient, "hbr")
extensions.register_service(ADAPTER, "ebs", "Elastic Block Storage")
extensions.register_service(ADAPTER, "asr", "Hybrid Backup Recovery")


def _token(client_token: str | None) -> str:
    """The call's ClientToken: the caller's (the same on every attempt of one step), else a new one, so the
    adapter's own retries of a lost answer never act twice."""
    return client_token or uuid.uuid4().hex


def offered(adapter: Any) -> set[str]:
    """The disaster-recovery groups this adapter offers (see the module docstring)."""
    return set(GROUPS)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _epoch(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 UTC time ("2024-01-02T03:04:05Z" or with minutes only)."""
    if not value:
        return None
    text = str(value).rstrip("Z")
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"):
        try:
            return float(calendar.timegm(time.strptime(text, fmt)))
        except ValueError:
            continue
    return None


def _ecs_tags(raw: Any) -> dict[str, str]:
    return {str(t["TagKey"]): str(t.get("TagValue") or "") for t in (raw or {}).get("Tag") or [] if t.get("TagKey")}


def _not_found(exc: CloudCallError) -> bool:
    return exc.status == 404 or exc.code.endswith(".NotFound") or exc.code.startswith("NotFound")


# -- snapshots ------------------------------------------------------------------------------------------

def snapshot_create(adapter: Any, region: str, disk_id: str, *, name: str, tags: dict[str, str],
                    client_token: str | None = None) -> str:
    """A snapshot of ``disk_id`` (``CreateSnapshot``); it is ``progressing`` until ``accomplished``."""
    body = adapter._invoke("ecs", region, "create_snapshot", ecs_models.CreateSnapshotRequest(
        disk_id=disk_id, snapshot_name=name, client_token=_token(client_token),
        tag=[ecs_models.CreateSnapshotRequestTag(key=k, value=v) for k, v in tags.items()] or None))
    return body["SnapshotId"]


def snapshot_copy(adapter: Any, region: str, snapshot_id: str, *, dest_region: str, name: str,
                  tags: dict[str, str], client_token: str | None = None) -> str:
    """A copy of an accomplished snapshot in ``dest_region`` (``CopySnapshot``); the copy's id."""
    body = adapter._invoke("ecs", region, "copy_snapshot", ecs_models.CopySnapshotRequest(
        region_id=region, client_token=_token(client_token), snapshot_id=snapshot_id, destination_region_id=dest_region,
        destination_snapshot_name=name, destination_snapshot_description=f"Copy of {snapshot_id}",
        tag=[ecs_models.CopySnapshotRequestTag(key=k, value=v) for k, v in tags.items()] or None))
    return body["SnapshotId"]


def snapshot_delete(adapter: Any, region: str, snapshot_id: str) -> None:
    adapter._invoke("ecs", region, "delete_snapshot", ecs_models.DeleteSnapshotRequest(snapshot_id=snapshot_id))


def _snapshot_dict(region: str, s: dict[str, Any]) -> dict[str, Any]:
    progress = str(s.get("Progress") or "0").rstrip("%")
    return {"id": s["SnapshotId"], "status": s.get("Status", ""), "progress": int(float(progress or 0)),
            "created_at": _epoch(s.get("CreationTime")), "disk_id": s.get("SourceDiskId") or "",
            "size_gib": int(s.get("SourceDiskSize") or 0), "region": region, "name": s.get("SnapshotName") or "",
            "tags": _ecs_tags(s.get("Tags")), "source_snapshot_id": s.get("SourceSnapshotId") or "",
            "source_region": s.get("SourceRegionId") or ""}


def snapshot_get(adapter: Any, region: str, snapshot_id: str) -> dict[str, Any] | None:
    body = adapter._invoke("ecs", region, "describe_snapshots", ecs_models.DescribeSnapshotsRequest(
        region_id=region, snapshot_ids=json.dumps([snapshot_id])))
    rows = [s for s in (body.get("Snapshots") or {}).get("Snapshot") or [] if s.get("SnapshotId") == snapshot_id]
    return _snapshot_dict(region, rows[0]) if rows else None


def disk_rollback(adapter: Any, region: str, disk_id: str, snapshot_id: str) -> None:
    """Roll a disk back to one of its snapshots (``ResetDisk``)."""
    adapter._invoke("ecs", region, "reset_disk", ecs_models.ResetDiskRequest(disk_id=disk_id, snapshot_id=snapshot_id))


def disk_from_snapshot(adapter: Any, region: str, *, zone: str, snapshot_id: str, name: str,
                       tags: dict[str, str], client_token: str | None = None) -> str:
    """A new data disk made from a snapshot (``CreateDisk`` with ``SnapshotId``)."""
    body = adapter._invoke("ecs", region, "create_disk", ecs_models.CreateDiskRequest(
        region_id=region, client_token=_token(client_token), zone_id=zone, snapshot_id=snapshot_id, disk_name=name,
        tag=[ecs_models.CreateDiskRequestTag(key=k, value=v) for k, v in tags.items()] or None))
    return body["DiskId"]


def _snapshot_rows(adapter: Any, region: str, **filters: Any) -> tuple[list[dict[str, Any]], str | None]:
    body = adapter._invoke("ecs", region, "describe_snapshots", ecs_models.DescribeSnapshotsRequest(
        region_id=region, **filters))
    return list((body.get("Snapshots") or {}).get("Snapshot") or []), body.get("NextToken") or None


def _snapshot_page(adapter: Any, region: str, token: str | None) -> ResourcePage:
    rows, next_token = _snapshot_rows(adapter, region, max_results=PAGE_SIZE, next_token=token or None)
    return ResourcePage([_snapshot_resource(region, s) for s in rows], next_token)


def _snapshot_get_resource(adapter: Any, region: str, snapshot_id: str) -> CloudResource | None:
    rows, _token = _snapshot_rows(adapter, region, snapshot_ids=json.dumps([snapshot_id]))
    found = [s for s in rows if s.get("SnapshotId") == snapshot_id]
    return _snapshot_resource(region, found[0]) if found else None


def _snapshot_resource(region: str, s: dict[str, Any]) -> CloudResource:
    d = _snapshot_dict(region, s)
    return CloudResource(
        type="ecs.snapshot", external_id=d["id"], region=region, name=d["name"] or d["id"],
        status={"accomplished": "available", "progressing": "creating", "failed": "error"}.get(d["status"], "unknown"),
        spec={"cloud_status": d["status"], "progress": d["progress"], "disk_id": d["disk_id"],
              "size_gib": d["size_gib"], "created_at": s.get("CreationTime"),
              "source_snapshot_id": d["source_snapshot_id"], "source_region": d["source_region"]},
        tags=d["tags"], storage_gib=d["size_gib"], resource_group=s.get("ResourceGroupId") or "",
        relations=[Relation("snapshot_of", "ecs.disk", d["disk_id"])] if d["disk_id"] else [])


def snapshot_group_create(adapter: Any, region: str, instance_id: str, *, name: str, tags: dict[str, str],
                          disk_ids: list[str] | None = None, client_token: str | None = None) -> str:
    """A snapshot-consistent group: one snapshot of each of the instance's disks (or of ``disk_ids``) taken
    at the same point (``CreateSnapshotGroup``); the group's id."""
    body = adapter._invoke("ecs", region, "create_snapshot_group", ecs_models.CreateSnapshotGroupRequest(
        region_id=region, instance_id=instance_id, disk_id=list(disk_ids) if disk_ids else None, name=name,
        client_token=_token(client_token),
        tag=[ecs_models.CreateSnapshotGroupRequestTag(key=k, value=v) for k, v in tags.items()] or None))
    return body["SnapshotGroupId"]


def snapshot_group_get(adapter: Any, region: str, group_id: str) -> dict[str, Any] | None:
    """``{"id", "status" (progressing | accomplished | failed), "instance_id", "name", "created_at",
    "snapshots": {disk id: snapshot id}}`` or ``None``."""
    body = adapter._invoke("ecs", region, "describe_snapshot_groups", ecs_models.DescribeSnapshotGroupsRequest(
        region_id=region, snapshot_group_id=[group_id]))
    found = [g for g in (body.get("SnapshotGroups") or {}).get("SnapshotGroup") or []
             if g.get("SnapshotGroupId") == group_id]
    if not found:
        return None
    g = found[0]
    members = (g.get("Snapshots") or {}).get("Snapshot") or []
    return {"id": group_id, "status": g.get("Status", ""), "instance_id": g.get("InstanceId") or "",
            "name": g.get("Name") or "", "created_at": _epoch(g.get("CreationTime")),
            "snapshots": {m.get("SourceDiskId", ""): m["SnapshotId"] for m in members if m.get("SnapshotId")}}


def snapshot_group_delete(adapter: Any, region: str, group_id: str) -> None:
    """Delete a group and its snapshots."""
    adapter._invoke("ecs", region, "delete_snapshot_group", ecs_models.DeleteSnapshotGroupRequest(
        region_id=region, snapshot_group_id=group_id))


def image_create(adapter: Any, region: str, instance_id: str | None = None, *, name: str, tags: dict[str, str],
                 snapshot_id: str | None = None, client_token: str | None = None) -> str:
    """An image of an instance (snapshots of its disks) or of a system disk's snapshot (``CreateImage``)."""
    body = adapter._invoke("ecs", region, "create_image", ecs_models.CreateImageRequest(
        region_id=region, instance_id=instance_id, snapshot_id=snapshot_id, image_name=name,
        client_token=_token(client_token),
        tag=[ecs_models.CreateImageRequestTag(key=k, value=v) for k, v in tags.items()] or None))
    return body["ImageId"]


def image_copy(adapter: Any, region: str, image_id: str, *, dest_region: str, name: str,
               client_token: str | None = None) -> str:
    """A copy of an available image in ``dest_region`` (``CopyImage``); the copy's id."""
    return adapter._invoke("ecs", region, "copy_image", ecs_models.CopyImageRequest(
        region_id=region, image_id=image_id, destination_region_id=dest_region, destination_image_name=name,
        client_token=_token(client_token)))["ImageId"]


def image_get(adapter: Any, region: str, image_id: str) -> dict[str, Any] | None:
    """``{"id", "status" (Creating | Available | ...), "name", "region", "tags", "snapshot_ids"}`` or ``None``."""
    body = adapter._invoke("ecs", region, "describe_images", ecs_models.DescribeImagesRequest(
        region_id=region, image_id=image_id, image_owner_alias="self"))
    found = [i for i in (body.get("Images") or {}).get("Image") or [] if i.get("ImageId") == image_id]
    if not found:
        return None
    i = found[0]
    mappings = (i.get("DiskDeviceMappings") or {}).get("DiskDeviceMapping") or []
    return {"id": image_id, "status": i.get("Status", ""), "name": i.get("ImageName") or "", "region": region,
            "tags": _ecs_tags(i.get("Tags")),
            "snapshot_ids": [m["SnapshotId"] for m in mappings if m.get("SnapshotId")]}


def image_delete(adapter: Any, region: str, image_id: str) -> None:
    adapter._invoke("ecs", region, "delete_image", ecs_models.DeleteImageRequest(region_id=region, image_id=image_id,
                                                                                 force=True))


# -- replication pairs ----------------------------------------------------------------------------------

def _disk(adapter: Any, region: str, disk_id: str) -> dict[str, Any]:
    body = adapter._invoke("ecs", region, "describe_disks", ecs_models.DescribeDisksRequest(
        region_id=region, disk_ids=json.dumps([disk_id])))
    found = [d for d in (body.get("Disks") or {}).get("Disk") or [] if d.get("DiskId") == disk_id]
    if not found:
        raise CloudCallError(f"The disk {disk_id} does not exist in {region}.", code="InvalidDiskId.NotFound",
                             status=404, action="DescribeDisks")
    return found[0]


SECONDARY_NOT_READY = "SecondaryDiskNotReady"


def _wait_available(adapter: Any, region: str, disk_id: str) -> None:
    """Wait (bounded) until a new disk is ``Available``: a pair needs its secondary disk ready."""
    deadline = time.monotonic() + max(60.0, adapter.timeout * 3)
    while _disk(adapter, region, disk_id).get("Status") != "Available":
        if time.monotonic() > deadline:
            raise CloudCallError(f"The secondary disk {disk_id} did not become Available in time.",
                                 code="IncorrectDiskStatus", transient=True, action="DescribeDisks")
        time.sleep(0.2)


def pair_create(adapter: Any, region: str, *, source_disk_id: str, dest_region: str, dest_zone: str,
                rpo_seconds: int, name: str, tags: dict[str, str], client_token: str | None = None,
                wait: bool = True) -> str:
    """A replication pair from ``source_disk_id`` to a new secondary disk in ``dest_zone``. With
    ``wait=False`` a secondary disk not yet Available raises ``SecondaryDiskNotReady`` (transient) at
    once instead of waiting: the caller calls again later with the same ``client_token``, which finds
    the same disk."""
    if not wait and not client_token:
        raise ValueError("pair_create(wait=False) needs the client_token its next attempt repeats")
    token = _token(client_token)
    source = _disk(adapter, region, source_disk_id)
    dest = adapter._invoke("ecs", dest_region, "create_disk", ecs_models.CreateDiskRequest(
        region_id=dest_region, client_token=f"{token}-secondary"[:64], zone_id=dest_zone,
        size=int(source.get("Size") or 20),
        disk_category=source.get("Category") or None, disk_name=f"{name}-secondary",
        tag=[ecs_models.CreateDiskRequestTag(key=k, value=v) for k, v in tags.items()] or None))["DiskId"]
    if wait:
        _wait_available(adapter, dest_region, dest)
    elif _disk(adapter, dest_region, dest).get("Status") != "Available":
        raise CloudCallError(f"The secondary disk {dest} is not Available yet.", code=SECONDARY_NOT_READY,
                             transient=True, action="DescribeDisks")
    body = adapter._invoke("ebs", region, "create_disk_replica_pair", ebs_models.CreateDiskReplicaPairRequest(
        region_id=region, client_token=token, source_zone_id=source.get("ZoneId"), disk_id=source_disk_id,
        destination_region_id=dest_region, destination_zone_id=dest_zone, destination_disk_id=dest,
        rpo=int(rpo_seconds), pair_name=name, charge_type="POSTPAY",
        tag=[ebs_models.CreateDiskReplicaPairRequestTag(key=k, value=v) for k, v in tags.items()] or None))
    return body["ReplicaPairId"]


def _pair_row(adapter: Any, region: str, pair_id: str) -> dict[str, Any] | None:
    body = adapter._invoke("ebs", region, "describe_disk_replica_pairs", ebs_models.DescribeDiskReplicaPairsRequest(
        region_id=region, pair_ids=pair_id))
    found = [p for p in body.get("ReplicaPairs") or [] if p.get("ReplicaPairId") == pair_id]
    if not found:  # seen from the other site (after a reprotect the pair's source is the old secondary)
        body = adapter._invoke("ebs", region, "describe_disk_replica_pairs",
                               ebs_models.DescribeDiskReplicaPairsRequest(region_id=region, pair_ids=pair_id,
                                                                          site="backup"))
        found = [p for p in body.get("ReplicaPairs") or [] if p.get("ReplicaPairId") == pair_id]
    return found[0] if found else None


def _pair_dict(p: dict[str, Any]) -> dict[str, Any]:
    tags = {str(t["TagKey"]): str(t.get("TagValue") or "") for t in p.get("Tags") or [] if t.get("TagKey")}
    point = p.get("LastRecoverPoint")
    forward = (p.get("SourceRegion"), p.get("SourceZoneId")) == (p.get("PrimaryRegion"), p.get("PrimaryZone")) \
        if p.get("PrimaryRegion") else True
    return {"id": p["ReplicaPairId"], "status": p.get("Status", ""), "status_message": p.get("StatusMessage") or "",
            "last_recovery_point": int(point) if point else None, "rpo_seconds": p.get("RPO"),
            "progress": None, "bytes_moved": None,
            "source_disk_id": p.get("SourceDiskId", ""), "dest_disk_id": p.get("DestinationDiskId", ""),
            "source_region": p.get("SourceRegion", ""), "source_zone": p.get("SourceZoneId", ""),
            "dest_region": p.get("DestinationRegion", ""), "dest_zone": p.get("DestinationZoneId", ""),
            "direction": "forward" if forward else "reverse", "name": p.get("PairName") or "", "tags": tags,
            "created_at": p.get("CreateTime")}


def pair_get(adapter: Any, region: str, pair_id: str) -> dict[str, Any] | None:
    row = _pair_row(adapter, region, pair_id)
    if row is None:
        return None
    return _pair_out(adapter, region, row)


def pairs_get(adapter: Any, region: str, pair_ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """``pair_get`` of many pairs in few calls: ``DescribeDiskReplicaPairs`` with up to 100 ids a call,
    from the production site, then the pairs not found there from the backup site (a reprotected pair).
    Every id asked for is a key; a pair that does not exist maps to ``None``."""
    wanted = list(dict.fromkeys(p for p in pair_ids if p))
    found: dict[str, dict[str, Any]] = {}
    for site in ("production", "backup"):
        missing = [p for p in wanted if p not in found]
        for start in range(0, len(missing), PAIR_PAGE):
            chunk = missing[start:start + PAIR_PAGE]
            body = adapter._invoke("ebs", region, "describe_disk_replica_pairs",
                                   ebs_models.DescribeDiskReplicaPairsRequest(
                                       region_id=region, pair_ids=",".join(chunk), site=site, max_results=PAIR_PAGE))
            for row in body.get("ReplicaPairs") or []:
                if row.get("ReplicaPairId") in chunk:
                    found[row["ReplicaPairId"]] = row
        if len(found) == len(wanted):
            break
    return {p: (_pair_out(adapter, region, found[p]) if p in found else None) for p in wanted}


def _pair_out(adapter: Any, region: str, row: dict[str, Any]) -> dict[str, Any]:
    pair_id = row["ReplicaPairId"]
    out = _pair_dict(row)
    if out["status"] in ("syncing", "normal") and out["last_recovery_point"] is not None:
        out["progress"] = 100
    elif out["status"] == "initial_syncing":
        progress = adapter._invoke("ebs", out["source_region"] or region, "describe_disk_replica_pair_progress",
                                   ebs_models.DescribeDiskReplicaPairProgressRequest(
                                       region_id=out["source_region"] or region, replica_pair_id=pair_id))
        out["progress"] = progress.get("Progress")
        if progress.get("RecoverPoint"):
            out["last_recovery_point"] = int(progress["RecoverPoint"])
    return out


def _pair_regions(adapter: Any, region: str, pair_id: str, hint: tuple[str | None, str | None] = (None, None)
                  ) -> tuple[str, str]:
    """The pair's source and destination regions: ``hint`` (from a ``pair_get`` just made) when it names
    both, else one ``DescribeDiskReplicaPairs`` call."""
    if hint[0] and hint[1]:
        return hint[0], hint[1]
    row = _pair_row(adapter, region, pair_id)
    if row is None:
        raise CloudCallError(f"The replication pair {pair_id} does not exist.", code="InvalidReplicaPairId.NotFound",
                             status=404, action="DescribeDiskReplicaPairs")
    return row.get("SourceRegion") or region, row.get("DestinationRegion") or region


def pair_start(adapter: Any, region: str, pair_id: str, *, client_token: str | None = None,
               source_region: str | None = None, dest_region: str | None = None) -> None:
    source, _dest = _pair_regions(adapter, region, pair_id, (source_region, dest_region))
    adapter._invoke("ebs", source, "start_disk_replica_pair", ebs_models.StartDiskReplicaPairRequest(
        region_id=source, replica_pair_id=pair_id, client_token=_token(client_token)))


def pair_stop(adapter: Any, region: str, pair_id: str, *, client_token: str | None = None,
              source_region: str | None = None, dest_region: str | None = None) -> None:
    source, _dest = _pair_regions(adapter, region, pair_id, (source_region, dest_region))
    adapter._invoke("ebs", source, "stop_disk_replica_pair", ebs_models.StopDiskReplicaPairRequest(
        region_id=source, replica_pair_id=pair_id, client_token=_token(client_token)))


def pair_failover(adapter: Any, region: str, pair_id: str, *, client_token: str | None = None,
                  source_region: str | None = None, dest_region: str | None = None) -> None:
    """Make the secondary disk writable from the last recovery point (sent to the secondary's region)."""
    _source, dest = _pair_regions(adapter, region, pair_id, (source_region, dest_region))
    adapter._invoke("ebs", dest, "failover_disk_replica_pair", ebs_models.FailoverDiskReplicaPairRequest(
        region_id=dest, replica_pair_id=pair_id, client_token=_token(client_token)))


def pair_reprotect(adapter: Any, region: str, pair_id: str, *, client_token: str | None = None,
                   source_region: str | None = None, dest_region: str | None = None) -> None:
    """Reverse a failed-over pair: the old secondary becomes the source; ``pair_start`` moves changed data only."""
    _source, dest = _pair_regions(adapter, region, pair_id, (source_region, dest_region))
    adapter._invoke("ebs", dest, "reprotect_disk_replica_pair", ebs_models.ReprotectDiskReplicaPairRequest(
        region_id=dest, replica_pair_id=pair_id, client_token=_token(client_token), reverse_replicate=True))


def pair_delete(adapter: Any, region: str, pair_id: str, *, client_token: str | None = None,
                source_region: str | None = None, dest_region: str | None = None) -> None:
    source, _dest = _pair_regions(adapter, region, pair_id, (source_region, dest_region))
    adapter._invoke("ebs", source, "delete_disk_replica_pair", ebs_models.DeleteDiskReplicaPairRequest(
        region_id=source, replica_pair_id=pair_id, client_token=_token(client_token)))


def pair_drill_start(adapter: Any, region: str, pair_id: str, *, client_token: str | None = None,
                     source_region: str | None = None, dest_region: str | None = None) -> str:
    """Start a drill: a drill disk at the secondary from the last recovery point; the drill's id."""
    _source, dest = _pair_regions(adapter, region, pair_id, (source_region, dest_region))
    body = adapter._invoke("ebs", dest, "start_pair_drill", ebs_models.StartPairDrillRequest(
        region_id=dest, pair_id=pair_id, client_token=_token(client_token)))
    return body["DrillId"]


def pair_drill_get(adapter: Any, region: str, pair_id: str, drill_id: str, *,
                   source_region: str | None = None, dest_region: str | None = None) -> dict[str, Any] | None:
    _source, dest = _pair_regions(adapter, region, pair_id, (source_region, dest_region))
    body = adapter._invoke("ebs", dest, "describe_pair_drills", ebs_models.DescribePairDrillsRequest(
        region_id=dest, pair_id=pair_id, drill_id=drill_id))
    found = [d for d in body.get("Drills") or [] if d.get("DrillId") == drill_id]
    return _drill_dict(found[0], dest) if found else None


def pair_drills(adapter: Any, region: str, pair_id: str, *, source_region: str | None = None,
                dest_region: str | None = None) -> list[dict[str, Any]]:
    """Every drill of a pair the cloud still has (``DescribePairDrills`` page by page), as ``pair_drill_get``
    renders one: what a cleanup looks for, whoever started them."""
    _source, dest = _pair_regions(adapter, region, pair_id, (source_region, dest_region))
    drills: list[dict[str, Any]] = []
    token = None
    for _page in range(100):
        body = adapter._invoke("ebs", dest, "describe_pair_drills", ebs_models.DescribePairDrillsRequest(
            region_id=dest, pair_id=pair_id, max_results=PAIR_PAGE, next_token=token))
        drills += [_drill_dict(d, dest) for d in body.get("Drills") or [] if d.get("DrillId")]
        token = body.get("NextToken") or None
        if not token:
            break
    return drills


def _drill_dict(d: dict[str, Any], region: str) -> dict[str, Any]:
    return {"id": d["DrillId"], "status": d.get("Status", ""), "disk_id": d.get("DrillDiskId") or "",
            "disk_status": d.get("DrillDiskStatus") or "", "recovery_point": d.get("RecoverPoint"),
            "started_at": d.get("StartAt"), "status_message": d.get("StatusMessage") or "", "region": region}


def pair_drill_clear(adapter: Any, region: str, pair_id: str, drill_id: str, *,
                     source_region: str | None = None, dest_region: str | None = None) -> None:
    """Delete a drill's disk (``ClearPairDrill``)."""
    _source, dest = _pair_regions(adapter, region, pair_id, (source_region, dest_region))
    adapter._invoke("ebs", dest, "clear_pair_drill", ebs_models.ClearPairDrillRequest(
        region_id=dest, pair_id=pair_id, drill_id=drill_id))


def _pair_page(adapter: Any, region: str, token: str | None) -> ResourcePage:
    body = adapter._invoke("ebs", region, "describe_disk_replica_pairs", ebs_models.DescribeDiskReplicaPairsRequest(
        region_id=region, max_results=PAIR_PAGE, next_token=token or None))
    items = [_pair_resource(region, p) for p in body.get("ReplicaPairs") or []]
    return ResourcePage(items, body.get("NextToken") or None)


def _pair_resource(region: str, p: dict[str, Any]) -> CloudResource:
    d = _pair_dict(p)
    status = {"normal": "running", "syncing": "running", "initial_syncing": "running", "created": "stopped",
              "stopped": "stopped", "failovered": "stopped", "creating": "creating", "deleting": "deleting"}
    return CloudResource(
        type="ebs.replication_pair", external_id=d["id"], region=region, zone=d["source_zone"],
        name=d["name"] or d["id"], status=status.get(d["status"], "error" if d["status"].endswith("failed")
                                                     else "updating"),
        spec={"cloud_status": d["status"], "rpo_seconds": d["rpo_seconds"],
              "last_recovery_point": d["last_recovery_point"], "source_disk_id": d["source_disk_id"],
              "dest_disk_id": d["dest_disk_id"], "source_region": d["source_region"],
              "dest_region": d["dest_region"], "dest_zone": d["dest_zone"], "direction": d["direction"]},
        tags=d["tags"], resource_group=p.get("ResourceGroupId") or "",
        relations=[Relation("replicates", "ecs.disk", d["source_disk_id"])] if d["source_disk_id"] else [])


def _pair_get_resource(adapter: Any, region: str, pair_id: str) -> CloudResource | None:
    row = _pair_row(adapter, region, pair_id)
    return _pair_resource(region, row) if row is not None else None


# -- RDS --------------------------------------------------------------------------------------------------

def rds_backup_create(adapter: Any, region: str, db_id: str) -> str:
    """A full physical backup of an RDS instance (``CreateBackup``); the backup job's id."""
    body = adapter._invoke("rds", region, "create_backup", rds_models.CreateBackupRequest(
        dbinstance_id=db_id, backup_method="Physical", backup_type="FullBackup"))
    return str(body["BackupJobId"])


def rds_backup_job_get(adapter: Any, region: str, db_id: str, job_id: str) -> dict[str, Any] | None:
    body = adapter._invoke("rds", region, "describe_backup_tasks", rds_models.DescribeBackupTasksRequest(
        dbinstance_id=db_id, backup_job_id=job_id))
    found = [j for j in (body.get("Items") or {}).get("BackupJob") or [] if str(j.get("BackupJobId")) == str(job_id)]
    if not found:
        return None
    j = found[0]
    progress = str(j.get("Process") or "0").rstrip("%")
    return {"id": str(job_id), "status": j.get("BackupStatus", ""), "progress": int(float(progress or 0)),
            "backup_id": str(j.get("BackupId") or "")}


def rds_backups(adapter: Any, region: str, db_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    number = 1
    while True:
        body = adapter._invoke("rds", region, "describe_backups", rds_models.DescribeBackupsRequest(
            dbinstance_id=db_id, page_number=number, page_size=PAGE_SIZE))
        rows = (body.get("Items") or {}).get("Backup") or []
        out += [{"id": str(b.get("BackupId")), "status": b.get("BackupStatus", ""),
                 "started_at": _epoch(b.get("BackupStartTime")), "ended_at": _epoch(b.get("BackupEndTime")),
                 "size_bytes": int(b.get("BackupSize") or 0), "method": b.get("BackupMethod", ""),
                 "type": b.get("BackupType", "")} for b in rows]
        if not rows or number * PAGE_SIZE >= int(body.get("TotalRecordCount") or 0):
            return out
        number += 1


def rds_restore(adapter: Any, region: str, db_id: str, *, backup_id: str | None = None,
                restore_time: float | None = None, name: str, tags: dict[str, str],
                client_token: str | None = None) -> str:
    """A new instance cloned from ``db_id``: from a backup, or to a point in time (epoch seconds)."""
    if (backup_id is None) == (restore_time is None):
        raise CloudCallError("Give exactly one of backup_id and restore_time.", code="InvalidParameter")
    request = rds_models.CloneDBInstanceRequest(
        region_id=region, dbinstance_id=db_id, pay_type="Postpaid", dbinstance_description=name,
        client_token=_token(client_token),
        tag=[rds_models.CloneDBInstanceRequestTag(key=k, value=v) for k, v in tags.items()] or None)
    if backup_id is not None:
        request.backup_id = backup_id
    else:
        request.restore_time = _iso(float(restore_time))  # type: ignore[arg-type]
    return adapter._invoke("rds", region, "clone_dbinstance", request)["DBInstanceId"]


def rds_cross_region_backup(adapter: Any, region: str, db_id: str, *, dest_region: str, enabled: bool) -> None:
    """Turn the copying of an instance's backups to ``dest_region`` on or off."""
    adapter._invoke("rds", region, "modify_instance_cross_backup_policy",
                    rds_models.ModifyInstanceCrossBackupPolicyRequest(
                        region_id=region, dbinstance_id=db_id, cross_backup_region=dest_region,
                        backup_enabled="1" if enabled else "0", log_backup_enabled="1" if enabled else "0",
                        cross_backup_type="1", retent_type=1, retention=7))


# -- HBR ----------------------------------------------------------------------------------------------------

def vault_create(adapter: Any, region: str, *, name: str, kind: str = "local", dest_region: str | None = None) -> str:
    if kind not in ("local", "cross_region"):
        raise CloudCallError(f"Unknown vault kind {kind!r}.", code="InvalidParameter")
    if kind == "cross_region" and not dest_region:
        raise CloudCallError("A cross-region vault needs dest_region.", code="MissingParameter")
    vault_id = adapter._invoke("hbr", region, "create_vault", hbr_models.CreateVaultRequest(
        vault_region_id=region, vault_name=name, vault_type="STANDARD", vault_storage_class="STANDARD"))["VaultId"]
    if kind == "cross_region":
        deadline = time.monotonic() + max(60.0, adapter.timeout * 3)
        while (vault_get(adapter, region, vault_id) or {}).get("status") != "CREATED":
            if time.monotonic() > deadline:
                raise CloudCallError(f"The vault {vault_id} did not become ready in time.", code="VaultStatusInvalid",
                                     transient=True, action="DescribeVaults")
            time.sleep(0.2)
        adapter._invoke("hbr", dest_region, "create_replication_vault", hbr_models.CreateReplicationVaultRequest(
            vault_region_id=dest_region, vault_name=f"{name}-replica", replication_source_region_id=region,
            replication_source_vault_id=vault_id, vault_storage_class="STANDARD"))
    return vault_id


def _vault_rows(adapter: Any, region: str, **filters: Any) -> tuple[list[dict[str, Any]], int]:
    body = adapter._invoke("hbr", region, "describe_vaults", hbr_models.DescribeVaultsRequest(
        vault_region_id=region, **filters))
    return list((body.get("Vaults") or {}).get("Vault") or []), int(body.get("TotalCount") or 0)


def _vault_dict(region: str, v: dict[str, Any]) -> dict[str, Any]:
    return {"id": v["VaultId"], "name": v.get("VaultName", ""), "status": v.get("Status", ""),
            "kind": "replica" if v.get("Replication") else "cross_region" if v.get("ReplicationTargetVaultId")
            else "local", "region": v.get("VaultRegionId") or region,
            "replica_vault_id": v.get("ReplicationTargetVaultId") or "",
            "source_vault_id": v.get("ReplicationSourceVaultId") or "",
            "bytes": int(v.get("StorageSize") or 0), "created_at": v.get("CreatedTime")}


def vault_get(adapter: Any, region: str, vault_id: str) -> dict[str, Any] | None:
    rows, _total = _vault_rows(adapter, region, vault_id=vault_id)
    found = [v for v in rows if v.get("VaultId") == vault_id]
    return _vault_dict(region, found[0]) if found else None


def backup_plan_create(adapter: Any, region: str, *, vault_id: str, source_type: str, source_id: str, schedule: str,
                       retention_days: int, name: str) -> str:
    if source_type == "RDS":
        period, at = _rds_schedule(schedule)
        adapter._invoke("rds", region, "modify_backup_policy", rds_models.ModifyBackupPolicyRequest(
            dbinstance_id=source_id, preferred_backup_period=period, preferred_backup_time=at,
            backup_retention_period=str(int(retention_days))))
        return f"rds:{source_id}"
    request = hbr_models.CreateBackupPlanRequest(vault_id=vault_id, plan_name=name, schedule=schedule,
                                                 retention=int(retention_days), backup_type="COMPLETE")
    if source_type == "ECS_DISK":
        disk = _disk(adapter, region, source_id)
        if not disk.get("InstanceId"):
            raise CloudCallError(f"The disk {source_id} is not attached to an instance; HBR backs up disks of "
                                 "instances.", code="IncorrectDiskStatus", action="CreateBackupPlan")
        request.source_type, request.instance_id = "UDM_ECS", disk["InstanceId"]
        request.detail = {"diskIdList": [source_id], "snapshotGroup": False}
    elif source_type == "OSS":
        request.source_type, request.bucket = "OSS", source_id
    elif source_type == "NAS":
        request.source_type, request.file_system_id, request.path = "NAS", source_id, ["/"]
    else:
        raise CloudCallError(f"Unknown backup source type {source_type!r}.", code="InvalidParameter")
    return adapter._invoke("hbr", region, "create_backup_plan", request)["PlanId"]


def _rds_schedule(schedule: str) -> tuple[str, str]:
    """RDS's backup window from an HBR schedule ``I|<start>|PT<n>H``: every day at the start's hour."""
    try:
        start = int(schedule.split("|")[1])
    except (IndexError, ValueError):
        raise CloudCallError(f"The schedule {schedule!r} is not I|<start epoch>|<interval>.",
                             code="InvalidParameter") from None
    hour = time.gmtime(start).tm_hour
    return ("Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday",
            f"{hour:02d}:00Z-{(hour + 1) % 24:02d}:00Z")


def backup_job_run(adapter: Any, region: str, plan_id: str) -> str:
    """Run a plan now; the job's id (for an RDS plan ``rds:<db id>:<backup job id>``)."""
    if plan_id.startswith("rds:"):
        db_id = plan_id.split(":", 1)[1]
        return f"rds:{db_id}:{rds_backup_create(adapter, region, db_id)}"
    plan = _plan_row(adapter, region, plan_id)
    if plan is None:
        raise CloudCallError(f"The backup plan {plan_id} does not exist.", code="PlanNotExist", status=404,
                             action="ExecuteBackupPlan")
    return adapter._invoke("hbr", region, "execute_backup_plan", hbr_models.ExecuteBackupPlanRequest(
        plan_id=plan_id, source_type=plan.get("SourceType"), vault_id=plan.get("VaultId")))["JobId"]


def _plan_row(adapter: Any, region: str, plan_id: str) -> dict[str, Any] | None:
    body = adapter._invoke("hbr", region, "describe_backup_plans", hbr_models.DescribeBackupPlansRequest(
        filters=[hbr_models.DescribeBackupPlansRequestFilters(key="planId", values=[plan_id])]))
    found = [p for p in (body.get("BackupPlans") or {}).get("BackupPlan") or [] if p.get("PlanId") == plan_id]
    return found[0] if found else None


def _hbr_v2(adapter: Any, region: str, sdk_method: str, request: Any) -> dict[str, Any]:
    """An HBR "...2" list call: its SDK method is named ``<name>_2with_options``, which ``_invoke`` cannot
    spell, so the client is called here through the adapter's retries and error classification."""
    client = adapter._client("hbr", region)
    response = adapter.call(sdk_method, lambda: getattr(client, sdk_method)(request, adapter._runtime()))
    return response.body.to_map() if response.body is not None else {}


def backup_job_get(adapter: Any, region: str, job_id: str) -> dict[str, Any] | None:
    if job_id.startswith("rds:"):
        _rds, db_id, task = job_id.split(":", 2)
        job = rds_backup_job_get(adapter, region, db_id, task)
        if job is None:
            return None
        status = {"Finished": "COMPLETE", "Failed": "FAILED"}.get(job["status"], "RUNNING")
        return {"id": job_id, "status": status, "progress": job["progress"], "bytes": None,
                "snapshot_id": f"rds:{db_id}:{job['backup_id']}" if job["backup_id"] else ""}
    for source in HBR_SOURCES:  # the list answers one source type at a time
        body = _hbr_v2(adapter, region, "describe_backup_jobs_2with_options", hbr_models.DescribeBackupJobs2Request(
            source_type=source, filters=[hbr_models.DescribeBackupJobs2RequestFilters(
                key="jobId", operator="EQUAL", values=[job_id])]))
        found = [j for j in (body.get("BackupJobs") or {}).get("BackupJob") or [] if j.get("JobId") == job_id]
        if found:
            break
    else:
        return None
    j = found[0]
    snapshot_id = ""
    if j.get("Status") == "COMPLETE":
        snap = _hbr_snapshot(adapter, region, [source], "jobId", job_id)
        snapshot_id = (snap or {}).get("SnapshotId") or ""
    return {"id": job_id, "status": j.get("Status", ""), "progress": int(j.get("Progress") or 0) // 100,
            "bytes": int(j.get("BytesDone") or 0), "snapshot_id": snapshot_id, "source_type": source,
            "plan_id": j.get("PlanId") or ""}


def restore_job_create(adapter: Any, region: str, *, snapshot_id: str, target: str = "in_place", name: str) -> str:
    """Restore a backup: over its source (``in_place``) or as a new resource (``new``, "rebuild")."""
    if target not in ("in_place", "new"):
        raise CloudCallError(f"Unknown restore target {target!r}.", code="InvalidParameter")
    if snapshot_id.startswith("rds:"):
        _rds, db_id, backup_id = snapshot_id.split(":", 2)
        if target == "in_place":
            raise UnsupportedOperation("RDS restores as a new instance only (CloneDBInstance); restore with "
                                       "target='new'.")
        return f"rds:{rds_restore(adapter, region, db_id, backup_id=backup_id, name=name, tags={})}"
    snap = _hbr_snapshot(adapter, region, HBR_SOURCES, "snapshotId", snapshot_id)
    if snap is None:
        raise CloudCallError(f"The backup snapshot {snapshot_id} does not exist.", code="SnapshotNotExist",
                             status=404, action="CreateRestoreJob")
    source = snap.get("SourceType", "")
    request = hbr_models.CreateRestoreJobRequest(snapshot_id=snapshot_id, source_type=source,
                                                 vault_id=snap.get("VaultId"), snapshot_hash=snap.get("SnapshotHash"))
    if source == "UDM_ECS":
        request.restore_type = "UDM_ECS_ROLLBACK" if target == "in_place" else "UDM_ECS_DISK"
        request.udm_detail = {"targetInstanceId": snap.get("InstanceId") or "", "restoreName": name}
    elif source == "OSS":
        request.restore_type = "OSS"
        request.target_bucket = snap.get("Bucket") if target == "in_place" else name
        request.target_prefix = ""
    elif source == "NAS":
        request.restore_type = "NAS"
        request.target_file_system_id = snap.get("FileSystemId")
        request.target_path = "/" if target == "in_place" else f"/{name}"
        request.target_create_time = snap.get("CreateTime")
    else:
        raise UnsupportedOperation(f"Restoring a {source} backup is not offered.")
    return adapter._invoke("hbr", region, "create_restore_job", request)["RestoreId"]


def _hbr_snapshot(adapter: Any, region: str, sources: tuple[str, ...] | list[str], field: str,
                  value: str) -> dict[str, Any] | None:
    """The backup snapshot whose ``field`` is ``value`` (searched source type by source type)."""
    for source in sources:
        body = adapter._invoke("hbr", region, "search_historical_snapshots",
                               hbr_models.SearchHistoricalSnapshotsRequest(
                                   source_type=source, query=[{"field": field, "value": value,
                                                               "operation": "MATCH_TERM"}], limit=10))
        found = [s for s in (body.get("Snapshots") or {}).get("Snapshot") or [] if s.get(_SNAP_FIELDS[field]) == value]
        if found:
            return found[0]
    return None


def restore_job_get(adapter: Any, region: str, restore_id: str) -> dict[str, Any] | None:
    if restore_id.startswith("rds:"):
        db_id = restore_id.split(":", 1)[1]
        body = adapter._invoke("rds", region, "describe_dbinstance_attribute",
                               rds_models.DescribeDBInstanceAttributeRequest(dbinstance_id=db_id))
        rows = (body.get("Items") or {}).get("DBInstanceAttribute") or []
        if not rows:
            return None
        status = rows[0].get("DBInstanceStatus", "")
        return {"id": restore_id, "status": "COMPLETE" if status == "Running" else "RUNNING",
                "progress": 100 if status == "Running" else 50, "target_id": db_id}
    for kind in RESTORE_TYPES:  # the list answers one restore type at a time
        body = _hbr_v2(adapter, region, "describe_restore_jobs_2with_options", hbr_models.DescribeRestoreJobs2Request(
            restore_type=kind, filters=[hbr_models.DescribeRestoreJobs2RequestFilters(
                key="restoreId", operator="EQUAL", values=[restore_id])]))
        found = [j for j in (body.get("RestoreJobs") or {}).get("RestoreJob") or []
                 if j.get("RestoreId") == restore_id]
        if found:
            break
    else:
        return None
    j = found[0]
    target_id = j.get("TargetInstanceId") or j.get("TargetBucket") or j.get("TargetFileSystemId") or ""
    if kind == "UDM_ECS_DISK":
        try:
            disks = (json.loads(j.get("UdmDetail") or "{}") or {}).get("diskIdList") or []
        except ValueError:
            disks = []
        target_id = ",".join(disks)
    return {"id": restore_id, "status": j.get("Status", ""), "progress": int(j.get("Progress") or 0) // 100,
            "target_id": target_id, "restore_type": kind}


def _vault_page(adapter: Any, region: str, token: str | None) -> ResourcePage:
    number = int(token or 1)
    rows, total = _vault_rows(adapter, region, page_number=number, page_size=PAGE_SIZE)
    items = [_vault_resource(region, v) for v in rows]
    return ResourcePage(items, str(number + 1) if rows and number * PAGE_SIZE < total else None)


def _vault_resource(region: str, v: dict[str, Any]) -> CloudResource:
    d = _vault_dict(region, v)
    return CloudResource(
        type="asr.backup_vault", external_id=d["id"], region=region, name=d["name"] or d["id"],
        status={"CREATED": "available", "INITIALIZING": "creating", "ERROR": "error"}.get(d["status"], "unknown"),
        spec={"cloud_status": d["status"], "kind": d["kind"], "source_vault_id": d["source_vault_id"],
              "bytes": d["bytes"], "vault_type": v.get("VaultType"), "storage_class": v.get("VaultStorageClass")},
        resource_group=v.get("ResourceGroupId") or "")


def _plan_page(adapter: Any, region: str, token: str | None) -> ResourcePage:
    """The plans whose vault is in ``region`` (HBR lists every region's plans at one endpoint)."""
    vaults = [v["VaultId"] for v in _all_vaults(adapter, region)]
    if not vaults:
        return ResourcePage([], None)
    number = int(token or 1)
    body = adapter._invoke("hbr", region, "describe_backup_plans", hbr_models.DescribeBackupPlansRequest(
        page_number=number, page_size=PAGE_SIZE,
        filters=[hbr_models.DescribeBackupPlansRequestFilters(key="vaultId", values=vaults)]))
    rows = (body.get("BackupPlans") or {}).get("BackupPlan") or []
    items = [CloudResource(
        type="asr.backup_plan", external_id=p["PlanId"], region=region, name=p.get("PlanName") or p["PlanId"],
        status="stopped" if p.get("Disabled") else "running",
        spec={"source_type": p.get("SourceType"), "vault_id": p.get("VaultId"), "schedule": p.get("Schedule"),
              "retention_days": p.get("Retention"), "instance_id": p.get("InstanceId") or "",
              "bucket": p.get("Bucket") or "", "file_system_id": p.get("FileSystemId") or ""},
        relations=[Relation("stored_in", "asr.backup_vault", p["VaultId"])] if p.get("VaultId") else [])
        for p in rows]
    total = int(body.get("TotalCount") or 0)
    return ResourcePage(items, str(number + 1) if rows and number * PAGE_SIZE < total else None)


def _all_vaults(adapter: Any, region: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    number = 1
    while True:
        rows, total = _vault_rows(adapter, region, page_number=number, page_size=PAGE_SIZE)
        out += rows
        if not rows or number * PAGE_SIZE >= total:
            return out
        number += 1


# -- OSS replication ----------------------------------------------------------------------------------------

def bucket_replication_create(adapter: Any, region: str, bucket: str, *, dest_region: str, dest_bucket: str) -> str:
    """Replicate ``bucket`` (existing and new objects) to ``dest_bucket`` in ``dest_region``; the rule's id."""
    rule = oss2.models.ReplicationRule(target_bucket_name=dest_bucket,
                                       target_bucket_location=adapter.connection.clusters(dest_region)[0],
                                       is_enable_historical_object_replication=True, action_list=["ALL"])
    adapter.call("PutBucketReplication", lambda: adapter._oss(region, bucket).put_bucket_replication(rule))
    result = adapter.call("GetBucketReplication", lambda: adapter._oss(region, bucket).get_bucket_replication())
    for found in result.rule_list:
        if found.target_bucket_name == dest_bucket:
            return found.rule_id
    raise CloudCallError(f"The replication rule of {bucket} to {dest_bucket} was not kept.",
                         code="NoSuchReplicationRule", action="GetBucketReplication")


def bucket_replication_progress(adapter: Any, region: str, bucket: str, rule_id: str) -> dict[str, Any]:
    result = adapter.call("GetBucketReplicationProgress",
                          lambda: adapter._oss(region, bucket).get_bucket_replication_progress(rule_id))
    progress = result.progress
    point = progress.new_object_progress
    return {"status": progress.status or "", "historical_progress": float(progress.historical_object_progress or 0),
            "new_object_point": _oss_time(point), "dest_bucket": progress.target_bucket_name or ""}


def _oss_time(value: Any) -> float | None:
    if not value:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(calendar.timegm(time.strptime(str(value), "%a, %d %b %Y %H:%M:%S GMT")))
    except ValueError:
        return _epoch(value)


# -- endpoint switch ----------------------------------------------------------------------------------------

def change_record(adapter: Any, zone_id: str, name: str, value: str) -> None:
    raise UnsupportedOperation("Apsara Stack offers no DNS API to this console; switch the endpoint by hand or "
                               "through a load balancer.")


def register_listings() -> None:
    """Register the collected types (at import, below)."""
    extensions.register_listing(ADAPTER, extensions.Listing(type="ecs.snapshot", service="ecs", list=_snapshot_page,
                                                           get=_snapshot_get_resource))
    extensions.register_listing(ADAPTER, extensions.Listing(
        type="ebs.replication_pair", service="ebs", list=_pair_page, get=_pair_get_resource))
    extensions.register_listing(ADAPTER, extensions.Listing(
        type="asr.backup_vault", service="asr", list=_vault_page,
        get=lambda adapter, region, vid: next(iter(_vault_resource(region, v) for v in _vault_rows(
            adapter, region, vault_id=vid)[0] if v.get("VaultId") == vid), None)))
    extensions.register_listing(ADAPTER, extensions.Listing(type="asr.backup_plan", service="asr", list=_plan_page))


register_listings()
