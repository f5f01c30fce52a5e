"""Container Registry Enterprise Edition API (``cr``, version 2018-12-01): instances, namespaces,
repositories.

An instance is bought through an order, not this API: ``add_instance`` puts one in a store (the demo
estate and tests use it). ``CreateNamespace`` and ``CreateRepository`` need the instance;
``ListInstance``, ``ListNamespace`` and ``ListRepository`` page by ``PageNo``/``PageSize`` (at most
100) and answer ``IsSuccess``/``Code`` like the real API. CR takes no region parameter: the instance
list answers every region's instances, each naming its ``RegionId``.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import CloudError
from ..store import Store, iso_now, register_kind
from . import action, product
from .inventory_kit import numbered, public, rid

V = "2018-12-01"
product(V, "cr")
register_kind("cr_instance")
register_kind("cr_namespace")
register_kind("cr_repository")
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9_.\-]{0,62}[a-z0-9])?$")
OK = {"IsSuccess": True, "Code": "success"}


def add_instance(store: Store, region: str, name: str, specification: str = "Standard") -> dict[str, Any]:
    """An instance as bought from the console: Running at once."""
    with store.lock:
        now = iso_now()
        record = store.add("cr_instance", {
            "InstanceId": rid("cri-", 8), "InstanceName": name, "RegionId": region,
            "InstanceSpecification": specification, "InstanceIssue": "", "CreateTime": now, "ModifiedTime": now,
            "ResourceGroupId": "rg-default", "_tags": {}, "Status": "RUNNING",
        }, "InstanceId")
        return record


def _instance(store: Store, p) -> dict[str, Any]:
    return store.get("cr_instance", p.str("InstanceId", required=True), "INSTANCE_NOT_EXIST", "instance")


@action(V, "ListInstance")
def list_instance(store: Store, p) -> dict[str, Any]:
    name, status = p.str("InstanceName"), p.str("InstanceStatus")
    rows = [r for r in store.rows("cr_instance") if (not name or name in r["InstanceName"])
            and (not status or r["Status"] == status)]
    chunk, number, size = numbered(rows, p, number="PageNo", default=30, max_size=100)
    items = []
    for r in chunk:
        item = public(r, "InstanceStatus")
        item["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in r["_tags"].items()]
        items.append(item)
    return {**OK, "Instances": items, "TotalCount": len(rows), "PageNo": number, "PageSize": size}


@action(V, "CreateNamespace")
def create_namespace(store: Store, p) -> dict[str, Any]:
    instance = _instance(store, p)
    name = p.str("NamespaceName", required=True) or ""
    if not NAME_RE.match(name) or len(name) < 2:
        raise CloudError("NAMESPACE_NAME_ILLEGAL", "The namespace name is not valid.")
    if any(n["NamespaceName"] == name and n["InstanceId"] == instance["InstanceId"]
           for n in store.rows("cr_namespace")):
        raise CloudError("NAMESPACE_ALREADY_EXIST", "The namespace already exists.")
    store.add("cr_namespace", {
        "NamespaceId": rid("crn-", 8), "NamespaceName": name, "InstanceId": instance["InstanceId"],
        "RegionId": instance["RegionId"], "AutoCreateRepo": (p.str("AutoCreateRepo") or "true").lower() == "true",
        "DefaultRepoType": p.str("DefaultRepoType", "PRIVATE"), "ResourceGroupId": "rg-default", "Status": "NORMAL",
    }, "NamespaceId")
    return dict(OK)


@action(V, "ListNamespace")
def list_namespace(store: Store, p) -> dict[str, Any]:
    instance = _instance(store, p)
    name = p.str("NamespaceName")
    rows = [n for n in store.rows("cr_namespace") if n["InstanceId"] == instance["InstanceId"]
            and (not name or n["NamespaceName"] == name)]
    chunk, number, size = numbered(rows, p, number="PageNo", default=30, max_size=100)
    return {**OK, "Namespaces": [public(n, "NamespaceStatus", drop=("RegionId",)) for n in chunk],
            "TotalCount": len(rows), "PageNo": number, "PageSize": size}


@action(V, "CreateRepository")
def create_repository(store: Store, p) -> dict[str, Any]:
    instance = _instance(store, p)
    namespace = p.str("RepoNamespaceName", required=True)
    name = p.str("RepoName", required=True) or ""
    repo_type = p.str("RepoType", required=True, choices={"PUBLIC", "PRIVATE"})
    summary = p.str("Summary", required=True) or ""
    if len(summary) > 100:
        raise CloudError("REPO_SUMMARY_ILLEGAL", "The summary is longer than 100 characters.")
    if not NAME_RE.match(name):
        raise CloudError("REPO_NAME_ILLEGAL", "The repository name is not valid.")
    ns = next((n for n in store.rows("cr_namespace") if n["InstanceId"] == instance["InstanceId"]
               and n["NamespaceName"] == namespace), None)
    if ns is None:
        raise CloudError("NAMESPACE_NOT_EXIST", "The namespace does not exist.", 404)
    if any(r["RepoName"] == name and r["RepoNamespaceName"] == namespace and r["InstanceId"] == instance["InstanceId"]
           for r in store.rows("cr_repository")):
        raise CloudError("REPO_ALREADY_EXIST", "The repository already exists.")
    now = int(instance["_created"] * 1000)
    repo_id = rid("crr-", 8)
    store.add("cr_repository", {
        "RepoId": repo_id, "RepoName": name, "RepoNamespaceName": namespace, "InstanceId": instance["InstanceId"],
        "RegionId": instance["RegionId"], "RepoType": repo_type, "Summary": summary, "RepoBuildType": "MANUAL",
        "TagImmutability": (p.str("TagImmutability") or "false").lower() == "true", "CreateTime": now,
        "ModifiedTime": now, "ResourceGroupId": "rg-default", "_namespace": ns["NamespaceId"], "Status": "NORMAL",
    }, "RepoId")
    return {**OK, "RepoId": repo_id}


@action(V, "ListRepository")
def list_repository(store: Store, p) -> dict[str, Any]:
    instance = _instance(store, p)
    namespace, status = p.str("RepoNamespaceName"), p.str("RepoStatus")
    rows = [r for r in store.rows("cr_repository") if r["InstanceId"] == instance["InstanceId"]
            and (not namespace or r["RepoNamespaceName"] == namespace) and (not status or r["Status"] == status)]
    chunk, number, size = numbered(rows, p, number="PageNo", default=30, max_size=100)
    return {**OK, "Repositories": [public(r, "RepoStatus", drop=("RegionId",)) for r in chunk],
            "TotalCount": len(rows), "PageNo": number, "PageSize": size}
