"""The embedded demo moves on its own: instances of the simulated region are stopped and started in
cloudsim and collected again, never below half running, and never outside the demo."""

from __future__ import annotations

import random
import time

import pytest
from django.core.cache import cache
from django.test import override_settings

from apps.clouds.simulated import seed_resources
from apps.dashboards import demo_activity
from apps.resources.models import Resource
from apps.resources.services import sync_drive, sync_start
from cloudsim.server import CloudSim
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=["cn-hangzhou"]).start()
    seed_resources(server.endpoint, region="cn-hangzhou", instances=4)
    yield server
    server.stop()


@pytest.fixture
def demo(sim):
    cache.delete(demo_activity.LAST_KEY)
    org = f.org("Headquarters")
    platform = f.platform(org, endpoint=sim.endpoint, name="demo region")
    run = sync_start(actor=None, platform=platform, check=False)
    sync_drive(run_id=run.pk, sleep=False)
    Resource.objects.filter(platform=platform).update(organization=org)
    return platform


def statuses(platform):
    return dict(Resource.objects.filter(platform=platform, type="ecs.instance").values_list("external_id", "status"))


def test_each_step_changes_one_instance_in_the_cloud_and_the_next_step_collects_it(demo):
    rng = random.Random(7)
    before = statuses(demo)
    first = demo_activity.step(platform=demo, rng=rng)
    assert first["action"] in ("start", "stop") and first["changed"] in before and first["refreshed"] is None
    moving = statuses(demo)[first["changed"]]  # collected at once: no longer shown in its old state
    assert moving != before[first["changed"]] and moving in ("stopping", "stopped", "starting", "running")
    time.sleep(0.3)  # cloudsim finishes a stop or start after its provisioning time
    second = demo_activity.step(platform=demo, rng=rng)
    assert second["refreshed"] == first["changed"]
    after = statuses(demo)
    assert after[first["changed"]] != before[first["changed"]]


def test_at_least_half_of_the_demo_instances_stay_running(demo):
    rng = random.Random(3)
    for _ in range(8):
        demo_activity.step(platform=demo, rng=rng)
        time.sleep(0.15)
    demo_activity.step(platform=demo, rng=rng)
    values = list(statuses(demo).values())
    assert sum(v.lower() == "running" for v in values) >= len(values) / 2 - 1  # the last change may be in flight


def test_the_activity_runs_only_in_the_embedded_mode_with_the_demo_platform_and_its_switch_on(demo, monkeypatch,
                                                                                                settings):
    settings.CLOUDSIM_ENDPOINT = demo.endpoint
    monkeypatch.setenv("UNIMANAGER_DEMO_ACTIVITY", "1")
    with override_settings(MODE="distributed"):
        assert demo_activity.run() is None
    monkeypatch.setenv("UNIMANAGER_DEMO_ACTIVITY", "0")
    assert demo_activity.run() is None
    monkeypatch.setenv("UNIMANAGER_DEMO_ACTIVITY", "1")
    settings.CLOUDSIM_ENDPOINT = "127.0.0.1:1"
    assert demo_activity.run() is None
    settings.CLOUDSIM_ENDPOINT = demo.endpoint
    with override_settings(MODE="embedded"):
        done = demo_activity.run()
    assert done is not None and done["action"] in ("start", "stop")


def test_the_schedule_is_installed_after_migrate():
    from django_celery_beat.models import PeriodicTask

    demo_activity.install_schedule()
    task = PeriodicTask.objects.get(name=demo_activity.SCHEDULE_NAME)
    assert task.task == demo_activity.TASK and task.interval.every == demo_activity.EVERY and task.enabled


def test_a_change_is_collected_again_once_the_cloud_has_finished_it(demo, monkeypatch):
    from apps.dashboards import tasks

    queued = []
    monkeypatch.setattr(tasks.demo_activity_settle_task, "apply_async", lambda **kw: queued.append(kw))
    monkeypatch.setattr(demo_activity, "enabled", lambda: True)
    monkeypatch.setattr(demo_activity, "demo_platform", lambda: demo)
    done = demo_activity.run()
    assert queued == [{"countdown": demo_activity.SETTLE_SECONDS}]
    time.sleep(0.3)  # cloudsim's step here is 0.05 s
    assert demo_activity.run_settle() == done["changed"]
    assert statuses(demo)[done["changed"]] == {"stop": "stopped", "start": "running"}[done["action"]]
