"""Inventory rules an administrator relies on, through syncs and the API: a sync reports exactly what
changed; a row flagged deleted whose resource is listed again is live again; an owner that a rule
changes counts as a change; a manual assignment outlives syncs and rules; assignments and rules
with a project of another organization, or a tag rule without its key, are refused."""

from __future__ import annotations

import itertools

import pytest

from apps.clouds.simulated import sim_adapter
from apps.resources.models import AssignmentRule, Resource
from apps.resources.services import resources_reassign, sync_drive, sync_start
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"
IMAGE = "centos_7_9_x64_20G_alibase_20230919.vhd"
_names = itertools.count(1)


def run_sync(platform):
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "succeeded", run.error
    return run


def counts(run) -> tuple[int, int, int, int]:
    return run.created, run.updated, run.deleted, run.unchanged


@pytest.fixture
def cloud(sim, control):
    """A settled small region: two instances (one tagged team=shop) and a free EIP."""
    from alibabacloud_ecs20140526 import models as ecs_models

    control.post("/config", {"provision_seconds": 0})
    adapter = sim_adapter(sim.endpoint)
    vpc = adapter.create("vpc.vpc", REGION, {"cidr_block": "192.168.0.0/16"})
    vsw = adapter.create("vpc.vswitch", REGION, {"vpc_id": vpc, "zone": f"{REGION}-a", "cidr_block": "192.168.1.0/24"})
    sg = adapter.create("ecs.security_group", REGION, {"vpc_id": vpc, "name": "rules"})
    instances = [adapter.create("ecs.instance", REGION, {"instance_type": "ecs.g6.large", "image_id": IMAGE,
                                                         "vswitch_id": vsw, "name": f"r-{next(_names)}",
                                                         "security_group_id": sg}) for _ in range(2)]
    adapter._invoke("ecs", REGION, "tag_resources", ecs_models.TagResourcesRequest(
        region_id=REGION, resource_type="instance", resource_id=[instances[0]],
        tag=[ecs_models.TagResourcesRequestTag(key="team", value="shop")]))
    eip = adapter.create("eip.eip", REGION, {"bandwidth_mbps": 5})
    return {"adapter": adapter, "instances": instances, "eip": eip}


def rename(cloud, instance_id: str) -> None:
    from alibabacloud_ecs20140526 import models as ecs_models

    cloud["adapter"]._invoke("ecs", REGION, "modify_instance_attribute", ecs_models.ModifyInstanceAttributeRequest(
        instance_id=instance_id, instance_name=f"renamed-{next(_names)}"))


def test_a_sync_reports_exactly_what_changed(platform, cloud):
    first = run_sync(platform)
    assert counts(first) == (first.fetched, 0, 0, 0) and first.fetched > 3
    assert counts(run_sync(platform)) == (0, 0, 0, first.fetched)
    rename(cloud, cloud["instances"][1])
    cloud["adapter"].delete("eip.eip", REGION, cloud["eip"])
    third = run_sync(platform)
    assert counts(third) == (0, 1, 1, first.fetched - 2)
    assert third.fetched == first.fetched - 1
    eip = Resource.objects.get(platform=platform, external_id=cloud["eip"])
    assert eip.deleted and eip.deleted_at == eip.last_changed_at
    renamed = Resource.objects.get(platform=platform, external_id=cloud["instances"][1])
    assert renamed.name.startswith("renamed-") and not renamed.deleted
    # a row already flagged deleted is not flagged (nor counted) again
    assert counts(run_sync(platform)) == (0, 0, 0, third.fetched)
    assert Resource.objects.get(pk=eip.pk).deleted_at == eip.deleted_at


def test_a_row_flagged_deleted_whose_resource_is_listed_again_is_live_again(platform, cloud):
    run_sync(platform)
    row = Resource.objects.get(platform=platform, external_id=cloud["instances"][0])
    Resource.objects.filter(pk=row.pk).update(deleted=True)  # as an earlier sync that missed it would have left it
    again = run_sync(platform)
    row.refresh_from_db()
    assert not row.deleted and row.deleted_at is None
    assert (again.created, again.updated, again.deleted) == (0, 1, 0)


def test_an_owner_changed_by_a_new_rule_counts_as_a_change_at_the_next_sync(platform, cloud, people):
    first = run_sync(platform)
    shop = f.org("Shop", people["hq"])
    AssignmentRule.objects.create(platform=platform, match="tag", key="team", value="shop", organization=shop)
    second = run_sync(platform)
    assert counts(second) == (0, 1, 0, first.fetched - 1)
    row = Resource.objects.get(platform=platform, external_id=cloud["instances"][0])
    assert (row.organization_id, row.assigned_by) == (shop.pk, "rule")
    assert counts(run_sync(platform)) == (0, 0, 0, first.fetched)


