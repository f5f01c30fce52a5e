"""The rules a request for each resource type other than an ECS instance must pass before the cloud
is asked to create anything: first against what the catalog offers (zones, disk categories,
database and cache classes, engines, load balancer specs: no cloud call), then against what the
cloud lists (VPCs, vSwitches, an existing bucket of the same name). Every refusal names its field.

Also here: how a checked spec becomes the adapter's create parameters (``cloud_params``), what a
request of the type reserves from the quota (``amounts``) and what the price estimator is told
(``estimate_spec``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apps.clouds.adapters import adapter_class, adapter_for
from apps.clouds.models import CloudPlatform, Flavor
from apps.core.scoping import authorize
from apps.resources.models import Resource

PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
Errors = dict[str, list[str]]


def _network(value: str, field: str, errors: Errors, lo: int, hi: int) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        errors[field] = [f"{value!r} is not an IPv4 block such as 192.168.0.0/16 (host bits must be zero)"]
        return None
    if not isinstance(net, ipaddress.IPv4Network) or not lo <= net.prefixlen <= hi:
        errors[field] = [f"an IPv4 block with a prefix from /{lo} to /{hi}"]
        return None
    return net


def engines(platform: CloudPlatform) -> dict[str, dict[str, list[str]]]:
    """resource type -> engine -> versions, as the platform's adapter publishes them (no cloud call)."""
    published = adapter_class(platform.type).engines
    return {rtype: {engine: list(versions) for engine, versions in table.items()}
            for rtype, table in published.items()}


def flavors(platform: CloudPlatform, region: str, kind: str) -> dict[str, Flavor]:
    return {f.code: f for f in Flavor.objects.filter(platform=platform, region=region, kind=kind)}


def _zone(typed: dict[str, Any], offered: dict[str, Any], region: str, errors: Errors) -> None:
    if typed.get("zone") not in offered["zones"]:
        errors["zone"] = [f"{typed.get('zone')!r} is not a zone of {region}"]


def catalog_check(*, platform: CloudPlatform, region: str, resource_type: str, typed: dict[str, Any],
                  offered: dict[str, Any], actor: Any, errors: Errors) -> dict[str, Any]:
    """Rules decided from the database alone; returns read-only fields to add to the spec."""
    extra: dict[str, Any] = {}
    if resource_type == "ecs.disk":
        _zone(typed, offered, region, errors)
        disks = {d["code"]: d for d in offered["disk_categories"]}
        cat = disks.get(typed["category"])
        if cat is None or (cat["zones"] and typed["zone"] not in cat["zones"]):
            errors["category"] = [f"{typed['category']!r} is not a disk category offered in {typed['zone']}"]
        if typed.get("instance"):
            _disk_instance(platform, region, typed, actor, errors)
    elif resource_type == "ecs.security_group":
        for i, rule in enumerate(typed.get("rules") or []):
            _rule(rule, f"rules[{i}]", errors)
    elif resource_type == "vpc.vpc":
        net = _network(typed["cidr_block"], "cidr_block", errors, 8, 24)
        if net is not None and not any(net.subnet_of(p) for p in PRIVATE):
            errors["cidr_block"] = [f"{net} is not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"]
    elif resource_type == "vpc.vswitch":
        _zone(typed, offered, region, errors)
        _network(typed["cidr_block"], "cidr_block", errors, 16, 29)
    elif resource_type == "slb.instance":
        specs = offered.get("slb_specs") or []
        if specs and typed["spec"] not in {s["code"] for s in specs}:
            errors["spec"] = [f"{typed['spec']!r} is not a load balancer spec {platform.name} offers in {region}"]
        if typed["address_type"] == "intranet" and not typed.get("vswitch_id"):
            errors["vswitch_id"] = ["an intranet load balancer needs a vSwitch"]
    elif resource_type == "rds.instance":
        _zone(typed, offered, region, errors)
        versions = engines(platform).get("rds.instance", {})
        if versions and typed["engine"] not in versions:
            errors["engine"] = [f"{typed['engine']!r} is not an engine {platform.name} offers: "
                                f"{', '.join(sorted(versions))}"]
        elif versions and typed["engine_version"] not in versions[typed["engine"]]:
            errors["engine_version"] = [f"{typed['engine']} comes in {', '.join(versions[typed['engine']])}"]
        classes = flavors(platform, region, Flavor.Kind.RDS_CLASS)
        found = classes.get(typed["db_class"])
        if classes and found is None:
            errors["db_class"] = [f"{typed['db_class']!r} is not a database class {platform.name} offers in {region}"]
        extra = {"vcpu": (found.vcpu or 0) if found else 0, "memory_mib": (found.memory_mib or 0) if found else 0}
    elif resource_type == "redis.instance":
        _zone(typed, offered, region, errors)
        versions = engines(platform).get("redis.instance", {}).get("Redis")
        if versions and typed["engine_version"] not in versions:
            errors["engine_version"] = [f"Redis comes in {', '.join(versions)} on {platform.name}"]
        classes = flavors(platform, region, Flavor.Kind.REDIS_CLASS)
        found = classes.get(typed["cache_class"])
        if classes and found is None:
            errors["cache_class"] = [f"{typed['cache_class']!r} is not a cache class {platform.name} offers in "
                                     f"{region}"]
        extra = {"memory_mib": (found.memory_mib or 0) if found else 0}
    return extra


