"""ACK clusters and node pools, Log Service projects and logstores in the inventory: a full sync against
cloudsim collects them with their relations (a node pool's cluster and ECS instances, a logstore's project);
Log Service failing (an endpoint that does not answer) is reported alone and fails nothing else; a
switched-off service is not collected; the demo adds them once."""

from __future__ import annotations

import pytest

from apps.clouds.containers_demo import seed_containers
from apps.clouds.simulated import seed_resources
from apps.resources.models import Resource, ResourceRelation
from apps.resources.services import sync_drive, sync_start

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"
TYPES = ("ack.cluster", "ack.node_pool", "sls.project", "sls.logstore")


@pytest.fixture
def estate(sim, control):
    made = seed_resources(sim.endpoint, instances=3)
    return {**made, **seed_containers(sim.endpoint, store=sim.store)}


def _sync(platform):
    return sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)


def _rels(resource: Resource) -> set[tuple[str, str, str]]:
    return set(ResourceRelation.objects.filter(source=resource).values_list("kind", "target_type",
                                                                            "target_external_id"))


def _live(platform, resource_type: str) -> list[Resource]:
    return list(Resource.objects.filter(platform=platform, type=resource_type, deleted=False))


def test_a_full_sync_collects_clusters_node_pools_projects_and_logstores_with_relations(platform, estate):
    run = _sync(platform)
    assert run.status == "succeeded", run.error
    assert run.error == ""
    for t in TYPES:
        assert sorted(r.external_id for r in _live(platform, t)) == sorted(estate[t]), t
    cluster = _live(platform, "ack.cluster")[0]
    assert (cluster.name, cluster.region) == ("shop-k8s", REGION)
    assert ("in_vpc", "vpc.vpc", estate["vpc.vpc"][0]) in _rels(cluster)
    pools = {p.name: p for p in _live(platform, "ack.node_pool")}
    running = [r.external_id for r in _live(platform, "ecs.instance")]
    web = {e for k, t, e in _rels(pools["web"]) if k == "has_member" and t == "ecs.instance"}
    batch = {e for k, t, e in _rels(pools["batch"]) if k == "has_member" and t == "ecs.instance"}
    assert len(web) == 2 and len(batch) == 1 and (web | batch) <= set(running) and not web & batch
    assert all(("member_of", "ack.cluster", cluster.external_id) in _rels(p) for p in pools.values())
    store = next(s for s in _live(platform, "sls.logstore") if s.external_id == "shop-logs/nginx-access")
    assert _rels(store) == {("member_of", "sls.project", "shop-logs")}
    assert store.spec["ttl_days"] == 30


def test_log_service_not_answering_is_reported_alone_and_the_rest_is_collected(people, sim, estate):
    from apps.clouds.tests.factories import platform as make_platform

    platform = make_platform(people["hq"], endpoint=sim.endpoint, name="No SLS", endpoints={"sls": "127.0.0.1:1"})
    run = _sync(platform)
    assert run.status == "succeeded", run.error
    failed = run.error.splitlines()
    assert failed and all(line.startswith(("sls.project ", "sls.logstore ")) for line in failed)
    assert f"sls.project in {REGION} not collected: ConnectionError" in run.error
    assert not Resource.objects.filter(platform=platform, type__startswith="sls.").exists()
    assert len(_live(platform, "ack.node_pool")) == 2 and len(_live(platform, "ecs.instance")) == 3


def test_a_switched_off_service_is_not_collected_and_keeps_what_it_had(platform, estate, people):
    from apps.clouds.services import platform_service_set_enabled

    assert _sync(platform).status == "succeeded"
    platform_service_set_enabled(actor=people["root"], platform=platform, service="ack", enabled=False)
    run = _sync(platform)
    assert run.status == "succeeded"
    assert not any(t.startswith("ack.") for t, _r in run.units)
    assert any(t == "sls.logstore" for t, _r in run.units)
    assert len(_live(platform, "ack.node_pool")) == 2  # not collected is not gone


def test_the_demo_adds_its_cluster_and_projects_once(sim, control):
    seed_resources(sim.endpoint, instances=3)
    made = seed_containers(sim.endpoint, store=sim.store)
    assert [len(made[t]) for t in TYPES] == [1, 2, 2, 4]
    assert seed_containers(sim.endpoint, store=sim.store) == {}  # already there: nothing added
    # without cloudsim in this process, through its control API
    control.post("/reset")
    seed_resources(sim.endpoint, instances=3)
    assert len(seed_containers(sim.endpoint)["ack.node_pool"]) == 2
