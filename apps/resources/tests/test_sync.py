"""Collection of a simulated Apsara Stack region through the ``apsara`` adapter: every type, no writes
when nothing changed, vanished resources kept as deleted, faults retried or failing cleanly."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.clouds.adapters.apsara import LISTS
from apps.clouds.models import Flavor, PlatformService, Region
from apps.clouds.simulated import seed_resources
from apps.core.errors import Conflict
from apps.core.models import Operation
from apps.resources.models import AssignmentRule, Resource, ResourceRelation, SyncPage, SyncRun
from apps.resources.services import resource_refresh, sync_drive, sync_start

pytestmark = pytest.mark.django_db
SIM_TYPES = {"ecs.instance": "ecs_instance", "ecs.disk": "disk", "ecs.security_group": "security_group",
             "vpc.vpc": "vpc", "vpc.vswitch": "vswitch", "eip.eip": "eip", "slb.instance": "slb",
             "rds.instance": "rds", "redis.instance": "redis"}
WRITE_RE = re.compile(r'^\s*(INSERT|UPDATE|DELETE)\b.*"resources_(resource|resourcerelation)"', re.I | re.S)


def run_sync(platform, actor=None) -> SyncRun:
    run = sync_start(actor=actor, platform=platform, check=False)
    return sync_drive(run_id=run.id, sleep=False)


def cloud_state(control) -> dict[tuple[str, str], str]:
    out = {}
    for our_type, sim_type in SIM_TYPES.items():
        id_field = {"ecs_instance": "InstanceId", "disk": "DiskId", "security_group": "SecurityGroupId",
                    "vpc": "VpcId", "vswitch": "VSwitchId", "eip": "AllocationId", "slb": "LoadBalancerId",
                    "rds": "DBInstanceId", "redis": "InstanceId"}[sim_type]
        for row in control.get(f"/resources?type={sim_type}")["resources"]:
            out[(our_type, row[id_field])] = row.get("Status", "")
    return out


def inventory(platform) -> set[tuple[str, str]]:
    return set(Resource.objects.filter(platform=platform, deleted=False).values_list("type", "external_id"))


def test_full_sync_collects_every_supported_type_with_relations(platform, control, sim):
    made = seed_resources(sim.endpoint)
    run = run_sync(platform)
    assert run.status == "succeeded", run.error
    assert {t for t, _e in inventory(platform)} == set(LISTS)
    assert inventory(platform) == set(cloud_state(control))
    assert run.created == len(cloud_state(control)) and run.deleted == 0
    op = Operation.objects.get(pk=run.operation_id)
    assert op.status == "succeeded" and op.progress == 100 and "new" in op.message
    assert set(Region.objects.filter(platform=platform).values_list("region_id", flat=True)) == {
        "cn-hangzhou", "cn-shanghai"}
    assert Flavor.objects.filter(platform=platform, kind="instance_type", vcpu=2, memory_mib=8192).exists()
    assert set(PlatformService.objects.filter(platform=platform).values_list("service_id", flat=True)) >= {
        "ecs", "vpc", "rds", "redis", "slb", "eip"}
    web1 = Resource.objects.get(platform=platform, external_id=made["ecs.instance"][0])
    assert web1.vcpu == 2 and web1.memory_mib == 8192 and web1.tags == {"team": "shop"}
    edges = set(ResourceRelation.objects.filter(source=web1).values_list("kind", "target_external_id"))
    assert ("in_vpc", made["vpc.vpc"][0]) in edges and ("in_vswitch", made["vpc.vswitch"][0]) in edges
    disk = Resource.objects.get(external_id=made["ecs.disk"][0])
    assert ResourceRelation.objects.filter(source=disk, kind="attached_to", target_external_id=web1.external_id)
    eip = Resource.objects.get(external_id=made["eip.eip"][0])
    assert ResourceRelation.objects.filter(source=eip, kind="associated_with", target_external_id=web1.external_id)
    assert not SyncPage.objects.exists()


def test_a_sync_of_an_unchanged_cloud_writes_no_inventory_row(platform, control, sim):
    seed_resources(sim.endpoint, instances=3)
    run_sync(platform)
    # Let every asynchronous state settle, then sync once more so the inventory matches.
    import time

    time.sleep(0.5)
    run_sync(platform)
    with CaptureQueriesContext(connection) as queries:
        run = run_sync(platform)
    assert run.status == "succeeded"
    assert (run.created, run.updated, run.deleted) == (0, 0, 0) and run.unchanged == run.fetched > 0
    writes = [q["sql"] for q in queries.captured_queries if WRITE_RE.match(q["sql"])]
    assert writes == []


def test_vanished_resources_are_flagged_deleted_and_keep_their_history(platform, control, sim):
    from apps.clouds.simulated import sim_adapter

    made = seed_resources(sim.endpoint, instances=2)
    run_sync(platform)
    gone = made["redis.instance"][0]
    sim_adapter(sim.endpoint).delete("redis.instance", "cn-hangzhou", gone)
    import time

    time.sleep(0.3)
    run = run_sync(platform)
    row = Resource.objects.get(external_id=gone)
    assert row.deleted and row.deleted_at is not None and run.deleted == 1
    assert row.first_seen_at < row.deleted_at
    assert inventory(platform) == set(cloud_state(control))


def test_a_transient_error_is_retried_and_the_sync_succeeds(platform, control, sim):
    seed_resources(sim.endpoint, instances=2)
    # Five failures: more than one step's SDK retries, fewer than the step's own retries.
    control.post("/faults", {"action": "DescribeDisks", "error_rate": 1.0, "code": "ServiceUnavailable",
                             "remaining": 5})
    run = run_sync(platform)
    assert run.status == "succeeded", run.error
    assert inventory(platform) == set(cloud_state(control))


def test_a_permanent_error_fails_the_sync_with_the_clouds_message_and_changes_nothing(platform, control, sim):
    made = seed_resources(sim.endpoint, instances=2)
    run_sync(platform)
    before = list(Resource.objects.order_by("id").values())
    from apps.clouds.simulated import sim_adapter

    sim_adapter(sim.endpoint).delete("rds.instance", "cn-hangzhou", made["rds.instance"][0])
    control.post("/faults", {"action": "DescribeLoadBalancers", "error_rate": 1.0, "code": "Forbidden.RAM",
                             "status": 403, "message": "User not authorized to operate on the specified resource."})
    run = run_sync(platform)
    assert run.status == "failed"
    assert "Forbidden.RAM" in run.error and "not authorized" in run.error
    op = Operation.objects.get(pk=run.operation_id)
    assert op.status == "failed" and "Forbidden.RAM" in op.error
    assert list(Resource.objects.order_by("id").values()) == before
    assert not SyncPage.objects.filter(run=run).exists()


def test_only_one_sync_per_platform_runs_at_a_time(platform, control):
    first = sync_start(actor=None, platform=platform, check=False)
    with pytest.raises(Conflict):
        sync_start(actor=None, platform=platform, check=False)
    sync_drive(run_id=first.id, sleep=False)
    second = sync_start(actor=None, platform=platform, check=False)
    assert second.id != first.id


def test_a_step_delivered_twice_does_nothing_the_second_time(platform, control, sim):
    from apps.resources.services import sync_step

    seed_resources(sim.endpoint, instances=1)
    run = sync_start(actor=None, platform=platform, check=False)
    assert sync_step(run_id=run.id, step=1)[0]
    assert sync_step(run_id=run.id, step=1) == (False, 0.0, 1)
    sync_drive(run_id=run.id, sleep=False)
    run.refresh_from_db()
    assert run.status == "succeeded" and inventory(platform) == set(cloud_state(control))


def test_assignment_rules_give_resources_to_organizations_and_projects(platform, control, sim, people):
    from tests import factories as f

    shop = f.org("Shop", people["hq"])
    shop_project = f.project(shop, name="storefront")
    made = seed_resources(sim.endpoint, instances=4)
    AssignmentRule.objects.create(platform=platform, match="tag", key="team", value="shop", organization=shop,
                                  project=shop_project, priority=1)
    AssignmentRule.objects.create(platform=platform, match="vpc", value=made["vpc.vpc"][0],
                                  organization=people["hq"], priority=2)
    run_sync(platform)
    shop_rows = Resource.objects.filter(organization=shop)
    assert set(shop_rows.values_list("external_id", flat=True)) == set(made["ecs.instance"][0::2])
    assert set(shop_rows.values_list("project_id", flat=True)) == {shop_project.pk}
    vpc_row = Resource.objects.get(external_id=made["vpc.vpc"][0])
    assert vpc_row.organization_id == people["hq"].pk and vpc_row.assigned_by == "rule"
    assert Resource.objects.get(external_id=made["eip.eip"][0]).organization_id is None


def test_targeted_refresh_updates_one_resource(platform, control, sim):
    from apps.clouds.simulated import sim_adapter

    made = seed_resources(sim.endpoint, instances=1)
    run_sync(platform)
    iid = made["ecs.instance"][0]
    adapter = sim_adapter(sim.endpoint)
    adapter.stop("ecs.instance", "cn-hangzhou", iid)
    import time

    time.sleep(0.3)
    row = resource_refresh(platform=platform, resource_type="ecs.instance", region="cn-hangzhou", external_id=iid)
    assert row.status == "stopped"
    adapter.delete("ecs.instance", "cn-hangzhou", iid)
    time.sleep(0.3)
    row = resource_refresh(platform=platform, resource_type="ecs.instance", region="cn-hangzhou", external_id=iid)
    assert row.deleted
