"""A resource the inventory holds and a sync finds changed is written again whole, from what the cloud
reported: its service from its type, and who assigned it (a rule, or nobody) from the rules as they are,
whatever the row said before."""

from __future__ import annotations

import pytest

from apps.clouds.simulated import seed_resources
from apps.resources.models import AssignmentRule, Resource
from apps.resources.services import sync_drive, sync_start

pytestmark = pytest.mark.django_db


def _sync(platform):
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "succeeded", run.error
    return run


def test_a_changed_resource_is_written_again_with_its_service_and_its_assignment(platform, sim, people):
    made = seed_resources(sim.endpoint, instances=1)
    vpc = made["vpc.vpc"][0]
    AssignmentRule.objects.create(platform=platform, match="vpc", value=vpc, organization=people["hq"], priority=1)
    _sync(platform)
    instance = made["ecs.instance"][0]
    owned = Resource.objects.get(platform=platform, external_id=vpc)
    alone = Resource.objects.get(platform=platform, external_id=made["eip.eip"][0])
    assert (owned.organization_id, owned.assigned_by, owned.service) == (people["hq"].pk, "rule", "vpc")
    assert (alone.organization_id, alone.assigned_by, alone.service) == (None, "", "eip")
    # Rows that no longer match what the cloud says (as after a change in the cloud).
    Resource.objects.filter(platform=platform, external_id__in=[vpc, made["eip.eip"][0], instance]).update(
        content_hash="stale", service="stale", assigned_by="stale")
    run = _sync(platform)
    assert run.updated >= 3 and run.created == 0  # (and any the cloud changed meanwhile)
    rows = {r.external_id: r for r in Resource.objects.filter(platform=platform,
                                                              external_id__in=[vpc, made["eip.eip"][0], instance])}
    assert (rows[vpc].organization_id, rows[vpc].assigned_by, rows[vpc].service) == (people["hq"].pk, "rule", "vpc")
    assert (rows[made["eip.eip"][0]].organization_id, rows[made["eip.eip"][0]].assigned_by,
            rows[made["eip.eip"][0]].service) == (None, "", "eip")
    assert (rows[instance].assigned_by, rows[instance].service) == ("rule", "ecs")  # in the VPC the rule names
    assert all(r.content_hash != "stale" for r in rows.values())
    _sync(platform)
    assert {r.external_id: r.last_changed_at for r in Resource.objects.filter(pk__in=[r.pk for r in rows.values()])} \
        == {e: r.last_changed_at for e, r in rows.items()}  # written once: the next sync finds them unchanged


def test_a_manually_assigned_resource_a_rule_would_give_elsewhere_is_not_written_again(platform, sim, people):
    from apps.resources.services import resource_assign
    from tests import factories as f

    made = seed_resources(sim.endpoint, instances=1)
    _sync(platform)
    kept, shop = f.org("Kept", people["hq"]), f.org("Shop", people["hq"])
    row = resource_assign(actor=people["root"], resource=Resource.objects.get(
        platform=platform, external_id=made["ecs.instance"][0]), organization=kept)
    AssignmentRule.objects.create(platform=platform, match="tag", key="team", value="shop", organization=shop,
                                  priority=1)  # it matches the instance (tagged team=shop)
    assert row.tags.get("team") == "shop"
    changed_at = Resource.objects.get(pk=row.pk).last_changed_at
    _sync(platform)
    after = Resource.objects.get(pk=row.pk)
    assert (after.organization_id, after.assigned_by) == (kept.pk, "manual")
    assert after.last_changed_at == changed_at  # not staged: an administrator's choice is not a change
