"""Inventory breadth on the apsara adapter: every service beyond the core seven is collected by a full
sync against cloudsim, with its relations; one service failing is reported alone and fails nothing
else; a switched-off service is not collected."""

from __future__ import annotations

import pytest

from apps.clouds.adapters import adapter_class
from apps.clouds.adapters.extensions import registry
from apps.clouds.inventory_demo import seed_inventory
from apps.clouds.models import PlatformService
from apps.clouds.simulated import seed_resources, sim_adapter
from apps.resources.models import Resource, ResourceRelation
from apps.resources.services import sync_drive, sync_start
from cloudsim.services import cr

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"
NEW_TYPES = {
    "mongodb.instance", "polardb.cluster", "polardb.node", "kms.cmk", "ess.scaling_group", "ros.stack",
    "oos.template", "oos.execution", "nas.file_system", "dts.migration_task", "dts.sync_task", "dbs.backup_plan",
    "apigateway.api_group", "kafka.instance", "cr.instance", "cr.namespace", "cr.repository", "ots.instance",
    "ecs.key_pair", "ecs.image",
}


@pytest.fixture
def estate(sim, control):
    made = seed_resources(sim.endpoint, instances=3)
    adapter = sim_adapter(sim.endpoint)
    more = seed_inventory(adapter, made, add_registry=lambda region, name: cr.add_instance(
        sim.store, region, name)["InstanceId"])
    return {**made, **more}


def _sync(platform):
    return sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)


def _rels(resource: Resource) -> set[tuple[str, str, str]]:
    return set(ResourceRelation.objects.filter(source=resource).values_list("kind", "target_type",
                                                                            "target_external_id"))


def test_the_apsara_adapter_collects_twenty_services_or_more():
    caps = adapter_class("apsara").capabilities
    core = {"ecs", "vpc", "eip", "slb", "rds", "redis", "oss"}
    assert core <= set(caps.services)
    assert len(set(caps.services)) >= 20
    assert NEW_TYPES <= set(caps.resource_types)
    assert {"mongodb", "polardb", "kms", "ess", "ros", "oos", "nas", "dts", "dbs", "apigateway", "kafka", "cr",
            "ots"} <= set(registry("apsara").services)


def test_a_full_sync_collects_every_new_type_with_its_relations(platform, estate):
    run = _sync(platform)
    assert run.status == "succeeded", run.error
    assert run.error == ""
    found = {t: list(Resource.objects.filter(platform=platform, type=t, deleted=False)) for t in NEW_TYPES}
    assert {t for t, rows in found.items() if not rows} == set()
    for t in NEW_TYPES:  # the ids the cloud gave at creation, each collected once, in the region it lives in
        if t in estate:
            assert sorted(r.external_id for r in found[t]) == sorted(estate[t]), t
            assert {r.region for r in found[t]} == {REGION}, t
    vpc, (vsw_a, vsw_b) = estate["vpc.vpc"][0], estate["vpc.vswitch"][:2]
    rds, cluster = estate["rds.instance"][0], estate["polardb.cluster"][0]

    mongo = found["mongodb.instance"][0]
    assert _rels(mongo) == {("in_vpc", "vpc.vpc", vpc), ("in_vswitch", "vpc.vswitch", vsw_b)}
    assert (mongo.name, mongo.status, mongo.spec["engine_version"], mongo.storage_gib) == (
        "catalog-mongo", "running", "6.0", 20)
    assert _rels(found["polardb.cluster"][0]) == {("in_vpc", "vpc.vpc", vpc), ("in_vswitch", "vpc.vswitch", vsw_b)}
    nodes = found["polardb.node"]
    assert sorted(n.spec["role"] for n in nodes) == ["Reader", "Writer"]
    assert all(_rels(n) == {("member_of", "polardb.cluster", cluster)} for n in nodes)
    group = found["ess.scaling_group"][0]
    assert _rels(group) == {("in_vpc", "vpc.vpc", vpc), ("in_vswitch", "vpc.vswitch", vsw_a),
                            *{("has_member", "ecs.instance", i) for i in estate["ecs.instance"][:2]}}
    assert (group.spec["min_size"], group.spec["max_size"], group.status) == (0, 4, "running")
    for t in ("dts.migration_task", "dts.sync_task"):
        assert _rels(found[t][0]) == {("reads_from", "rds.instance", rds), ("writes_to", "polardb.cluster", cluster)}
    assert {found["dts.migration_task"][0].spec["job_type"], found["dts.sync_task"][0].spec["job_type"]} == {
        "MIGRATION", "SYNC"}
    plan = found["dbs.backup_plan"][0]
    assert _rels(plan) == {("backs_up", "rds.instance", rds)}
    assert (plan.name, plan.status, plan.spec["source_database"]) == ("orders-daily", "running", "orders")
    execution = found["oos.execution"][0]
    template = Resource.objects.get(type="oos.template", name="restart-web-tier")
    assert _rels(execution) == {("runs_template", "oos.template", template.external_id)}
    assert _rels(found["nas.file_system"][0]) == {("in_vpc", "vpc.vpc", vpc), ("in_vswitch", "vpc.vswitch", vsw_a)}
    assert _rels(found["kafka.instance"][0]) == {("in_vpc", "vpc.vpc", vpc), ("in_vswitch", "vpc.vswitch", vsw_a)}
    registry_id = estate["cr.instance"][0]
    namespace = found["cr.namespace"][0]
    assert _rels(namespace) == {("in_instance", "cr.instance", registry_id)}
    assert {r.name for r in found["cr.repository"]} == {"shop/web", "shop/worker"}
    assert all(_rels(r) == {("in_instance", "cr.instance", registry_id),
                            ("in_namespace", "cr.namespace", namespace.external_id)} for r in found["cr.repository"])
    assert {k.spec["key_spec"] for k in found["kms.cmk"]} == {"Aliyun_AES_256", "RSA_2048"}
    assert {k.name for k in found["ecs.key_pair"]} == {"deploy", "break-glass"}
    image = found["ecs.image"][0]
    assert (image.name, image.status) == ("web-golden", "available")  # only the account's own images
    assert (found["ots.instance"][0].spec["cluster_type"], found["ros.stack"][0].status) == ("HYBRID", "available")


