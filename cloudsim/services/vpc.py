"""VPC API (version 2016-04-28): VPCs, vSwitches and elastic IP addresses."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..errors import CloudError, incorrect_status, invalid
from ..store import REMOVE_HOOKS, Store, iso_now, new_id, register_kind
from . import action, dry_run_passed, match_tags, page, tag_list

V = "2016-04-28"
ALLOWED_VPC_RANGES = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
EIP_POOL = ipaddress.ip_network("198.18.0.0/15")  # a benchmarking range: never routed on the Internet
RESERVED_PER_VSWITCH = 4  # network, gateway, two reserved, as the cloud keeps back


def region_list(store: Store) -> dict[str, Any]:
    return {"Regions": {"Region": [
        {"RegionId": r, "LocalName": r, "RegionEndpoint": "127.0.0.1", "Status": "available"} for r in store.regions
    ]}}


def zone_list(store: Store, region_id: str) -> dict[str, Any]:
    return {"Zones": {"Zone": [{"ZoneId": z, "LocalName": z.upper()} for z in store.zones(region_id)]}}


@action(V, "DescribeRegions")
def describe_regions(store: Store, p) -> dict[str, Any]:
    return region_list(store)


@action(V, "DescribeZones")
def describe_zones(store: Store, p) -> dict[str, Any]:
    return zone_list(store, store.check_region(p.str("RegionId")))


def parse_cidr(value: str | None, name: str = "CidrBlock") -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value or "", strict=True)
    except ValueError:
        raise CloudError("InvalidCidrBlock.Malformed", f"Specified {name} is not valid.") from None


# -- VPCs ----------------------------------------------------------------------------------------

def render_vpc(store: Store, vpc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in vpc.items() if not k.startswith("_")}
    out["VSwitchIds"] = {"VSwitchId": list(vpc["_vswitches"])}
    out["Tags"] = tag_list(vpc["_tags"], "Key", "Value")
    return out


def create_vpc(store: Store, *, region_id: str, cidr: str, name: str = "", description: str = "",
               tags: dict[str, str] | None = None, ready: bool = False) -> dict[str, Any]:
    network = parse_cidr(cidr)
    if not any(network.subnet_of(r) for r in ALLOWED_VPC_RANGES):
        raise CloudError("InvalidCidrBlock.Malformed",
                         "The CIDR block must be within 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.")
    vpc_id = new_id("vpc")
    vpc = store.add("vpc", {
        "VpcId": vpc_id, "VpcName": name, "RegionId": region_id, "CidrBlock": str(network),
        "Description": description, "CreationTime": iso_now(), "IsDefault": False,
        "VRouterId": "vrt-" + vpc_id[4:], "RouterTableIds": {"RouterTableIds": ["vtb-" + vpc_id[4:]]},
        "Status": "Available", "_vswitches": [], "_tags": tags or {},
    }, "VpcId")
    if not ready:
        store.schedule(vpc, "Pending", "Available")
    return vpc


@action(V, "CreateVpc")
def create_vpc_action(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    if p.bool("DryRun"):
        parse_cidr(p.str("CidrBlock", "172.16.0.0/12"))
        raise dry_run_passed()
    vpc = create_vpc(store, region_id=region_id, cidr=p.str("CidrBlock", "172.16.0.0/12"),
                     name=p.str("VpcName", ""), description=p.str("Description", ""), tags=p.tags())
    return {"VpcId": vpc["VpcId"], "VRouterId": vpc["VRouterId"], "RouteTableId": "vtb-" + vpc["VpcId"][4:],
            "ResourceGroupId": "rg-default"}


@action(V, "DescribeVpcs")
def describe_vpcs(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = set(filter(None, (p.str("VpcId") or "").split(",")))
    name = p.str("VpcName")
    tags = p.tags()
    rows = [v for v in store.rows("vpc", region_id)
            if (not ids or v["VpcId"] in ids) and (name is None or v["VpcName"] == name) and match_tags(v, tags)]
    chunk, number, size = page(rows, p, max_size=50)
    return {"Vpcs": {"Vpc": [render_vpc(store, v) for v in chunk]}, "TotalCount": len(rows),
            "PageNumber": number, "PageSize": size}


@action(V, "DeleteVpc")
def delete_vpc(store: Store, p) -> dict[str, Any]:
    vpc = store.get("vpc", p.str("VpcId", required=True), "InvalidVpcId.NotFound", "VPC")
    if vpc["Status"] != "Available":
        raise incorrect_status("IncorrectVpcStatus", "VPC", vpc["Status"])
    if vpc["_vswitches"]:
        raise CloudError("DependencyViolation.VSwitch", "Specified VPC has vSwitches; delete them first.")
    if any(sg["VpcId"] == vpc["VpcId"] for sg in store.rows("security_group")):
        raise CloudError("DependencyViolation.SecurityGroup", "Specified VPC has security groups; delete them first.")
    store.remove("vpc", vpc)
    return {}


# -- vSwitches -----------------------------------------------------------------------------------

def render_vswitch(store: Store, vsw: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in vsw.items() if not k.startswith("_") and k != "RegionId"}
    out["AvailableIpAddressCount"] = vsw["_ip_size"] - RESERVED_PER_VSWITCH - vsw["_ip_used"]
    out["Tags"] = tag_list(vsw["_tags"], "Key", "Value")
    return out


def create_vswitch(store: Store, *, vpc: dict[str, Any], zone_id: str, cidr: str, name: str = "",
                   description: str = "", ready: bool = False) -> dict[str, Any]:
    network = parse_cidr(cidr)
    parent = ipaddress.IPv4Network(vpc["CidrBlock"])
    if not network.subnet_of(parent) or not 16 <= network.prefixlen <= 29:
        raise CloudError("InvalidCidrBlock.Malformed",
                         "The vSwitch CIDR block must be inside the VPC's and have a mask between 16 and 29.")
    for other_id in vpc["_vswitches"]:
        other = store.tables["vswitch"].get(other_id)
        if other and network.overlaps(ipaddress.IPv4Network(other["CidrBlock"])):
            raise CloudError("InvalidCidrBlock.Overlapped", "Specified CIDR block overlaps with another vSwitch.")
    vsw = store.add("vswitch", {
        "VSwitchId": new_id("vswitch"), "VSwitchName": name, "VpcId": vpc["VpcId"], "ZoneId": zone_id,
        "RegionId": vpc["RegionId"], "CidrBlock": str(network), "Description": description,
        "CreationTime": iso_now(), "IsDefault": False, "Status": "Available",
        "_ip_base": int(network.network_address), "_ip_size": network.num_addresses,
        "_ip_next": 3, "_ip_free": [], "_ip_used": 0, "_tags": {},
    }, "VSwitchId")
    vpc["_vswitches"].append(vsw["VSwitchId"])
    if not ready:
        store.schedule(vsw, "Pending", "Available")
    return vsw


def vswitch_free_ips(vsw: dict[str, Any]) -> int:
    return vsw["_ip_size"] - RESERVED_PER_VSWITCH - vsw["_ip_used"]


def allocate_ip(vsw: dict[str, Any]) -> str:
    """Next free private address of the vSwitch."""
    if vsw["_ip_free"]:
        offset = vsw["_ip_free"].pop()
    elif vsw["_ip_next"] < vsw["_ip_size"] - 1:
        offset = vsw["_ip_next"]
        vsw["_ip_next"] += 1
    else:
        raise CloudError("InvalidVSwitchId.IpNotEnough", "The specified VSwitch has not enough IpAddress.", 403)
    vsw["_ip_used"] += 1
    return str(ipaddress.IPv4Address(vsw["_ip_base"] + offset))


def release_ip(store: Store, vswitch_id: str, ip: str) -> None:
    vsw = store.tables["vswitch"].get(vswitch_id)
    if vsw is None:
        return
    vsw["_ip_free"].append(int(ipaddress.IPv4Address(ip)) - vsw["_ip_base"])
    vsw["_ip_used"] = max(0, vsw["_ip_used"] - 1)


@action(V, "CreateVSwitch")
def create_vswitch_action(store: Store, p) -> dict[str, Any]:
    vpc = store.get("vpc", p.str("VpcId", required=True), "InvalidVpcId.NotFound", "VPC")
    zone_id = store.check_zone(vpc["RegionId"], p.str("ZoneId"))
    if vpc["Status"] != "Available":
        raise incorrect_status("IncorrectVpcStatus", "VPC", vpc["Status"])
    vsw = create_vswitch(store, vpc=vpc, zone_id=zone_id, cidr=p.str("CidrBlock", required=True),
                         name=p.str("VSwitchName", ""), description=p.str("Description", ""))
    vsw["_tags"] = p.tags()
    return {"VSwitchId": vsw["VSwitchId"]}


@action(V, "DescribeVSwitches")
def describe_vswitches(store: Store, p) -> dict[str, Any]:
    region_id = p.str("RegionId")
    if region_id:
        store.check_region(region_id)
    vpc_id, zone_id = p.str("VpcId"), p.str("ZoneId")
    ids = set(filter(None, (p.str("VSwitchId") or "").split(",")))
    rows = [v for v in store.rows("vswitch", region_id)
            if (vpc_id is None or v["VpcId"] == vpc_id) and (zone_id is None or v["ZoneId"] == zone_id)
            and (not ids or v["VSwitchId"] in ids)]
    chunk, number, size = page(rows, p, max_size=50)
    return {"VSwitches": {"VSwitch": [render_vswitch(store, v) for v in chunk]}, "TotalCount": len(rows),
            "PageNumber": number, "PageSize": size}


@action(V, "DeleteVSwitch")
def delete_vswitch(store: Store, p) -> dict[str, Any]:
    vsw = store.get("vswitch", p.str("VSwitchId", required=True), "InvalidVSwitchId.NotFound", "vSwitch")
    if vsw["_ip_used"]:
        raise CloudError("DependencyViolation", "Specified vSwitch still has instances or other resources in it.")
    for kind in ("slb", "rds", "redis"):
        if any(r.get("VSwitchId") == vsw["VSwitchId"] for r in store.rows(kind)):
            raise CloudError("DependencyViolation", "Specified vSwitch still has instances or other resources in it.")
    vpc = store.tables["vpc"].get(vsw["VpcId"])
    if vpc and vsw["VSwitchId"] in vpc["_vswitches"]:
        vpc["_vswitches"].remove(vsw["VSwitchId"])
    store.remove("vswitch", vsw)
    return {}


# -- elastic IP addresses ------------------------------------------------------------------------

def render_eip(store: Store, eip: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in eip.items() if not k.startswith("_")}
    out["Tags"] = tag_list(eip["_tags"], "Key", "Value")
    return out


def allocate_eip(store: Store, *, region_id: str, bandwidth: str = "5", charge: str = "PayByTraffic",
                 name: str = "", enforce: bool = True) -> dict[str, Any]:
    if enforce and store.region_eips[region_id] >= store.capacity["region_eips"]:
        raise CloudError("QuotaExceeded.Eip", "Elastic IP address quota exceeded.", 400)
    store.region_eips[region_id] += 1
    index = store.next_seq() % (EIP_POOL.num_addresses - 2) + 1
    return store.add("eip", {
        "AllocationId": new_id("eip"), "IpAddress": str(EIP_POOL.network_address + index), "RegionId": region_id,
        "Status": "Available", "Bandwidth": bandwidth, "InternetChargeType": charge, "Name": name,
        "InstanceId": "", "InstanceType": "", "AllocationTime": iso_now(), "ChargeType": "PostPaid",
        "_tags": {},
    }, "AllocationId")


@action(V, "AllocateEipAddress")
def allocate_eip_action(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    bandwidth = p.int("Bandwidth", 5, lo=1, hi=10_000)
    eip = allocate_eip(store, region_id=region_id, bandwidth=str(bandwidth),
                       charge=p.str("InternetChargeType", "PayByTraffic"), name=p.str("Name", ""))
    eip["_tags"] = p.tags()
    return {"AllocationId": eip["AllocationId"], "EipAddress": eip["IpAddress"], "ResourceGroupId": "rg-default"}


@action(V, "DescribeEipAddresses")
def describe_eips(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    ids = set(filter(None, (p.str("AllocationId") or "").split(",")))
    address, status = p.str("EipAddress"), p.str("Status")
    instance_id = p.str("AssociatedInstanceId")
    rows = [e for e in store.rows("eip", region_id)
            if (not ids or e["AllocationId"] in ids) and (address is None or e["IpAddress"] == address)
            and (status is None or e["Status"] == status)
            and (instance_id is None or e["InstanceId"] == instance_id)]
    chunk, number, size = page(rows, p, max_size=100)
    return {"EipAddresses": {"EipAddress": [render_eip(store, e) for e in chunk]}, "TotalCount": len(rows),
            "PageNumber": number, "PageSize": size}


@action(V, "AssociateEipAddress")
def associate_eip(store: Store, p) -> dict[str, Any]:
    eip = store.get("eip", p.str("AllocationId", required=True), "InvalidAllocationId.NotFound", "EIP")
    instance_type = p.str("InstanceType", "EcsInstance", choices={"EcsInstance", "SlbInstance", "Nat",
                                                                  "NetworkInterface", "HaVip"})
    if eip["Status"] != "Available":
        raise incorrect_status("IncorrectEipStatus", "EIP", eip["Status"])
    instance_id = p.str("InstanceId", required=True)
    if instance_type == "EcsInstance":
        instance = store.get("ecs_instance", instance_id, "InvalidInstanceId.NotFound", "instance")
        if instance["Status"] not in ("Running", "Stopped"):
            raise incorrect_status("IncorrectInstanceStatus", "instance", instance["Status"])
        if instance["RegionId"] != eip["RegionId"]:
            raise invalid("InstanceId", "The instance and the EIP are in different regions.")
        if instance.get("_eip"):
            raise CloudError("InvalidAssociation.Duplicated", "The instance already has an EIP associated.")
        instance["_eip"] = eip["AllocationId"]
    elif instance_type == "SlbInstance":
        store.get("slb", instance_id, "InvalidLoadBalancerId.NotFound", "load balancer")
    elif instance_type == "Nat":
        nat = get_nat(store, instance_id)
        if nat["Status"] != "Available":
            raise incorrect_status("IncorrectStatus.NatGateway", "NAT gateway", nat["Status"])
    eip["InstanceId"] = instance_id
    eip["InstanceType"] = instance_type
    store.schedule(eip, "Associating", "InUse")
    return {}


def detach_eip(store: Store, eip: dict[str, Any]) -> None:
    instance = store.tables["ecs_instance"].get(eip["InstanceId"])
    if instance is not None and instance.get("_eip") == eip["AllocationId"]:
        instance["_eip"] = None
    eip["InstanceId"] = ""
    eip["InstanceType"] = ""


@action(V, "UnassociateEipAddress")
def unassociate_eip(store: Store, p) -> dict[str, Any]:
    eip = store.get("eip", p.str("AllocationId", required=True), "InvalidAllocationId.NotFound", "EIP")
    if eip["Status"] != "InUse":
        raise incorrect_status("IncorrectEipStatus", "EIP", eip["Status"])
    instance_id = p.str("InstanceId")
    if instance_id and instance_id != eip["InstanceId"]:
        raise CloudError("InvalidInstanceId.NotFound", "The EIP is not associated with the specified instance.", 404)
    detach_eip(store, eip)
    store.schedule(eip, "Unassociating", "Available")
    return {}


@action(V, "ReleaseEipAddress")
def release_eip(store: Store, p) -> dict[str, Any]:
    eip = store.get("eip", p.str("AllocationId", required=True), "InvalidAllocationId.NotFound", "EIP")
    if eip["Status"] != "Available":
        raise incorrect_status("IncorrectEipStatus", "EIP", eip["Status"])
    store.remove("eip", eip)
    return {}


def on_remove_eip(store: Store, eip: dict[str, Any]) -> None:
    store.region_eips[eip["RegionId"]] = max(0, store.region_eips[eip["RegionId"]] - 1)


REMOVE_HOOKS["eip"] = on_remove_eip


def place_in_vswitch(store: Store, *, region_id: str, zone_id: str | None, vswitch_id: str | None,
                     vpc_id: str | None = None) -> tuple[dict[str, Any], str]:
    """Validate a managed service's network placement and take one private address: (vSwitch, zone id)."""
    vsw = store.get("vswitch", vswitch_id, "InvalidVSwitchId.NotFound", "vSwitch")
    if vsw["RegionId"] != region_id:
        raise CloudError("InvalidVSwitchId.NotFound", "The specified vSwitch does not exist in this region.", 404)
    if vpc_id and vsw["VpcId"] != vpc_id:
        raise CloudError("InvalidVSwitchId.NotBelongToVpc", "The specified vSwitch does not belong to the VPC.")
    zone_id = zone_id or vsw["ZoneId"]
    store.check_zone(region_id, zone_id)
    if zone_id != vsw["ZoneId"]:
        raise CloudError("InvalidVSwitchId.ZoneMismatch", "The specified vSwitch is not in the specified zone.")
    if vsw["Status"] != "Available":
        raise incorrect_status("IncorrectVSwitchStatus", "vSwitch", vsw["Status"])
    return vsw, zone_id


