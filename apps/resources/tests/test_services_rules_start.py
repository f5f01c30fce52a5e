"""Starting a sync: who may, on which platform, what it records (its operation and run, each field) and
announces, the first step queued once the start is committed, one running sync per platform (the 409 names
it), and a run left behind (its operation ended, or silent for 15 minutes) given up so a new one can start."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import Conflict, Forbidden
from apps.core.models import Operation
from apps.resources import services
from apps.resources.models import SyncRun
from apps.resources.services import STALE_AFTER, sync_start
from tests import factories as f

pytestmark = pytest.mark.django_db
ABANDONED = "Abandoned: no progress for 15 minutes or the operation ended."


@pytest.fixture
def emitted(monkeypatch):
    seen = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload: seen.append((org, topic, payload)))
    return seen


@pytest.fixture
def queued(monkeypatch):
    from apps.resources.tasks import sync_step_task

    calls = []
    monkeypatch.setattr(sync_step_task, "apply_async", lambda *args, **kwargs: calls.append((args, kwargs)))
    return calls


def test_a_start_records_its_operation_and_run_announces_them_and_queues_step_one_after_commit(
        platform, people, emitted, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = sync_start(actor=people["root"], platform=platform)
    assert queued == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued == [(((run.id, 1),), {})]
    run = SyncRun.objects.get(pk=run.pk)
    assert (run.platform_id, run.organization_id, run.kind, run.status, run.step, run.actor_id) == (
        platform.pk, platform.organization_id, "full", "running", 0, people["root"].pk)
    op = Operation.objects.get(pk=run.operation_id)
    assert (op.organization_id, op.kind, op.actor_id, op.target_type, op.target_id, op.target_name, op.params,
            op.message) == (platform.organization_id, "resources.sync", people["root"].pk, "cloud_platform",
                            str(platform.pk), platform.name, {"platform": platform.pk}, "Queued")
    assert emitted == [(platform.organization_id, platform.topic,
                        {"event": "sync_started", "sync": run.id, "operation": op.id})]


def test_a_start_by_the_system_or_an_anonymous_caller_records_no_actor(platform, people):
    from django.contrib.auth.models import AnonymousUser

    first = sync_start(actor=None, platform=platform, check=False)
    assert (first.actor_id, Operation.objects.get(pk=first.operation_id).actor_id) == (None, None)
    services._finish_failed(first, "Stopped.")
    second = sync_start(actor=AnonymousUser(), platform=platform, check=False)
    assert (second.actor_id, Operation.objects.get(pk=second.operation_id).actor_id) == (None, None)


def test_a_caller_without_the_operate_permission_is_refused_and_nothing_is_recorded(platform, people):
    reader = f.user("reader", people["hq"])
    with pytest.raises(Forbidden):
        sync_start(actor=reader, platform=platform)
    assert not SyncRun.objects.exists() and not Operation.objects.filter(kind="resources.sync").exists()
    assert sync_start(actor=reader, platform=platform, check=False).status == "running"  # the system may


def test_a_disabled_platform_is_not_collected(platform, people):
    platform.is_active = False
    platform.save(update_fields=["is_active"])
    with pytest.raises(Conflict) as refused:
        sync_start(actor=people["root"], platform=platform)
    assert (refused.value.code, refused.value.message) == ("platform_disabled", "The platform is disabled.")
    assert not SyncRun.objects.exists()


def test_a_second_start_while_one_runs_is_a_409_naming_the_running_one(platform, people):
    running = sync_start(actor=None, platform=platform, check=False)
    with pytest.raises(Conflict) as refused:
        sync_start(actor=people["root"], platform=platform)
    assert refused.value.code == "sync_running"
    assert refused.value.message == "A sync of this platform is already running."
    assert refused.value.detail == {"operation": running.operation_id, "sync": running.id}
    assert SyncRun.objects.count() == 1
    other = f.org("Elsewhere")
    from apps.clouds.tests.factories import platform as make_platform

    elsewhere = make_platform(other, endpoint=platform.endpoint, name="Elsewhere")
    assert sync_start(actor=None, platform=elsewhere, check=False).status == "running"  # one per platform


def _age(run: SyncRun, by: timedelta) -> None:
    Operation.objects.filter(pk=run.operation_id).update(updated_at=timezone.now() - by)


def test_a_run_silent_for_15_minutes_is_given_up_and_a_new_one_starts(platform, people, emitted):
    silent = sync_start(actor=None, platform=platform, check=False)
    _age(silent, STALE_AFTER - timedelta(minutes=1))
    with pytest.raises(Conflict):
        sync_start(actor=None, platform=platform, check=False)  # not silent long enough
    assert SyncRun.objects.get(pk=silent.pk).status == "running"
    _age(silent, STALE_AFTER + timedelta(seconds=5))
    fresh = sync_start(actor=None, platform=platform, check=False)
    given_up = SyncRun.objects.get(pk=silent.pk)
    assert (given_up.status, given_up.error) == ("failed", ABANDONED)
    assert Operation.objects.get(pk=silent.operation_id).status == "failed"
    assert fresh.pk != silent.pk and fresh.status == "running"
    assert (platform.organization_id, f"sync:{platform.pk}",
            {"event": "sync_failed", "sync": silent.id, "error": ABANDONED}) in emitted


def test_a_run_whose_operation_ended_is_given_up_at_the_next_start(platform, people):
    from apps.core.services import operation_fail

    ended = sync_start(actor=None, platform=platform, check=False)
    operation_fail(operation_id=ended.operation_id, error="Stopped by hand.", message="Stopped")
    fresh = sync_start(actor=None, platform=platform, check=False)
    assert (SyncRun.objects.get(pk=ended.pk).status, SyncRun.objects.get(pk=ended.pk).error) == ("failed", ABANDONED)
    assert fresh.status == "running"


def test_only_the_platforms_own_runs_are_given_up(platform, people):
    from apps.clouds.tests.factories import platform as make_platform

    other = make_platform(people["hq"], endpoint=platform.endpoint, name="Other view")
    theirs = sync_start(actor=None, platform=other, check=False)
    _age(theirs, STALE_AFTER + timedelta(minutes=5))
    sync_start(actor=None, platform=platform, check=False)
    assert SyncRun.objects.get(pk=theirs.pk).status == "running"  # another platform's, left to its own start


def test_a_person_granted_the_operate_permission_on_the_platforms_organization_may_start_a_sync(platform, people):
    operator = f.user("operator", people["hq"])
    f.grant(f.role("clouds:platform:operate"), operator, people["hq"])
    run = sync_start(actor=operator, platform=platform)
    assert (run.status, run.actor_id) == ("running", operator.pk)
    elsewhere = f.user("elsewhere", people["other"])
    f.grant(f.role("clouds:platform:operate"), elsewhere, people["other"])  # the permission, in another organization
    services._finish_failed(run, "Stopped.")
    with pytest.raises(Forbidden):
        sync_start(actor=elsewhere, platform=platform)


def test_a_start_leaves_the_platforms_finished_runs_as_they_ended(platform, people):
    from apps.core.services import operation_fail

    done = sync_start(actor=None, platform=platform, check=False)
    SyncRun.objects.filter(pk=done.pk).update(status=SyncRun.Status.SUCCEEDED)
    Operation.objects.filter(pk=done.operation_id).update(status=Operation.Status.SUCCEEDED)
    failed = sync_start(actor=None, platform=platform, check=False)
    operation_fail(operation_id=failed.operation_id, error="Stopped by hand.", message="Stopped")
    SyncRun.objects.filter(pk=failed.pk).update(status=SyncRun.Status.FAILED, error="Stopped by hand.")
    sync_start(actor=None, platform=platform, check=False)
    assert (SyncRun.objects.get(pk=done.pk).status, SyncRun.objects.get(pk=done.pk).error) == ("succeeded", "")
    assert SyncRun.objects.get(pk=failed.pk).error == "Stopped by hand."
