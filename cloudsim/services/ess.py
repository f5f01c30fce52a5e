"""Auto Scaling API (``Ess``, version 2022-02-22): scaling groups and their ECS instances.

``CreateScalingGroup`` needs ``MinSize``, ``MaxSize`` and (for a VPC group) vSwitches;
``AttachInstances`` adds existing ECS instances of the group's region; ``DescribeScalingGroups`` and
``DescribeScalingInstances`` page by PageNumber (PageSize at most 50). Inactive -> Active.
"""

from __future__ import annotations

from typing import Any

from ..errors import CloudError, invalid
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import numbered, public, region_param, rid

V = "2022-02-22"
product(V, "Ess")
register_kind("ess_group")


def _group(store: Store, group_id: str | None) -> dict[str, Any]:
    return store.get("ess_group", group_id, "InvalidScalingGroupId.NotFound", "scaling group")


@action(V, "CreateScalingGroup")
def create_scaling_group(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    low = p.int("MinSize", required=True, lo=0, hi=2000)
    high = p.int("MaxSize", required=True, lo=0, hi=2000)
    if low > high:
        raise CloudError("InvalidParameter.Conflict", "The MinSize must not be greater than the MaxSize.")
    vswitches = p.repeated("VSwitchIds") or ([p.str("VSwitchId")] if p.str("VSwitchId") else [])
    vpc_id = ""
    for vsw_id in vswitches:
        vsw = store.tables["vswitch"].get(vsw_id)
        if vsw is None or vsw.get("RegionId") != region:
            raise CloudError("InvalidVSwitchId.NotFound", f"The specified VSwitchId {vsw_id} does not exist.", 404)
        if vpc_id and vsw["VpcId"] != vpc_id:
            raise CloudError("InvalidVSwitchIds.NotInSameVpc", "The vSwitches must be in the same VPC.")
        vpc_id = vsw["VpcId"]
    name = p.str("ScalingGroupName") or ""
    if name and any(g["ScalingGroupName"] == name for g in store.rows("ess_group", region)):
        raise CloudError("ScalingGroupName.Duplicate", "The specified scaling group name already exists.")
    group_id = rid("asg-", 10)
    record = store.add("ess_group", {
        "ScalingGroupId": group_id, "ScalingGroupName": name or group_id, "RegionId": region, "MinSize": low,
        "MaxSize": high, "DesiredCapacity": p.int("DesiredCapacity", low),
        "DefaultCooldown": p.int("DefaultCooldown", 300),
        "GroupType": p.str("GroupType", "ECS"), "HealthCheckType": p.str("HealthCheckType", "ECS"),
        "MultiAZPolicy": p.str("MultiAZPolicy", "PRIORITY"), "VpcId": vpc_id,
        "VSwitchId": vswitches[0] if vswitches else "", "VSwitchIds": vswitches,
        "RemovalPolicies": ["OldestScalingConfiguration", "OldestInstance"], "CreationTime": iso_now(),
        "GroupDeletionProtection": False, "ResourceGroupId": "rg-default", "_instances": [],
    }, "ScalingGroupId")
    store.schedule(record, "Inactive", "Active")
    return {"ScalingGroupId": group_id}


def _render(store: Store, g: dict[str, Any]) -> dict[str, Any]:
    out = public(g, "LifecycleState")
    members = [i for i in g["_instances"] if i in store.tables["ecs_instance"]]
    out.update({"TotalCapacity": len(members), "ActiveCapacity": len(members), "PendingCapacity": 0,
                "RemovingCapacity": 0, "TotalInstanceCount": len(members), "StandbyCapacity": 0,
                "ProtectedCapacity": 0, "StoppedCapacity": 0, "Tags": []})
    return out


@action(V, "DescribeScalingGroups")
def describe_scaling_groups(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    ids = set(p.repeated("ScalingGroupIds"))
    name = p.str("ScalingGroupName")
    rows = [g for g in store.rows("ess_group", region) if (not ids or g["ScalingGroupId"] in ids)
            and (not name or g["ScalingGroupName"] == name)]
    chunk, number, size = numbered(rows, p, default=10, max_size=50)
    return {"ScalingGroups": [_render(store, g) for g in chunk], "TotalCount": len(rows), "PageNumber": number,
            "PageSize": size}


@action(V, "AttachInstances")
def attach_instances(store: Store, p) -> dict[str, Any]:
    group = _group(store, p.str("ScalingGroupId", required=True))
    ids = p.repeated("InstanceIds")
    if not ids:
        raise CloudError("MissingParameter", 'The input parameter "InstanceIds" that is mandatory for processing '
                         "this request is not supplied.")
    if len(group["_instances"]) + len(ids) > group["MaxSize"]:
        raise CloudError("InvalidParameter.MaxSize", "The number of instances would exceed the MaxSize.")
    for iid in ids:
        inst = store.tables["ecs_instance"].get(iid)
        if inst is None or inst.get("RegionId") != group["RegionId"]:
            raise CloudError("InvalidInstanceId.NotFound", f"The specified instance {iid} does not exist.", 404)
        if iid in group["_instances"]:
            raise invalid("InstanceIds", f"The instance {iid} is already in the scaling group.")
    group["_instances"].extend(ids)
    store.dirty = True
    return {"ScalingActivityId": rid("asa-", 10)}


@action(V, "DescribeScalingInstances")
def describe_scaling_instances(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    group_id = p.str("ScalingGroupId")
    rows = []
    for g in store.rows("ess_group", region):
        if group_id and g["ScalingGroupId"] != group_id:
            continue
        for iid in g["_instances"]:
            inst = store.tables["ecs_instance"].get(iid)
            if inst is None:
                continue
            rows.append({"InstanceId": iid, "ScalingGroupId": g["ScalingGroupId"], "ZoneId": inst.get("ZoneId", ""),
                         "CreationType": "Attached", "LifecycleState": "InService", "HealthStatus": "Healthy",
                         "Entrusted": False, "CreationTime": inst.get("CreationTime", ""),
                         "PrivateIpAddress": inst.get("_ip", ""), "WeightedCapacity": 1})
    chunk, number, size = numbered(rows, p, default=10, max_size=50)
    return {"ScalingInstances": chunk, "TotalCount": len(rows), "PageNumber": number, "PageSize": size}


@action(V, "DeleteScalingGroup")
def delete_scaling_group(store: Store, p) -> dict[str, Any]:
    group = _group(store, p.str("ScalingGroupId", required=True))
    if group["_instances"] and (p.str("ForceDelete") or "false").lower() != "true":
        raise CloudError("Forbidden.Unsupported", "The scaling group still has instances; use ForceDelete.", 403)
    store.schedule(group, "Deleting", "Deleted")
    return {}
