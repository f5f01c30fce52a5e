"""ACK clusters and node pools, Log Service projects and logstores collected by the apsara adapter through
their official SDKs (``apsara_containers``) against cloudsim in strict Apsara Stack mode, with relations."""

from __future__ import annotations

import time
from typing import Any

import pytest
from alibabacloud_sls20201230 import models as sls_models

from apps.clouds.adapters import apsara_containers
from apps.clouds.adapters.apsara import ApsaraAdapter
from apps.clouds.adapters.base import CloudCallError
from apps.clouds.containers_demo import add_cluster
from apps.clouds.simulated import sim_connection
from cloudsim.server import CloudSim

REGION, OTHER = "cn-hangzhou", "cn-shanghai"
IMAGE = "centos_7_9_x64_20G_alibase_20230919.vhd"
TYPES = ("ack.cluster", "ack.node_pool", "sls.project", "sls.logstore")


@pytest.fixture(scope="module")
def sim():
    server = CloudSim(port=0, provision_seconds=0.1, regions=[REGION, OTHER]).start()
    yield server
    server.stop()


def adapter_for(sim: CloudSim, region: str = REGION, **options: Any) -> ApsaraAdapter:
    connection = sim_connection()
    adapter = ApsaraAdapter(endpoint=sim.endpoint, protocol="http", region=region, timeout=10,
                            credentials=connection["credentials"],
                            options={"organization_id": connection["organization_id"],
                                     "resource_set_id": connection["resource_set_id"], **options})
    adapter.retry_backoff = 0.01
    return adapter


@pytest.fixture
def cloud(sim) -> ApsaraAdapter:
    with sim.store.lock:
        sim.store.reset()
    sim.faults.clear()
    return adapter_for(sim)


