"""KVStore for Redis API (version 2015-01-01, product R-kvstore): cache instances."""

from __future__ import annotations

from typing import Any

from ..catalog import REDIS_CLASSES
from ..errors import CloudError
from ..store import REMOVE_HOOKS, Store, iso_now, new_id
from . import action, dry_run_passed, match_tags, tag_list
from .ecs import paged
from .vpc import allocate_ip, place_in_vswitch, release_ip

V = "2015-01-01"


def _status_error(inst: dict[str, Any]) -> CloudError:
    return CloudError("IncorrectInstanceStatus",
                      f"The current status of the instance does not support this operation. (Status: {inst['Status']})",
                      403)


def render(inst: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in inst.items() if not k.startswith("_") and k != "Status"}
    out["InstanceStatus"] = inst["Status"]
    out["Tags"] = tag_list(inst["_tags"], "Key", "Value")
    return out


def _apply_class(inst: dict[str, Any], instance_class: str) -> None:
    capacity, connections, bandwidth = REDIS_CLASSES[instance_class]
    inst.update({"InstanceClass": instance_class, "Capacity": capacity, "Connections": connections,
                 "Bandwidth": bandwidth, "QPS": connections * 10})


def get_instance(store: Store, instance_id: str | None) -> dict[str, Any]:
    return store.get("redis", instance_id, "InvalidInstanceId.NotFound", "instance")


@action(V, "CreateInstance")
def create_instance(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    instance_class = p.str("InstanceClass", required=True)
    if instance_class not in REDIS_CLASSES:
        raise CloudError("InvalidInstanceClass.NotFound", "The specified InstanceClass does not exist.", 404)
    version = p.str("EngineVersion", "5.0", choices={"4.0", "5.0", "6.0", "7.0"})
    vsw, zone_id = place_in_vswitch(store, region_id=region_id, zone_id=p.str("ZoneId"),
                                    vswitch_id=p.str("VSwitchId", required=True), vpc_id=p.str("VpcId"))
    if p.bool("DryRun"):
        raise dry_run_passed()
    instance_id = new_id("redis")
    ip = allocate_ip(vsw)
    inst = store.add("redis", {
        "InstanceId": instance_id, "InstanceName": p.str("InstanceName", instance_id), "RegionId": region_id,
        "ZoneId": zone_id, "InstanceType": "Redis", "EngineVersion": version, "ArchitectureType": "standard",
        "NodeType": "double", "NetworkType": "VPC", "VpcId": vsw["VpcId"], "VSwitchId": vsw["VSwitchId"],
        "PrivateIp": ip, "ConnectionDomain": f"{instance_id}.redis.cloudsim.internal", "Port": 6379,
        "ChargeType": "PostPaid", "CreateTime": iso_now(), "EndTime": "", "UserName": instance_id,
        "EditionType": "Community", "ResourceGroupId": "rg-default", "Status": "Creating", "_tags": p.tags(),
    }, "InstanceId")
    _apply_class(inst, instance_class)
    store.schedule(inst, "Creating", "Normal")
    out = render(inst)
    out["PrivateIpAddr"] = ip
    return {k: out[k] for k in ("InstanceId", "InstanceName", "InstanceStatus", "RegionId", "ZoneId", "Capacity",
                                "Connections", "Bandwidth", "QPS", "Port", "ConnectionDomain", "VpcId",
                                "VSwitchId", "ChargeType", "PrivateIpAddr", "NetworkType")} | {"OrderId": ""}


@action(V, "DescribeInstances")
def describe_instances(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = set(filter(None, (p.str("InstanceIds") or "").split(",")))
    status, vpc_id, zone_id = p.str("InstanceStatus"), p.str("VpcId"), p.str("ZoneId")
    tags = p.tags()
    rows = [r for r in store.rows("redis", region_id)
            if (not ids or r["InstanceId"] in ids) and (status is None or r["Status"] == status)
            and (vpc_id is None or r["VpcId"] == vpc_id) and (zone_id is None or r["ZoneId"] == zone_id)
            and match_tags(r, tags)]
    chunk, meta = paged(rows, p, max_size=50)
    return {"Instances": {"KVStoreInstance": [render(r) for r in chunk]}, **meta}


@action(V, "DescribeInstanceAttribute")
def describe_instance_attribute(store: Store, p) -> dict[str, Any]:
    return {"Instances": {"DBInstanceAttribute": [render(get_instance(store, p.str("InstanceId", required=True)))]}}


@action(V, "ModifyInstanceSpec")
def modify_instance_spec(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    instance_class = p.str("InstanceClass", required=True)
    if instance_class not in REDIS_CLASSES:
        raise CloudError("InvalidInstanceClass.NotFound", "The specified InstanceClass does not exist.", 404)
    if inst["Status"] != "Normal":
        raise _status_error(inst)
    _apply_class(inst, instance_class)
    store.schedule(inst, "Changing", "Normal")
    return {"OrderId": ""}


@action(V, "RestartInstance")
def restart_instance(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    if inst["Status"] != "Normal":
        raise _status_error(inst)
    store.schedule(inst, "Rebooting", "Normal")
    return {}


@action(V, "DeleteInstance")
def delete_instance(store: Store, p) -> dict[str, Any]:
    inst = get_instance(store, p.str("InstanceId", required=True))
    if inst["Status"] not in ("Normal", "Creating"):
        raise _status_error(inst)
    store.schedule(inst, "Released", "Deleted")  # released, then gone from every list
    return {}


def on_remove(store: Store, inst: dict[str, Any]) -> None:
    release_ip(store, inst["VSwitchId"], inst["PrivateIp"])


REMOVE_HOOKS["redis"] = on_remove
