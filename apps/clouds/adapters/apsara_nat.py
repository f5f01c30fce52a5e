"""NAT gateways on Apsara Stack / Alibaba Cloud (VPC API 2016-04-28): collection, create and delete,
EIPs bound to a gateway, and its SNAT and DNAT (forward) entries.

Companion of the ``apsara`` adapter (see ``extensions``): it registers the ``nat`` service and the
collected type ``nat.nat_gateway`` at import; the adapter routes create and delete of the type here,
and the day-2 operations (``apsara_day2``) call the entry functions. Each function takes the adapter
first and calls the cloud through ``adapter._invoke`` (timeouts, retries, error classification).
"""

from __future__ import annotations

from typing import Any

from alibabacloud_vpc20160428 import models as vpc_models

from apps.clouds.adapters import extensions
from apps.clouds.adapters.base import CloudResource, Relation, ResourcePage, normal_status

ADAPTER = "apsara"
TYPE = "nat.nat_gateway"
PAGE_SIZE = 50
SPECS = ("Small", "Middle", "Large", "XLarge.1")


def to_nat(region: str, r: dict[str, Any]) -> CloudResource:
    private = r.get("NatGatewayPrivateInfo") or {}
    ips = (r.get("IpLists") or {}).get("IpList") or []
    rels = [Relation("in_vpc", "vpc.vpc", r["VpcId"])] if r.get("VpcId") else []
    if private.get("VswitchId"):
        rels.append(Relation("in_vswitch", "vpc.vswitch", private["VswitchId"]))
    rels += [Relation("associated_with", "eip.eip", i["AllocationId"]) for i in ips if i.get("AllocationId")]
    return CloudResource(
        type=TYPE, external_id=r["NatGatewayId"], region=region, zone=private.get("IzNo") or "",
        name=r.get("Name") or r["NatGatewayId"], status=normal_status(r.get("Status")),
        spec={"cloud_status": r.get("Status"), "spec": r.get("Spec"), "nat_type": r.get("NatType"),
              "vpc_id": r.get("VpcId", ""), "vswitch_id": private.get("VswitchId", ""),
              "private_ip": private.get("PrivateIpAddress", ""),
              "snat_table_id": next(iter((r.get("SnatTableIds") or {}).get("SnatTableId") or []), ""),
              "forward_table_id": next(iter((r.get("ForwardTableIds") or {}).get("ForwardTableId") or []), ""),
              "eips": [i.get("IpAddress") for i in ips], "created_at": r.get("CreationTime")},
        relations=rels, vpc_id=r.get("VpcId", ""), resource_group=r.get("ResourceGroupId") or "",
    )


def _page(adapter: Any, region: str, page_token: str | None, **filters: Any) -> tuple[list[dict[str, Any]], int]:
    number = int(page_token or 1)
    body = adapter._invoke("vpc", region, "describe_nat_gateways", vpc_models.DescribeNatGatewaysRequest(
        region_id=region, page_number=number, page_size=PAGE_SIZE, **filters))
    return list((body.get("NatGateways") or {}).get("NatGateway") or []), int(body.get("TotalCount") or 0)


def nat_page(adapter: Any, region: str, page_token: str | None) -> ResourcePage:
    rows, total = _page(adapter, region, page_token)
    number = int(page_token or 1)
    return ResourcePage([to_nat(region, r) for r in rows],
                        str(number + 1) if rows and number * PAGE_SIZE < total else None)


def nat_get(adapter: Any, region: str, external_id: str) -> CloudResource | None:
    rows, _total = _page(adapter, region, None, nat_gateway_id=external_id)
    found = [r for r in rows if r.get("NatGatewayId") == external_id]
    return to_nat(region, found[0]) if found else None


def create(adapter: Any, region: str, p: dict[str, Any]) -> str:
    body = adapter._invoke("vpc", region, "create_nat_gateway", vpc_models.CreateNatGatewayRequest(
        region_id=region, vpc_id=p["vpc_id"], v_switch_id=p["vswitch_id"], nat_type="Enhanced",
        spec=p.get("spec") or "Small", name=p.get("name") or None, client_token=p.get("client_token")))
    return body["NatGatewayId"]


def delete(adapter: Any, region: str, external_id: str) -> None:
    """Delete the gateway with its entries; its EIPs are unbound and kept."""
    adapter._invoke("vpc", region, "delete_nat_gateway", vpc_models.DeleteNatGatewayRequest(
        region_id=region, nat_gateway_id=external_id, force=True))


