"""Pages fetched ahead across steps (``_PageFeed``): the same inventory and deletions whatever the step
boundaries, each page asked of the cloud once when the steps run in one process, and a step that runs
elsewhere or retries starting from its own position."""

from __future__ import annotations

import time

import pytest

from apps.clouds.adapters.apsara import ApsaraAdapter
from apps.clouds.simulated import seed_resources, sim_adapter
from apps.resources import services
from apps.resources.models import Resource, ResourceRelation, SyncPage
from apps.resources.services import sync_drive, sync_start, sync_step

pytestmark = pytest.mark.django_db


def bulk_instances(control, count: int) -> None:
    control.post("/bulk", {"type": "ecs_instance", "count": count, "region_id": "cn-hangzhou",
                           "zone_id": "cn-hangzhou-a", "tags": {"team": "shop"}})


def live(platform) -> set[tuple[str, str]]:
    return set(Resource.objects.filter(platform=platform, deleted=False).values_list("type", "external_id"))


def edges(platform) -> set[tuple]:
    return set(ResourceRelation.objects.filter(platform=platform).values_list(
        "source__external_id", "kind", "target_type", "target_external_id"))


@pytest.fixture
def calls(monkeypatch):
    """(type, region, token) of every list call the apsara adapter makes."""
    made: list[tuple[str, str, str | None]] = []
    original = ApsaraAdapter.list_resources

    def counted(self, resource_type, region, page_token=None):
        made.append((resource_type, region, page_token))
        return original(self, resource_type, region, page_token)

    monkeypatch.setattr(ApsaraAdapter, "list_resources", counted)
    return made


def run_sync(platform):
    return sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)


def test_one_page_per_step_collects_the_same_rows_and_deletions_asking_each_page_once(
        platform, control, sim, calls, monkeypatch):
    seeded = set(seed_resources(sim.endpoint, instances=2)["ecs.instance"])
    bulk_instances(control, 230)  # three pages of instances in cn-hangzhou
    whole = run_sync(platform)
    assert whole.status == "succeeded", whole.error
    rows, relations = live(platform), edges(platform)
    # Three of the bulk instances, which have no disk: a seeded one's system disk goes with it (a 4th deletion).
    gone = sorted(e for t, e in rows if t == "ecs.instance" and e not in seeded)[:3]
    for external_id in gone:
        sim_adapter(sim.endpoint).delete("ecs.instance", "cn-hangzhou", external_id)
    time.sleep(0.3)

    monkeypatch.setattr(services, "STEP_SECONDS", 0.0)
    calls.clear()
    again = run_sync(platform)
    assert again.status == "succeeded", again.error
    assert again.step > again.pages >= 3 + len(again.units) - 1  # one page a step, at least one a unit
    assert again.deleted == 3 and again.created == 0
    assert live(platform) == rows - {("ecs.instance", e) for e in gone}
    assert {e for e in relations if e[0] not in gone} == {e for e in edges(platform) if e[0] not in gone}
    assert len(calls) == len(set(calls)) == again.pages  # each page asked once, none thrown away
    assert not services._feeds and not SyncPage.objects.exists()


def test_a_step_that_runs_in_another_process_or_again_starts_from_its_own_position(platform, control, sim,
                                                                                    calls, monkeypatch):
    seed_resources(sim.endpoint, instances=2)
    bulk_instances(control, 150)
    monkeypatch.setattr(services, "STEP_SECONDS", 0.0)
    run = sync_start(actor=None, platform=platform, check=False)
    more, _delay, step = sync_step(run_id=run.id, step=1)  # plan
    more, _delay, step = sync_step(run_id=run.id, step=step)
    assert more and run.id in services._feeds
    services._feed_drop(run.id)  # the next step runs in another worker: nothing fetched here is there
    more, _delay, step = sync_step(run_id=run.id, step=step)
    assert sync_step(run_id=run.id, step=step - 1) == (False, 0.0, step - 1)  # delivered twice: nothing
    done = sync_drive(run_id=run.id, sleep=False)
    assert done.status == "succeeded", done.error
    fresh = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert (fresh.created, fresh.updated, fresh.deleted) == (0, 0, 0)
    assert done.fetched == fresh.fetched == len(live(platform))
    assert not services._feeds


def test_a_page_that_fails_is_retried_from_the_same_position(platform, control, sim, monkeypatch):
    seed_resources(sim.endpoint, instances=2)
    bulk_instances(control, 150)
    monkeypatch.setattr(services, "STEP_SECONDS", 0.0)
    control.post("/faults", {"action": "DescribeInstances", "error_rate": 1.0, "code": "ServiceUnavailable",
                             "remaining": 5})
    run = run_sync(platform)
    assert run.status == "succeeded", run.error
    assert Resource.objects.filter(platform=platform, type="ecs.instance").count() == 152
    assert not services._feeds


def test_a_permanent_failure_stops_the_feed(platform, control, sim):
    seed_resources(sim.endpoint, instances=2)
    control.post("/faults", {"action": "DescribeLoadBalancers", "error_rate": 1.0, "code": "Forbidden.RAM",
                             "status": 403, "message": "User not authorized to operate on the specified resource."})
    run = run_sync(platform)
    assert run.status == "failed" and "Forbidden.RAM" in run.error
    assert not services._feeds
