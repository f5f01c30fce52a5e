"""A sync's steps, one by one: what each step returns to the worker that runs it (another step, its pause,
its number), how a transient cloud error is retried with a growing pause and a permanent one ends the run,
the progress each step reports, what the last step says and announces, a step delivered late (another
delivery did it first) changing nothing, and two platforms over the same cloud account each collecting
the whole of it."""

from __future__ import annotations

import types
import uuid

import pytest

from apps.clouds.models import CloudPlatform
from apps.clouds.simulated import seed_resources
from apps.core.models import Operation
from apps.resources import services
from apps.resources.models import Resource, SyncPage, SyncRun
from apps.resources.services import MAX_STEP_ATTEMPTS, sync_drive, sync_start, sync_step

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"


def _op(run: SyncRun) -> Operation:
    return Operation.objects.get(pk=run.operation_id)


def _run(run_id: str) -> SyncRun:
    return SyncRun.objects.get(pk=run_id)


def _inventory(platform) -> set[tuple[str, str]]:
    return set(Resource.objects.filter(platform=platform, deleted=False).values_list("type", "external_id"))


@pytest.fixture
def announced(monkeypatch):
    """The operation states announced, in order: (step, progress, message, status)."""
    from apps.core import services as core_services

    seen: list[tuple[int, int, str, str]] = []
    real = core_services.operation_announce

    def record(op):
        seen.append((op.step, op.progress, op.message, op.status))
        real(op)

    monkeypatch.setattr(core_services, "operation_announce", record)
    return seen


def test_each_step_returns_the_next_steps_number_and_the_last_returns_none_to_follow(platform, sim, monkeypatch):
    seed_resources(sim.endpoint, instances=1)
    monkeypatch.setattr(services, "STEP_SECONDS", 0.0)  # one page per fetch step
    run = sync_start(actor=None, platform=platform, check=False)
    assert sync_step(run_id=run.id, step=1) == (True, 0.0, 2)  # the plan
    units = len(_run(run.id).units)
    assert units > 1
    for step in range(2, 2 + 10_000):
        current = _run(run.id)
        if current.unit_index >= units:
            break
        assert sync_step(run_id=run.id, step=step) == (True, 0.0, step + 1)
    assert sync_step(run_id=run.id, step=step) == (False, 0.0, step)  # the apply: nothing follows
    done = _run(run.id)
    assert (done.status, done.step) == ("succeeded", step)
    assert sync_step(run_id=run.id, step=step + 1) == (False, 0.0, step + 1)  # a finished run takes no step


def test_a_step_of_a_run_that_does_not_exist_is_refused_quietly():
    assert sync_step(run_id=f"sync-{uuid.uuid4().hex[:12]}", step=1) == (False, 0.0, 1)


def test_a_transient_error_is_retried_with_a_doubling_pause_and_its_message_then_the_run_fails(
        platform, sim, control):
    seed_resources(sim.endpoint, instances=1)
    message = "The region is busy. " * 40  # longer than an operation's message keeps
    control.post("/faults", {"action": "DescribeRegions", "error_rate": 1.0, "code": "ServiceUnavailable",
                             "status": 503, "message": message})
    run = sync_start(actor=None, platform=platform, check=False)
    pauses = []
    for attempt in range(1, MAX_STEP_ATTEMPTS):
        more, pause, step = sync_step(run_id=run.id, step=1)
        assert (more, step) == (True, 1)  # the same step again
        pauses.append(pause)
        assert _run(run.id).attempts == attempt
        op = _op(run)
        assert op.message == f"Retrying after ServiceUnavailable: {message}"[:500] and len(op.message) == 500
    assert pauses == [min(30.0, 0.5 * 2 ** a) for a in range(1, MAX_STEP_ATTEMPTS)] == [1.0, 2.0, 4.0, 8.0]
    assert sync_step(run_id=run.id, step=1) == (False, 0.0, 1)  # the last try ends the run
    failed = _run(run.id)
    assert (failed.status, failed.error) == ("failed", f"ServiceUnavailable: {message}")
    assert (_op(run).status, _op(run).error) == ("failed", f"ServiceUnavailable: {message}")


