"""ECS snapshots (API version 2014-05-26): CreateSnapshot, DescribeSnapshots, CopySnapshot, DeleteSnapshot,
ResetDisk, and ``CreateDisk`` with ``SnapshotId``.

A snapshot is ``progressing`` for one step and then ``accomplished`` (``Progress`` ``"100%"``,
``Available`` true). A copy (``CopySnapshot``, to any region of cloudsim, the source accomplished) goes
the same way in its destination region and names its source (``SourceSnapshotId``,
``SourceRegionId``). ``ResetDisk`` rolls a disk back to one of its own snapshots; the disk must be
unattached or its instance stopped (``IncorrectInstanceStatus``), and it is ``ReIniting`` for one step.
A snapshot a disk was made from can only be deleted with ``Force`` (``SnapshotCreatedDisk``).

``CreateDisk`` of ``ecs.py`` has no ``SnapshotId``: this module registers ``CreateDisk`` again, handing
a request without ``SnapshotId`` to ``ecs.py``'s handler unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from ..catalog import DISK_CATEGORIES
from ..errors import CloudError, invalid
from ..store import Store, iso_now, new_id, register_kind
from . import action, dry_run_passed, match_tags, tag_list
from .ecs import create_disk, get_disk, new_disk, paged, require_status

V = "2014-05-26"
register_kind("snapshot", "s-")
STATUSES = ("progressing", "accomplished", "failed")


def get_snapshot(store: Store, snapshot_id: str | None) -> dict[str, Any]:
    return store.get("snapshot", snapshot_id, "InvalidSnapshotId.NotFound", "snapshot")


def render(snapshot: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in snapshot.items() if not k.startswith("_")}
    done = snapshot["Status"] == "accomplished"
    out["Progress"] = "100%" if done else "50%"
    out["Available"] = done
    out["RemainTime"] = 0 if done else 1
    out["Tags"] = tag_list(snapshot["_tags"])
    return out


def new_snapshot(store: Store, *, region_id: str, disk: dict[str, Any] | None, name: str, description: str,
                 tags: dict[str, str], retention_days: int | None, source: dict[str, Any] | None = None) -> dict:
    base = source if source is not None else None
    now = iso_now()
    record = store.add("snapshot", {
        "SnapshotId": new_id("snapshot"), "SnapshotName": name, "Description": description, "RegionId": region_id,
        "Status": "progressing", "CreationTime": now, "LastModifiedTime": now,
        "SourceDiskId": disk["DiskId"] if disk is not None else base["SourceDiskId"],
        "SourceDiskSize": str(disk["Size"] if disk is not None else base["SourceDiskSize"]),
        "SourceDiskType": (disk["Type"] if disk is not None else base["SourceDiskType"]),
        "SourceStorageType": "disk", "SourceRegionId": base["RegionId"] if base is not None else "",
        "SourceSnapshotId": base["SnapshotId"] if base is not None else "", "Usage": "none", "Category": "standard",
        "Encrypted": False, "InstantAccess": False, "InstantAccessRetentionDays": 0, "ProductCode": "",
        "RetentionDays": retention_days or 0, "SnapshotType": "user", "SnapshotSN": "", "SnapshotLinkId": "",
        "ResourceGroupId": "", "KMSKeyId": "", "FullSnapshotSizeInBytes": int(
            disk["Size"] if disk is not None else base["SourceDiskSize"]) * 1024 ** 3,
        "_tags": dict(tags), "_disks_made": [],
    }, "SnapshotId")
    store.schedule(record, "progressing", "accomplished")
    return record


@action(V, "CreateSnapshot")
def create_snapshot(store: Store, p) -> dict[str, Any]:
    disk = get_disk(store, p.str("DiskId", required=True))
    if disk["Status"] not in ("In_use", "Available"):
        raise CloudError("IncorrectDiskStatus", f"The current status of the disk ({disk['Status']}) does not "
                         "support this operation.", 403)
    if sum(1 for s in store.rows("snapshot") if s["SourceDiskId"] == disk["DiskId"]) >= 256:
        raise CloudError("QuotaExceed.Snapshot", "The number of snapshots of the disk exceeds 256.", 403)
    name = p.str("SnapshotName", "")
    if name.startswith(("auto", "http://", "https://")):
        raise invalid("SnapshotName", "It cannot start with auto, http:// or https://.")
    snapshot = new_snapshot(store, region_id=disk["RegionId"], disk=disk, name=name,
                            description=p.str("Description", ""), tags=p.tags(),
                            retention_days=p.int("RetentionDays", lo=1, hi=65536))
    return {"SnapshotId": snapshot["SnapshotId"]}


@action(V, "DescribeSnapshots")
def describe_snapshots(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    raw = p.json_list("SnapshotIds")
    ids = set(raw) if raw is not None else None
    disk_id, name = p.str("DiskId"), p.str("SnapshotName")
    status = p.str("Status", "all", choices={*STATUSES, "all"})
    tags = p.tags()
    rows = [s for s in store.rows("snapshot", region_id)
            if (ids is None or s["SnapshotId"] in ids) and (disk_id is None or s["SourceDiskId"] == disk_id)
            and (name is None or s["SnapshotName"] == name) and (status == "all" or s["Status"] == status)
            and match_tags(s, tags)]
    if p.bool("DryRun"):
        raise dry_run_passed()
    chunk, meta = paged(rows, p, token=True)
    return {"Snapshots": {"Snapshot": [render(s) for s in chunk]}, **meta}


@action(V, "CopySnapshot")
def copy_snapshot(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    source = get_snapshot(store, p.str("SnapshotId", required=True))
    if source["RegionId"] != region_id:
        raise CloudError("InvalidSnapshotId.NotFound", "The specified snapshot does not exist in this region.", 404)
    dest_region = p.str("DestinationRegionId", required=True)
    if dest_region not in store.regions:
        raise CloudError("InvalidDestinationRegionId.NotFound", "The specified DestinationRegionId does not exist.",
                         404)
    name = p.str("DestinationSnapshotName", required=True) or ""
    description = p.str("DestinationSnapshotDescription", required=True) or ""
    if source["Status"] != "accomplished":
        raise CloudError("IncorrectSnapshotStatus", "The snapshot is not accomplished yet and cannot be copied.", 403)
    copy = new_snapshot(store, region_id=dest_region, disk=None, name=name, description=description,
                        tags=p.tags(), retention_days=p.int("RetentionDays", lo=1, hi=65536), source=source)
    return {"SnapshotId": copy["SnapshotId"]}


@action(V, "DeleteSnapshot")
def delete_snapshot(store: Store, p) -> dict[str, Any]:
    snapshot = get_snapshot(store, p.str("SnapshotId", required=True))
    if snapshot["Status"] == "progressing":
        raise CloudError("IncorrectSnapshotStatus", "The snapshot is being created and cannot be deleted.", 403)
    made = [d for d in snapshot["_disks_made"] if d in store.tables["disk"]]
    if made and not p.bool("Force"):
        raise CloudError("SnapshotCreatedDisk", "The snapshot has been used to create disks; delete it with Force.",
                         403)
    store.remove("snapshot", snapshot)
    return {}


@action(V, "ResetDisk")
def reset_disk(store: Store, p) -> dict[str, Any]:
    disk = get_disk(store, p.str("DiskId", required=True))
    snapshot = get_snapshot(store, p.str("SnapshotId", required=True))
    if snapshot["SourceDiskId"] != disk["DiskId"] or snapshot["RegionId"] != disk["RegionId"]:
        raise CloudError("InvalidSnapshotId.NotMatch", "The specified snapshot was not made of the specified disk.",
                         403)
    if snapshot["Status"] != "accomplished":
        raise CloudError("IncorrectSnapshotStatus", "The snapshot is not accomplished yet.", 403)
    if disk["InstanceId"]:
        instance = store.tables["ecs_instance"].get(disk["InstanceId"])
        if instance is not None:
            require_status(instance, "Stopped")
    elif disk["Status"] != "Available":
        raise CloudError("IncorrectDiskStatus", f"The current status of the disk ({disk['Status']}) does not "
                         "support this operation.", 403)
    if p.bool("DryRun"):
        raise dry_run_passed()
    settled = disk["Status"]
    store.schedule(disk, "ReIniting", settled)
    io = store.disk_io.get(disk["DiskId"])
    if io is not None:
        io["resets"] = io.get("resets", 0) + 1
    return {}


@action(V, "CreateDisk")
def create_disk_from_snapshot(store: Store, p) -> dict[str, Any]:
    snapshot_id = p.str("SnapshotId")
    if snapshot_id is None:
        return create_disk(store, p)
    region_id = store.check_region(p.str("RegionId"))
    zone_id = store.check_zone(region_id, p.str("ZoneId"))
    snapshot = get_snapshot(store, snapshot_id)
    if snapshot["RegionId"] != region_id:
        raise CloudError("InvalidSnapshotId.NotFound", "The specified snapshot does not exist in this region.", 404)
    if snapshot["Status"] != "accomplished":
        raise CloudError("IncorrectSnapshotStatus", "The snapshot is not accomplished yet.", 403)
    category = p.str("DiskCategory", "cloud")
    if category not in DISK_CATEGORIES:
        raise CloudError("InvalidDiskCategory.ValueNotSupported", "The specified disk category is not supported.")
    least = int(snapshot["SourceDiskSize"])
    size = p.int("Size", least, lo=1, hi=32768)
    if size < least:
        raise CloudError("InvalidDiskSize.TooSmall", "The size of the disk must not be smaller than the snapshot.")
    disk = new_disk(store, region_id=region_id, zone_id=zone_id, size=size, category=category, disk_type="data",
                    name=p.str("DiskName", ""), tags=p.tags())
    disk["SourceSnapshotId"] = snapshot["SnapshotId"]
    snapshot["_disks_made"].append(disk["DiskId"])
    store.schedule(disk, "Creating", "Available")
    store.touch(snapshot["SnapshotId"], read=True)
    return {"DiskId": disk["DiskId"], "OrderId": ""}



# -- snapshot-consistent groups ---------------------------------------------------------------------------

register_kind("snapshot_group", "ssg-")


def _group_status(store: Store, group: dict[str, Any]) -> str:
    members = [store.tables["snapshot"].get(s) for s in group["_snapshots"]]
    if any(m is None for m in members):
        return "failed"
    store_now = [m for m in members if m is not None and store.settle("snapshot", m, time.time())]
    return "accomplished" if all(m["Status"] == "accomplished" for m in store_now) else "progressing"


def render_group(store: Store, group: dict[str, Any]) -> dict[str, Any]:
    status = _group_status(store, group)
    members = []
    for sid in group["_snapshots"]:
        snap = store.tables["snapshot"].get(sid)
        if snap is None:
            continue
        done = snap["Status"] == "accomplished"
        members.append({"SnapshotId": sid, "SourceDiskId": snap["SourceDiskId"],
                        "SourceDiskType": snap["SourceDiskType"], "Progress": "100%" if done else "50%",
                        "Available": done, "InstantAccess": False, "InstantAccessRetentionDays": 0,
                        "Tags": tag_list(snap["_tags"])})
    return {"SnapshotGroupId": group["SnapshotGroupId"], "Name": group["Name"], "Description": group["Description"],
            "InstanceId": group["InstanceId"], "CreationTime": group["CreationTime"], "Status": status,
            "ProgressStatus": "" if status != "progressing" else "Creating", "ResourceGroupId": "",
            "Snapshots": {"Snapshot": members}, "Tags": tag_list(group["_tags"])}


@action(V, "CreateSnapshotGroup")
def create_snapshot_group(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    instance = store.get("ecs_instance", p.str("InstanceId", required=True), "InvalidInstanceId.NotFound",
                         "instance")
    if instance["RegionId"] != region_id:
        raise CloudError("InvalidInstanceId.NotFound", "The specified instance does not exist in this region.", 404)
    require_status(instance, "Running", "Stopped")
    own = [d for d in store.rows("disk", region_id) if d["InstanceId"] == instance["InstanceId"]]
    wanted, excluded = set(p.repeated("DiskId")), set(p.repeated("ExcludeDiskId"))
    unknown = (wanted | excluded) - {d["DiskId"] for d in own}
    if unknown:
        raise CloudError("InvalidDiskIds.NotBelongToInstance", f"The disks {', '.join(sorted(unknown))} are not "
                         "attached to the instance.", 403)
    disks = [d for d in own if (not wanted or d["DiskId"] in wanted) and d["DiskId"] not in excluded]
    if not disks:
        raise CloudError("InvalidParameter.DiskIds", "The snapshot-consistent group would hold no disk.")
    name = p.str("Name", "")
    tags = p.tags()
    members = [new_snapshot(store, region_id=region_id, disk=d, name=f"{name or 'group'}-{d['DiskId']}",
                            description="", tags=tags, retention_days=None) for d in disks]
    group = store.add("snapshot_group", {
        "SnapshotGroupId": new_id("snapshot_group"), "Name": name, "Description": p.str("Description", ""),
        "InstanceId": instance["InstanceId"], "RegionId": region_id, "CreationTime": iso_now(),
        "_snapshots": [m["SnapshotId"] for m in members], "_tags": tags,
    }, "SnapshotGroupId")
    store.touch(*group["_snapshots"])
    return {"SnapshotGroupId": group["SnapshotGroupId"]}


@action(V, "DescribeSnapshotGroups")
def describe_snapshot_groups(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = set(p.repeated("SnapshotGroupId"))
    statuses = set(p.repeated("Status"))
    instance_id, name = p.str("InstanceId"), p.str("Name")
    tags = p.tags()
    rows = [g for g in store.rows("snapshot_group", region_id)
            if (not ids or g["SnapshotGroupId"] in ids) and (instance_id is None or g["InstanceId"] == instance_id)
            and (name is None or g["Name"] == name) and match_tags(g, tags)
            and (not statuses or _group_status(store, g) in statuses)]
    chunk, meta = paged(rows, p, token=True)
    return {"SnapshotGroups": {"SnapshotGroup": [render_group(store, g) for g in chunk]},
            "NextToken": meta.get("NextToken", "")}


@action(V, "DeleteSnapshotGroup")
def delete_snapshot_group(store: Store, p) -> dict[str, Any]:
    store.check_region(p.str("RegionId"))
    group = store.get("snapshot_group", p.str("SnapshotGroupId", required=True), "InvalidSnapshotGroupId.NotFound",
                      "snapshot-consistent group")
    if _group_status(store, group) == "progressing":
        raise CloudError("IncorrectSnapshotGroupStatus", "The snapshot-consistent group is being created.", 403)
    progress = []
    for sid in group["_snapshots"]:
        snap = store.tables["snapshot"].get(sid)
        if snap is not None:
            store.remove("snapshot", snap)
        progress.append({"OperationStatus": "Success", "RelatedItemSet": {"RelatedItem": [
            {"Name": "SnapshotId", "Value": sid}]}})
    store.remove("snapshot_group", group)
    store.touch(*group["_snapshots"])
    return {"OperationProgressSet": {"OperationProgress": progress}}


# -- copies of one's own images -----------------------------------------------------------------------------
# CreateImage, DeleteImage and DescribeImages (``ImageOwnerAlias=self``) of one's own images are
# ``ecs_keys.py``'s; this module adds CopyImage over the same records.

register_kind("image", "m-")


@action(V, "CopyImage")
def copy_image(store: Store, p) -> dict[str, Any]:
    """A copy of one's own available image in another region: Creating -> Available, ``IsCopied``."""
    region_id = store.check_region(p.str("RegionId"))
    image = store.tables["image"].get(p.str("ImageId", required=True) or "")
    if image is None or not store.settle("image", image, time.time()) or image.get("RegionId") != region_id:
        raise CloudError("InvalidImageId.NotFound", "The specified ImageId does not exist.", 404)
    dest = p.str("DestinationRegionId", required=True)
    if dest not in store.regions:
        raise CloudError("InvalidDestinationRegionId.NotFound", "The specified DestinationRegionId does not exist.",
                         404)
    if image["Status"] != "Available":
        raise CloudError("IncorrectImageStatus", f"The image is {image['Status']}; it cannot be copied.", 403)
    if p.bool("DryRun"):
        raise dry_run_passed()
    copy = {k: v for k, v in image.items() if k not in ("_id", "_seq", "_tl", "_created")}
    image_id = new_id("image")
    copy.update({"ImageId": image_id, "RegionId": dest, "CreationTime": iso_now(), "IsCopied": True,
                 "ImageName": p.str("DestinationImageName") or image["ImageName"],
                 "Description": p.str("DestinationDescription", image.get("Description", "")),
                 "_tags": {**image.get("_tags", {}), **p.tags()}, "_copied_from": image["ImageId"]})
    record = store.add("image", copy, "ImageId")
    store.schedule(record, "Creating", "Available")
    store.touch(image["ImageId"], read=True)
    return {"ImageId": image_id}