def _rule(rule: dict[str, Any], field: str, errors: Errors) -> None:
    protocol, ports = rule["protocol"], rule["port_range"]
    if protocol in ("tcp", "udp"):
        parts = ports.split("/")
        ok = len(parts) == 2 and all(p.isdigit() for p in parts) and 1 <= int(parts[0]) <= int(parts[1]) <= 65535
        if not ok:
            errors[f"{field}.port_range"] = ["'from/to' with 1 <= from <= to <= 65535, such as 80/80"]
    elif ports != "-1/-1":
        errors[f"{field}.port_range"] = [f"{protocol} takes '-1/-1'"]
    try:
        ipaddress.ip_network(rule["source_cidr"], strict=False)
    except ValueError:
        errors[f"{field}.source_cidr"] = [f"{rule['source_cidr']!r} is not an IP block"]


def _disk_instance(platform: CloudPlatform, region: str, typed: dict[str, Any], actor: Any, errors: Errors) -> None:
    instance = Resource.objects.filter(pk=typed["instance"], type="ecs.instance", deleted=False).first()
    if instance is None or not authorize(actor, "ecs:instance:operate", instance):
        errors["instance"] = ["not found"]
    elif instance.platform_id != platform.pk or instance.region != region:
        errors["instance"] = ["the instance is on another platform or in another region"]
    elif instance.zone != typed["zone"]:
        errors["instance"] = [f"the instance is in {instance.zone}: a disk attaches only to an instance in its "
                              f"zone ({typed['zone']})"]


def cloud_check(*, platform: CloudPlatform, region: str, resource_type: str, typed: dict[str, Any],
                cloud: dict[str, Any], errors: Errors) -> None:
    """Rules that need the cloud's lists (``offers.cloud_offers``), and for a bucket its name."""
    vswitches = {v["id"]: v for v in cloud["vswitches"]}
    vpcs = {v["id"]: v for v in cloud.get("vpcs", [])}
    if resource_type in ("ecs.security_group", "vpc.vswitch", "nat.nat_gateway") and typed["vpc_id"] not in vpcs:
        errors["vpc_id"] = [f"{typed['vpc_id']!r} is not an available VPC of {region}"]
    if resource_type == "vpc.vswitch" and typed["vpc_id"] in vpcs and "cidr_block" not in errors:
        net = ipaddress.ip_network(typed["cidr_block"])
        try:
            outer = ipaddress.ip_network(vpcs[typed["vpc_id"]]["cidr_block"])
        except ValueError:
            outer = None
        if outer is not None and not net.subnet_of(outer):
            errors["cidr_block"] = [f"{net} is not inside the VPC's block {outer}"]
        for v in cloud["vswitches"]:
            try:
                if v["vpc_id"] == typed["vpc_id"] and net.overlaps(ipaddress.ip_network(v["cidr_block"])):
                    errors["cidr_block"] = [f"{net} overlaps the vSwitch {v['name']} ({v['cidr_block']})"]
                    break
            except ValueError:
                continue
    if resource_type in ("rds.instance", "redis.instance") or (
            resource_type == "slb.instance" and typed.get("vswitch_id")):
        vsw = vswitches.get(typed["vswitch_id"])
        if vsw is None:
            errors["vswitch_id"] = [f"{typed['vswitch_id']!r} is not an available vSwitch of {region}"]
        elif typed.get("zone") and vsw["zone"] != typed["zone"]:
            errors["vswitch_id"] = [f"the vSwitch is in {vsw['zone']}, not {typed['zone']}"]
    if resource_type == "nat.nat_gateway" and "vpc_id" not in errors:
        vsw = vswitches.get(typed["vswitch_id"])
        if vsw is None or vsw["vpc_id"] != typed["vpc_id"]:
            errors["vswitch_id"] = [f"{typed['vswitch_id']!r} is not an available vSwitch of the VPC"]
    if resource_type == "oss.bucket":
        adapter = adapter_for(platform, region=region)
        if adapter.get_resource("oss.bucket", region, typed["name"]) is not None:
            errors["name"] = [f"a bucket named {typed['name']!r} exists already; bucket names are unique"]