def test_a_transient_error_that_clears_lets_the_step_go_on_and_counts_its_tries_from_zero_again(
        platform, sim, control):
    seed_resources(sim.endpoint, instances=1)
    run = sync_start(actor=None, platform=platform, check=False)
    control.post("/faults", {"action": "DescribeRegions", "error_rate": 1.0, "code": "ServiceUnavailable",
                             "status": 503})
    assert sync_step(run_id=run.id, step=1) == (True, 1.0, 1)
    control.call("DELETE", "/faults")
    assert sync_step(run_id=run.id, step=1) == (True, 0.0, 2)
    assert (_run(run.id).attempts, _run(run.id).step) == (0, 1)


def test_sync_drive_waits_the_pause_a_retry_asks_for(platform, sim, control, monkeypatch):
    import time as real_time

    seed_resources(sim.endpoint, instances=1)
    slept: list[float] = []

    def sleep(seconds):  # the cloud recovers during the pause
        slept.append(seconds)
        control.call("DELETE", "/faults")

    monkeypatch.setattr(services, "time", types.SimpleNamespace(monotonic=real_time.monotonic, sleep=sleep))
    control.post("/faults", {"action": "DescribeRegions", "error_rate": 1.0, "code": "ServiceUnavailable",
                             "status": 503})
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id)
    assert run.status == "succeeded", run.error
    assert slept == [1.0]  # one retry, one pause; the steps that ask for none are not paused


def test_credentials_this_installation_cannot_read_fail_the_run_with_why(platform):
    CloudPlatform.objects.filter(pk=platform.pk).update(credentials_encrypted="not-sealed-by-this-installation")
    platform.refresh_from_db()
    run = sync_start(actor=None, platform=platform, check=False)
    assert sync_step(run_id=run.id, step=1) == (False, 0.0, 1)
    failed = _run(run.id)
    assert failed.status == "failed"
    assert failed.error == "the stored credentials cannot be decrypted with this installation's keys"
    assert (_op(run).status, _op(run).error) == ("failed", failed.error)


def test_each_fetch_step_reports_its_share_of_the_type_regions_as_progress(platform, sim, monkeypatch, announced):
    seed_resources(sim.endpoint, instances=1)
    monkeypatch.setattr(services, "STEP_SECONDS", 0.0)  # one page per fetch step
    run = sync_start(actor=None, platform=platform, check=False)
    sync_step(run_id=run.id, step=1)
    planned = _run(run.id)
    units = len(planned.units)
    assert _op(run).progress == 5 and _op(run).message.startswith("Found 2 regions; collecting ")
    step, seen = 2, []
    while _run(run.id).unit_index < units:
        sync_step(run_id=run.id, step=step)
        current = _run(run.id)
        assert _op(run).progress == 5 + int(85 * current.unit_index / units)
        assert _op(run).message == f"Collected {current.fetched} resources ({current.unit_index}/{units} type-regions)"
        seen.append(current.unit_index)
        step += 1
    assert seen[-1] == units and len(seen) >= units  # a unit at a time (more pages when a unit has more)
    sync_step(run_id=run.id, step=step)
    # The apply announces itself before the operation ends with its summary.
    assert (step, 99, "Applied", "running") in announced
    assert announced[-1][1:] == (100, _op(run).message, "succeeded")
    assert _op(run).step == step


def test_a_run_of_one_type_region_given_its_units_collects_them_without_planning(platform, sim, people):
    made = seed_resources(sim.endpoint, instances=2)
    op = Operation.objects.create(organization=people["hq"], kind="resources.sync", message="Queued")
    run = SyncRun.objects.create(platform=platform, organization=people["hq"], operation=op, kind="full",
                                 units=[["ecs.instance", REGION]])
    assert sync_step(run_id=run.id, step=1) == (True, 0.0, 2)
    fetched = _run(run.id)
    assert fetched.units == [["ecs.instance", REGION]]  # not planned again
    assert fetched.unit_index == 1 and fetched.fetched == len(made["ecs.instance"])
    assert _op(fetched).progress == 90  # the only unit done
    assert sync_step(run_id=run.id, step=2) == (False, 0.0, 2)
    assert {e for t, e in _inventory(platform)} == set(made["ecs.instance"])


