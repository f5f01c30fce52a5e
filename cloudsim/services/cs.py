"""Container Service for Kubernetes (ACK, ``CS``, version 2015-12-15): clusters, node pools and nodes.

ACK is a ROA API: each action is a method and a path (``GET /api/v1/clusters``,
``GET /clusters/{ClusterId}/nodepools``), signed with ACS3-HMAC-SHA256 like the RPC products and
routed through ``cloudsim/rest.py``. Fields are ACK's own snake_case names; states are ACK's
(``initial`` -> ``running``; ``deleting`` -> gone; node pools ``active``; nodes ``running``).

- ``DescribeClustersV1``: ``page_number``/``page_size`` (at most 100), filters ``name``,
  ``cluster_type``, ``cluster_spec``, ``profile``, ``region_id``, ``cluster_id``; answers
  ``clusters`` and ``page_info``.
- ``DescribeClusterDetail``, ``DescribeClusterNodePools`` (filter ``NodepoolName``),
  ``DescribeClusterNodes`` (``pageNumber``/``pageSize``, filters ``nodepool_id``, ``instanceIds``,
  ``state``): a node is an ECS instance of the region, read from the ECS table, so a node pool's
  nodes are the instances the collection relates it to.
- ``DeleteCluster``: ``deleting`` -> gone, its node pools with it; the ECS instances stay.
- Unknown cluster: ``ErrorClusterNotFound`` (404).

A cluster is bought through the console's order flow on the real cloud; cloudsim makes one from
existing ECS instances through its control API: ``POST /_cloudsim/ack/clusters`` with
``{"region_id", "name", "node_pools": [{"name", "instance_ids": [...]}], "tags": {...}}``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..errors import CloudError, invalid
from ..rest import route
from ..store import CONTROL_ROUTES, REMOVE_HOOKS, Store, iso_now, register_kind
from . import action, product
from .inventory_kit import rid

V = "2015-12-15"
product(V, "CS")
register_kind("ack_cluster")
register_kind("ack_nodepool")
VERSION = "1.30.1-aliyun.1"
_NODE_STATES = {"Running": ("running", "Ready"), "Stopped": ("stopped", "NotReady"),
                "Starting": ("initial", "NotReady"), "Pending": ("initial", "NotReady"),
                "Stopping": ("removing", "NotReady")}


def _not_found(cluster_id: str) -> CloudError:
    return CloudError("ErrorClusterNotFound", f"The cluster {cluster_id} is not found.", 404)


def _cluster(store: Store, p) -> dict[str, Any]:
    cluster_id = p.str("ClusterId", required=True) or ""
    record = store.tables["ack_cluster"].get(cluster_id)
    if record is None or not store.settle("ack_cluster", record, time.time()):
        raise _not_found(cluster_id)
    return record


def _render(record: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if not k.startswith("_") and k not in ("Status", "RegionId")}
    out["state"] = record["Status"]
    out["tags"] = [{"key": k, "value": v} for k, v in record["_tags"].items()]
    return out


@action(V, "DescribeClustersV1")
def describe_clusters_v1(store: Store, p) -> dict[str, Any]:
    region = p.str("region_id")
    if region:
        store.check_region(region)
    wanted = {k: p.str(k) for k in ("name", "cluster_type", "cluster_spec", "profile", "cluster_id")}
    rows = [c for c in store.rows("ack_cluster", region)
            if all(not v or (v in c["name"] if k == "name" else c[k] == v) for k, v in wanted.items())]
    number = p.int("page_number", 1, lo=1, hi=10_000_000) or 1
    size = p.int("page_size", 10, lo=1, hi=100) or 10
    chunk = rows[(number - 1) * size:number * size]
    return {"clusters": [_render(c) for c in chunk],
            "page_info": {"page_number": number, "page_size": size, "total_count": len(rows)}}


@action(V, "DescribeClusterDetail")
def describe_cluster_detail(store: Store, p) -> dict[str, Any]:
    return _render(_cluster(store, p))


def _pool_nodes(store: Store, pool: dict[str, Any]) -> list[dict[str, Any]]:
    table = store.tables["ecs_instance"]
    return [table[i] for i in pool["_instances"] if i in table]


def _render_pool(store: Store, pool: dict[str, Any]) -> dict[str, Any]:
    nodes = _pool_nodes(store, pool)
    ready = sum(1 for n in nodes if n["Status"] == "Running")
    return {
        "nodepool_info": {"nodepool_id": pool["NodepoolId"], "name": pool["name"], "is_default": pool["is_default"],
                          "type": "ess", "region_id": pool["RegionId"], "resource_group_id": "",
                          "created": pool["created"], "updated": pool["updated"]},
        "status": {"state": pool["Status"], "total_nodes": len(nodes), "healthy_nodes": ready,
                   "serving_nodes": ready, "failed_nodes": 0, "initial_nodes": 0, "offline_nodes": len(nodes) - ready,
                   "removing_nodes": 0},
        "scaling_group": {"scaling_group_id": pool["scaling_group_id"], "vswitch_ids": pool["vswitch_ids"],
                          "instance_types": pool["instance_types"], "security_group_id": pool["security_group_id"],
                          "image_id": pool["image_id"], "desired_size": len(nodes),
                          "system_disk_category": "cloud_essd", "system_disk_size": 120,
                          "instance_charge_type": "PostPaid", "multi_az_policy": "BALANCE"},
        "kubernetes_config": {"runtime": "containerd", "runtime_version": "1.6.28", "cms_enabled": True,
                              "unschedulable": False},
        "max_nodes": max(len(nodes), 10),
    }


@action(V, "DescribeClusterNodePools")
def describe_cluster_node_pools(store: Store, p) -> dict[str, Any]:
    cluster = _cluster(store, p)
    name = p.str("NodepoolName")
    pools = [n for n in store.rows("ack_nodepool") if n["cluster_id"] == cluster["cluster_id"]
             and (not name or n["name"] == name)]
    return {"nodepools": [_render_pool(store, n) for n in pools]}


@action(V, "DescribeClusterNodes")
def describe_cluster_nodes(store: Store, p) -> dict[str, Any]:
    cluster = _cluster(store, p)
    pool_id = p.str("nodepool_id")
    wanted_ids = set(json.loads(p.str("instanceIds") or "[]")) if (p.str("instanceIds") or "").startswith("[") \
        else {i for i in (p.str("instanceIds") or "").split(",") if i}
    state = p.str("state", "all")
    nodes: list[dict[str, Any]] = []
    for pool in store.rows("ack_nodepool"):
        if pool["cluster_id"] != cluster["cluster_id"] or (pool_id and pool["NodepoolId"] != pool_id):
            continue
        for inst in _pool_nodes(store, pool):
            node_state, ready = _NODE_STATES.get(inst["Status"], ("failed", "Unknown"))
            if (wanted_ids and inst["InstanceId"] not in wanted_ids) or state not in ("all", node_state):
                continue
            nodes.append({
                "instance_id": inst["InstanceId"], "instance_name": inst["InstanceName"],
                "host_name": inst["HostName"], "node_name": f"{inst['RegionId']}.{inst['_ip']}",
                "ip_address": [inst["_ip"]], "instance_type": inst["InstanceType"],
                "instance_type_family": inst["InstanceTypeFamily"], "image_id": inst["ImageId"],
                "instance_charge_type": inst["InstanceChargeType"], "instance_status": inst["Status"],
                "instance_role": "Worker", "nodepool_id": pool["NodepoolId"], "node_status": ready,
                "state": node_state, "creation_time": inst["CreationTime"], "expired_time": inst["ExpiredTime"],
                "is_aliyun_node": True, "source": "ess_attach", "spot_strategy": "NoSpot", "error_message": "",
            })
    number = p.int("pageNumber", 1, lo=1, hi=10_000_000) or 1
    size = p.int("pageSize", 10, lo=1, hi=100) or 10
    return {"nodes": nodes[(number - 1) * size:number * size],
            "page": {"page_number": number, "page_size": size, "total_count": len(nodes)}}


@action(V, "DeleteCluster")
def delete_cluster(store: Store, p) -> dict[str, Any]:
    cluster = _cluster(store, p)
    if cluster["deletion_protection"]:
        raise CloudError("ErrorDeletionProtection", "The cluster has deletion protection enabled.", 400)
    if cluster["Status"] == "deleting":
        raise CloudError("ErrorClusterStatus", "The cluster is being deleted.", 400)
    store.schedule(cluster, "deleting", "Deleted")
    return {"cluster_id": cluster["cluster_id"], "request_id": "", "task_id": rid("T-", 8)}


def _remove_pools(store: Store, cluster: dict[str, Any]) -> None:
    for pool in list(store.tables["ack_nodepool"].values()):
        if pool["cluster_id"] == cluster["cluster_id"]:
            store.remove("ack_nodepool", pool)


REMOVE_HOOKS["ack_cluster"] = _remove_pools

route(V, "DescribeClustersV1", "GET", "/api/v1/clusters")
route(V, "DescribeClusterDetail", "GET", "/clusters/{ClusterId}")
route(V, "DescribeClusterNodePools", "GET", "/clusters/{ClusterId}/nodepools")
route(V, "DescribeClusterNodes", "GET", "/clusters/{ClusterId}/nodes")
route(V, "DeleteCluster", "DELETE", "/clusters/{ClusterId}")


def add_cluster(store: Store, region: str, name: str, node_pools: list[dict[str, Any]],
                tags: dict[str, str] | None = None) -> dict[str, Any]:
    """A running managed cluster in ``region`` whose node pools hold existing ECS instances of the region
    (``[{"name", "instance_ids"}]``); the cluster's network is its first node's VPC and vSwitch."""
    store.check_region(region)
    if not name or not node_pools:
        raise invalid("name" if not name else "node_pools", "A cluster needs a name and at least one node pool.")
    instances = store.tables["ecs_instance"]
    pools = []
    for pool in node_pools:
        ids = [str(i) for i in pool.get("instance_ids") or []]
        for instance_id in ids:
            inst = instances.get(instance_id)
            if inst is None or inst["RegionId"] != region:
                raise CloudError("ErrorInstanceNotFound", f"The instance {instance_id} is not found in {region}.", 404)
        pools.append((str(pool.get("name") or ""), ids))
    first = next((instances[i] for _n, ids in pools for i in ids), None)
    vpc_id = first["_vpc"] if first else ""
    vswitches = sorted({instances[i]["_vswitch"] for _n, ids in pools for i in ids})
    now = iso_now()
    cluster_id = "c" + rid("", 16)
    cluster = store.add("ack_cluster", {
        "cluster_id": cluster_id, "name": name, "region_id": region, "RegionId": region,
        "zone_id": first["ZoneId"] if first else f"{region}-a", "vpc_id": vpc_id,
        "vswitch_id": vswitches[0] if vswitches else "", "vswitch_ids": vswitches,
        "security_group_id": (first["_sgs"] or [""])[0] if first else "", "cluster_type": "ManagedKubernetes",
        "cluster_spec": "ack.pro.small", "profile": "Default", "current_version": VERSION, "init_version": VERSION,
        "next_version": "", "size": sum(len(ids) for _n, ids in pools), "created": now, "updated": now,
        "resource_group_id": "", "container_cidr": "172.20.0.0/16", "service_cidr": "192.168.0.0/16",
        "network_mode": "vpc", "proxy_mode": "ipvs", "ip_stack": "ipv4", "deletion_protection": False,
        "cluster_domain": "cluster.local", "timezone": "Asia/Shanghai", "docker_version": "",
        "external_loadbalancer_id": "", "private_zone": False, "worker_ram_role_name": f"KubernetesWorkerRole-{name}",
        "master_url": json.dumps({"api_server_endpoint": "", "intranet_api_server_endpoint":
                                  f"https://{cluster_id}.{region}.cs.cloudsim.internal:6443"}),
        "_tags": dict(tags or {}),
    }, "cluster_id")
    store.schedule(cluster, "initial", "running")
    pool_ids = []
    for index, (pool_name, ids) in enumerate(pools):
        specs = sorted({instances[i]["InstanceType"] for i in ids})
        pool = store.add("ack_nodepool", {
            "NodepoolId": "np" + rid("", 15), "cluster_id": cluster_id, "name": pool_name or f"pool-{index + 1}",
            "is_default": index == 0, "RegionId": region, "created": now, "updated": now,
            "scaling_group_id": "asg-" + rid("", 9), "vswitch_ids": sorted({instances[i]["_vswitch"] for i in ids}),
            "instance_types": specs, "security_group_id": cluster["security_group_id"],
            "image_id": instances[ids[0]]["ImageId"] if ids else "", "Status": "active", "_instances": ids,
        }, "NodepoolId")
        pool_ids.append(pool["NodepoolId"])
    return {"cluster_id": cluster_id, "node_pools": pool_ids}


def _route_clusters(store: Store, method: str, _query: dict[str, str], data: dict[str, Any]) -> tuple[int, Any]:
    if method != "POST":
        return 405, {"code": "method_not_allowed", "message": "POST a cluster to make one"}
    try:
        made = add_cluster(store, str(data.get("region_id") or store.regions[0]), str(data.get("name") or ""),
                           list(data.get("node_pools") or []), {str(k): str(v) for k, v in
                                                               (data.get("tags") or {}).items()})
    except CloudError as exc:
        return exc.status, {"code": exc.code, "message": exc.message}
    return 201, made


CONTROL_ROUTES["/ack/clusters"] = _route_clusters