def until(check, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def instances(cloud: ApsaraAdapter, count: int, region: str = REGION) -> list[str]:
    vpc = cloud.create("vpc.vpc", region, {"cidr_block": "192.168.0.0/16", "name": "k8s"})
    until(lambda: cloud.get_resource("vpc.vpc", region, vpc).status == "available")
    vsw = cloud.create("vpc.vswitch", region, {"vpc_id": vpc, "zone": f"{region}-a", "cidr_block": "192.168.1.0/24"})
    until(lambda: cloud.get_resource("vpc.vswitch", region, vsw).status == "available")
    sg = cloud.create("ecs.security_group", region, {"vpc_id": vpc, "name": "k8s"})
    ids = [cloud.create("ecs.instance", region, {"instance_type": "ecs.g6.large", "image_id": IMAGE,
                                                 "vswitch_id": vsw, "security_group_id": sg, "name": f"node-{n}"})
           for n in range(count)]
    for iid in ids:
        until(lambda i=iid: cloud.get_resource("ecs.instance", region, i).status == "running")
    return ids


def every(cloud: ApsaraAdapter, resource_type: str, region: str = REGION) -> list:
    return list(cloud.iter_resources(resource_type, region))


def projects(cloud: ApsaraAdapter, region: str, spec: dict[str, list[str]]) -> None:
    for project, stores in spec.items():
        apsara_containers._sls(cloud, region, "CreateProject", lambda c, p=project: c.create_project_with_options(
            sls_models.CreateProjectRequest(project_name=p, description=f"{p} logs"), {}, cloud._runtime()))
        for store in stores:
            apsara_containers._sls(cloud, region, "CreateLogStore", lambda c, p=project, s=store:
                                   c.create_log_store_with_options(p, sls_models.CreateLogStoreRequest(
                                       logstore_name=s, ttl=14, shard_count=2), {}, cloud._runtime()))


def test_the_adapter_collects_the_four_types_under_the_catalog_codes(cloud):
    caps = cloud.capabilities
    assert set(TYPES) <= set(caps.resource_types)
    assert {"ack", "sls"} <= set(caps.services)
    assert caps.display_names["ack"] == "Container Service for Kubernetes"
    assert caps.display_names["sls"] == "Log Service"


def test_clusters_and_node_pools_are_collected_with_their_instances(cloud, sim):
    ids = instances(cloud, 3)
    made = add_cluster(sim.endpoint, REGION, "shop-k8s", {"web": ids[:2], "batch": ids[2:]}, tags={"team": "shop"})
    clusters = every(cloud, "ack.cluster")
    assert [c.external_id for c in clusters] == [made["cluster_id"]]
    cluster = clusters[0]
    assert (cluster.name, cluster.tags, cluster.spec["cluster_type"]) == ("shop-k8s", {"team": "shop"},
                                                                         "ManagedKubernetes")
    assert cluster.status in ("pending", "running") and cluster.vpc_id.startswith("vpc-")
    assert {(r.kind, r.target_type) for r in cluster.relations} >= {
        ("in_vpc", "vpc.vpc"), ("in_vswitch", "vpc.vswitch"), ("in_security_group", "ecs.security_group")}
    until(lambda: cloud.get_resource("ack.cluster", REGION, made["cluster_id"]).status == "running")
    pools = {p.name: p for p in every(cloud, "ack.node_pool")}
    assert set(pools) == {"web", "batch"}
    members = {name: {r.target_external_id for r in p.relations if r.kind == "has_member"} for name, p in pools.items()}
    assert members == {"web": set(ids[:2]), "batch": {ids[2]}}
    assert all(("member_of", "ack.cluster", made["cluster_id"]) in
               {(r.kind, r.target_type, r.target_external_id) for r in p.relations} for p in pools.values())
    assert pools["web"].status == "running" and pools["web"].spec["total_nodes"] == 2
    assert cloud.get_resource("ack.node_pool", REGION, pools["batch"].external_id).name == "batch"
    assert every(cloud, "ack.cluster", OTHER) == [] and every(cloud, "ack.node_pool", OTHER) == []


def test_cluster_pages_are_followed(cloud, sim, monkeypatch):
    ids = instances(cloud, 3)
    for n, iid in enumerate(ids):
        add_cluster(sim.endpoint, REGION, f"k8s-{n}", {"default": [iid]})
    monkeypatch.setattr(apsara_containers, "PAGE", 2)
    first = cloud.list_resources("ack.cluster", REGION, None)
    assert len(first.items) == 2 and first.next_token == "2"
    assert len(cloud.list_resources("ack.cluster", REGION, first.next_token).items) == 1
    assert {p.name for p in every(cloud, "ack.node_pool")} == {"default"} and len(every(cloud, "ack.node_pool")) == 3


def test_projects_and_logstores_are_collected_per_region_with_relations(cloud, sim, monkeypatch):
    projects(cloud, REGION, {"shop-logs": ["nginx-access", "app-errors"], "audit-trail": ["actiontrail"]})
    projects(adapter_for(sim, OTHER), OTHER, {"sh-logs": ["elsewhere"]})
    monkeypatch.setattr(apsara_containers, "SLS_PAGE", 1)
    found = every(cloud, "sls.project")
    assert sorted(p.external_id for p in found) == ["audit-trail", "shop-logs"]
    assert {p.status for p in found} == {"available"}
    stores = {s.external_id: s for s in every(cloud, "sls.logstore")}
    assert set(stores) == {"shop-logs/nginx-access", "shop-logs/app-errors", "audit-trail/actiontrail"}
    nginx = stores["shop-logs/nginx-access"]
    assert (nginx.name, nginx.spec["ttl_days"], nginx.spec["shards"]) == ("nginx-access", 14, 2)
    assert [(r.kind, r.target_type, r.target_external_id) for r in nginx.relations] == [
        ("member_of", "sls.project", "shop-logs")]
    assert cloud.get_resource("sls.logstore", REGION, "audit-trail/actiontrail").name == "actiontrail"
    assert [p.external_id for p in every(cloud, "sls.project", OTHER)] == ["sh-logs"]


def test_a_log_service_endpoint_that_does_not_answer_fails_only_log_service(cloud, sim):
    ids = instances(cloud, 1)
    add_cluster(sim.endpoint, REGION, "solo", {"default": ids})
    # Log Service at an address where nothing listens: its types fail, ACK's are collected
    broken = adapter_for(sim, endpoints={"sls": "127.0.0.1:9"})
    broken.retry_attempts = 1
    assert [c.name for c in every(broken, "ack.cluster")] == ["solo"]
    for resource_type in ("sls.project", "sls.logstore"):
        with pytest.raises(CloudCallError) as exc:
            broken.list_resources(resource_type, REGION, None)
        assert exc.value.code == "ConnectionError"


def test_log_service_refusals_keep_the_clouds_code(sim, cloud):
    wrong = ApsaraAdapter(endpoint=sim.endpoint, protocol="http", region=REGION, timeout=10,
                          credentials={"access_key_id": "cloudsim-access-key", "access_key_secret": "wrong"})
    with pytest.raises(CloudCallError) as exc:
        wrong.list_resources("sls.project", REGION, None)
    assert (exc.value.code, exc.value.status, exc.value.transient) == ("SignatureNotMatch", 401, False)
    sim.faults.add({"action": "ListProject", "error_rate": 1.0, "code": "ServiceUnavailable", "remaining": 1})
    assert cloud.list_resources("sls.project", REGION, None).items == []  # retried after the transient refusal
    with pytest.raises(CloudCallError) as exc:
        wrong.list_resources("ack.cluster", REGION, None)
    assert exc.value.code == "SignatureDoesNotMatch"