def test_a_run_whose_plan_finds_nothing_to_collect_ends_at_its_apply(platform, sim, people):
    from apps.clouds.models import PlatformService

    seed_resources(sim.endpoint, instances=1)
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "succeeded"
    PlatformService.objects.filter(platform=platform).update(enabled=False)
    again = sync_start(actor=None, platform=platform, check=False)
    assert sync_step(run_id=again.id, step=1) == (True, 0.0, 2)
    assert _run(again.id).units == []
    assert sync_step(run_id=again.id, step=2) == (False, 0.0, 2)
    assert (_run(again.id).status, _run(again.id).deleted) == ("succeeded", 0)  # nothing judged gone


def test_the_last_step_says_how_many_type_regions_were_left_out_and_announces_its_counts(
        platform, sim, control, monkeypatch):
    seed_resources(sim.endpoint, instances=1)
    emitted = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload: emitted.append((org, topic, payload)))
    # Refused once: one region's stacks are left out, the other's are collected.
    control.post("/faults", {"action": "ListStacks", "error_rate": 1.0, "code": "Forbidden.RAM", "status": 403,
                             "message": "Not granted.", "remaining": 1})
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "succeeded" and run.error.count("\n") == 0 and "not collected" in run.error
    counts = {"created": run.created, "updated": run.updated, "deleted": run.deleted, "unchanged": run.unchanged}
    op = _op(run)
    assert op.message == (f"{run.fetched} resources: {run.created} new, 0 changed, 0 gone, 0 unchanged; "
                          f"1 type-region not collected (see the run)")
    assert op.result == {"sync": run.id, **counts}
    finished = [e for e in emitted if e[2].get("event") == "sync_finished"]
    assert finished == [(platform.organization_id, platform.topic, {"event": "sync_finished", "sync": run.id,
                                                                    **counts})]
    # Two left out (both regions): the plural.
    control.post("/faults", {"action": "ListStacks", "error_rate": 1.0, "code": "Forbidden.RAM", "status": 403,
                             "message": "Not granted."})
    again = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert again.status == "succeeded" and again.error.count("\n") == 1
    assert _op(again).message.endswith(" unchanged; 2 type-regions not collected (see the run)")
    assert _op(again).message.count("type-region") == 1


def test_a_step_delivered_again_after_its_run_moved_on_changes_nothing(platform, sim, monkeypatch):
    seed_resources(sim.endpoint, instances=1)
    monkeypatch.setattr(services, "STEP_SECONDS", 0.0)
    run = sync_start(actor=None, platform=platform, check=False)
    stale_plan = _run(run.id)  # as a second delivery of step 1 read it, before the first one finished
    assert sync_step(run_id=run.id, step=1)[0]
    stale_fetch = _run(run.id)  # as a second delivery of step 2 read it
    assert sync_step(run_id=run.id, step=2) == (True, 0.0, 3)
    assert sync_step(run_id=run.id, step=3) == (True, 0.0, 4)
    before = _run(run.id)
    pages = list(SyncPage.objects.filter(run_id=run.id).order_by("seq").values_list("seq", "resource_type",
                                                                                     "region"))
    op_before = _op(run)
    services._step_plan(stale_plan, 1)
    services._step_fetch(stale_fetch, 2)
    services._step_apply(stale_fetch, 3)  # an apply delivered for a step the run has done: not applied
    after = _run(run.id)
    assert after.status == "running" and after.finished_at is None
    assert (after.step, after.unit_index, after.pages, after.fetched, after.attempts) == (
        before.step, before.unit_index, before.pages, before.fetched, before.attempts) == (3, 2, 2, after.fetched, 0)
    assert list(SyncPage.objects.filter(run_id=run.id).order_by("seq").values_list(
        "seq", "resource_type", "region")) == pages
    op_after = _op(run)
    assert (op_after.step, op_after.progress, op_after.message) == (op_before.step, op_before.progress,
                                                                    op_before.message)
    services._feed_drop(run.id)
    assert sync_drive(run_id=run.id, sleep=False).status == "succeeded"


def test_a_run_that_failed_meanwhile_takes_no_late_step(platform, sim):
    seed_resources(sim.endpoint, instances=1)
    run = sync_start(actor=None, platform=platform, check=False)
    stale = _run(run.id)
    services._finish_failed(stale, "Stopped.")
    services._step_plan(stale, 1)
    failed = _run(run.id)
    assert (failed.status, failed.step, failed.units, failed.error) == ("failed", 0, [], "Stopped.")


