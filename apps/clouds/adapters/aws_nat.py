"""NAT gateways on AWS (EC2 API): collection, create and delete of ``nat.nat_gateway``.

Companion of the ``aws`` adapter (see ``extensions``): it registers the ``nat`` service and the type at
import; the adapter routes create and delete of the type here. A public NAT gateway takes an Elastic
IP allocation (``allocation_id``); without one it is private. Each function takes the adapter first
and calls EC2 through ``adapter._invoke`` (timeouts, retries, error classification).
"""

from __future__ import annotations

from typing import Any

from apps.clouds.adapters import extensions
from apps.clouds.adapters.base import CloudResource, Relation, ResourcePage, normal_status

ADAPTER = "aws"
TYPE = "nat.nat_gateway"
PAGE = 100


def to_nat(region: str, n: dict[str, Any]) -> CloudResource:
    tags = {t["Key"]: t.get("Value", "") for t in n.get("Tags") or [] if "Key" in t}
    addresses = n.get("NatGatewayAddresses") or []
    rels = [Relation("in_vpc", "vpc.vpc", n["VpcId"])] if n.get("VpcId") else []
    if n.get("SubnetId"):
        rels.append(Relation("in_vswitch", "vpc.vswitch", n["SubnetId"]))
    rels += [Relation("associated_with", "eip.eip", a["AllocationId"]) for a in addresses if a.get("AllocationId")]
    return CloudResource(
        type=TYPE, external_id=n["NatGatewayId"], region=region, name=tags.get("Name") or n["NatGatewayId"],
        status=normal_status(n.get("State")),
        spec={"cloud_status": n.get("State"), "connectivity": n.get("ConnectivityType", "public"),
              "vpc_id": n.get("VpcId", ""), "vswitch_id": n.get("SubnetId", ""),
              "eips": [a.get("PublicIp") for a in addresses if a.get("PublicIp")],
              "private_ip": next((a.get("PrivateIp") for a in addresses if a.get("PrivateIp")), "")},
        tags=tags, relations=rels, vpc_id=n.get("VpcId", ""),
    )


def nat_page(adapter: Any, region: str, page_token: str | None) -> ResourcePage:
    params: dict[str, Any] = {"MaxResults": PAGE}
    if page_token:
        params["NextToken"] = page_token
    body = adapter._invoke("ec2", region, "describe_nat_gateways", **params)
    rows = [n for n in body.get("NatGateways", []) if n.get("State") != "deleted"]
    return ResourcePage([to_nat(region, n) for n in rows], body.get("NextToken") or None)


def nat_get(adapter: Any, region: str, external_id: str) -> CloudResource | None:
    body = adapter._invoke("ec2", region, "describe_nat_gateways", NatGatewayIds=[external_id])
    rows = [n for n in body.get("NatGateways", []) if n.get("NatGatewayId") == external_id
            and n.get("State") != "deleted"]
    return to_nat(region, rows[0]) if rows else None


def create(adapter: Any, region: str, p: dict[str, Any]) -> str:
    params: dict[str, Any] = {"SubnetId": p["vswitch_id"]}
    if p.get("allocation_id"):
        params["AllocationId"] = p["allocation_id"]
    else:
        params["ConnectivityType"] = "private"
    if p.get("client_token"):
        params["ClientToken"] = p["client_token"]
    if p.get("name"):
        params["TagSpecifications"] = [{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": p["name"]}]}]
    return adapter._invoke("ec2", region, "create_nat_gateway", **params)["NatGateway"]["NatGatewayId"]


def delete(adapter: Any, region: str, external_id: str) -> None:
    adapter._invoke("ec2", region, "delete_nat_gateway", NatGatewayId=external_id)


extensions.register_service(ADAPTER, "nat", "NAT gateways")
extensions.register_listing(ADAPTER, extensions.Listing(type=TYPE, service="nat", list=nat_page, get=nat_get,
                                                       operations=("create", "delete")))
