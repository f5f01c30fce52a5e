"""Operation Orchestration Service API (``oos``, version 2019-06-01): templates and executions.

``CreateTemplate`` needs ``TemplateName`` and ``Content`` (a JSON or YAML document); names are unique
per region. ``StartExecution`` runs a template by name: Running -> Success. ``ListTemplates`` and
``ListExecutions`` page by NextToken/MaxResults (at most 100), as the real API does.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..errors import CloudError
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import public, region_param, rid, token_paged

V = "2019-06-01"
product(V, "oos")
register_kind("oos_template")
register_kind("oos_execution")
NAME_RE = re.compile(r"^(?!ACS-|ALIYUN-)[A-Za-z0-9_\-]{1,200}$")
# The fields of the template and execution that CreateTemplate and StartExecution answer.
CREATED_TEMPLATE = ("CreatedBy", "CreatedDate", "Description", "HasTrigger", "Hash", "ResourceGroupId", "ShareType",
                    "Tags", "TemplateFormat", "TemplateId", "TemplateName", "TemplateVersion", "UpdatedBy",
                    "UpdatedDate")
STARTED = ("Counters", "CreateDate", "Description", "EndDate", "ExecutedBy", "ExecutionId", "IsParent", "Mode",
           "Outputs", "Parameters", "ParentExecutionId", "RamRole", "ResourceGroupId", "SafetyCheck", "StartDate",
           "StatusMessage", "Tags", "TemplateId", "TemplateName", "TemplateVersion", "UpdateDate")


@action(V, "CreateTemplate")
def create_template(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    name = p.str("TemplateName", required=True) or ""
    if not NAME_RE.match(name):
        raise CloudError("InvalidParameter", "The specified TemplateName is not valid.")
    content = p.str("Content", required=True) or ""
    if any(t["TemplateName"] == name for t in store.rows("oos_template", region)):
        raise CloudError("EntityAlreadyExists.Template", f"The template {name} already exists.", 409)
    now = iso_now()
    record = store.add("oos_template", {
        "TemplateId": rid("t-", 7), "TemplateName": name, "RegionId": region, "TemplateVersion": "v1",
        "TemplateFormat": "JSON" if content.lstrip().startswith("{") else "YAML", "TemplateType": "Automation",
        "Description": "", "Hash": hashlib.sha256(content.encode()).hexdigest(), "ShareType": "Private",
        "CreatedBy": "cloudsim", "CreatedDate": now, "UpdatedBy": "cloudsim", "UpdatedDate": now,
        "HasTrigger": False, "TotalExecutionCount": 0, "ResourceGroupId": p.str("ResourceGroupId", "rg-default"),
        "Category": "", "Tags": {}, "VersionName": p.str("VersionName", ""), "Popularity": 0, "Publisher": "",
        "IsFavorite": False, "Constraints": "", "Status": "Available",
    }, "TemplateId")
    return {"Template": {k: record[k] for k in CREATED_TEMPLATE}, "TemplateType": "Automation"}


@action(V, "ListTemplates")
def list_templates(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    name = p.str("TemplateName")
    rows = [t for t in store.rows("oos_template", region) if not name or name in t["TemplateName"]]
    chunk, token = token_paged(rows, p, default=50, max_size=100)
    out = {"Templates": [public(t, drop=("RegionId",)) for t in chunk], "MaxResults": p.int("MaxResults", 50)}
    if token:
        out["NextToken"] = token
    return out


@action(V, "StartExecution")
def start_execution(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    name = p.str("TemplateName")
    if not name:
        raise CloudError("MissingParameter", 'The input parameter "TemplateName" that is mandatory for processing '
                         "this request is not supplied.")
    template = next((t for t in store.rows("oos_template", region) if t["TemplateName"] == name), None)
    if template is None:
        raise CloudError("EntityNotExists.Template", f"The template {name} does not exist.", 404)
    mode = p.str("Mode", "Automatic", choices={"Automatic", "Debug"})
    template["TotalExecutionCount"] += 1
    now = iso_now()
    record = store.add("oos_execution", {
        "ExecutionId": rid("exec-", 8), "RegionId": region, "TemplateId": template["TemplateId"],
        "TemplateName": name, "TemplateVersion": template["TemplateVersion"], "Mode": mode,
        "Parameters": p.str("Parameters", "{}"), "Outputs": "{}", "ExecutedBy": "cloudsim", "StartDate": now,
        "CreateDate": now, "UpdateDate": now, "EndDate": "", "StatusMessage": "", "StatusReason": "",
        "Description": p.str("Description", ""), "IsParent": False, "Counters": {}, "Tags": {},
        "ResourceGroupId": p.str("ResourceGroupId", "rg-default"), "Category": "Other", "RamRole": "",
        "SafetyCheck": p.str("SafetyCheck", "ConfirmEveryHighRiskAction"), "ParentExecutionId": "",
    }, "ExecutionId")
    store.schedule(record, "Running", "Success")
    return {"Execution": {**{k: record[k] for k in STARTED}, "Status": record["Status"]}}


@action(V, "ListExecutions")
def list_executions(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    name, status = p.str("TemplateName"), p.str("Status")
    rows = [e for e in store.rows("oos_execution", region) if (not name or e["TemplateName"] == name)
            and (not status or e["Status"] == status)]
    chunk, token = token_paged(rows, p, default=50, max_size=100)
    out = {"Executions": [public(e, "Status", drop=("RegionId",)) for e in chunk],
           "MaxResults": p.int("MaxResults", 50)}
    if token:
        out["NextToken"] = token
    return out
