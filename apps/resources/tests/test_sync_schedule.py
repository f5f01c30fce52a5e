"""A platform's periodic collection follows the platform: a beat entry exists exactly while the
platform is active with a sync interval, names the inventory's scheduled task and the platform, and
goes with the platform. The clouds app's services know nothing of it."""

from __future__ import annotations

import importlib

import pytest
from django_celery_beat.models import PeriodicTask

from apps.clouds import services as clouds
from apps.clouds.demo import SIM_NAME, seed_simulated_platform
from apps.clouds.models import CloudPlatform
from apps.resources.models import SyncRun

pytestmark = pytest.mark.django_db
CREDENTIALS = {"access_key_id": "schedule-key-id", "access_key_secret": "schedule-secret"}


def entry(platform: CloudPlatform) -> PeriodicTask | None:
    return PeriodicTask.objects.filter(name=f"Sync {platform.pk}").select_related("interval").first()


@pytest.fixture
def created(people) -> CloudPlatform:
    return clouds.platform_create(actor=people["root"], organization=people["hq"], type="apsara", name="Scheduled",
                                  endpoint="127.0.0.1:1", credentials=CREDENTIALS, sync_interval_minutes=15)


def test_a_platform_with_an_interval_gets_an_entry_that_runs_the_inventorys_task(created):
    task = entry(created)
    assert task is not None and task.enabled
    assert (task.interval.every, task.interval.period) == (15, "minutes")
    assert task.args == f'["{created.pk}"]'
    module, name = task.task.rsplit(".", 1)
    scheduled = getattr(importlib.import_module(module), name)
    assert scheduled.name == task.task, "the entry names no Celery task"
    scheduled(created.pk)
    assert SyncRun.objects.filter(platform=created, status=SyncRun.Status.RUNNING).count() == 1


def test_the_entry_follows_the_interval_and_the_platforms_state(created, people):
    clouds.platform_update(actor=people["root"], platform=created, sync_interval_minutes=60)
    assert entry(created).interval.every == 60
    clouds.platform_update(actor=people["root"], platform=created, is_active=False)
    assert entry(created) is None
    clouds.platform_update(actor=people["root"], platform=created, is_active=True)
    assert entry(created).interval.every == 60
    clouds.platform_update(actor=people["root"], platform=created, sync_interval_minutes=0)
    assert entry(created) is None


def test_a_platform_without_an_interval_has_no_entry(people):
    platform = clouds.platform_create(actor=people["root"], organization=people["hq"], type="apsara", name="Manual",
                                      endpoint="127.0.0.1:1", credentials=CREDENTIALS)
    assert entry(platform) is None


def test_deleting_a_platform_removes_its_entry(created, people):
    clouds.platform_delete(actor=people["root"], platform=created)
    assert not PeriodicTask.objects.filter(name=f"Sync {created.pk}").exists()


def test_the_demo_platform_is_collected_every_half_hour(people):
    seed_simulated_platform()
    assert entry(CloudPlatform.objects.get(name=SIM_NAME)).interval.every == 30
