"""The demo's Kubernetes cluster and Log Service projects in a cloudsim region that holds the demo estate.

``seed_containers`` adds, once: an ACK cluster "shop-k8s" whose two node pools ("web", "batch") are
running ECS instances of the estate, and two Log Service projects with logstores, made through the
official Log Service SDK as a user would. A cluster is bought through an order on the real cloud, so
cloudsim makes it from existing instances through its control API (``POST /_cloudsim/ack/clusters``),
or directly in its store when cloudsim runs in this process.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from alibabacloud_sls20201230 import models as sls_models

PROJECTS = {"shop-logs": ("Web shop access and application logs", ("nginx-access", "app-errors")),
            "audit-trail": ("Operations audit trail", ("actiontrail", "console-signins"))}


def add_cluster(endpoint: str, region: str, name: str, pools: dict[str, list[str]], *,
                tags: dict[str, str] | None = None, store: Any = None) -> dict[str, Any]:
    """An ACK cluster in cloudsim made of existing instances: ``pools`` maps a node pool's name to its
    instances. Through cloudsim's control API, or its ``store`` when it runs in this process."""
    node_pools = [{"name": n, "instance_ids": list(ids)} for n, ids in pools.items()]
    if store is not None:
        from cloudsim.services import cs

        with store.lock:
            return cs.add_cluster(store, region, name, node_pools, tags)
    data = json.dumps({"region_id": region, "name": name, "node_pools": node_pools, "tags": tags or {}}).encode()
    request = urllib.request.Request(f"http://{endpoint}/_cloudsim/ack/clusters", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - cloudsim's control API
        return json.loads(response.read())


def seed_containers(endpoint: str, *, region: str = "cn-hangzhou", store: Any = None) -> dict[str, list[str]]:
    """Add the demo cluster and Log Service projects to a cloudsim region that holds ``seed_resources``'s
    estate (at least three running instances); nothing when the region has a cluster already."""
    from apps.clouds.adapters import apsara_containers
    from apps.clouds.simulated import sim_adapter

    adapter = sim_adapter(endpoint, region)
    if adapter.list_resources("ack.cluster", region, None).items:
        return {}
    running = [r.external_id for r in adapter.iter_resources("ecs.instance", region) if r.status == "running"]
    if len(running) < 3:
        return {}
    made = add_cluster(endpoint, region, "shop-k8s", {"web": running[:2], "batch": running[2:3]},
                       tags={"team": "shop", "env": "prod"}, store=store)
    out: dict[str, list[str]] = {"ack.cluster": [made["cluster_id"]], "ack.node_pool": made["node_pools"],
                                 "sls.project": [], "sls.logstore": []}
    known = {p.external_id for p in adapter.iter_resources("sls.project", region)}
    for project, (description, stores) in PROJECTS.items():
        if project not in known:
            apsara_containers._sls(adapter, region, "CreateProject", lambda c, p=project, d=description:
                                   c.create_project_with_options(sls_models.CreateProjectRequest(
                                       project_name=p, description=d), {}, adapter._runtime()))
            for name in stores:
                apsara_containers._sls(adapter, region, "CreateLogStore", lambda c, p=project, s=name:
                                       c.create_log_store_with_options(p, sls_models.CreateLogStoreRequest(
                                           logstore_name=s, ttl=30, shard_count=2), {}, adapter._runtime()))
                out["sls.logstore"].append(f"{project}/{name}")
        out["sls.project"].append(project)
    return out