def test_two_platforms_over_the_same_account_each_collect_all_of_it(people, sim, control):
    from apps.clouds.simulated import sim_adapter
    from apps.clouds.tests.factories import platform as make_platform

    seed_resources(sim.endpoint, instances=1)
    first = make_platform(people["hq"], endpoint=sim.endpoint, name="First view")
    second = make_platform(people["hq"], endpoint=sim.endpoint, name="Second view")
    for platform in (first, second):
        assert sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id,
                          sleep=False).status == "succeeded"
    adapter = sim_adapter(sim.endpoint)
    more = {adapter.create("eip.eip", REGION, {"bandwidth_mbps": 5}) for _ in range(2)}
    assert sync_drive(run_id=sync_start(actor=None, platform=first, check=False).id, sleep=False).created >= 2
    # The second platform holds instances already, so its pages are compared with its rows: the first
    # platform's rows of the same instances are not its own.
    again = sync_drive(run_id=sync_start(actor=None, platform=second, check=False).id, sleep=False)
    assert again.created >= 2
    assert _inventory(first) == _inventory(second)
    assert {e for t, e in _inventory(second) if t == "eip.eip"} >= more


class _Feed:
    def __init__(self, run_id: str):
        self.run_id, self.parked_at, self.halted = run_id, 0.0, False

    def halt(self):
        self.halted = True


def test_a_parked_feed_is_kept_for_its_next_step_and_dropped_once_idle_too_long():
    import time

    first, second, third = _Feed("sync-a"), _Feed("sync-b"), _Feed("sync-c")
    try:
        services._feed_park(first)
        services._feed_park(second)
        assert services._feeds.get("sync-a") is first and services._feeds.get("sync-b") is second
        assert not first.halted and first.parked_at <= second.parked_at <= time.monotonic()
        first.parked_at = time.monotonic() - services.FEED_IDLE_SECONDS - 5  # nobody came for it
        services._feed_park(third)
        assert "sync-a" not in services._feeds and first.halted
        assert services._feeds.get("sync-b") is second and not second.halted
        assert services._feeds.get("sync-c") is third
    finally:
        for key in ("sync-a", "sync-b", "sync-c"):
            services._feeds.pop(key, None)


def test_the_plan_covers_the_platforms_own_enabled_regions_once_each(people, sim):
    from apps.clouds.models import Region
    from apps.clouds.tests.factories import platform as make_platform

    seed_resources(sim.endpoint, instances=1)
    first = make_platform(people["hq"], endpoint=sim.endpoint, name="First view")
    second = make_platform(people["hq"], endpoint=sim.endpoint, name="Second view")
    assert sync_drive(run_id=sync_start(actor=None, platform=first, check=False).id, sleep=False).status == "succeeded"
    run = sync_start(actor=None, platform=second, check=False)
    assert sync_step(run_id=run.id, step=1) == (True, 0.0, 2)
    Region.objects.filter(platform=second, region_id="cn-shanghai").update(enabled=False)
    units = _run(run.id).units
    assert {r for _t, r in units} == {"cn-hangzhou", "cn-shanghai"}
    assert len(units) == len({tuple(u) for u in units})  # the first platform's regions are not the second's
    services._feed_drop(run.id)
    assert sync_drive(run_id=run.id, sleep=False).status == "succeeded"
    again = sync_start(actor=None, platform=second, check=False)
    sync_step(run_id=again.id, step=1)
    assert {r for _t, r in _run(again.id).units} == {"cn-hangzhou"}  # a disabled region is not collected
    services._feed_drop(again.id)


def test_a_service_left_out_is_named_with_the_clouds_words_cut_to_1000_characters(platform, sim, control):
    seed_resources(sim.endpoint, instances=1)
    words = "This product is not offered in this region. " * 40
    control.post("/faults", {"action": "ListStacks", "error_rate": 1.0, "code": "Forbidden.RAM", "status": 403,
                             "message": words})
    run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    assert run.status == "succeeded"
    lines = run.error.split("\n")
    assert sorted(line[:len("ros.stack in cn-hangzhou")] for line in lines) == ["ros.stack in cn-hangzhou",
                                                                                 "ros.stack in cn-shanghai"]
    for line in lines:
        region = line.split(" ")[2]
        assert line == f"ros.stack in {region} not collected: Forbidden.RAM: {words}"[:1000]
