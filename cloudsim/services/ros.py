"""Resource Orchestration Service API (``ROS``, version 2019-09-10): stacks.

``CreateStack`` needs ``StackName`` and a template (``TemplateBody`` JSON or YAML text, or
``TemplateURL``); names are unique per region. CREATE_IN_PROGRESS -> CREATE_COMPLETE;
``DeleteStack``: DELETE_IN_PROGRESS -> gone. ``ListStacks`` pages by PageNumber (PageSize at most 50).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from ..errors import CloudError
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import kv_tags, numbered, public, region_param

V = "2019-09-10"
product(V, "ROS")
register_kind("ros_stack")
NAME_RE = re.compile(r"^[A-Za-z0-9\u4e00-\u9fa5][A-Za-z0-9_\-\u4e00-\u9fa5]{0,254}$")


@action(V, "CreateStack")
def create_stack(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    name = p.str("StackName", required=True) or ""
    if not NAME_RE.match(name):
        raise CloudError("InvalidParameter", "The specified StackName is not valid.")
    if not (p.str("TemplateBody") or p.str("TemplateURL") or p.str("TemplateId")):
        raise CloudError("InvalidTemplate", "One of TemplateBody, TemplateURL or TemplateId must be supplied.")
    if any(s["StackName"] == name for s in store.rows("ros_stack", region)):
        raise CloudError("StackExists", f"The Stack ({name}) already exists.", 409)
    stack_id = str(uuid.uuid4())
    now = iso_now()
    record = store.add("ros_stack", {
        "StackId": stack_id, "StackName": name, "RegionId": region, "StackType": "ROS",
        "TimeoutInMinutes": p.int("TimeoutInMinutes", 60, lo=10, hi=1440),
        "DisableRollback": (p.str("DisableRollback") or "false").lower() == "true",
        "DeletionProtection": p.str("DeletionProtection", "Disabled"), "CreateTime": now, "UpdateTime": now,
        "StatusReason": "Stack CREATE started", "ResourceGroupId": p.str("ResourceGroupId", "rg-default"),
        "ServiceManaged": False, "_tags": {},
    }, "StackId")
    store.schedule(record, "CREATE_IN_PROGRESS", "CREATE_COMPLETE")
    return {"StackId": stack_id}


@action(V, "ListStacks")
def list_stacks(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    names = set(p.repeated("StackName"))
    statuses = set(p.repeated("Status"))
    rows = [s for s in store.rows("ros_stack", region) if (not names or s["StackName"] in names)
            and (not statuses or s["Status"] in statuses)]
    chunk, number, size = numbered(rows, p, default=10, max_size=50)
    out = []
    for s in chunk:
        item = public(s, "Status")
        item["Tags"] = kv_tags(s["_tags"])
        out.append(item)
    return {"Stacks": out, "TotalCount": len(rows), "PageNumber": number, "PageSize": size}


@action(V, "DeleteStack")
def delete_stack(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    record = store.get("ros_stack", p.str("StackId", required=True), "StackNotFound", "stack")
    if record["RegionId"] != region:
        raise CloudError("StackNotFound", "The specified stack does not exist.", 404)
    if record["DeletionProtection"] == "Enabled":
        raise CloudError("ActionDenied", "The stack has deletion protection.", 403)
    store.schedule(record, "DELETE_IN_PROGRESS", "Deleted")
    return {}
