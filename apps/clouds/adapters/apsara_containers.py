"""Companion of the apsara adapter: Container Service for Kubernetes and Log Service (see ``extensions``).

Collected through their official SDKs, under the shared catalog's codes (so an ACK cluster sits beside
an EKS cluster of the aws adapter):

- ``ack.cluster``: ACK clusters (``alibabacloud_cs20151215``, a ROA API: ``GET /api/v1/clusters`` paged
  by ``page_number``), with their VPC, vSwitches and security group;
- ``ack.node_pool``: each cluster's node pools (``DescribeClusterNodePools``), related to their cluster
  and to the ECS instances that are their nodes (``DescribeClusterNodes`` by node pool); pages follow
  the clusters' pages;
- ``sls.project``: Log Service projects (``alibabacloud_sls20201230``, ``ListProject`` paged by
  ``offset``/``size``) of the collected region;
- ``sls.logstore``: each project's logstores (``ListLogStores`` names them, ``GetLogStore`` reads one),
  related to their project; pages follow the projects' pages.

Endpoints: ``cs`` and ``sls`` in the platform's ``endpoints`` (templates with ``{region}``), else the
platform's endpoint. ACK is a ROA API: through an ASAPI gateway its path would be lost, so give it its
own endpoint there. Log Service is never called through the gateway (like OSS): it has its own
signature and names the project in the host (``<project>.<endpoint>``). Where that name cannot be
resolved (an endpoint given as an IP address or a one-label name, plain HTTP), the request is sent to
the endpoint's address with the project's host name in the request line, as to an HTTP proxy.

RAM actions of the collection (for the read-only policy): ``cs:DescribeClustersV1``,
``cs:DescribeClusterNodePools``, ``cs:DescribeClusterNodes``, ``log:ListProject``,
``log:ListLogStores``, ``log:GetLogStore``.

This module must not import ``apsara`` (which imports it): it calls the adapter it is handed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from alibabacloud_cs20151215 import models as cs_models
from alibabacloud_cs20151215.client import Client as CsClient
from alibabacloud_sls20201230 import models as sls_models
from alibabacloud_sls20201230.client import Client as SlsClient
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils_models import GlobalParameters
from Tea.exceptions import TeaException

from apps.clouds.adapters.apsara_connection import fill, split_endpoint
from apps.clouds.adapters.base import CloudCallError, CloudResource, Relation, ResourcePage
from apps.clouds.adapters.extensions import Listing, register_listing, register_product, register_service

A = "apsara"
PRODUCTS = {"cs": (CsClient, "CS"), "sls": (SlsClient, "Sls")}
SERVICES = {"ack": "Container Service for Kubernetes", "sls": "Log Service"}
RAM_ACTIONS = ("cs:DescribeClustersV1", "cs:DescribeClusterNodePools", "cs:DescribeClusterNodes",
               "log:ListProject", "log:ListLogStores", "log:GetLogStore")
PAGE = 50  # clusters per page (ACK allows 100)
NODE_PAGE = 100
SLS_PAGE = 100  # projects or logstores per page (Log Service allows 500)
_CLUSTER_STATES = {"running": "running", "initial": "pending", "waiting": "pending", "failed": "failed",
                   "unavailable": "failed", "deleting": "deleting", "deleted": "deleted", "delete_failed": "failed",
                   "updating": "changing", "upgrading": "changing", "scaling": "changing",
                   "removing": "changing", "stopped": "stopped"}
_POOL_STATES = {"active": "running", "initial": "pending", "scaling": "changing", "updating": "changing",
                "upgrading": "changing", "removing": "changing", "deleting": "deleting", "failed": "failed"}


def _ints(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _next(number: int, size: int, total: Any, got: int) -> str | None:
    return str(number + 1) if got and number * size < _ints(total) else None


# -- ACK (cs, ROA) ---------------------------------------------------------------------------------

def _roa(adapter: Any, region: str, method: str, *args: Any) -> dict[str, Any]:
    """One ACK call: the SDK's ``<method>_with_options`` takes the path parts and the request, then headers
    and the runtime (the SDK names DescribeClustersV1's ``describe_clusters_v1with_options``)."""
    client = adapter._client("cs", region)
    fn = getattr(client, f"{method}with_options" if method[-1].isdigit() else f"{method}_with_options")
    response = adapter.call(method, lambda: fn(*args, {}, adapter._runtime()))
    return response.body.to_map() if response.body is not None else {}


def _cluster_page(adapter: Any, region: str, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    number = int(token or 1)
    body = _roa(adapter, region, "describe_clusters_v1", cs_models.DescribeClustersV1Request(
        region_id=region, page_number=number, page_size=PAGE))
    rows = body.get("clusters") or []
    nxt = _next(number, PAGE, (body.get("page_info") or {}).get("total_count"), len(rows))
    return [c for c in rows if (c.get("region_id") or region) == region], nxt


def to_cluster(region: str, c: dict[str, Any]) -> CloudResource:
    vpc_id = c.get("vpc_id") or ""
    rels = [Relation("in_vpc", "vpc.vpc", vpc_id)] if vpc_id else []
    named = [*(c.get("vswitch_ids") or []), *([c["vswitch_id"]] if c.get("vswitch_id") else [])]
    vswitches = list(dict.fromkeys(named))
    rels += [Relation("in_vswitch", "vpc.vswitch", v) for v in vswitches]
    if c.get("security_group_id"):
        rels.append(Relation("in_security_group", "ecs.security_group", c["security_group_id"]))
    state = str(c.get("state") or "")
    return CloudResource(
        type="ack.cluster", external_id=c["cluster_id"], region=region, zone=c.get("zone_id") or "",
        name=c.get("name") or c["cluster_id"], status=_CLUSTER_STATES.get(state, state.lower()),
        spec={"cloud_status": state, "cluster_type": c.get("cluster_type"), "cluster_spec": c.get("cluster_spec"),
              "profile": c.get("profile"), "version": c.get("current_version"), "nodes": c.get("size"),
              "network_mode": c.get("network_mode"), "proxy_mode": c.get("proxy_mode"),
              "container_cidr": c.get("container_cidr"), "service_cidr": c.get("service_cidr"),
              "deletion_protection": c.get("deletion_protection"), "created_at": c.get("created")},
        tags={str(t["key"]): str(t.get("value") or "") for t in c.get("tags") or [] if t.get("key")},
        relations=rels, vpc_id=vpc_id, resource_group=c.get("resource_group_id") or "")


def list_clusters(adapter: Any, region: str, token: str | None) -> ResourcePage:
    rows, nxt = _cluster_page(adapter, region, token)
    return ResourcePage([to_cluster(region, c) for c in rows], nxt)


def _cluster_nodes(adapter: Any, region: str, cluster_id: str) -> dict[str, list[str]]:
    """node pool id -> the ECS instance ids of its nodes."""
    out: dict[str, list[str]] = {}
    number = 1
    while True:
        body = _roa(adapter, region, "describe_cluster_nodes", cluster_id, cs_models.DescribeClusterNodesRequest(
            page_number=str(number), page_size=str(NODE_PAGE)))
        rows = body.get("nodes") or []
        for n in rows:
            if n.get("instance_id"):
                out.setdefault(n.get("nodepool_id") or "", []).append(n["instance_id"])
        if not _next(number, NODE_PAGE, (body.get("page") or {}).get("total_count"), len(rows)):
            return out
        number += 1


def to_node_pool(region: str, cluster: dict[str, Any], p: dict[str, Any], instances: list[str]) -> CloudResource:
    info, status, group = p.get("nodepool_info") or {}, p.get("status") or {}, p.get("scaling_group") or {}
    k8s = p.get("kubernetes_config") or {}
    rels = [Relation("member_of", "ack.cluster", cluster["cluster_id"])]
    rels += [Relation("in_vswitch", "vpc.vswitch", v) for v in group.get("vswitch_ids") or []]
    rels += [Relation("has_member", "ecs.instance", i) for i in instances]
    state = str(status.get("state") or "")
    return CloudResource(
        type="ack.node_pool", external_id=info["nodepool_id"], region=region, name=info.get("name") or "",
        status=_POOL_STATES.get(state, state.lower()),
        spec={"cloud_status": state, "cluster_id": cluster["cluster_id"], "cluster_name": cluster.get("name"),
              "default": info.get("is_default"), "pool_type": info.get("type"),
              "instance_types": group.get("instance_types"), "desired_size": group.get("desired_size"),
              "total_nodes": status.get("total_nodes"), "healthy_nodes": status.get("healthy_nodes"),
              "scaling_group_id": group.get("scaling_group_id"), "image_id": group.get("image_id"),
              "runtime": k8s.get("runtime"), "runtime_version": k8s.get("runtime_version"),
              "instance_ids": instances, "created_at": info.get("created")},
        relations=rels, vpc_id=cluster.get("vpc_id") or "", resource_group=info.get("resource_group_id") or "")


def list_node_pools(adapter: Any, region: str, token: str | None) -> ResourcePage:
    clusters, nxt = _cluster_page(adapter, region, token)
    items = []
    for c in clusters:
        try:
            pools = _roa(adapter, region, "describe_cluster_node_pools", c["cluster_id"],
                         cs_models.DescribeClusterNodePoolsRequest()).get("nodepools") or []
            nodes = _cluster_nodes(adapter, region, c["cluster_id"]) if pools else {}
        except CloudCallError as exc:
            if exc.code == "ErrorClusterNotFound":  # deleted between the list and this call
                continue
            raise
        items += [to_node_pool(region, c, p, nodes.get((p.get("nodepool_info") or {}).get("nodepool_id"), []))
                  for p in pools if (p.get("nodepool_info") or {}).get("nodepool_id")]
    return ResourcePage(items, nxt)


# -- Log Service (sls) -----------------------------------------------------------------------------

def _unresolvable(host: str) -> bool:
    """Whether ``<project>.<host>`` cannot be a resolvable name: an IP address or a one-label name."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return "." not in name


def _sls_client(adapter: Any, region: str) -> Any:
    key = ("sls", region)
    with adapter._lock:
        if key in adapter._clients:
            return adapter._clients[key]
    connection = adapter.connection
    template = connection.endpoints.get("sls") or connection.endpoint
    if not template:
        raise CloudCallError("The platform has no Log Service endpoint configured.", code="MissingEndpoint",
                             action="ListProject")
    host, protocol, _path = split_endpoint(fill(template, region=region), connection.protocol)
    ms = int(adapter.timeout * 1000)
    headers = connection.apsara_headers(region)
    config = Config(endpoint=host, protocol=protocol, region_id=region, read_timeout=ms,
                    connect_timeout=min(ms, 5000), ca=connection.ca_path,
                    global_parameters=GlobalParameters(headers=headers) if headers else None,
                    http_proxy=f"http://{host}" if protocol == "http" and _unresolvable(host) else None)
    role = adapter._role(region)
    if role is not None:
        config.credential = role
    else:
        config.access_key_id = adapter.credentials.get("access_key_id", "")
        config.access_key_secret = adapter.credentials.get("access_key_secret", "")
        config.security_token = adapter.credentials.get("security_token") or None
    client = SlsClient(config)
    with adapter._lock:
        return adapter._clients.setdefault(key, client)


def _sls(adapter: Any, region: str, action: str, call: Callable[[Any], Any]) -> dict[str, Any]:
    """One Log Service call. Its SDK reports a refusal as an exception carrying ``code`` and the HTTP status
    in ``data``; that status is put where the adapter's classification reads it."""
    client = _sls_client(adapter, region)

    def run() -> Any:
        try:
            return call(client)
        except TeaException as exc:
            status = (exc.data or {}).get("statusCode") if isinstance(exc.data, dict) else None
            if exc.code and status is not None:
                exc.status_code = status  # type: ignore[attr-defined]
            raise

    response = adapter.call(action, run)
    body = getattr(response, "body", None)  # a write's answer has none
    return body.to_map() if hasattr(body, "to_map") else {}


def to_project(region: str, p: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="sls.project", external_id=p["projectName"], region=region, name=p["projectName"],
        status="available" if str(p.get("status") or "Normal") == "Normal" else str(p.get("status")).lower(),
        spec={"cloud_status": p.get("status"), "description": p.get("description"),
              "data_redundancy": p.get("dataRedundancyType"), "recycle_bin": p.get("recycleBinEnabled"),
              "internal_endpoint": p.get("internalEndpoint"), "created_at": p.get("createTime"),
              "updated_at": p.get("lastModifyTime")},
        resource_group=p.get("resourceGroupId") or "")


def _project_page(adapter: Any, region: str, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    offset = int(token or 0)
    body = _sls(adapter, region, "ListProject", lambda c: c.list_project_with_options(
        sls_models.ListProjectRequest(offset=offset, size=SLS_PAGE), {}, adapter._runtime()))
    rows = body.get("projects") or []
    nxt = str(offset + len(rows)) if rows and offset + len(rows) < _ints(body.get("total")) else None
    return [p for p in rows if (p.get("region") or region) == region], nxt


def list_projects(adapter: Any, region: str, token: str | None) -> ResourcePage:
    rows, nxt = _project_page(adapter, region, token)
    return ResourcePage([to_project(region, p) for p in rows], nxt)


def to_logstore(region: str, project: str, s: dict[str, Any]) -> CloudResource:
    return CloudResource(
        type="sls.logstore", external_id=f"{project}/{s['logstoreName']}", region=region, name=s["logstoreName"],
        status="available",
        spec={"project": project, "ttl_days": s.get("ttl"), "hot_ttl_days": s.get("hot_ttl"),
              "shards": s.get("shardCount"), "auto_split": s.get("autoSplit"),
              "max_split_shards": s.get("maxSplitShard"),
              "mode": s.get("mode"), "telemetry_type": s.get("telemetryType"), "created_at": s.get("createTime"),
              "updated_at": s.get("lastModifyTime")},
        relations=[Relation("member_of", "sls.project", project)], resource_group=s.get("resourceGroupId") or "")


def _logstores(adapter: Any, region: str, project: str) -> list[CloudResource]:
    out: list[CloudResource] = []
    offset = 0
    while True:
        body = _sls(adapter, region, "ListLogStores", lambda c, o=offset: c.list_log_stores_with_options(
            project, sls_models.ListLogStoresRequest(offset=o, size=SLS_PAGE), {}, adapter._runtime()))
        names = body.get("logstores") or []
        for name in names:
            try:
                detail = _sls(adapter, region, "GetLogStore", lambda c, n=name: c.get_log_store_with_options(
                    project, n, {}, adapter._runtime()))
            except CloudCallError as exc:
                if exc.code == "LogStoreNotExist":  # deleted between the list and this call
                    continue
                raise
            out.append(to_logstore(region, project, detail))
        offset += len(names)
        if not names or offset >= _ints(body.get("total")):
            return out


def list_logstores(adapter: Any, region: str, token: str | None) -> ResourcePage:
    projects, nxt = _project_page(adapter, region, token)
    items: list[CloudResource] = []
    for p in projects:
        try:
            items += _logstores(adapter, region, p["projectName"])
        except CloudCallError as exc:
            if exc.code != "ProjectNotExist":  # deleted between the list and this call
                raise
    return ResourcePage(items, nxt)


# -- registration ----------------------------------------------------------------------------------

for _code, (_client, _asapi) in PRODUCTS.items():
    register_product(A, _code, _client, _asapi)
for _code, _name in SERVICES.items():
    register_service(A, _code, _name)
for _listing in (
    Listing("ack.cluster", "ack", list_clusters),
    Listing("ack.node_pool", "ack", list_node_pools),
    Listing("sls.project", "sls", list_projects),
    Listing("sls.logstore", "sls", list_logstores),
):
    register_listing(A, _listing)
