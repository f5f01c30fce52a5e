"""Changes waiting on the cloud are looked at together: one describe per platform, region and type per round."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import transaction

from apps.core.models import Operation
from apps.provisioning import lifecycle
from apps.provisioning.models import ChangeRecord, ProvisioningRequest
from apps.provisioning.tests.test_lifecycle import api, cloud_instances, submit

pytestmark = pytest.mark.django_db

DESCRIBE = "DescribeInstances"


@pytest.fixture
def scheduled(monkeypatch):
    """The poll and finish tasks the code under test would queue (no worker runs here)."""
    from apps.provisioning import tasks

    queued: list[tuple] = []
    monkeypatch.setattr(tasks.lifecycle_poll_task, "apply_async",
                        lambda args, countdown=0: queued.append(("poll", tuple(args), countdown)))
    return queued


def describes(control) -> int:
    return control.get("/stats")["calls"].get(DESCRIBE, 0)


def called(world, count: int) -> list[ChangeRecord]:
    """``count`` approved creates whose call step has run: each now waits on the cloud."""
    body = submit(world, count=count).json()
    response = api(world["approver"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {},
                                           format="json")
    assert response.status_code == 202, response.content
    changes = list(ChangeRecord.objects.filter(request_id=body["id"]))
    for change in changes:
        more, _delay, _step = lifecycle.lifecycle_step(change_id=change.id, step=1)
        assert more
    assert set(ChangeRecord.objects.filter(request_id=body["id"]).values_list("phase", flat=True)) == {"wait"}
    return changes


def poll(world) -> lifecycle.PollRound:
    return lifecycle.lifecycle_poll(platform_id=world["platform"].pk, region="cn-hangzhou",
                                    resource_type="ecs.instance")


def run_rounds(world, control, rounds: list[tuple[int, int]], timeout: float = 20.0) -> None:
    """Rounds (and the finish steps they hand out) until nothing waits; each round's (looked, describes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = describes(control)
        result = poll(world)
        rounds.append((result.looked, describes(control) - before))
        for change_id, step, found in result.finishes:
            lifecycle.lifecycle_finish(change_id=change_id, step=step, found=found)
        if result.delay is None:
            return
        time.sleep(min(result.delay, 0.05))
    raise TimeoutError("changes still waiting")


def test_many_waiting_creates_are_described_once_per_round_and_each_reaches_running(world, control):
    before = len(cloud_instances(control))
    changes = called(world, 6)
    time.sleep(0.03)  # past the first look (nothing learnt yet: one poll interval)
    rounds: list[tuple[int, int]] = []
    describes_before = describes(control)
    run_rounds(world, control, rounds)
    looking = [r for r in rounds if r[0]]
    assert looking and all(calls == 1 for _looked, calls in looking), rounds
    assert looking[0][0] == 6
    # Finishing asked the cloud nothing more: every describe was a round's.
    assert describes(control) - describes_before == len(looking)
    for change in changes:
        change.refresh_from_db()
        op = Operation.objects.get(pk=change.operation_id)
        assert change.phase == "done" and op.status == "succeeded", op.error
        assert change.resource is not None and change.resource.status == "running"
        assert change.resource.project_id == world["project"].pk
    assert len(cloud_instances(control)) == before + 6
    assert cache.get(lifecycle._poll_key(world["platform"].pk, "cn-hangzhou", "ecs.instance")) is None


def test_a_page_of_ids_is_one_describe_call(world, control):
    changes = called(world, 2)
    adapter = lifecycle.adapter_for(world["platform"], region="cn-hangzhou")
    ids = [c.external_id for c in ChangeRecord.objects.filter(pk__in=[c.pk for c in changes])]
    unknown = [f"i-unknown{n:04d}" for n in range(148)]
    before = describes(control)
    found = adapter.get_resources("ecs.instance", "cn-hangzhou", ids + unknown)
    assert describes(control) - before == 2  # 150 ids: two pages of at most 100
    assert all(found[i] is not None and found[i].external_id == i for i in ids)
    assert all(found[i] is None for i in unknown)


