"""Server Load Balancer API (version 2014-05-15): load balancers, their TCP/UDP listeners and backend servers."""

from __future__ import annotations

import json
from typing import Any

from ..catalog import SLB_SPECS
from ..errors import CloudError, invalid
from ..store import REMOVE_HOOKS, Store, iso_now, new_id
from . import action, match_tags
from .ecs import paged
from .vpc import EIP_POOL, allocate_ip, place_in_vswitch, region_list, release_ip

V = "2014-05-15"


def render(lb: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in lb.items() if not k.startswith("_") and k != "Status"}
    out["LoadBalancerStatus"] = lb["Status"]
    out["Tags"] = {"Tag": [{"TagKey": k, "TagValue": v} for k, v in lb["_tags"].items()]}
    return out


def get_lb(store: Store, lb_id: str | None) -> dict[str, Any]:
    return store.get("slb", lb_id, "InvalidLoadBalancerId.NotFound", "load balancer")


@action(V, "DescribeRegions")
def describe_regions(store: Store, p) -> dict[str, Any]:
    return region_list(store)


@action(V, "CreateLoadBalancer")
def create_load_balancer(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    address_type = p.str("AddressType", "internet", choices={"internet", "intranet"})
    spec = p.str("LoadBalancerSpec", "slb.s1.small")
    if spec not in SLB_SPECS:
        raise CloudError("InvalidParameter.LoadBalancerSpec", "The specified LoadBalancerSpec is not valid.")
    lb_id = new_id("slb")
    vsw = None
    zone_id = p.str("MasterZoneId")
    if address_type == "intranet" or p.str("VSwitchId"):
        vsw, zone_id = place_in_vswitch(store, region_id=region_id, zone_id=zone_id,
                                        vswitch_id=p.str("VSwitchId", required=True), vpc_id=p.str("VpcId"))
        address = allocate_ip(vsw) if address_type == "intranet" else None
    else:
        zone_id = store.check_zone(region_id, zone_id or store.zones(region_id)[0])
        address = None
    if address is None:
        address = str(EIP_POOL.network_address + EIP_POOL.num_addresses - 2 - store.next_seq() % 60_000)
    zones = store.zones(region_id)
    slave = p.str("SlaveZoneId") or next((z for z in zones if z != zone_id), zone_id)
    lb = store.add("slb", {
        "LoadBalancerId": lb_id, "LoadBalancerName": p.str("LoadBalancerName", lb_id), "RegionId": region_id,
        "RegionIdAlias": region_id, "Address": address, "AddressType": address_type, "AddressIPVersion": "ipv4",
        "NetworkType": "vpc" if vsw else "classic", "VpcId": vsw["VpcId"] if vsw else "",
        "VSwitchId": vsw["VSwitchId"] if vsw else "", "MasterZoneId": zone_id, "SlaveZoneId": slave,
        "LoadBalancerSpec": spec, "InternetChargeType": p.str("InternetChargeType", "paybytraffic"),
        "Bandwidth": p.int("Bandwidth", 5120, lo=1, hi=10_000), "PayType": "PayOnDemand",
        "InstanceChargeType": "PayBySpec", "CreateTime": iso_now(), "DeleteProtection": "off",
        "ResourceGroupId": "rg-default", "Status": "active", "_backends": [], "_tags": p.tags(),
        "_ip": address if address_type == "intranet" else "",
    }, "LoadBalancerId")
    store.schedule(lb, "inactive", "active")
    return {"LoadBalancerId": lb_id, "Address": address, "LoadBalancerName": lb["LoadBalancerName"],
            "NetworkType": lb["NetworkType"], "VpcId": lb["VpcId"], "VSwitchId": lb["VSwitchId"],
            "AddressIPVersion": "ipv4", "OrderId": 0, "ResourceGroupId": "rg-default"}


@action(V, "DescribeLoadBalancers")
def describe_load_balancers(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = set(filter(None, (p.str("LoadBalancerId") or "").split(",")))
    status, vpc_id, address_type = p.str("LoadBalancerStatus"), p.str("VpcId"), p.str("AddressType")
    server_id = p.str("ServerId")
    tags = p.tags()
    raw_tags = p.str("Tags")
    if raw_tags:
        try:
            tags.update({t["TagKey"]: t.get("TagValue", "") for t in json.loads(raw_tags)})
        except (ValueError, TypeError, KeyError, AttributeError):
            raise invalid("Tags") from None
    rows = [lb for lb in store.rows("slb", region_id)
            if (not ids or lb["LoadBalancerId"] in ids) and (status is None or lb["Status"] == status)
            and (vpc_id is None or lb["VpcId"] == vpc_id)
            and (address_type is None or lb["AddressType"] == address_type)
            and (server_id is None or any(b["ServerId"] == server_id for b in lb["_backends"]))
            and match_tags(lb, tags)]
    chunk, meta = paged(rows, p, max_size=100)
    return {"LoadBalancers": {"LoadBalancer": [render(lb) for lb in chunk]}, **meta}


@action(V, "DescribeLoadBalancerAttribute")
def describe_load_balancer_attribute(store: Store, p) -> dict[str, Any]:
    lb = get_lb(store, p.str("LoadBalancerId", required=True))
    out = render(lb)
    out["BackendServers"] = {"BackendServer": list(lb["_backends"])}
    listeners = lb.get("_listeners", [])
    out["ListenerPorts"] = {"ListenerPort": [item["ListenerPort"] for item in listeners]}
    out["ListenerPortsAndProtocol"] = {"ListenerPortAndProtocol": [
        {"ListenerPort": item["ListenerPort"], "ListenerProtocol": item["ListenerProtocol"]} for item in listeners]}
    return out


@action(V, "ModifyLoadBalancerInstanceSpec")
def modify_load_balancer_instance_spec(store: Store, p) -> dict[str, Any]:
    lb = get_lb(store, p.str("LoadBalancerId", required=True))
    spec = p.str("LoadBalancerSpec", required=True)
    if spec not in SLB_SPECS:
        raise CloudError("InvalidParameter.LoadBalancerSpec", "The specified LoadBalancerSpec is not valid.")
    if lb["Status"] not in ("active", "inactive") or lb["_tl"]:
        raise CloudError("IncorrectStatus.loadbalancer", "The status of the load balancer does not allow this.", 400)
    lb["LoadBalancerSpec"] = spec
    store.dirty = True
    return {"OrderId": 0}


@action(V, "SetLoadBalancerStatus")
def set_load_balancer_status(store: Store, p) -> dict[str, Any]:
    lb = get_lb(store, p.str("LoadBalancerId", required=True))
    lb["Status"] = p.str("LoadBalancerStatus", required=True, choices={"active", "inactive"})
    lb["_tl"] = None
    store.dirty = True
    return {}


def _backend_list(store: Store, p, lb: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        items = json.loads(p.str("BackendServers", required=True))
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) and i.get("ServerId")
                                                               for i in items):
            raise ValueError
    except ValueError:
        raise invalid("BackendServers", "It must be a JSON array of objects with ServerId.") from None
    out = []
    for item in items:
        inst = store.tables["ecs_instance"].get(str(item["ServerId"]))
        if inst is None or inst["RegionId"] != lb["RegionId"]:
            raise CloudError("BackendServer.NotExist", f"The backend server {item['ServerId']} does not exist in "
                             "the load balancer's region.", 400)
        try:
            weight = int(item.get("Weight", 100))
        except (TypeError, ValueError):
            raise invalid("BackendServers.Weight") from None
        out.append({"ServerId": str(item["ServerId"]), "Weight": weight, "Type": item.get("Type", "ecs"),
                    "Description": item.get("Description", "")})
    return out


@action(V, "AddBackendServers")
def add_backend_servers(store: Store, p) -> dict[str, Any]:
    lb = get_lb(store, p.str("LoadBalancerId", required=True))
    for server in _backend_list(store, p, lb):
        lb["_backends"] = [b for b in lb["_backends"] if b["ServerId"] != server["ServerId"]] + [server]
    store.dirty = True
    return {"LoadBalancerId": lb["LoadBalancerId"], "BackendServers": {"BackendServer": lb["_backends"]}}


@action(V, "RemoveBackendServers")
def remove_backend_servers(store: Store, p) -> dict[str, Any]:
    lb = get_lb(store, p.str("LoadBalancerId", required=True))
    gone = {s["ServerId"] for s in _backend_list(store, p, lb)}
    lb["_backends"] = [b for b in lb["_backends"] if b["ServerId"] not in gone]
    store.dirty = True
    return {"LoadBalancerId": lb["LoadBalancerId"], "BackendServers": {"BackendServer": lb["_backends"]}}


@action(V, "DeleteLoadBalancer")
def delete_load_balancer(store: Store, p) -> dict[str, Any]:
    lb = get_lb(store, p.str("LoadBalancerId", required=True))
    if lb["DeleteProtection"] == "on":
        raise CloudError("OperationDenied.DeleteProtection", "The load balancer has deletion protection on.", 400)
    store.remove("slb", lb)
    return {}


def on_remove(store: Store, lb: dict[str, Any]) -> None:
    if lb["_ip"]:
        release_ip(store, lb["VSwitchId"], lb["_ip"])


REMOVE_HOOKS["slb"] = on_remove


@action(V, "CreateLoadBalancerTCPListener")
def create_tcp_listener(store: Store, p) -> dict[str, Any]:
    return _listener(store, p, "tcp")


@action(V, "CreateLoadBalancerUDPListener")
def create_udp_listener(store: Store, p) -> dict[str, Any]:
    return _listener(store, p, "udp")


def _listener(store: Store, p, protocol: str) -> dict[str, Any]:
    lb = get_lb(store, p.str("LoadBalancerId", required=True))
    port = p.int("ListenerPort", required=True, lo=1, hi=65535)
    backend = p.int("BackendServerPort", lo=1, hi=65535)
    if backend is None and not p.str("VServerGroupId"):
        raise CloudError("MissingParameter", 'The input parameter "BackendServerPort" that is mandatory is not '
                         "supplied.")
    listeners = lb.setdefault("_listeners", [])
    if any(item["ListenerPort"] == port and item["ListenerProtocol"] == protocol for item in listeners):
        raise CloudError("ListenerAlreadyExists", "The listener already exists.", 400)
    listeners.append({"ListenerPort": port, "ListenerProtocol": protocol, "BackendServerPort": backend,
                      "Status": "stopped", "Bandwidth": p.int("Bandwidth", -1, lo=-1, hi=10_000)})
    store.dirty = True
    return {}


@action(V, "DeleteLoadBalancerListener")
def delete_listener(store: Store, p) -> dict[str, Any]:
    lb = get_lb(store, p.str("LoadBalancerId", required=True))
    port = p.int("ListenerPort", required=True, lo=1, hi=65535)
    protocol = p.str("ListenerProtocol")
    listeners = lb.setdefault("_listeners", [])
    keep = [item for item in listeners
            if not (item["ListenerPort"] == port and (protocol is None or item["ListenerProtocol"] == protocol))]
    if len(keep) == len(listeners):
        raise CloudError("InvalidParameter", "The specified listener does not exist.", 400)
    lb["_listeners"] = keep
    store.dirty = True
    return {}