def test_a_manual_assignment_outlives_changes_syncs_and_rules(platform, cloud, people):
    run_sync(platform)
    root = api_as(people["root"])
    kept = f.org("Kept", people["hq"])
    shop = f.org("Shop", people["hq"])
    row = Resource.objects.get(platform=platform, external_id=cloud["instances"][0])
    assigned = root.post(f"/api/v1/resources/resources/{row.id}/assign/", {"organization": str(kept.pk)},
                         format="json")
    assert assigned.status_code == 200, assigned.content
    created = root.post("/api/v1/resources/rules/", {"platform": platform.pk, "match": "tag", "key": "team",
                                                     "value": "shop", "organization": str(shop.pk)}, format="json")
    assert created.status_code == 201, created.content
    rename(cloud, cloud["instances"][0])
    changed = run_sync(platform)
    assert changed.updated == 1
    row.refresh_from_db()
    assert (row.organization_id, row.assigned_by) == (kept.pk, "manual") and row.name.startswith("renamed-")
    assert resources_reassign(platform=platform) == 0
    unassigned = root.post(f"/api/v1/resources/resources/{row.id}/assign/", {"organization": None}, format="json")
    assert unassigned.status_code == 200 and unassigned.json()["organization"] is None
    row.refresh_from_db()
    assert row.assigned_by == ""
    assert resources_reassign(platform=platform) == 1
    row.refresh_from_db()
    assert (row.organization_id, row.assigned_by) == (shop.pk, "rule")


def test_a_rule_applied_now_moves_matching_resources_and_deleting_it_moves_them_back(platform, cloud, people):
    run_sync(platform)
    root = api_as(people["root"])
    shop = f.org("Shop", people["hq"])
    created = root.post("/api/v1/resources/rules/", {"platform": platform.pk, "match": "tag", "key": "team",
                                                     "value": "shop", "organization": str(shop.pk)}, format="json")
    assert created.status_code == 201, created.content
    owners = dict(Resource.objects.filter(platform=platform, type="ecs.instance").values_list("external_id",
                                                                                             "organization_id"))
    assert owners == {cloud["instances"][0]: shop.pk, cloud["instances"][1]: None}
    assert root.delete(f"/api/v1/resources/rules/{created.json()['id']}/").status_code == 204
    row = Resource.objects.get(platform=platform, external_id=cloud["instances"][0])
    assert (row.organization_id, row.assigned_by) == (None, "")


def test_assignments_and_rules_are_refused_with_a_project_of_another_organization(platform, people):
    root = api_as(people["root"])
    foreign = f.project(people["other"], name="theirs")
    row = Resource.objects.create(platform=platform, type="ecs.instance", service="ecs", region=REGION,
                                  external_id="i-manual", content_hash="0" * 32,
                                  first_seen_at="2025-01-01T00:00:00Z", last_changed_at="2025-01-01T00:00:00Z")
    refused = root.post(f"/api/v1/resources/resources/{row.id}/assign/",
                        {"organization": str(people["hq"].pk), "project": str(foreign.pk)}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"code": "invalid", "message": "The project must belong to the organization.",
                              "detail": {"project": ["mismatch"]}}
    row.refresh_from_db()
    assert row.organization_id is None and row.assigned_by == ""
    rule = root.post("/api/v1/resources/rules/", {"platform": platform.pk, "match": "tag", "value": "shop",
                                                  "organization": str(people["hq"].pk), "project": str(foreign.pk)},
                     format="json")
    assert rule.status_code == 400
    assert rule.json() == {"code": "invalid", "message": "The rule is not valid; see detail.",
                           "detail": {"key": ["a tag rule needs the tag key"],
                                      "project": ["must belong to the organization"]}}
    assert not AssignmentRule.objects.exists()