def test_a_failed_describe_leaves_the_changes_to_retry(world, control):
    changes = called(world, 3)
    time.sleep(0.03)
    faults = lifecycle.adapter_for(world["platform"], region="cn-hangzhou").retry_attempts + 1
    control.post("/faults", {"action": DESCRIBE, "error_rate": 1.0, "code": "ServiceUnavailable",
                             "remaining": faults})
    try:
        failed = poll(world)
    finally:
        control.call("DELETE", "/faults")
    # The first retry's countdown (0.5 s), counted from the round's start.
    assert failed.looked == 3 and failed.finishes == [] and 0 < failed.delay <= 0.5
    for change in changes:
        change.refresh_from_db()
        assert change.phase == "wait" and change.attempts == 1
        assert Operation.objects.get(pk=change.operation_id).message.startswith("Retrying (1)")
    run_rounds(world, control, [])
    for change in changes:
        assert Operation.objects.get(pk=change.operation_id).status == "succeeded"


def test_a_look_recorded_by_another_delivery_is_not_recorded_again(world, control):
    change = called(world, 1)[0]
    stale = ChangeRecord.objects.select_related("operation").get(pk=change.pk)
    # Another delivery records the next step first (a step task resumed by the reconciler).
    ChangeRecord.objects.filter(pk=change.pk).update(step=stale.step + 1, polls=stale.polls + 1)
    lifecycle._record_looks([(stale, "Waiting: starting")])
    change.refresh_from_db()
    assert (change.step, change.polls) == (stale.step + 1, stale.polls + 1)
    op = Operation.objects.get(pk=change.operation_id)
    assert op.message == stale.operation.message  # the look that was not recorded told nothing
    change = ChangeRecord.objects.select_related("operation").get(pk=change.pk)
    lifecycle._record_looks([(change, "Waiting: starting")])
    change.refresh_from_db()
    assert (change.step, change.polls) == (stale.step + 2, stale.polls + 2)
    op.refresh_from_db()
    assert (op.message, op.step) == ("Waiting: starting", stale.step + 2)


