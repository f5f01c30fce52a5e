"""Inventory rules with a project: a resource a rule gives to an organization's project keeps that
project when the cloud changes it, and a later sync with nothing changed writes nothing."""

from __future__ import annotations

import pytest

from apps.clouds.simulated import seed_resources
from apps.resources.models import AssignmentRule, Resource
from apps.resources.services import sync_drive, sync_start
from tests import factories as f

pytestmark = pytest.mark.django_db


def run_sync(platform):
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "succeeded", run.error
    return run.created, run.updated, run.deleted, run.unchanged, run.fetched


def test_a_rule_s_project_is_kept_through_changes_and_an_unchanged_sync_writes_nothing(platform, sim, control,
                                                                                     people):
    control.post("/config", {"provision_seconds": 0})  # settled: nothing changes between the syncs
    seed_resources(sim.endpoint, instances=2)
    shop = f.org("Shop", people["hq"])
    web = f.project(shop, name="web")
    AssignmentRule.objects.create(platform=platform, match="tag", key="team", value="shop", organization=shop,
                                  project=web)
    created, _updated, _deleted, _unchanged, fetched = run_sync(platform)
    owned = set(Resource.objects.filter(platform=platform, project=web).values_list("external_id", flat=True))
    assert owned and created == fetched
    assert run_sync(platform) == (0, 0, 0, fetched, fetched)
    # stored as they were before a change in the cloud: written again, still the rule's organization and project
    Resource.objects.filter(platform=platform, external_id__in=owned).update(content_hash="0" * 32)
    assert run_sync(platform) == (0, len(owned), 0, fetched - len(owned), fetched)
    assert set(Resource.objects.filter(platform=platform, organization=shop, project=web, assigned_by="rule")
               .values_list("external_id", flat=True)) == owned


def test_a_finished_sync_records_when_it_ended_on_the_run_and_on_its_platform(platform, sim):
    seed_resources(sim.endpoint, instances=1)
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "succeeded", run.error
    run.refresh_from_db()
    platform.refresh_from_db()
    assert run.finished_at is not None and platform.last_synced_at == run.finished_at
