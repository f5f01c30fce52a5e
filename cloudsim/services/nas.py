"""File Storage NAS API (``Nas``, version 2017-06-26): file systems.

``CreateFileSystem`` needs ``ProtocolType`` and ``StorageType`` (and, for an extreme or CPFS file
system, ``ZoneId``; a vSwitch names its VPC). NAS takes no region parameter in the list: every
region's file systems are answered, each naming its ``RegionId``. Pending -> Running;
``DeleteFileSystem``: Deleting -> gone. ``DescribeFileSystems`` pages by PageNumber (PageSize at most 100).
"""

from __future__ import annotations

from typing import Any

from ..errors import CloudError
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import kv_tags, numbered, public, rid

V = "2017-06-26"
product(V, "Nas")
register_kind("nas_fs")
STORAGE = {"standard": {"Performance", "Capacity", "Premium"}, "extreme": {"standard", "advance"},
           "cpfs": {"advance_100", "advance_200"}}


@action(V, "CreateFileSystem")
def create_file_system(store: Store, p) -> dict[str, Any]:
    protocol = p.str("ProtocolType", required=True, choices={"NFS", "SMB", "cpfs"})
    storage = p.str("StorageType", required=True) or ""
    fs_type = p.str("FileSystemType", "standard", choices=set(STORAGE))
    if storage not in STORAGE[fs_type]:
        raise CloudError("InvalidParameter.StorageType", "The specified StorageType is not valid for the file system.")
    region = store.regions[0]
    zone = p.str("ZoneId", "")
    if fs_type != "standard":
        zone = store.check_zone(region, zone)
    vsw_id, vpc_id = p.str("VSwitchId", ""), p.str("VpcId", "")
    if vsw_id:
        vsw = store.tables["vswitch"].get(vsw_id)
        if vsw is None:
            raise CloudError("InvalidVSwitchId.NotFound", "The specified VSwitchId does not exist.", 404)
        vpc_id = vpc_id or vsw["VpcId"]
        zone = zone or vsw["ZoneId"]
    if p.bool("DryRun"):
        raise CloudError("DryRunOperation", "Request validation has been passed with DryRun flag set.", 400)
    fs_id = rid("", 5) if fs_type == "standard" else rid("extreme-", 5)
    record = store.add("nas_fs", {
        "FileSystemId": fs_id, "RegionId": region, "ZoneId": zone or f"{region}-a", "ProtocolType": protocol,
        "StorageType": storage, "FileSystemType": fs_type, "Description": p.str("Description", ""),
        "Capacity": p.int("Capacity", 0) or 0, "MeteredSize": 0, "Bandwidth": 150, "ChargeType": "PayAsYouGo",
        "EncryptType": p.int("EncryptType", 0), "CreateTime": iso_now(), "ExpiredTime": "", "VpcId": vpc_id,
        "ResourceGroupId": p.str("ResourceGroupId", "rg-default"), "Version": "1.0", "_vswitch": vsw_id, "_tags": {},
    }, "FileSystemId")
    store.schedule(record, "Pending", "Running")
    return {"FileSystemId": fs_id}


def _render(record: dict[str, Any]) -> dict[str, Any]:
    out = public(record, "Status")
    targets = []
    if record["_vswitch"]:
        targets.append({"MountTargetDomain": f"{record['FileSystemId']}-mt.{record['RegionId']}.nas.cloudsim.internal",
                        "NetworkType": "Vpc", "Status": "Active", "AccessGroupName": "DEFAULT_VPC_GROUP_NAME",
                        "VpcId": record["VpcId"], "VswId": record["_vswitch"]})
    out["MountTargets"] = {"MountTarget": targets}
    out["Tags"] = {"Tag": kv_tags(record["_tags"])}
    return out


@action(V, "DescribeFileSystems")
def describe_file_systems(store: Store, p) -> dict[str, Any]:
    wanted, vpc_id = p.str("FileSystemId"), p.str("VpcId")
    fs_type = p.str("FileSystemType", "all")
    rows = [f for f in store.rows("nas_fs") if (not wanted or f["FileSystemId"] in wanted.split(","))
            and (not vpc_id or f["VpcId"] == vpc_id) and fs_type in ("all", f["FileSystemType"])]
    chunk, number, size = numbered(rows, p, default=10, max_size=100)
    return {"FileSystems": {"FileSystem": [_render(f) for f in chunk]}, "TotalCount": len(rows),
            "PageNumber": number, "PageSize": size}


@action(V, "DeleteFileSystem")
def delete_file_system(store: Store, p) -> dict[str, Any]:
    record = store.get("nas_fs", p.str("FileSystemId", required=True), "InvalidFileSystem.NotFound", "file system")
    store.schedule(record, "Deleting", "Deleted")
    return {}