def test_a_change_after_its_call_joins_the_one_scheduled_round(world, control, scheduled):
    body = submit(world, count=2).json()
    api(world["approver"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {}, format="json")
    first, second = ChangeRecord.objects.filter(request_id=body["id"])
    assert lifecycle.lifecycle_run(change_id=first.id, step=1) is None
    assert lifecycle.lifecycle_run(change_id=second.id, step=1) is None
    assert [(kind, args) for kind, args, _countdown in scheduled] == [
        ("poll", (str(world["platform"].pk), "cn-hangzhou", "ecs.instance"))]
    run_rounds(world, control, [])
    assert {Operation.objects.get(pk=c.operation_id).status for c in (first, second)} == {"succeeded"}
    # Nothing waits any more: the lease is let go, and the next change schedules a round again.
    third = called(world, 1)[0]
    ChangeRecord.objects.filter(pk=third.pk).update(phase="call", step=0)
    assert lifecycle.lifecycle_run(change_id=third.id, step=1) is None
    assert len(scheduled) == 2


def test_a_request_whose_changes_finish_together_settles_once_and_a_second_delivery_does_nothing(world, control,
                                                                                               monkeypatch):
    settled: list[tuple] = []
    settle = lifecycle.hooks.quota_settle
    monkeypatch.setattr(lifecycle.hooks, "quota_settle", lambda reservation, *, part, succeeded: (
        settled.append((reservation, part, succeeded)), settle(reservation, part=part, succeeded=succeeded)))
    changes = called(world, 3)
    time.sleep(0.03)
    deadline = time.monotonic() + 20
    groups: list[list[lifecycle.Finish]] = []
    while sum(map(len, groups)) < 3 and time.monotonic() < deadline:
        lifecycle.lifecycle_poll(platform_id=world["platform"].pk, region="cn-hangzhou", resource_type="ecs.instance",
                                 hand_over=groups.append)
        time.sleep(0.03)
    finishes = [f for group in groups for f in group]
    assert sorted(f[0] for f in finishes) == sorted(c.id for c in changes)
    lifecycle.lifecycle_finish_group(finishes=finishes)
    lifecycle.lifecycle_finish_group(finishes=finishes)  # delivered again (acks late)
    request = ProvisioningRequest.objects.get(pk=changes[0].request_id)
    assert request.status == "completed"
    assert settled == [(request.quota_reservation, {"count": 3}, True)]
    assert list(request.events.filter(kind__in=["instance_ready", "completed"]).values_list("kind", flat=True)) == \
        ["instance_ready"] * 3 + ["completed"]
    for change in changes:
        change.refresh_from_db()
        assert change.phase == "done" and change.resource is not None and change.after["status"] == "running"
        assert Operation.objects.get(pk=change.operation_id).status == "succeeded"


def test_a_finish_that_fails_writes_nothing_and_a_later_delivery_finishes_the_group(world, control, monkeypatch):
    from apps.resources.models import Resource

    changes = called(world, 2)
    deadline = time.monotonic() + 20
    groups: list[list[lifecycle.Finish]] = []
    while sum(map(len, groups)) < 2 and time.monotonic() < deadline:
        lifecycle.lifecycle_poll(platform_id=world["platform"].pk, region="cn-hangzhou", resource_type="ecs.instance",
                                 hand_over=groups.append)
        time.sleep(0.03)
    finishes = [f for group in groups for f in group]
    external = [ChangeRecord.objects.get(pk=c.id).external_id for c in changes]

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(lifecycle, "operations_succeed", broken)
        with pytest.raises(RuntimeError):
            lifecycle.lifecycle_finish_group(finishes=finishes)
    # The inventory rows and the operations' ends are one transaction: nothing of the finish stays.
    assert not Resource.objects.filter(external_id__in=external).exists()
    assert set(ChangeRecord.objects.filter(pk__in=[c.id for c in changes]).values_list("phase", flat=True)) == {"wait"}
    assert set(Operation.objects.filter(pk__in=[c.operation_id for c in changes])
               .values_list("status", flat=True)) == {"running"}
    lifecycle.lifecycle_finish_group(finishes=finishes)  # delivered again (acks late)
    assert Resource.objects.filter(external_id__in=external).count() == 2
    assert set(Operation.objects.filter(pk__in=[c.operation_id for c in changes])
               .values_list("status", flat=True)) == {"succeeded"}
    assert ProvisioningRequest.objects.get(pk=changes[0].request_id).status == "completed"


def test_a_requests_creates_go_out_in_one_task_message_and_their_calls_are_recorded_together(
        world, control, scheduled, monkeypatch, django_capture_on_commit_callbacks):
    from apps.provisioning import tasks

    sent: list[tuple] = []
    monkeypatch.setattr(tasks.lifecycle_steps_task, "apply_async", lambda args: sent.append(tuple(args)))
    monkeypatch.setattr(tasks.lifecycle_step_task, "apply_async", lambda args, **kw: sent.append(("one", *args)))
    body = submit(world, count=3).json()
    with django_capture_on_commit_callbacks(execute=True):
        api(world["approver"]).post(f"/api/v1/provisioning/requests/{body['id']}/approve/", {}, format="json")
    changes = {c.pk: c for c in ChangeRecord.objects.filter(request_id=body["id"])}
    assert len(sent) == 1 and sorted(c for c, _step in sent[0][0]) == sorted(changes)
    steps = sent[0][0]
    # A second delivery of one of them meanwhile recorded its call: the batch leaves it as it is.
    first = next(iter(changes.values()))
    assert lifecycle.lifecycle_run(change_id=first.pk, step=1) is None
    before = len(cloud_instances(control))
    assert lifecycle.lifecycle_run_many(steps=steps) == []  # all wait in the poll round
    assert len(cloud_instances(control)) == before + 2  # the one already called is not asked again
    rows = ChangeRecord.objects.filter(request_id=body["id"]).select_related("operation")
    assert {(c.phase, c.step, c.operation.step) for c in rows} == {("wait", 1, 1)}
    assert len({c.external_id for c in rows}) == 3 and all(c.external_id for c in rows)
    assert [kind for kind, _args, _countdown in scheduled] == ["poll"]  # joined once, not once per change
    run_rounds(world, control, [])
    assert set(Operation.objects.filter(pk__in=[c.operation_id for c in rows]).values_list("status", flat=True)) \
        == {"succeeded"}


def test_only_changes_still_at_the_step_they_were_read_at_are_recorded(world, control):
    at_step, moved_on, done = ChangeRecord.objects.filter(pk__in=[c.pk for c in called(world, 3)]).order_by("pk")
    ChangeRecord.objects.filter(pk=moved_on.pk).update(step=moved_on.step + 1)  # another delivery recorded it
    ChangeRecord.objects.filter(pk=done.pk).update(phase="done")
    with transaction.atomic():
        recorded = lifecycle._still_at([(c.pk, c.step) for c in (at_step, moved_on, done)])
    assert recorded == {at_step.pk}
    with transaction.atomic():
        assert lifecycle._still_at([(at_step.pk, at_step.step + 1)]) == set()


def test_a_change_looked_at_is_looked_at_again_when_the_cloud_is_expected_to_get_there():
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    called_at = datetime(2026, 1, 1, tzinfo=UTC)
    change = SimpleNamespace(operation=SimpleNamespace(started_at=called_at))
    after = lambda seconds: called_at + timedelta(seconds=seconds)  # noqa: E731
    # Nothing learnt: one poll interval after the last look.
    assert lifecycle._next_look(change, after(0.5), 0.5, None) == after(1.0)
    # The cloud took 2.0 s at the quickest: a look at 1.8 s is followed by one at 2.0 s, not 2.3 s.
    assert lifecycle._next_look(change, after(1.8), 0.5, 2.0) == after(2.0)
    # Expected after the next regular look: the regular look.
    assert lifecycle._next_look(change, after(1.0), 0.5, 2.0) == after(1.5)
    # Late by less than an interval (what is learnt is the look before the cloud got there): every quarter
    # interval; later than that, the regular interval again.
    assert lifecycle._next_look(change, after(2.0), 0.5, 2.0) == after(2.125)
    assert lifecycle._next_look(change, after(2.125), 0.5, 2.0) == after(2.25)
    assert lifecycle._next_look(change, after(2.375), 0.5, 2.0) == after(2.5)
    assert lifecycle._next_look(change, after(2.5), 0.5, 2.0) == after(3.0)
    # Not started (no call recorded on its operation): the regular interval.
    assert lifecycle._next_look(SimpleNamespace(operation=SimpleNamespace(started_at=None)), after(1.8), 0.5,
                                2.0) == after(2.3)


def test_what_is_learnt_is_the_look_before_the_cloud_was_seen_there():
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    called_at = datetime(2026, 1, 1, tzinfo=UTC)
    after = lambda seconds: called_at + timedelta(seconds=seconds)  # noqa: E731

    def learnt(polls: int, last_look: float, seen: float) -> float:
        change = SimpleNamespace(operation=SimpleNamespace(started_at=called_at), polls=polls,
                                 heartbeat_at=after(last_look), platform_id="p", resource_type="ecs.instance",
                                 action="create")
        cache.delete(lifecycle._took_key(change))
        lifecycle._learn(change, after(seen))
        return cache.get(lifecycle._took_key(change))[-1]

    # Looked at 1.5 s after its call (not there yet), seen at 2.0 s: the cloud took more than 1.5 s, and up to
    # 2.0 s; the later changes are looked at from 1.5 s on, every quarter interval, not first at 2.0 s.
    assert learnt(polls=3, last_look=1.5, seen=2.0) == 1.5
    # Seen at its first look: nothing before it, the time to that look.
    assert learnt(polls=0, last_look=0.0, seen=0.6) == 0.6


def test_a_round_comes_back_when_a_waiting_change_is_expected_not_a_full_interval_later(world, control, monkeypatch):
    from django.utils import timezone

    change = ChangeRecord.objects.select_related("operation").get(pk=called(world, 1)[0].pk)
    monkeypatch.setenv("UNIMANAGER_PROVISIONING_POLL_SECONDS", "5")
    now = timezone.now()
    # Looked at just now; the cloud took 1 s at the quickest from the call, which was 0.6 s ago.
    ChangeRecord.objects.filter(pk=change.pk).update(polls=1, heartbeat_at=now)
    Operation.objects.filter(pk=change.operation_id).update(started_at=now - timedelta(seconds=0.6))
    cache.set(lifecycle._took_key(change), [1.0, 3.0])
    result = poll(world)
    assert result.looked == 0 and 0.1 < result.delay <= 0.4, result
    time.sleep(result.delay)
    result = poll(world)
    assert result.looked == 1, result


def test_the_next_round_is_scheduled_before_the_looks_at_the_changes_still_waiting_are_recorded(world, control):
    control.post("/config", {"provision_seconds": 30})
    changes = called(world, 3)
    ids = [c.pk for c in changes]
    time.sleep(0.05)
    came_back: list[tuple[float, list[int]]] = []

    def come_back(countdown: float) -> None:
        came_back.append((countdown, list(ChangeRecord.objects.filter(pk__in=ids).values_list("polls", flat=True))))

    result = lifecycle.lifecycle_poll(platform_id=world["platform"].pk, region="cn-hangzhou",
                                      resource_type="ecs.instance", come_back=come_back)
    assert result.looked == 3 and result.scheduled
    assert len(came_back) == 1 and 0 < came_back[0][0] <= 0.1 and came_back[0][1] == [0, 0, 0]
    assert list(ChangeRecord.objects.filter(pk__in=ids).values_list("polls", flat=True)) == [1, 1, 1]
    assert cache.get(lifecycle._poll_key(world["platform"].pk, "cn-hangzhou", "ecs.instance")) == 1
