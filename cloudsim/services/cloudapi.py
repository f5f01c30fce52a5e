"""API Gateway API (``CloudAPI``, version 2016-07-14): API groups.

``CreateApiGroup`` needs ``GroupName`` (4-50 characters, unique per region; a dedicated instance may
be named); the group gets a second-level domain. API Gateway takes no region parameter: the list
answers every region's groups, each naming its ``RegionId``. ``DescribeApiGroups`` pages by
PageNumber (PageSize at most 100).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import CloudError
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import kv_tags, numbered, public, rid

V = "2016-07-14"
product(V, "CloudAPI")
register_kind("api_group")
NAME_RE = re.compile(r"^[A-Za-z\u4e00-\u9fa5][A-Za-z0-9_\u4e00-\u9fa5]{3,49}$")


@action(V, "CreateApiGroup")
def create_api_group(store: Store, p) -> dict[str, Any]:
    name = p.str("GroupName", required=True) or ""
    if not NAME_RE.match(name):
        raise CloudError("InvalidGroupName", "The specified GroupName is not valid.")
    region = store.regions[0]
    if any(g["GroupName"] == name for g in store.rows("api_group", region)):
        raise CloudError("RepeatedGroupName", "The group name already exists.")
    group_id = rid("", 16)
    instance = p.str("InstanceId", "api-shared-vpc-001")
    now = iso_now()
    record = store.add("api_group", {
        "GroupId": group_id, "GroupName": name, "RegionId": region, "Description": p.str("Description", ""),
        "BasePath": p.str("BasePath", "/"), "SubDomain": f"{group_id}-{region}.alicloudapi.cloudsim.internal",
        "InstanceId": instance, "InstanceType": "VPC_SHARED" if instance.startswith("api-shared") else "VPC_DEDICATED",
        "TrafficLimit": 500, "BillingStatus": "NORMAL", "IllegalStatus": "NORMAL", "HttpsPolicy": "HTTPS2_TLS1_0",
        "CreatedTime": now, "ModifiedTime": now, "_tags": {},
    }, "GroupId")
    out = {k: record[k] for k in ("GroupId", "GroupName", "Description", "BasePath", "SubDomain", "InstanceId",
                                  "InstanceType")}
    return {**out, "TagStatus": False}


@action(V, "DescribeApiGroups")
def describe_api_groups(store: Store, p) -> dict[str, Any]:
    wanted, name = p.str("GroupId"), p.str("GroupName")
    rows = [g for g in store.rows("api_group") if (not wanted or g["GroupId"] == wanted)
            and (not name or name in g["GroupName"])]
    chunk, number, size = numbered(rows, p, default=10, max_size=100)
    items = []
    for g in chunk:
        item = public(g)
        item["Tags"] = {"TagInfo": kv_tags(g["_tags"])}
        items.append(item)
    return {"ApiGroupAttributes": {"ApiGroupAttribute": items}, "TotalCount": len(rows), "PageNumber": number,
            "PageSize": size}


@action(V, "DeleteApiGroup")
def delete_api_group(store: Store, p) -> dict[str, Any]:
    record = store.get("api_group", p.str("GroupId", required=True), "NotFoundApiGroup", "API group")
    store.remove("api_group", record)
    return {}