def cloud_params(resource_type: str, spec: dict[str, Any], cloud: dict[str, Any] | None = None) -> dict[str, Any]:
    """The adapter's create parameters for a checked spec (``name`` is added per resource by the launch)."""
    s = spec
    if resource_type == "ecs.disk":
        return {"zone": s["zone"], "category": s["category"], "size_gib": s["size_gib"]}
    if resource_type == "ecs.security_group":
        return {"vpc_id": s["vpc_id"], "description": s.get("description", ""), "rules": s.get("rules") or []}
    if resource_type == "vpc.vpc":
        return {"cidr_block": s["cidr_block"], "description": s.get("description", "")}
    if resource_type == "vpc.vswitch":
        return {"vpc_id": s["vpc_id"], "zone": s["zone"], "cidr_block": s["cidr_block"]}
    if resource_type == "eip.eip":
        return {"bandwidth_mbps": s["bandwidth_mbps"]}
    if resource_type == "slb.instance":
        vpc = _vpc_of(s.get("vswitch_id"), cloud)
        return {"spec": s["spec"], "address_type": s["address_type"], "vswitch_id": s.get("vswitch_id") or None,
                **({"vpc_id": vpc} if vpc else {})}
    if resource_type == "rds.instance":
        vpc = _vpc_of(s["vswitch_id"], cloud)
        return {"engine": s["engine"], "engine_version": s["engine_version"], "class": s["db_class"],
                "storage_gib": s["storage_gib"], "zone": s["zone"], "vswitch_id": s["vswitch_id"],
                **({"vpc_id": vpc} if vpc else {})}
    if resource_type == "redis.instance":
        vpc = _vpc_of(s["vswitch_id"], cloud)
        return {"class": s["cache_class"], "engine_version": s["engine_version"], "zone": s["zone"],
                "vswitch_id": s["vswitch_id"], **({"vpc_id": vpc} if vpc else {})}
    if resource_type == "oss.bucket":
        return {"acl": s["acl"], "storage_class": s["storage_class"]}
    if resource_type == "nat.nat_gateway":
        return {"vpc_id": s["vpc_id"], "vswitch_id": s["vswitch_id"], "spec": s["nat_spec"]}
    return dict(s)


def _vpc_of(vswitch_id: str | None, cloud: dict[str, Any] | None) -> str:
    for v in (cloud or {}).get("vswitches", []):
        if v["id"] == vswitch_id:
            return v["vpc_id"]
    return ""


def amounts(resource_type: str, spec: dict[str, Any], count: int) -> dict[str, int]:
    """What the request reserves from the quota, totals over ``count`` (see ``hooks``)."""
    if resource_type == "ecs.instance":
        return {"count": count, "vcpu": spec["vcpu"] * count, "memory_mib": spec["memory_mib"] * count,
                "disk_gib": spec.get("system_disk_gib", 0) * count}
    out = {"count": count, "vcpu": 0, "memory_mib": 0, "disk_gib": 0}
    if resource_type == "ecs.disk":
        out["disk_gib"] = spec["size_gib"] * count
    elif resource_type == "rds.instance":
        out.update(vcpu=spec.get("vcpu", 0) * count, memory_mib=spec.get("memory_mib", 0) * count,
                   disk_gib=spec["storage_gib"] * count)
    elif resource_type == "redis.instance":
        out["memory_mib"] = spec.get("memory_mib", 0) * count
    return out


def estimate_spec(resource_type: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as the price estimator reads it: a class or spec code, vCPUs, memory and storage."""
    if resource_type == "ecs.instance":
        return spec
    code = spec.get("db_class") or spec.get("cache_class") or spec.get("category") or spec.get("spec") \
        or spec.get("nat_spec") or spec.get("storage_class") or ""
    storage = spec.get("storage_gib") or spec.get("size_gib") or 0
    return {"class": code, "vcpu": spec.get("vcpu", 0), "memory_mib": spec.get("memory_mib", 0),
            "storage_gib": storage, "bandwidth_mbps": spec.get("bandwidth_mbps", 0)}


def summary(resource_type: str, spec: dict[str, Any], count: int) -> str:
    """One line for the request's timeline: what was asked for."""
    what = {
        "ecs.instance": lambda: f"{count} × {spec.get('instance_type')} in {spec.get('zone')}",
        "ecs.disk": lambda: f"{count} × {spec['size_gib']} GiB {spec['category']} disk in {spec['zone']}",
        "ecs.security_group": lambda: f"security group {spec['name']} in {spec['vpc_id']} "
                                      f"with {len(spec.get('rules') or [])} rules",
        "vpc.vpc": lambda: f"VPC {spec['name']} ({spec['cidr_block']})",
        "vpc.vswitch": lambda: f"vSwitch {spec['name']} ({spec['cidr_block']}) in {spec['zone']}",
        "eip.eip": lambda: f"{count} × EIP of {spec['bandwidth_mbps']} Mbit/s",
        "slb.instance": lambda: f"{spec['address_type']} load balancer {spec['name']} ({spec['spec']})",
        "rds.instance": lambda: f"{spec['engine']} {spec['engine_version']} {spec['db_class']} "
                                f"({spec['storage_gib']} GiB) in {spec['zone']}",
        "redis.instance": lambda: f"Redis {spec['engine_version']} {spec['cache_class']} in {spec['zone']}",
        "oss.bucket": lambda: f"bucket {spec['name']} ({spec['storage_class']}, {spec['acl']})",
        "nat.nat_gateway": lambda: f"NAT gateway {spec['name']} ({spec['nat_spec']}) in {spec['vpc_id']}",
    }.get(resource_type)
    return what() if what else f"{count} × {resource_type}"