def _settled(sim) -> bool:
    adapter = sim_adapter(sim.endpoint)
    return all(r.status not in ("pending", "changing", "deleting")
               for t in NEW_TYPES for r in adapter.iter_resources(t, REGION))


def test_a_second_sync_finds_the_new_types_unchanged(platform, estate, sim):
    import time

    deadline = time.monotonic() + 20  # the new resources' own transitions (Creating, NotStarted ...) end first
    while not _settled(sim):
        assert time.monotonic() < deadline, "cloudsim's resources did not settle"
        time.sleep(0.05)
    assert _sync(platform).status == "succeeded"
    second = _sync(platform)
    assert (second.status, second.created, second.updated, second.deleted) == ("succeeded", 0, 0, 0)


@pytest.mark.parametrize("code", ["Forbidden.RAM", "InvalidAction.NotFound", "InvalidVersion"])
def test_one_failing_service_is_reported_alone_and_the_rest_is_collected(platform, estate, control, code):
    first = _sync(platform)
    assert first.status == "succeeded"
    before = Resource.objects.filter(platform=platform, type="ros.stack", deleted=False).count()
    control.post("/faults", {"action": "ListStacks", "error_rate": 1.0, "code": code, "status": 403,
                             "message": "The platform does not offer this."})
    run = _sync(platform)
    assert run.status == "succeeded"
    assert run.error.count("\n") == 1  # both regions, one line each
    assert f"ros.stack in {REGION} not collected: {code}" in run.error
    # What the failed service had stays as it was (not judged gone); everything else was collected.
    assert Resource.objects.filter(platform=platform, type="ros.stack", deleted=False).count() == before == 1
    assert Resource.objects.filter(platform=platform, type="mongodb.instance", deleted=False).count() == 1
    assert Resource.objects.filter(platform=platform, type="ecs.instance", deleted=False).count() == 3
    from apps.core.models import Operation

    op = Operation.objects.get(pk=run.operation_id)
    assert op.status == "succeeded" and "2 type-regions not collected" in op.message


def test_a_failing_core_service_still_fails_the_run(platform, estate, control):
    control.post("/faults", {"action": "DescribeVpcs", "error_rate": 1.0, "code": "Forbidden.RAM", "status": 403})
    run = _sync(platform)
    assert run.status == "failed" and "Forbidden.RAM" in run.error


def test_a_switched_off_service_is_not_collected_and_keeps_what_it_had(platform, estate, people):
    from apps.clouds.services import platform_service_set_enabled

    assert _sync(platform).status == "succeeded"
    platform_service_set_enabled(actor=people["root"], platform=platform, service="cr", enabled=False)
    assert PlatformService.objects.get(platform=platform, service_id="cr").enabled is False
    run = _sync(platform)
    assert run.status == "succeeded"
    assert not any(t.startswith("cr.") for t, _r in run.units)
    assert any(t == "kafka.instance" for t, _r in run.units)
    # Not collected is not gone: the registry's rows stay as last seen.
    assert Resource.objects.filter(platform=platform, type="cr.repository", deleted=False).count() == 2


def test_the_demo_estate_gains_a_few_of_each_new_service_once(sim, control):
    from apps.clouds.inventory_demo import seed_demo_estate

    seed_resources(sim.endpoint, instances=2)
    made = seed_demo_estate(sim.endpoint, store=sim.store)
    assert {t for t in NEW_TYPES if t not in ("cr.namespace", "polardb.node")} <= set(made)
    assert all(made[t] for t in made)
    assert seed_demo_estate(sim.endpoint, store=sim.store) == {}  # already there: nothing added
    adapter = sim_adapter(sim.endpoint)
    assert len(list(adapter.iter_resources("mongodb.instance", REGION))) == 1


def test_a_service_whose_endpoint_does_not_answer_is_left_out_after_its_retries(people, sim, control, estate):
    from apps.clouds.tests.factories import platform as make_platform

    # The platform names an endpoint for ROS where nothing listens (refused at once): transient, so
    # the step is tried again; the last try leaves ROS out and the rest is collected.
    platform = make_platform(people["hq"], endpoint=sim.endpoint, name="No ROS", endpoints={"ros": "127.0.0.1:1"})
    run = _sync(platform)
    assert run.status == "succeeded", run.error
    assert "ros.stack in cn-hangzhou not collected: ConnectionError" in run.error
    assert not Resource.objects.filter(platform=platform, type="ros.stack").exists()
    assert Resource.objects.filter(platform=platform, type="dbs.backup_plan", deleted=False).count() == 1