def test_a_refresh_collects_one_resource_as_the_cloud_has_it_and_then_only_its_changes(platform, cloud):
    from apps.resources.models import ResourceRelation
    from apps.resources.services import resource_refresh

    instance = cloud["instances"][1]

    def refresh():
        return resource_refresh(platform=platform, resource_type="ecs.instance", region=REGION, external_id=instance,
                                adapter=cloud["adapter"])

    row = refresh()
    cr = cloud["adapter"].get_resource("ecs.instance", REGION, instance)
    assert (row.region, row.zone, row.service, row.name, row.status, row.spec, row.tags, row.vcpu, row.memory_mib,
            row.storage_gib, row.resource_group, row.vpc_id) == (
        cr.region, cr.zone, cr.service, cr.name, cr.status, cr.spec, cr.tags, cr.vcpu, cr.memory_mib,
        cr.storage_gib, cr.resource_group, cr.vpc_id)
    assert (row.deleted, row.deleted_at, row.organization_id, row.assigned_by) == (False, None, None, "")
    assert row.first_seen_at == row.last_changed_at
    edges = sorted(ResourceRelation.objects.filter(source=row).values_list("kind", "target_type", "target_external_id"))
    assert edges == sorted((r.kind, r.target_type, r.target_external_id) for r in cr.relations) and edges
    # unchanged: nothing written
    assert refresh().last_changed_at == row.last_changed_at
    # a sync after it finds the row as a sync would have written it
    first = run_sync(platform)
    assert (first.created, first.updated, first.unchanged) == (first.fetched - 1, 0, 1)
    rename(cloud, instance)
    renamed = refresh()
    assert renamed.pk == row.pk and renamed.name.startswith("renamed-")
    assert renamed.last_changed_at > row.last_changed_at
    assert sorted(ResourceRelation.objects.filter(source=row).values_list(
        "kind", "target_type", "target_external_id")) == edges


def test_a_refresh_flags_a_gone_resource_deleted_once_and_keeps_owners(platform, cloud, people):
    from apps.resources.services import resource_refresh

    shop = f.org("Shop", people["hq"])
    kept = f.org("Kept", people["hq"])
    AssignmentRule.objects.create(platform=platform, match="tag", key="team", value="shop", organization=shop)
    tagged = resource_refresh(platform=platform, resource_type="ecs.instance", region=REGION,
                              external_id=cloud["instances"][0], adapter=cloud["adapter"])
    assert (tagged.organization_id, tagged.assigned_by) == (shop.pk, "rule")
    Resource.objects.filter(pk=tagged.pk).update(organization=kept, assigned_by="manual")
    rename(cloud, cloud["instances"][0])
    manual = resource_refresh(platform=platform, resource_type="ecs.instance", region=REGION,
                              external_id=cloud["instances"][0], adapter=cloud["adapter"])
    assert (manual.organization_id, manual.assigned_by) == (kept.pk, "manual") and manual.name.startswith("renamed-")

    eip = resource_refresh(platform=platform, resource_type="eip.eip", region=REGION, external_id=cloud["eip"],
                           adapter=cloud["adapter"])
    cloud["adapter"].delete("eip.eip", REGION, cloud["eip"])
    gone = resource_refresh(platform=platform, resource_type="eip.eip", region=REGION, external_id=cloud["eip"],
                            adapter=cloud["adapter"])
    assert gone.pk == eip.pk and gone.deleted and gone.deleted_at == gone.last_changed_at
    again = resource_refresh(platform=platform, resource_type="eip.eip", region=REGION, external_id=cloud["eip"],
                             adapter=cloud["adapter"])
    assert again.deleted_at == gone.deleted_at
    assert resource_refresh(platform=platform, resource_type="eip.eip", region=REGION, external_id="eip-none",
                            adapter=cloud["adapter"]) is None


def test_an_administrator_assigns_only_within_the_organizations_they_may_write(platform, people, monkeypatch):
    from apps.resources import services

    dept = f.org("Dept", people["hq"])
    team = f.org("Team", dept)
    project = f.project(team, name="shop")
    admin = f.user("dept-admin", dept)
    f.grant(f.predefined("system_administrator"), admin, dept)
    f.grant(f.predefined("viewer"), admin, people["other"])  # sees it, may not write there
    reader = f.user("dept-reader", dept)
    f.grant(f.predefined("viewer"), reader, dept)
    row = Resource.objects.create(platform=platform, type="ecs.instance", service="ecs", region=REGION,
                                  external_id="i-assign", content_hash="0" * 32, organization=dept,
                                  first_seen_at="2025-01-01T00:00:00Z", last_changed_at="2025-01-01T00:00:00Z")
    url = f"/api/v1/resources/resources/{row.id}/assign/"
    refused = api_as(admin).post(url, {"organization": str(people["other"].pk)}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {"code": "forbidden", "message": "You may not assign resources to that organization.",
                              "detail": {}}
    assert api_as(reader).post(url, {"organization": str(team.pk)}, format="json").status_code == 403
    row.refresh_from_db()
    assert (row.organization_id, row.project_id, row.assigned_by) == (dept.pk, None, "")
    emitted = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload: emitted.append((org, topic, payload)))
    moved = api_as(admin).post(url, {"organization": str(team.pk), "project": str(project.pk)}, format="json")
    assert moved.status_code == 200, moved.content
    row.refresh_from_db()
    assert (row.organization_id, row.project_id, row.assigned_by) == (team.pk, project.pk, "manual")
    assert emitted == [(team.pk, row.topic, {"event": "resource_assigned", "id": row.id})]


