"""Companion of the aws adapter: EKS node groups and CloudWatch Logs log groups (see ``extensions``).

``aws_inventory`` collects EKS clusters as ``ack.cluster`` (external id: the cluster's name). This module
adds what it does not:

- ``ack.node_pool``: EKS managed node groups (``ListNodegroups`` / ``DescribeNodegroup`` per cluster,
  ``nextToken``), the counterpart of an ACK node pool, related to their cluster, subnets and Auto Scaling
  groups (the groups hold the nodes' instances);
- ``sls.logstore``: CloudWatch Logs log groups (``DescribeLogGroups``, ``nextToken``), the counterpart
  of a Log Service logstore (retention, stored bytes, encryption key). Log streams are the per-source
  streams inside a group (a Log Service shard's writers), not resources of their own here.

IAM actions of the collection: ``eks:ListClusters``, ``eks:ListNodegroups``, ``eks:DescribeNodegroup``,
``logs:DescribeLogGroups``.

This module must not import ``aws`` (which imports it): it calls the adapter it is handed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apps.clouds.adapters.base import CloudCallError, CloudResource, Relation, ResourcePage
from apps.clouds.adapters.extensions import Listing, register_listing, register_service

A = "aws"
SERVICES = {"sls": "Amazon CloudWatch Logs"}
IAM_ACTIONS = ("eks:ListClusters", "eks:ListNodegroups", "eks:DescribeNodegroup", "logs:DescribeLogGroups")
_STATES = {"ACTIVE": "running", "CREATING": "pending", "UPDATING": "changing", "DELETING": "deleting",
           "CREATE_FAILED": "failed", "DELETE_FAILED": "failed", "DEGRADED": "failed"}


def _iso(value: Any) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else str(value or "")


def to_node_group(region: str, g: dict[str, Any]) -> CloudResource:
    scaling = g.get("scalingConfig") or {}
    groups = [a["name"] for a in (g.get("resources") or {}).get("autoScalingGroups") or [] if a.get("name")]
    rels = [Relation("member_of", "ack.cluster", g["clusterName"])]
    rels += [Relation("in_vswitch", "vpc.vswitch", s) for s in g.get("subnets") or []]
    rels += [Relation("scaled_by", "ess.scaling_group", a) for a in groups]
    status = str(g.get("status") or "")
    return CloudResource(
        type="ack.node_pool", external_id=f"{g['clusterName']}/{g['nodegroupName']}", region=region,
        name=g["nodegroupName"], status=_STATES.get(status, status.lower()),
        spec={"cloud_status": status, "cluster_id": g["clusterName"], "arn": g.get("nodegroupArn"),
              "instance_types": g.get("instanceTypes"), "desired_size": scaling.get("desiredSize"),
              "min_size": scaling.get("minSize"), "max_size": scaling.get("maxSize"), "ami_type": g.get("amiType"),
              "capacity_type": g.get("capacityType"), "version": g.get("version"),
              "release_version": g.get("releaseVersion"), "disk_size_gib": g.get("diskSize"),
              "node_role": g.get("nodeRole"), "scaling_groups": groups, "created_at": _iso(g.get("createdAt"))},
        tags={str(k): str(v) for k, v in (g.get("tags") or {}).items()}, relations=rels,
        storage_gib=int(g.get("diskSize") or 0))


def _node_groups(adapter: Any, region: str, cluster: str) -> list[CloudResource]:
    out: list[CloudResource] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"clusterName": cluster, "maxResults": 100}
        if token:
            params["nextToken"] = token
        body = adapter._invoke("eks", region, "list_nodegroups", **params)
        for name in body.get("nodegroups", []):
            try:
                detail = adapter._invoke("eks", region, "describe_nodegroup", clusterName=cluster,
                                         nodegroupName=name)["nodegroup"]
            except CloudCallError as exc:
                if exc.code != "ResourceNotFoundException":  # deleted between the list and this call
                    raise
                continue
            out.append(to_node_group(region, detail))
        token = body.get("nextToken")
        if not token:
            return out


def list_node_groups(adapter: Any, region: str, token: str | None) -> ResourcePage:
    """One page of clusters' node groups: the pages follow ``ListClusters``'s."""
    params: dict[str, Any] = {"maxResults": 100}
    if token:
        params["nextToken"] = token
    body = adapter._invoke("eks", region, "list_clusters", **params)
    items: list[CloudResource] = []
    for cluster in body.get("clusters", []):
        try:
            items += _node_groups(adapter, region, cluster)
        except CloudCallError as exc:
            if exc.code != "ResourceNotFoundException":  # the cluster went between the list and this call
                raise
    return ResourcePage(items, body.get("nextToken") or None)


def to_log_group(region: str, g: dict[str, Any]) -> CloudResource:
    created = g.get("creationTime")
    rels = []
    if g.get("kmsKeyId"):
        rels.append(Relation("encrypted_by", "kms.cmk", str(g["kmsKeyId"]).rsplit("key/", 1)[-1]))
    return CloudResource(
        type="sls.logstore", external_id=g["logGroupName"], region=region, name=g["logGroupName"],
        status="available",
        spec={"arn": g.get("arn"), "ttl_days": g.get("retentionInDays"), "stored_bytes": g.get("storedBytes"),
              "metric_filters": g.get("metricFilterCount"), "log_group_class": g.get("logGroupClass"),
              "created_at": datetime.fromtimestamp(created / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
              if isinstance(created, int | float) else ""},
        relations=rels)


def list_log_groups(adapter: Any, region: str, token: str | None) -> ResourcePage:
    params: dict[str, Any] = {"limit": 50}
    if token:
        params["nextToken"] = token
    body = adapter._invoke("logs", region, "describe_log_groups", **params)
    return ResourcePage([to_log_group(region, g) for g in body.get("logGroups", [])], body.get("nextToken") or None)


for _code, _name in SERVICES.items():
    register_service(A, _code, _name)
for _listing in (
    Listing("ack.node_pool", "ack", list_node_groups),
    Listing("sls.logstore", "sls", list_log_groups),
):
    register_listing(A, _listing)