@action(V, "ModifyEipAddressAttribute")
def modify_eip_attribute(store: Store, p) -> dict[str, Any]:
    eip = store.get("eip", p.str("AllocationId", required=True), "InvalidAllocationId.NotFound", "EIP")
    bandwidth = p.int("Bandwidth", lo=1, hi=10_000)
    if bandwidth is not None:
        eip["Bandwidth"] = str(bandwidth)
    for field in ("Name", "Description"):
        if p.str(field) is not None:
            eip[field] = p.str(field)
    store.dirty = True
    return {}


# -- NAT gateways, their SNAT and DNAT (forward) entries --------------------------------------------------

register_kind("nat_gateway", "ngw")
NAT_SPECS = ("Small", "Middle", "Large", "XLarge.1")


def render_nat(store: Store, nat: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in nat.items() if not k.startswith("_")}
    eips = [e for e in store.rows("eip", nat["RegionId"]) if e["InstanceId"] == nat["NatGatewayId"]]
    out["IpLists"] = {"IpList": [{"AllocationId": e["AllocationId"], "IpAddress": e["IpAddress"],
                                  "UsingStatus": "UsedBySnat" if any(s["SnatIp"] == e["IpAddress"]
                                                                     for s in nat["_snat"]) else "Idle",
                                  "SnatEntryEnabled": True} for e in eips]}
    out["Tags"] = tag_list(nat["_tags"], "TagKey", "TagValue")
    return out


