"""ECS API (version 2014-05-26): instances, disks, images, instance types, security groups, tags."""

from __future__ import annotations

import bisect
import ipaddress
import time
from typing import Any

from ..catalog import DISK_CATEGORIES, IMAGE_MAP, IMAGES, INSTANCE_TYPE_MAP, INSTANCE_TYPES
from ..errors import CloudError, incorrect_status, invalid, missing
from ..store import REMOVE_HOOKS, Store, iso_now, new_id
from . import action, dry_run_passed, match_tags, tag_list
from .vpc import (
    EIP_POOL,
    allocate_ip,
    create_vpc,
    create_vswitch,
    detach_eip,
    region_list,
    release_ip,
    vswitch_free_ips,
)

V = "2014-05-26"
TRANSITIONAL = ("Pending", "Starting", "Stopping")


# -- catalog -------------------------------------------------------------------------------------

@action(V, "DescribeRegions")
def describe_regions(store: Store, p) -> dict[str, Any]:
    return region_list(store)


@action(V, "DescribeZones")
def describe_zones(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    types = [t[0] for t in INSTANCE_TYPES]
    return {"Zones": {"Zone": [{
        "ZoneId": z, "LocalName": z.upper(),
        "AvailableInstanceTypes": {"InstanceTypes": types},
        "AvailableDiskCategories": {"DiskCategories": list(DISK_CATEGORIES)},
        "AvailableResourceCreation": {"ResourceTypes": ["Instance", "Disk", "VSwitch"]},
    } for z in store.zones(region_id)]}}


@action(V, "DescribeInstanceTypes")
def describe_instance_types(store: Store, p) -> dict[str, Any]:
    wanted = set(p.repeated("InstanceTypes"))
    family = p.str("InstanceTypeFamily")
    rows = [{
        "InstanceTypeId": tid, "InstanceTypeFamily": fam, "CpuCoreCount": cpu, "MemorySize": float(mem),
        "CpuArchitecture": "X86", "InstanceCategory": "General-purpose", "EniQuantity": 3,
        "EniPrivateIpAddressQuantity": 10, "InstanceBandwidthRx": 1_024_000, "InstanceBandwidthTx": 1_024_000,
    } for tid, fam, cpu, mem in INSTANCE_TYPES if (not wanted or tid in wanted) and (family is None or fam == family)]
    return {"InstanceTypes": {"InstanceType": rows}}


@action(V, "DescribeImages")
def describe_images(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = set(filter(None, (p.str("ImageId") or "").split(",")))
    os_type = p.str("OSType")
    rows = [{
        "ImageId": iid, "ImageName": name, "OSName": os_name, "OSNameEn": os_name, "OSType": os_type_,
        "Platform": os_name.split(" ")[0], "Architecture": "x86_64", "Size": size, "Status": "Available",
        "ImageOwnerAlias": "system", "IsPublic": True, "CreationTime": "2023-09-19T00:00:00Z",
        "Usage": "instance",
    } for iid, name, os_name, os_type_, size in IMAGES
        if (not ids or iid in ids) and (os_type is None or os_type_ == os_type)]
    number = p.int("PageNumber", 1, lo=1)
    size_ = p.int("PageSize", 10, lo=1, hi=100)
    chunk = rows[(number - 1) * size_: number * size_]
    return {"Images": {"Image": chunk}, "TotalCount": len(rows), "PageNumber": number, "PageSize": size_,
            "RegionId": region_id}


# -- paging helpers ------------------------------------------------------------------------------

def paged(rows: list[dict[str, Any]], p, *, max_size: int = 100,
          token: bool = False) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """PageNumber/PageSize paging, or, for an action whose real API has it (``token``), NextToken/MaxResults
    paging when either is given. An action without NextToken ignores it, as the real API does.

    The token is the creation sequence of the last row returned, so a walk is stable while rows are
    added or removed behind it.
    """
    total = len(rows)
    if token and ("NextToken" in p or "MaxResults" in p):
        size = p.int("MaxResults", 10, lo=1, hi=max_size)
        token = p.str("NextToken")
        start = 0
        if token:
            try:
                after = int(token, 16)
            except ValueError:
                raise CloudError("InvalidNextToken.Malformed", "The specified NextToken is not valid.") from None
            start = bisect.bisect_right(rows, after, key=lambda r: r["_seq"])
        chunk = rows[start:start + size]
        more = start + size < total
        return chunk, {"NextToken": format(chunk[-1]["_seq"], "x") if more and chunk else "", "TotalCount": total}
    number = p.int("PageNumber", 1, lo=1, hi=10_000_000)
    size = p.int("PageSize", 10, lo=1, hi=max_size)
    start = (number - 1) * size
    return rows[start:start + size], {"TotalCount": total, "PageNumber": number, "PageSize": size}


# -- instances -----------------------------------------------------------------------------------

def render_instance(store: Store, inst: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in inst.items() if not k.startswith("_")}
    eip = store.tables["eip"].get(inst["_eip"] or "")
    out["VpcAttributes"] = {"VpcId": inst["_vpc"], "VSwitchId": inst["_vswitch"], "NatIpAddress": "",
                            "PrivateIpAddress": {"IpAddress": [inst["_ip"]] if inst["_ip"] else []}}
    out["EipAddress"] = ({"AllocationId": eip["AllocationId"], "IpAddress": eip["IpAddress"],
                          "Bandwidth": int(eip["Bandwidth"]), "InternetChargeType": eip["InternetChargeType"]}
                         if eip else {"AllocationId": "", "IpAddress": ""})
    out["PublicIpAddress"] = {"IpAddress": [inst["_public_ip"]] if inst.get("_public_ip") else []}
    out["InnerIpAddress"] = {"IpAddress": []}
    out["SecurityGroupIds"] = {"SecurityGroupId": list(inst["_sgs"])}
    out["Tags"] = tag_list(inst["_tags"])
    out["OperationLocks"] = {"LockReason": []}
    return out


def instance_type_spec(type_id: str | None) -> dict[str, Any]:
    spec = INSTANCE_TYPE_MAP.get(type_id or "")
    if spec is None:
        raise CloudError("InvalidInstanceType.NotFound", "The specified InstanceType does not exist.", 404)
    return spec


def new_instance(store: Store, *, region_id: str, zone_id: str, type_id: str, image_id: str,
                 vsw: dict[str, Any], sgs: list[str], name: str, host: str, description: str,
                 tags: dict[str, str], bandwidth_out: int, enforce: bool = True) -> dict[str, Any]:
    spec = instance_type_spec(type_id)
    image = IMAGE_MAP[image_id]
    store.reserve_compute(zone_id, spec["vcpu"], spec["memory_gib"], 1, enforce=enforce)
    try:
        ip = allocate_ip(vsw)
    except CloudError:
        store.release_compute(zone_id, spec["vcpu"], spec["memory_gib"], 1)
        raise
    instance_id = new_id("ecs_instance")
    now = iso_now()
    return store.add("ecs_instance", {
        "InstanceId": instance_id, "InstanceName": name or instance_id, "HostName": host or "iZ" + instance_id[2:],
        "Description": description, "RegionId": region_id, "ZoneId": zone_id, "InstanceType": type_id,
        "InstanceTypeFamily": spec["family"], "Cpu": spec["vcpu"], "Memory": spec["memory_gib"] * 1024,
        "ImageId": image_id, "OSName": image["os_name"], "OSNameEn": image["os_name"], "OSType": image["os_type"],
        "Status": "Running", "CreationTime": now, "StartTime": now, "ExpiredTime": "2099-12-31T15:59Z",
        "InstanceChargeType": "PostPaid", "InternetChargeType": "PayByTraffic",
        "InternetMaxBandwidthOut": bandwidth_out, "InternetMaxBandwidthIn": 100, "InstanceNetworkType": "vpc",
        "StoppedMode": "Not-applicable", "IoOptimized": True, "DeletionProtection": False,
        "ResourceGroupId": "", "SerialNumber": instance_id[2:],
        "_vpc": vsw["VpcId"], "_vswitch": vsw["VSwitchId"], "_ip": ip, "_sgs": sgs, "_tags": dict(tags),
        "_eip": None, "_public_ip": _public_ip(store) if bandwidth_out > 0 else "",
    }, "InstanceId")


def _public_ip(store: Store) -> str:
    """The public address an instance with outbound bandwidth gets at creation (from the top of the pool)."""
    return str(EIP_POOL.network_address + EIP_POOL.num_addresses // 2 + store.next_seq() % 60_000)


def _create_common(store: Store, p, *, amount: int) -> tuple[list[dict[str, Any]], bool]:
    region_id = store.check_region(p.str("RegionId"))
    type_id = p.str("InstanceType", required=True)
    instance_type_spec(type_id)
    image_id = p.str("ImageId", required=True)
    if image_id not in IMAGE_MAP:
        raise CloudError("InvalidImageId.NotFound", "The specified ImageId does not exist.", 404)
    vsw = store.get("vswitch", p.str("VSwitchId", required=True), "InvalidVSwitchId.NotFound", "vSwitch")
    if vsw["RegionId"] != region_id:
        raise CloudError("InvalidVSwitchId.NotFound", "The specified vSwitch does not exist in this region.", 404)
    if vsw["Status"] != "Available":
        raise incorrect_status("IncorrectVSwitchStatus", "vSwitch", vsw["Status"])
    zone_id = p.str("ZoneId") or vsw["ZoneId"]
    store.check_zone(region_id, zone_id)
    if zone_id != vsw["ZoneId"]:
        raise CloudError("InvalidVSwitchId.ZoneMismatch", "The specified vSwitch is not in the specified zone.")
    sgs = p.repeated("SecurityGroupIds") or ([p.str("SecurityGroupId")] if p.str("SecurityGroupId") else [])
    if not sgs:  # an instance in a VPC needs a security group
        raise missing("SecurityGroupId")
    for sg_id in sgs:
        sg = store.get("security_group", sg_id, "InvalidSecurityGroupId.NotFound", "security group")
        if sg["VpcId"] != vsw["VpcId"]:
            raise CloudError("InvalidSecurityGroupId.VPCMismatch",
                             "The specified security group and vSwitch are not in the same VPC.")
    system_disk = p.struct("SystemDisk")
    data_disks = p.repeated_struct("DataDisk")
    for d in [system_disk, *data_disks]:
        if d.get("Category") and d["Category"] not in DISK_CATEGORIES:
            raise CloudError("InvalidDiskCategory.ValueNotSupported", "The specified disk category is not supported.")
    spec = INSTANCE_TYPE_MAP[type_id]
    min_amount = p.int("MinAmount", amount, lo=1, hi=amount) if amount > 1 else 1
    # Check the whole batch first, so that a refused request creates nothing.
    possible = amount
    used = store.usage(zone_id)
    cap = store.capacity
    while possible >= min_amount and (
            used["vcpu"] + possible * spec["vcpu"] > cap["zone_vcpu"]
            or used["memory_gib"] + possible * spec["memory_gib"] > cap["zone_memory_gib"]
            or used["private_ips"] + possible > cap["zone_private_ips"]
            or possible > vswitch_free_ips(vsw)):
        possible -= 1
    if possible < min_amount:
        if possible >= 0 and amount > vswitch_free_ips(vsw) and used["vcpu"] + spec["vcpu"] <= cap["zone_vcpu"]:
            raise CloudError("InvalidVSwitchId.IpNotEnough", "The specified VSwitch has not enough IpAddress.", 403)
        if used["private_ips"] + min_amount > cap["zone_private_ips"]:
            raise CloudError("QuotaExceed.PrivateIpAddress",
                             "The number of private IP addresses in the zone exceeds the quota.", 403)
        raise CloudError("OperationDenied.NoStock",
                         "The requested resource is sold out in the specified zone; try other types of resources "
                         "or other regions and zones.", 403)
    name = p.str("InstanceName", "")
    tags = p.tags()
    if p.bool("DryRun"):
        raise dry_run_passed()
    created = []
    for _ in range(possible):
        inst = new_instance(
            store, region_id=region_id, zone_id=zone_id, type_id=type_id, image_id=image_id, vsw=vsw, sgs=sgs,
            name=name, host=p.str("HostName", ""), description=p.str("Description", ""), tags=tags,
            bandwidth_out=p.int("InternetMaxBandwidthOut", 0, lo=0, hi=1024))
        sys_size = int(system_disk.get("Size") or IMAGE_MAP[image_id]["size"])
        new_disk(store, region_id=region_id, zone_id=zone_id, size=sys_size,
                 category=system_disk.get("Category") or "cloud_efficiency", disk_type="system",
                 instance=inst, device="/dev/xvda", delete_with_instance=True)
        for i, d in enumerate(data_disks):
            try:
                size = int(d.get("Size") or 40)
            except ValueError:
                raise invalid("DataDisk.N.Size") from None
            new_disk(store, region_id=region_id, zone_id=zone_id, size=size,
                     category=d.get("Category") or "cloud_efficiency", disk_type="data", instance=inst,
                     device=f"/dev/xvd{chr(ord('b') + i)}",
                     delete_with_instance=(d.get("DeleteWithInstance", "true").lower() != "false"))
        created.append(inst)
    return created, True


@action(V, "RunInstances")
def run_instances(store: Store, p) -> dict[str, Any]:
    amount = p.int("Amount", 1, lo=1, hi=100)
    created, _ = _create_common(store, p, amount=amount)
    for inst in created:
        store.schedule(inst, "Pending", "Starting", "Running")
    return {"InstanceIdSets": {"InstanceIdSet": [i["InstanceId"] for i in created]}, "TradePrice": 0.0,
            "OrderId": ""}


@action(V, "CreateInstance")
def create_instance(store: Store, p) -> dict[str, Any]:
    created, _ = _create_common(store, p, amount=1)
    inst = created[0]
    store.schedule(inst, "Pending", "Stopped")
    inst["StartTime"] = ""
    return {"InstanceId": inst["InstanceId"], "TradePrice": 0.0, "OrderId": ""}


def get_instance(store: Store, instance_id: str | None) -> dict[str, Any]:
    return store.get("ecs_instance", instance_id, "InvalidInstanceId.NotFound", "instance")


def require_status(inst: dict[str, Any], *allowed: str) -> None:
    if inst["Status"] not in allowed:
        raise CloudError("IncorrectInstanceStatus",
                         f"The current status of the resource does not support this operation. "
                         f"(Status: {inst['Status']})", 403)


@action(V, "StartInstance")
def start_instance(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    require_status(inst, "Stopped")
    store.schedule(inst, "Starting", "Running")
    inst["StartTime"] = iso_now()
    return {}


@action(V, "StopInstance")
def stop_instance(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    require_status(inst, "Running")
    store.schedule(inst, "Stopping", "Stopped")
    return {}


@action(V, "RebootInstance")
def reboot_instance(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    require_status(inst, "Running")
    store.schedule(inst, "Stopping", "Starting", "Running")
    return {}


@action(V, "ModifyInstanceSpec")
def modify_instance_spec(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    new_type = p.str("InstanceType", required=True)
    new_spec = instance_type_spec(new_type)
    require_status(inst, "Stopped")
    old_spec = INSTANCE_TYPE_MAP[inst["InstanceType"]]
    dv, dm = new_spec["vcpu"] - old_spec["vcpu"], new_spec["memory_gib"] - old_spec["memory_gib"]
    if dv > 0 or dm > 0:
        store.reserve_compute(inst["ZoneId"], max(dv, 0), max(dm, 0), 0)
    store.release_compute(inst["ZoneId"], max(-dv, 0), max(-dm, 0), 0)
    inst.update({"InstanceType": new_type, "InstanceTypeFamily": new_spec["family"], "Cpu": new_spec["vcpu"],
                 "Memory": new_spec["memory_gib"] * 1024})
    store.dirty = True
    return {}


@action(V, "DeleteInstance")
def delete_instance(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    if not p.bool("Force"):
        require_status(inst, "Stopped")
    elif inst["Status"] == "Pending":
        require_status(inst, "Running", "Stopped", "Starting", "Stopping")
    store.remove("ecs_instance", inst)
    return {}


@action(V, "DeleteInstances")
def delete_instances(store: Store, p) -> dict[str, Any]:
    ids = p.repeated("InstanceId")
    if not ids:
        raise CloudError("MissingParameter", 'The input parameter "InstanceId" that is mandatory is not supplied.')
    instances = [get_instance(store, i) for i in ids]
    if not p.bool("Force"):
        for inst in instances:
            require_status(inst, "Stopped")
    for inst in instances:
        store.remove("ecs_instance", inst)
    return {}


def on_remove_instance(store: Store, inst: dict[str, Any]) -> None:
    spec = INSTANCE_TYPE_MAP.get(inst["InstanceType"], {"vcpu": inst["Cpu"], "memory_gib": inst["Memory"] // 1024})
    store.release_compute(inst["ZoneId"], spec["vcpu"], spec["memory_gib"], 1 if inst["_ip"] else 0)
    if inst["_ip"]:
        release_ip(store, inst["_vswitch"], inst["_ip"])
    eip = store.tables["eip"].get(inst["_eip"] or "")
    if eip is not None:
        detach_eip(store, eip)
        eip["Status"], eip["_tl"] = "Available", None
    for disk in [d for d in store.tables["disk"].values() if d["InstanceId"] == inst["InstanceId"]]:
        if disk["DeleteWithInstance"]:
            store.remove("disk", disk)
        else:
            disk.update({"InstanceId": "", "Device": "", "Status": "Available", "_tl": None})


REMOVE_HOOKS["ecs_instance"] = on_remove_instance


def _json_or_none(p, name: str) -> set[str] | None:
    values = p.json_list(name)
    return set(values) if values is not None else None


@action(V, "DescribeInstances")
def describe_instances(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = _json_or_none(p, "InstanceIds")
    status = p.str("Status", choices={"Pending", "Running", "Starting", "Stopping", "Stopped"})
    zone_id, vpc_id, vsw_id = p.str("ZoneId"), p.str("VpcId"), p.str("VSwitchId")
    name, type_id = p.str("InstanceName"), p.str("InstanceType")
    ips = _json_or_none(p, "PrivateIpAddresses")
    tags = p.tags()
    if ids is not None:
        now = time.time()
        table = store.tables["ecs_instance"]
        candidates = sorted((table[i] for i in ids if i in table), key=lambda r: r["_seq"])
        candidates = [r for r in candidates if store.settle("ecs_instance", r, now)]
        candidates = [r for r in candidates if r["RegionId"] == region_id]
    else:
        candidates = store.rows("ecs_instance", region_id, copy=False)  # read only: filtered into a new list
    if any(v is not None for v in (status, zone_id, vpc_id, vsw_id, name, type_id, ips)) or tags:
        candidates = [
            r for r in candidates
            if (status is None or r["Status"] == status) and (zone_id is None or r["ZoneId"] == zone_id)
            and (vpc_id is None or r["_vpc"] == vpc_id) and (vsw_id is None or r["_vswitch"] == vsw_id)
            and (name is None or r["InstanceName"] == name) and (type_id is None or r["InstanceType"] == type_id)
            and (ips is None or r["_ip"] in ips) and (not tags or match_tags(r, tags))
        ]
    chunk, meta = paged(candidates, p, token=True)
    return {"Instances": {"Instance": [render_instance(store, r) for r in chunk]}, **meta}


@action(V, "DescribeInstanceStatus")
def describe_instance_status(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = set(p.repeated("InstanceId"))
    zone_id = p.str("ZoneId")
    rows = [r for r in store.rows("ecs_instance", region_id)
            if (not ids or r["InstanceId"] in ids) and (zone_id is None or r["ZoneId"] == zone_id)]
    chunk, meta = paged(rows, p, max_size=50)
    return {"InstanceStatuses": {"InstanceStatus": [{"InstanceId": r["InstanceId"], "Status": r["Status"]}
                                                    for r in chunk]}, **meta}


@action(V, "DescribeInstanceAttribute")
def describe_instance_attribute(store: Store, p) -> dict[str, Any]:
    return render_instance(store, get_instance(store, p.str("InstanceId", required=True)))


@action(V, "ModifyInstanceAttribute")
def modify_instance_attribute(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    for field in ("InstanceName", "Description", "HostName"):
        value = p.str(field)
        if value is not None:
            inst[field] = value
    store.dirty = True
    return {}


def bulk_instances(store: Store, *, count: int, region_id: str, zone_id: str, status: str = "Running",
                   type_id: str = "ecs.g6.large", image_id: str | None = None, name_prefix: str = "bulk",
                   tags: dict[str, str] | None = None) -> list[str]:
    """Create ``count`` instances directly in ``status`` for scale tests.

    They live in vSwitches of a dedicated 10.0.0.0/8 VPC (one /16 per 65,000 instances) and count
    against the zone's usage, but the zone's capacity is not enforced for them.
    """
    instance_type_spec(type_id)
    image_id = image_id or next(iter(IMAGE_MAP))
    if image_id not in IMAGE_MAP:
        raise CloudError("InvalidImageId.NotFound", "The specified ImageId does not exist.", 404)
    vpc = next((v for v in store.tables["vpc"].values() if v["VpcName"] == "cloudsim-bulk"
                and v["RegionId"] == region_id), None)
    if vpc is None:
        vpc = create_vpc(store, region_id=region_id, cidr="10.0.0.0/8", name="cloudsim-bulk", ready=True)
    tags = tags or {}
    ids = []
    vsw = None
    for vsw_id in vpc["_vswitches"]:
        candidate = store.tables["vswitch"][vsw_id]
        if candidate["ZoneId"] == zone_id and vswitch_free_ips(candidate) > 0:
            vsw = candidate
            break
    for n in range(count):
        if vsw is None or vswitch_free_ips(vsw) <= 0:
            used = {ipaddress.IPv4Network(store.tables["vswitch"][i]["CidrBlock"]) for i in vpc["_vswitches"]}
            cidr = next((c for c in (ipaddress.IPv4Network(f"10.{k}.0.0/16") for k in range(256)) if c not in used),
                        None)
            if cidr is None:
                raise CloudError("QuotaExceed.PrivateIpAddress", "The bulk VPC has no free address space left.", 403)
            vsw = create_vswitch(store, vpc=vpc, zone_id=zone_id, cidr=str(cidr), name="cloudsim-bulk", ready=True)
        inst = new_instance(store, region_id=region_id, zone_id=zone_id, type_id=type_id, image_id=image_id,
                            vsw=vsw, sgs=[], name=f"{name_prefix}-{n}", host="", description="", tags=tags,
                            bandwidth_out=0, enforce=False)
        inst["Status"] = status
        ids.append(inst["InstanceId"])
    return ids


# -- disks ---------------------------------------------------------------------------------------

def new_disk(store: Store, *, region_id: str, zone_id: str, size: int, category: str, disk_type: str,
             instance: dict[str, Any] | None = None, device: str = "", delete_with_instance: bool = False,
             name: str = "", tags: dict[str, str] | None = None) -> dict[str, Any]:
    if not 1 <= size <= 32768:
        raise CloudError("InvalidDiskSize.ValueNotSupported", "The specified disk size is not supported.")
    return store.add("disk", {
        "DiskId": new_id("disk"), "DiskName": name, "Description": "", "RegionId": region_id, "ZoneId": zone_id,
        "Size": size, "Category": category, "Type": disk_type, "Status": "In_use" if instance else "Available",
        "InstanceId": instance["InstanceId"] if instance else "", "Device": device,
        "DeleteWithInstance": delete_with_instance, "Portable": disk_type == "data", "Encrypted": False,
        "CreationTime": iso_now(), "DiskChargeType": "PostPaid", "ImageId": instance["ImageId"] if instance and
        disk_type == "system" else "", "_tags": dict(tags or {}),
    }, "DiskId")


def render_disk(disk: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in disk.items() if not k.startswith("_")}
    out["Tags"] = tag_list(disk["_tags"])
    return out


@action(V, "CreateDisk")
def create_disk(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    zone_id = store.check_zone(region_id, p.str("ZoneId"))
    category = p.str("DiskCategory", "cloud")  # the real default: a basic disk
    if category not in DISK_CATEGORIES:
        raise CloudError("InvalidDiskCategory.ValueNotSupported", "The specified disk category is not supported.")
    size = p.int("Size", required=True, lo=20, hi=32768)
    disk = new_disk(store, region_id=region_id, zone_id=zone_id, size=size, category=category, disk_type="data",
                    name=p.str("DiskName", ""), tags=p.tags())
    store.schedule(disk, "Creating", "Available")
    return {"DiskId": disk["DiskId"], "OrderId": ""}


def get_disk(store: Store, disk_id: str | None) -> dict[str, Any]:
    return store.get("disk", disk_id, "InvalidDiskId.NotFound", "disk")


@action(V, "AttachDisk")
def attach_disk(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    disk = get_disk(store, p.str("DiskId", required=True))
    if disk["Status"] != "Available":
        raise incorrect_status("IncorrectDiskStatus", "disk", disk["Status"])
    require_status(inst, "Running", "Stopped")
    if disk["ZoneId"] != inst["ZoneId"]:
        raise CloudError("InvalidDiskId.ZoneNotMatch",
                         "The specified disk and instance are not in the same zone.", 403)
    attached = [d for d in store.rows("disk", inst["RegionId"]) if d["InstanceId"] == inst["InstanceId"]]
    if len(attached) >= 17:
        raise CloudError("InstanceDiskNumber.LimitExceed", "The amount of the disk on instance in question reach its "
                         "limits", 403)
    devices = {d["Device"] for d in attached}
    device = next(f"/dev/xvd{c}" for c in "bcdefghijklmnopqrstuvwxyz" if f"/dev/xvd{c}" not in devices)
    disk.update({"InstanceId": inst["InstanceId"], "Device": device,
                 "DeleteWithInstance": p.bool("DeleteWithInstance", False)})
    store.schedule(disk, "Attaching", "In_use")
    return {}


@action(V, "DetachDisk")
def detach_disk(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    disk = get_disk(store, p.str("DiskId", required=True))
    if disk["InstanceId"] != inst["InstanceId"]:
        raise CloudError("IncorrectDiskStatus", "The specified disk is not attached to the specified instance.", 403)
    if disk["Status"] != "In_use":
        raise incorrect_status("IncorrectDiskStatus", "disk", disk["Status"])
    if disk["Type"] == "system" and inst["Status"] != "Stopped":
        require_status(inst, "Stopped")
    disk.update({"InstanceId": "", "Device": ""})
    store.schedule(disk, "Detaching", "Available")
    return {}


@action(V, "DeleteDisk")
def delete_disk(store: Store, p) -> dict[str, Any]:
    disk = get_disk(store, p.str("DiskId", required=True))
    if disk["Status"] != "Available":
        raise incorrect_status("IncorrectDiskStatus", "disk", disk["Status"])
    store.remove("disk", disk)
    return {}


@action(V, "DescribeDisks")
def describe_disks(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = _json_or_none(p, "DiskIds")
    zone_id, instance_id, status = p.str("ZoneId"), p.str("InstanceId"), p.str("Status")
    disk_type, category = p.str("DiskType"), p.str("Category")
    tags = p.tags()
    rows = [d for d in store.rows("disk", region_id)
            if (ids is None or d["DiskId"] in ids) and (zone_id is None or d["ZoneId"] == zone_id)
            and (instance_id is None or d["InstanceId"] == instance_id) and (status is None or d["Status"] == status)
            and (disk_type in (None, "all") or d["Type"] == disk_type) and (category in (None, "all") or
                                                                            d["Category"] == category)
            and match_tags(d, tags)]
    chunk, meta = paged(rows, p, token=True)
    return {"Disks": {"Disk": [render_disk(d) for d in chunk]}, **meta}


# -- security groups -----------------------------------------------------------------------------

@action(V, "CreateSecurityGroup")
def create_security_group(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    vpc = store.get("vpc", p.str("VpcId", required=True), "InvalidVpcId.NotFound", "VPC")
    if vpc["RegionId"] != region_id:
        raise CloudError("InvalidVpcId.NotFound", "The specified VPC does not exist in this region.", 404)
    sg = store.add("security_group", {
        "SecurityGroupId": new_id("security_group"), "SecurityGroupName": p.str("SecurityGroupName", ""),
        "Description": p.str("Description", ""), "VpcId": vpc["VpcId"], "RegionId": region_id,
        "SecurityGroupType": p.str("SecurityGroupType", "normal", choices={"normal", "enterprise"}),
        "CreationTime": iso_now(), "_rules": [], "_tags": p.tags(),
    }, "SecurityGroupId")
    return {"SecurityGroupId": sg["SecurityGroupId"]}


def render_security_group(store: Store, sg: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in sg.items() if not k.startswith("_") and k != "RegionId"}
    out["Tags"] = tag_list(sg["_tags"])
    out["EcsCount"] = sum(1 for r in store.tables["ecs_instance"].values() if sg["SecurityGroupId"] in r["_sgs"])
    out["RuleCount"] = len(sg["_rules"])
    return out


@action(V, "DescribeSecurityGroups")
def describe_security_groups(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = _json_or_none(p, "SecurityGroupIds")
    single = p.str("SecurityGroupId")
    vpc_id, name = p.str("VpcId"), p.str("SecurityGroupName")
    tags = p.tags()
    rows = [s for s in store.rows("security_group", region_id)
            if (ids is None or s["SecurityGroupId"] in ids) and (single is None or s["SecurityGroupId"] == single)
            and (vpc_id is None or s["VpcId"] == vpc_id) and (name is None or s["SecurityGroupName"] == name)
            and match_tags(s, tags)]
    chunk, meta = paged(rows, p, max_size=100, token=True)
    return {"SecurityGroups": {"SecurityGroup": [render_security_group(store, s) for s in chunk]},
            "RegionId": region_id, **meta}


@action(V, "DeleteSecurityGroup")
def delete_security_group(store: Store, p) -> dict[str, Any]:
    sg = store.get("security_group", p.str("SecurityGroupId", required=True), "InvalidSecurityGroupId.NotFound",
                   "security group")
    if any(sg["SecurityGroupId"] in r["_sgs"] for r in store.tables["ecs_instance"].values()):
        raise CloudError("DependencyViolation", "There are still instances in the security group.", 403)
    store.remove("security_group", sg)
    return {}


_PROTOCOLS = {"tcp", "udp", "icmp", "gre", "all", "icmpv6"}


def _rule_from(values: dict[str, str], sg_id: str) -> dict[str, Any]:
    protocol = (values.get("IpProtocol") or "").lower()
    if not protocol:
        raise CloudError("MissingParameter", 'The input parameter "IpProtocol" that is mandatory is not supplied.')
    if protocol not in _PROTOCOLS:
        raise CloudError("InvalidIpProtocol.Malformed", "The specified IpProtocol is not valid.")
    port_range = values.get("PortRange") or ("-1/-1" if protocol in ("icmp", "gre", "all", "icmpv6") else "")
    parts = port_range.split("/")
    try:
        lo, hi = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (0, -2)
    except ValueError:
        lo, hi = 0, -2
    if not ((lo == hi == -1) or (1 <= lo <= hi <= 65535)):
        raise CloudError("InvalidPortRange.Malformed", "The specified PortRange is not valid.")
    cidr = values.get("SourceCidrIp") or "0.0.0.0/0"
    try:
        ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise CloudError("InvalidSourceCidrIp.Malformed", "The specified SourceCidrIp is not valid.") from None
    policy = (values.get("Policy") or "accept").lower()
    if policy not in ("accept", "drop"):
        raise invalid("Policy")
    try:
        priority = int(values.get("Priority") or 1)
    except ValueError:
        priority = 0
    if not 1 <= priority <= 100:
        raise CloudError("InvalidPriority.Malformed", "The specified Priority is not valid.")
    return {"IpProtocol": protocol.upper() if protocol != "all" else "ALL", "PortRange": port_range,
            "SourceCidrIp": cidr, "Policy": policy.capitalize(), "Priority": str(priority), "Direction": "ingress",
            "NicType": values.get("NicType") or "intranet", "Description": values.get("Description") or "",
            "CreateTime": iso_now(), "SecurityGroupRuleId": "sgr-" + new_id("disk")[2:], "DestCidrIp": "",
            "SourceGroupId": "", "DestGroupId": ""}


@action(V, "AuthorizeSecurityGroup")
def authorize_security_group(store: Store, p) -> dict[str, Any]:
    sg = store.get("security_group", p.str("SecurityGroupId", required=True), "InvalidSecurityGroupId.NotFound",
                   "security group")
    specs = p.repeated_struct("Permissions") or [
        {k: p.str(k) for k in ("IpProtocol", "PortRange", "SourceCidrIp", "Policy", "Priority", "NicType",
                               "Description") if p.str(k) is not None}]
    rules = [_rule_from(s, sg["SecurityGroupId"]) for s in specs]
    key = ("IpProtocol", "PortRange", "SourceCidrIp", "Policy", "NicType")
    existing = {tuple(r[k] for k in key) for r in sg["_rules"]}
    for rule in rules:
        if tuple(rule[k] for k in key) in existing:
            raise CloudError("InvalidPermission.Duplicate", "The specified rule exists already.")
    if len(sg["_rules"]) + len(rules) > 200:
        raise CloudError("QuotaExceed.SecurityGroupRule", "The rule count of the security group exceeds 200.", 403)
    sg["_rules"].extend(rules)
    store.dirty = True
    return {}


@action(V, "DescribeSecurityGroupAttribute")
def describe_security_group_attribute(store: Store, p) -> dict[str, Any]:
    sg = store.get("security_group", p.str("SecurityGroupId", required=True), "InvalidSecurityGroupId.NotFound",
                   "security group")
    direction = p.str("Direction", "all")
    rules = [r for r in sg["_rules"] if direction in ("all", r["Direction"])]
    return {"SecurityGroupId": sg["SecurityGroupId"], "SecurityGroupName": sg["SecurityGroupName"],
            "Description": sg["Description"], "VpcId": sg["VpcId"], "RegionId": sg["RegionId"],
            "InnerAccessPolicy": "Accept", "Permissions": {"Permission": rules}}


# -- tags ----------------------------------------------------------------------------------------

TAGGABLE = {"instance": ("ecs_instance", "InvalidInstanceId.NotFound"), "disk": ("disk", "InvalidDiskId.NotFound"),
            "securitygroup": ("security_group", "InvalidSecurityGroupId.NotFound")}


def _tag_targets(store: Store, p) -> tuple[str, list[dict[str, Any]]]:
    resource_type = (p.str("ResourceType", required=True) or "").lower()
    if resource_type not in TAGGABLE:
        raise invalid("ResourceType", f"Supported: {', '.join(sorted(TAGGABLE))}.")
    kind, code = TAGGABLE[resource_type]
    ids = p.repeated("ResourceId")
    if not ids and not p.repeated_struct("Tag"):
        raise CloudError("MissingParameter", 'The input parameter "ResourceId" that is mandatory is not supplied.')
    return resource_type, [store.get(kind, i, code, resource_type) for i in ids]


@action(V, "TagResources")
def tag_resources(store: Store, p) -> dict[str, Any]:
    store.check_region(p.str("RegionId"))
    _, targets = _tag_targets(store, p)
    tags = p.tags()
    if not tags:
        raise CloudError("MissingParameter", 'The input parameter "Tag" that is mandatory is not supplied.')
    for record in targets:
        merged = {**record["_tags"], **tags}
        if len(merged) > 20:
            raise CloudError("InvalidTagCount", "The number of tags on the resource exceeds 20.")
        record["_tags"] = merged
    store.dirty = True
    return {}


@action(V, "UntagResources")
def untag_resources(store: Store, p) -> dict[str, Any]:
    store.check_region(p.str("RegionId"))
    _, targets = _tag_targets(store, p)
    keys = set(p.repeated("TagKey"))
    for record in targets:
        record["_tags"] = {} if p.bool("All") else {k: v for k, v in record["_tags"].items() if k not in keys}
    store.dirty = True
    return {}


@action(V, "ListTagResources")
def list_tag_resources(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    resource_type = (p.str("ResourceType", required=True) or "").lower()
    if resource_type not in TAGGABLE:
        raise invalid("ResourceType", f"Supported: {', '.join(sorted(TAGGABLE))}.")
    kind, code = TAGGABLE[resource_type]
    ids = p.repeated("ResourceId")
    wanted = p.tags()
    records = [store.get(kind, i, code, resource_type) for i in ids] if ids else store.rows(kind, region_id)
    out = []
    for record in records:
        if wanted and not match_tags(record, wanted):
            continue
        for k, v in record["_tags"].items():
            out.append({"ResourceId": record["_id"], "ResourceType": resource_type, "TagKey": k, "TagValue": v})
    start = int(p.str("NextToken") or 0) if (p.str("NextToken") or "0").isdigit() else 0
    chunk = out[start:start + 50]
    return {"TagResources": {"TagResource": chunk}, "NextToken": str(start + 50) if start + 50 < len(out) else ""}


# -- day-2: disk size, rule removal ------------------------------------------------------------------------

@action(V, "ResizeDisk")
def resize_disk(store: Store, p) -> dict[str, Any]:
    disk = get_disk(store, p.str("DiskId", required=True))
    size = p.int("NewSize", required=True, lo=20, hi=32768)
    mode = p.str("Type", "offline", choices={"offline", "online"})
    if disk["Status"] not in ("Available", "In_use"):
        raise incorrect_status("IncorrectDiskStatus", "disk", disk["Status"])
    if mode == "offline" and disk["Status"] == "In_use":
        raise CloudError("IncorrectDiskStatus", "An attached disk is resized online (Type=online).", 403)
    if size <= int(disk["Size"]):
        raise CloudError("InvalidDiskSize.TooSmall", "The new size must be larger than the current size.", 400)
    disk["Size"] = size
    store.dirty = True
    return {}


@action(V, "RevokeSecurityGroup")
def revoke_security_group(store: Store, p) -> dict[str, Any]:
    sg = store.get("security_group", p.str("SecurityGroupId", required=True), "InvalidSecurityGroupId.NotFound",
                   "security group")
    specs = p.repeated_struct("Permissions") or [
        {k: p.str(k) for k in ("IpProtocol", "PortRange", "SourceCidrIp", "Policy", "Priority", "NicType")
         if p.str(k) is not None}]
    key = ("IpProtocol", "PortRange", "SourceCidrIp", "Policy", "NicType")
    gone = {tuple(r[k] for k in key) for r in (_rule_from(s, sg["SecurityGroupId"]) for s in specs)}
    sg["_rules"] = [r for r in sg["_rules"] if tuple(r[k] for k in key) not in gone]  # absent rules: no error
    store.dirty = True
    return {}