def test_a_failed_sync_ends_its_run_and_operation_and_announces_it(platform, control, monkeypatch):
    from apps.core.models import Operation
    from apps.resources import services
    from apps.resources.models import SyncPage

    emitted = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload: emitted.append((org, topic, payload)))
    control.post("/faults", {"action": "DescribeLoadBalancers", "error_rate": 1.0, "code": "Forbidden.RAM",
                             "status": 403, "message": "User not authorized to operate on the specified resource."})
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "failed" and run.finished_at is not None and "Forbidden.RAM" in run.error
    op = Operation.objects.get(pk=run.operation_id)
    assert (op.status, op.message, op.error) == ("failed", "Sync failed", run.error)
    assert [e for e in emitted if e[2].get("event") == "sync_failed"] == [
        (platform.organization_id, f"sync:{platform.pk}", {"event": "sync_failed", "sync": run.id, "error": run.error})]
    assert not SyncPage.objects.filter(run=run).exists()


def test_a_rule_made_and_deleted_announces_its_fields_before_and_after(platform, people, monkeypatch):
    from apps.resources import services

    emitted = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload: emitted.append((org, topic, payload)))
    project = f.project(people["hq"], name="shop")
    rule = services.assignment_rule_create(actor=people["root"], platform=platform, match="tag", key="team",
                                           value="shop", organization=people["hq"], project=project, priority=7)
    plain = services.assignment_rule_create(actor=people["root"], platform=platform, match="vpc", value="vpc-1",
                                            organization=people["hq"])
    fields = {"platform": str(platform.pk), "match": "tag", "key": "team", "value": "shop",
              "organization": str(people["hq"].pk), "project": str(project.pk), "priority": 7}
    assert emitted[0] == (people["hq"].pk, f"assignment_rule:{rule.pk}",
                          {"event": "created", "before": None, "after": fields, "name": "tag team=shop"})
    assert emitted[1][2]["after"]["project"] is None and emitted[1][2]["name"] == "vpc =vpc-1"
    rule_id = rule.pk
    services.assignment_rule_delete(actor=people["root"], rule=rule)
    assert emitted[2] == (str(people["hq"].pk), f"assignment_rule:{rule_id}",
                          {"event": "deleted", "before": fields, "after": None})
    assert list(AssignmentRule.objects.values_list("pk", flat=True)) == [plain.pk]


def test_a_change_to_any_collected_field_changes_the_content_hash_and_nothing_else_does():
    """What a sync compares to tell a changed resource from an unchanged one."""
    from apps.resources.services import content_hash

    item = {"type": "ecs.instance", "region": REGION, "zone": f"{REGION}-a", "name": "web", "status": "Running",
            "spec": {"instance_type": "ecs.g6.large"}, "tags": {"team": "shop"},
            "relations": [["in", "vpc.vswitch", "vsw-1"]], "vcpu": 2, "memory_mib": 8192, "storage_gib": 40,
            "resource_group": "rg-1", "vpc_id": "vpc-1", "external_id": "i-1", "owner": [None, None]}
    changed = {"type": "ecs.other", "region": "cn-beijing", "zone": f"{REGION}-b", "name": "web2", "status": "Stopped",
               "spec": {"instance_type": "ecs.g6.xlarge"}, "tags": {"team": "ops"},
               "relations": [["in", "vpc.vswitch", "vsw-2"]], "vcpu": 4, "memory_mib": 16384, "storage_gib": 80,
               "resource_group": "rg-2", "vpc_id": "vpc-2"}
    base = content_hash(item)
    assert len(base) == 32 and content_hash(dict(item)) == base
    for field, value in changed.items():
        assert content_hash({**item, field: value}) != base, field
    assert content_hash({**item, "external_id": "i-2", "owner": ["o", None]}) == base
