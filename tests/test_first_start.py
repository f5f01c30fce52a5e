"""A console's first start collects every platform that was never collected, so the inventory and the
portal's catalog are filled at once; a simulated region that is still empty gets its demo estate first."""

from __future__ import annotations

import pytest

from apps.clouds.tests.factories import platform as make_platform
from apps.resources.models import Resource, SyncRun
from apps.resources.services import sync_drive
from cloudsim.server import CloudSim
from tests import factories as f
from unimanager.serve import collect_at_first_start

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim():
    server = CloudSim(port=0, provision_seconds=0.02, regions=["cn-hangzhou"]).start()
    yield server
    server.stop()


def instances(sim: CloudSim) -> int:
    return len(sim.store.tables["ecs_instance"])


def test_an_empty_simulated_region_gets_its_estate_and_is_collected_once(sim):
    hq = f.org("HQ")
    platform = make_platform(hq, endpoint=sim.endpoint, name="Simulated", edition="cloudsim")
    assert instances(sim) == 0

    assert collect_at_first_start(wait_seconds=5) == [platform.pk]
    assert instances(sim) == 6
    run = SyncRun.objects.get(platform=platform)
    assert sync_drive(run_id=run.id, sleep=False).status == "succeeded"
    assert Resource.objects.filter(platform=platform, type="ecs.instance", deleted=False).count() == 6

    assert collect_at_first_start(wait_seconds=5) == [], "a collected platform is not collected again at start"
    assert SyncRun.objects.filter(platform=platform).count() == 1
    assert instances(sim) == 6


def test_a_platform_whose_collections_all_failed_is_tried_again_and_a_filled_region_is_not_seeded(sim):
    hq = f.org("HQ")
    platform = make_platform(hq, endpoint=sim.endpoint, name="Simulated", edition="cloudsim")
    collect_at_first_start(wait_seconds=5)
    SyncRun.objects.filter(platform=platform).update(status=SyncRun.Status.FAILED)

    assert collect_at_first_start(wait_seconds=5) == [platform.pk]
    assert instances(sim) == 6, "a region that has resources gets no second estate"


def test_disabled_and_unreachable_platforms_are_left_alone(sim):
    hq = f.org("HQ")
    make_platform(hq, endpoint=sim.endpoint, name="Disabled", edition="cloudsim", is_active=False)
    make_platform(hq, endpoint="127.0.0.1:1", name="Nobody answers", edition="cloudsim")

    assert collect_at_first_start(wait_seconds=0.2) == []
    assert not SyncRun.objects.exists()
    assert instances(sim) == 0


def test_a_real_platform_is_collected_without_any_estate_built(sim):
    hq = f.org("HQ")
    platform = make_platform(hq, endpoint=sim.endpoint, name="Production")
    assert collect_at_first_start(wait_seconds=5) == [platform.pk]
    assert instances(sim) == 0