def get_nat(store: Store, nat_id: str | None) -> dict[str, Any]:
    return store.get("nat_gateway", nat_id, "InvalidNatGatewayId.NotFound", "NAT gateway")


@action(V, "CreateNatGateway")
def create_nat_gateway(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    vpc = store.get("vpc", p.str("VpcId", required=True), "InvalidVpcId.NotFound", "VPC")
    if vpc["RegionId"] != region_id:
        raise CloudError("InvalidVpcId.NotFound", "The specified VPC does not exist in this region.", 404)
    vsw = store.get("vswitch", p.str("VSwitchId", required=True), "InvalidVSwitchId.NotFound", "vSwitch")
    if vsw["VpcId"] != vpc["VpcId"]:
        raise CloudError("InvalidVSwitchId.NotInVpc", "The vSwitch does not belong to the VPC.", 400)
    spec = p.str("Spec", "Small")
    if spec not in NAT_SPECS:
        raise invalid("Spec")
    nat_id = new_id("nat_gateway")
    suffix = nat_id[4:]
    ip = allocate_ip(vsw)
    nat = store.add("nat_gateway", {
        "NatGatewayId": nat_id, "Name": p.str("Name", ""), "Description": p.str("Description", ""),
        "RegionId": region_id, "VpcId": vpc["VpcId"], "Spec": spec, "NatType": p.str("NatType", "Enhanced"),
        "NetworkType": p.str("NetworkType", "internet", choices={"internet", "intranet"}),
        "InstanceChargeType": "PostPaid", "InternetChargeType": p.str("InternetChargeType", "PayBySpec"),
        "BusinessStatus": "Normal", "CreationTime": iso_now(), "DeletionProtection": False,
        "ResourceGroupId": "rg-default", "SnatTableIds": {"SnatTableId": ["stb-" + suffix]},
        "ForwardTableIds": {"ForwardTableId": ["ftb-" + suffix]},
        "NatGatewayPrivateInfo": {"VswitchId": vsw["VSwitchId"], "PrivateIpAddress": ip, "IzNo": vsw["ZoneId"],
                                  "EniInstanceId": "eni-" + suffix, "MaxBandwidth": 5120},
        "Status": "Creating", "_snat": [], "_dnat": [], "_ip": ip, "_vswitch": vsw["VSwitchId"],
        "_tags": p.tags(),
    }, "NatGatewayId")
    store.schedule(nat, "Creating", "Available")
    return {"NatGatewayId": nat_id, "SnatTableIds": nat["SnatTableIds"], "ForwardTableIds": nat["ForwardTableIds"]}


@action(V, "DescribeNatGateways")
def describe_nat_gateways(store: Store, p) -> dict[str, Any]:
    region_id = store.check_region(p.str("RegionId"))
    nat_id, vpc_id, name = p.str("NatGatewayId"), p.str("VpcId"), p.str("Name")
    rows = [n for n in store.rows("nat_gateway", region_id)
            if (nat_id is None or n["NatGatewayId"] == nat_id) and (vpc_id is None or n["VpcId"] == vpc_id)
            and (name is None or n["Name"] == name)]
    chunk, number, size = page(rows, p, max_size=50)
    return {"NatGateways": {"NatGateway": [render_nat(store, n) for n in chunk]}, "TotalCount": len(rows),
            "PageNumber": number, "PageSize": size}


@action(V, "DeleteNatGateway")
def delete_nat_gateway(store: Store, p) -> dict[str, Any]:
    nat = get_nat(store, p.str("NatGatewayId", required=True))
    if nat["Status"] != "Available":
        raise incorrect_status("IncorrectStatus.NatGateway", "NAT gateway", nat["Status"])
    force = p.bool("Force", False)
    if (nat["_snat"] or nat["_dnat"]) and not force:
        raise CloudError("DependencyViolation.SnatEntry", "The NAT gateway still has SNAT or DNAT entries.", 400)
    for eip in store.rows("eip", nat["RegionId"]):
        if eip["InstanceId"] == nat["NatGatewayId"]:
            if not force:
                raise CloudError("DependencyViolation.EIPS", "The NAT gateway still has EIPs bound.", 400)
            detach_eip(store, eip)
            eip["Status"] = "Available"
    store.remove("nat_gateway", nat)
    return {}


def _by_table(store: Store, table_id: str | None, field: str, code: str) -> dict[str, Any]:
    for nat in store.tables["nat_gateway"].values():
        if table_id in nat[field][field[:-1]]:
            return nat
    raise CloudError(code, "The specified table does not exist.", 404)


def _nat_ip(store: Store, nat: dict[str, Any], ip: str | None, field: str) -> str:
    bound = {e["IpAddress"] for e in store.rows("eip", nat["RegionId"]) if e["InstanceId"] == nat["NatGatewayId"]}
    if not ip or ip not in bound:
        raise CloudError("InvalidIp.NotInNatgw", f"The {field} is not an EIP bound to the NAT gateway.", 400)
    return ip


@action(V, "CreateSnatEntry")
def create_snat_entry(store: Store, p) -> dict[str, Any]:
    nat = _by_table(store, p.str("SnatTableId", required=True), "SnatTableIds", "InvalidSnatTableId.NotFound")
    ip = _nat_ip(store, nat, p.str("SnatIp", required=True), "SnatIp")
    vsw_id, cidr = p.str("SourceVSwitchId"), p.str("SourceCIDR")
    if bool(vsw_id) == bool(cidr):
        raise CloudError("MissingParameter", "Give exactly one of SourceVSwitchId and SourceCIDR.", 400)
    if vsw_id:
        vsw = store.get("vswitch", vsw_id, "InvalidVSwitchId.NotFound", "vSwitch")
        if vsw["VpcId"] != nat["VpcId"]:
            raise CloudError("InvalidVSwitchId.NotInVpc", "The vSwitch is not in the NAT gateway's VPC.", 400)
        cidr = vsw["CidrBlock"]
    else:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise invalid("SourceCIDR") from None
    if any(s["SourceCIDR"] == cidr for s in nat["_snat"]):
        raise CloudError("Forbidden.SourceCIDR.Duplicated", "An SNAT entry for the source exists already.", 400)
    entry = {"SnatEntryId": "snat-" + new_id("nat_gateway")[4:], "SnatIp": ip, "SourceCIDR": cidr,
             "SourceVSwitchId": vsw_id or "", "SnatEntryName": p.str("SnatEntryName", ""), "Status": "Available",
             "SnatTableId": nat["SnatTableIds"]["SnatTableId"][0], "NatGatewayId": nat["NatGatewayId"]}
    nat["_snat"].append(entry)
    store.dirty = True
    return {"SnatEntryId": entry["SnatEntryId"]}


@action(V, "DescribeSnatTableEntries")
def describe_snat_entries(store: Store, p) -> dict[str, Any]:
    nat = _by_table(store, p.str("SnatTableId", required=True), "SnatTableIds", "InvalidSnatTableId.NotFound")
    chunk, number, size = page(list(nat["_snat"]), p, max_size=100)
    return {"SnatTableEntries": {"SnatTableEntry": chunk}, "TotalCount": len(nat["_snat"]), "PageNumber": number,
            "PageSize": size}


@action(V, "DeleteSnatEntry")
def delete_snat_entry(store: Store, p) -> dict[str, Any]:
    nat = _by_table(store, p.str("SnatTableId", required=True), "SnatTableIds", "InvalidSnatTableId.NotFound")
    entry_id = p.str("SnatEntryId", required=True)
    if not any(s["SnatEntryId"] == entry_id for s in nat["_snat"]):
        raise CloudError("InvalidSnatEntryId.NotFound", "The specified SNAT entry does not exist.", 404)
    nat["_snat"] = [s for s in nat["_snat"] if s["SnatEntryId"] != entry_id]
    store.dirty = True
    return {}


@action(V, "CreateForwardEntry")
def create_forward_entry(store: Store, p) -> dict[str, Any]:
    nat = _by_table(store, p.str("ForwardTableId", required=True), "ForwardTableIds",
                    "InvalidForwardTableId.NotFound")
    ip = _nat_ip(store, nat, p.str("ExternalIp", required=True), "ExternalIp")
    protocol = p.str("IpProtocol", required=True, choices={"TCP", "UDP", "Any", "tcp", "udp", "any"})
    external, internal = p.str("ExternalPort", required=True), p.str("InternalPort", required=True)
    internal_ip = p.str("InternalIp", required=True)
    try:
        ipaddress.IPv4Address(internal_ip)
    except ValueError:
        raise invalid("InternalIp") from None
    for value, name in ((external, "ExternalPort"), (internal, "InternalPort")):
        if value != "Any" and not (value.isdigit() and 1 <= int(value) <= 65535):
            raise invalid(name)
    if any(d["ExternalIp"] == ip and d["ExternalPort"] == external and d["IpProtocol"] == protocol.upper()
           for d in nat["_dnat"]):
        raise CloudError("Forbidden.PortOccupied", "The external port is in use already.", 400)
    entry = {"ForwardEntryId": "fwd-" + new_id("nat_gateway")[4:], "ExternalIp": ip, "ExternalPort": external,
             "InternalIp": internal_ip, "InternalPort": internal, "IpProtocol": protocol.upper(),
             "ForwardEntryName": p.str("ForwardEntryName", ""), "Status": "Available",
             "ForwardTableId": nat["ForwardTableIds"]["ForwardTableId"][0], "NatGatewayId": nat["NatGatewayId"]}
    nat["_dnat"].append(entry)
    store.dirty = True
    return {"ForwardEntryId": entry["ForwardEntryId"]}


@action(V, "DescribeForwardTableEntries")
def describe_forward_entries(store: Store, p) -> dict[str, Any]:
    nat = _by_table(store, p.str("ForwardTableId", required=True), "ForwardTableIds",
                    "InvalidForwardTableId.NotFound")
    chunk, number, size = page(list(nat["_dnat"]), p, max_size=100)
    return {"ForwardTableEntries": {"ForwardTableEntry": chunk}, "TotalCount": len(nat["_dnat"]),
            "PageNumber": number, "PageSize": size}


@action(V, "DeleteForwardEntry")
def delete_forward_entry(store: Store, p) -> dict[str, Any]:
    nat = _by_table(store, p.str("ForwardTableId", required=True), "ForwardTableIds",
                    "InvalidForwardTableId.NotFound")
    entry_id = p.str("ForwardEntryId", required=True)
    if not any(d["ForwardEntryId"] == entry_id for d in nat["_dnat"]):
        raise CloudError("InvalidForwardEntryId.NotFound", "The specified DNAT entry does not exist.", 404)
    nat["_dnat"] = [d for d in nat["_dnat"] if d["ForwardEntryId"] != entry_id]
    store.dirty = True
    return {}


def on_remove_nat(store: Store, nat: dict[str, Any]) -> None:
    release_ip(store, nat["_vswitch"], nat["_ip"])


REMOVE_HOOKS["nat_gateway"] = on_remove_nat
