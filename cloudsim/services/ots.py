"""Tablestore instance API (``ots``, version 2016-06-20): instances.

``InsertInstance`` needs an ``InstanceName`` (3-16 characters, a letter first, unique) and a
``ClusterType`` (``SSD`` high performance or ``HYBRID`` capacity); the instance is ``normal`` at once.
``ListInstance`` (sent as GET) pages by ``PageNum``/``PageSize`` (at most 100) and lists names only;
``GetInstance`` gives one instance. Tablestore takes no region parameter: the list answers every
region's instances and ``GetInstance`` names the instance's region in ``Network``-independent fields.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import CloudError
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import numbered

V = "2016-06-20"
product(V, "ots")
register_kind("ots_instance")
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,14}[A-Za-z0-9]$")
INFO = ("ClusterType", "CreateTime", "Description", "InstanceName", "Network", "ReadCapacity", "UserId",
        "WriteCapacity")


@action(V, "InsertInstance")
def insert_instance(store: Store, p) -> dict[str, Any]:
    name = p.str("InstanceName", required=True) or ""
    if not NAME_RE.match(name) or name.lower().startswith(("ali", "ay", "ots", "taobao", "admin")):
        raise CloudError("OTSInvalidInstanceName", "The instance name is not valid.")
    cluster = p.str("ClusterType", required=True, choices={"SSD", "HYBRID"})
    if name in store.tables["ots_instance"]:
        raise CloudError("OTSInstanceAlreadyExist", f"The instance {name} already exists.", 409)
    store.add("ots_instance", {
        "InstanceName": name, "RegionId": store.regions[0], "ClusterType": cluster,
        "Description": p.str("Description", ""), "Network": p.str("Network", "NORMAL"), "CreateTime": iso_now(),
        "ReadCapacity": 5000, "WriteCapacity": 5000, "UserId": "1234567890123456", "_tags": {}, "Status": "normal",
    }, "InstanceName")
    return {}


@action(V, "ListInstance")
def list_instance(store: Store, p) -> dict[str, Any]:
    rows = store.rows("ots_instance")
    chunk, number, size = numbered(rows, p, number="PageNum", default=50, max_size=100)
    return {"InstanceInfos": {"InstanceInfo": [{"InstanceName": r["InstanceName"], "Timestamp": r["CreateTime"]}
                                               for r in chunk]},
            "TotalCount": len(rows), "PageNum": number, "PageSize": size}


@action(V, "GetInstance")
def get_instance(store: Store, p) -> dict[str, Any]:
    record = store.get("ots_instance", p.str("InstanceName", required=True), "OTSInstanceNotFound", "instance")
    info = {k: record[k] for k in INFO}
    info["Status"] = record["Status"]
    info["Quota"] = {"EntityQuota": 64}
    info["TagInfos"] = {"TagInfo": [{"TagKey": k, "TagValue": v} for k, v in record["_tags"].items()]}
    return {"InstanceInfo": info}


@action(V, "DeleteInstance")
def delete_instance(store: Store, p) -> dict[str, Any]:
    record = store.get("ots_instance", p.str("InstanceName", required=True), "OTSInstanceNotFound", "instance")
    store.remove("ots_instance", record)
    return {}