def _tables(adapter: Any, region: str, external_id: str) -> dict[str, Any]:
    found = nat_get(adapter, region, external_id)
    if found is None:
        from apps.clouds.adapters.base import CloudCallError

        raise CloudCallError(f"The NAT gateway {external_id} does not exist.", code="InvalidNatGatewayId.NotFound")
    return found.spec


def eip_bind(adapter: Any, region: str, external_id: str, allocation_id: str, *, bind: bool) -> None:
    if bind:
        adapter._invoke("vpc", region, "associate_eip_address", vpc_models.AssociateEipAddressRequest(
            region_id=region, allocation_id=allocation_id, instance_id=external_id, instance_type="Nat"))
    else:
        adapter._invoke("vpc", region, "unassociate_eip_address", vpc_models.UnassociateEipAddressRequest(
            region_id=region, allocation_id=allocation_id, instance_id=external_id, instance_type="Nat"))


def snat_add(adapter: Any, region: str, external_id: str, *, snat_ip: str, vswitch_id: str,
             client_token: str | None = None) -> str:
    table = _tables(adapter, region, external_id)["snat_table_id"]
    body = adapter._invoke("vpc", region, "create_snat_entry", vpc_models.CreateSnatEntryRequest(
        region_id=region, snat_table_id=table, snat_ip=snat_ip, source_vswitch_id=vswitch_id,
        client_token=client_token))
    return body["SnatEntryId"]


def snat_remove(adapter: Any, region: str, external_id: str, entry_id: str) -> None:
    table = _tables(adapter, region, external_id)["snat_table_id"]
    adapter._invoke("vpc", region, "delete_snat_entry", vpc_models.DeleteSnatEntryRequest(
        region_id=region, snat_table_id=table, snat_entry_id=entry_id))


def dnat_add(adapter: Any, region: str, external_id: str, *, external_ip: str, protocol: str, external_port: int,
             internal_ip: str, internal_port: int, client_token: str | None = None) -> str:
    table = _tables(adapter, region, external_id)["forward_table_id"]
    body = adapter._invoke("vpc", region, "create_forward_entry", vpc_models.CreateForwardEntryRequest(
        region_id=region, forward_table_id=table, external_ip=external_ip, ip_protocol=protocol.upper(),
        external_port=str(external_port), internal_ip=internal_ip, internal_port=str(internal_port),
        client_token=client_token))
    return body["ForwardEntryId"]


def dnat_remove(adapter: Any, region: str, external_id: str, entry_id: str) -> None:
    table = _tables(adapter, region, external_id)["forward_table_id"]
    adapter._invoke("vpc", region, "delete_forward_entry", vpc_models.DeleteForwardEntryRequest(
        region_id=region, forward_table_id=table, forward_entry_id=entry_id))


def entries(adapter: Any, region: str, external_id: str) -> dict[str, Any]:
    """The gateway's EIPs and its SNAT and DNAT entries (a resource page's details)."""
    spec = _tables(adapter, region, external_id)
    snat = adapter._invoke("vpc", region, "describe_snat_table_entries", vpc_models.DescribeSnatTableEntriesRequest(
        region_id=region, snat_table_id=spec["snat_table_id"], page_size=100))
    dnat = adapter._invoke("vpc", region, "describe_forward_table_entries",
                           vpc_models.DescribeForwardTableEntriesRequest(
                               region_id=region, forward_table_id=spec["forward_table_id"], page_size=100))
    return {"eips": [{"ip_address": ip} for ip in spec["eips"]],
            "snat_entries": [{"entry_id": e.get("SnatEntryId"), "snat_ip": e.get("SnatIp"),
                              "source": e.get("SourceVSwitchId") or e.get("SourceCIDR"), "status": e.get("Status")}
                             for e in (snat.get("SnatTableEntries") or {}).get("SnatTableEntry") or []],
            "dnat_entries": [{"entry_id": e.get("ForwardEntryId"), "protocol": str(e.get("IpProtocol") or "").lower(),
                              "external": f"{e.get('ExternalIp')}:{e.get('ExternalPort')}",
                              "internal": f"{e.get('InternalIp')}:{e.get('InternalPort')}", "status": e.get("Status")}
                             for e in (dnat.get("ForwardTableEntries") or {}).get("ForwardTableEntry") or []]}


extensions.register_service(ADAPTER, "nat", "NAT Gateway")
extensions.register_listing(ADAPTER, extensions.Listing(type=TYPE, service="nat", list=nat_page, get=nat_get,
                                                       operations=("create", "delete", "modify")))
