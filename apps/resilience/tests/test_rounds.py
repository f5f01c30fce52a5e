"""Plans driven by rounds (``batch_round``): one task per round of the running batch reads the batch's
pairs in one call, makes the steps' calls concurrently, and never lets a step act twice, also under
transient errors, lost answers and duplicate round tasks. Real cloudsim; rounds run in this process with
their pool threads on the real database (hence transactional tests)."""

from __future__ import annotations

import time

import pytest

from apps.core.models import Operation
from apps.resilience import plans
from apps.resilience.models import PlanRun, PlanStep, ProtectionGroup
from apps.resilience.tests.conftest import SECONDARY, make_disks, make_group, wait_replicating

pytestmark = pytest.mark.django_db(transaction=True)


def _group(world, count, tiers=1):
    from apps.resilience.models import ProtectedMember

    make_disks(world, count, tags={"app": "shop"})
    group = make_group(world)
    wait_replicating(group)
    for n, member in enumerate(group.members.order_by("id")):
        ProtectedMember.objects.filter(pk=member.pk).update(tier=1 + n % tiers)
    return ProtectionGroup.objects.get(pk=group.pk)


def drive_rounds(run, timeout=60.0):
    """Deliver the run's rounds in this process, as the round task would, until the plan ends."""
    deadline = time.monotonic() + timeout
    rounds = 0
    while time.monotonic() < deadline:
        current = PlanRun.objects.get(pk=run.pk)
        if current.status in PlanRun.FINAL:
            return current, rounds
        more, delay, _next = plans.batch_round(run_id=run.pk, tick=current.tick + 1)
        rounds += 1
        time.sleep(min(delay, 0.05) if more else 0.01)
    raise TimeoutError(f"plan {run.pk} did not end")


def _since(world):
    return world["control"].get("/calls")["last_seq"]


def test_a_failover_in_rounds_reads_each_batch_pairs_together_and_fails_each_pair_over_once(world):
    group = _group(world, 6, tiers=3)
    since = _since(world)
    run, rounds = drive_rounds(plans.plan_start(actor=world["operator"], group=group, kind="failover"))
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    pairs = world["control"].get("/replication")["pairs"]
    assert {p["status"] for p in pairs} == {"failovered"} and len(pairs) == 6
    failovers = world["control"].get(f"/calls?action=FailoverDiskReplicaPair&since={since}")["calls"]
    assert sorted(i for c in failovers for i in c["ids"] if i.startswith("pair")) == sorted(p["pair_id"] for p in pairs)
    # The pairs were read per batch (two a batch), never one by one before acting.
    reads = world["control"].get(f"/calls?action=DescribeDiskReplicaPairs&since={since}")["calls"]
    assert reads and all(len([i for i in c["ids"] if i.startswith("pair")]) != 1 for c in reads), reads
    ordered = list(run.steps.filter(action="pair_failover").order_by("batch"))
    assert [s.batch for s in ordered] == [1, 1, 2, 2, 3, 3]
    # Each step's operation ended with it (written with the round's others).
    ops = Operation.objects.filter(pk__in=[s.operation_id for s in run.steps.all()])
    assert ops.count() == run.steps.count() and set(ops.values_list("status", flat=True)) == {"succeeded"}
    assert all(op.finished_at and op.progress == 100 for op in ops)
    assert all(a.finished_at <= b.started_at for a, b in zip(ordered, ordered[2:], strict=False))


def test_a_failover_in_rounds_under_transient_errors_and_lost_answers_makes_one_copy_of_each_disk(world):
    group = _group(world, 10)
    world["control"].post("/faults", {"action": "*", "error_rate": 0.1, "lost_rate": 0.01})
    try:
        run, _rounds = drive_rounds(plans.plan_start(actor=world["operator"], group=group, kind="failover"),
                                    timeout=120)
    finally:
        world["control"].call("DELETE", "/faults")
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    pairs = world["control"].get("/replication")["pairs"]
    assert {p["status"] for p in pairs} == {"failovered"}
    disks = world["control"].get(f"/resources?type=disk&region_id={SECONDARY}")["resources"]
    assert sorted(d["DiskId"] for d in disks) == sorted(p["dest_disk_id"] for p in pairs)
    assert {s.status for s in run.steps.filter(action="pair_failover")} == {"succeeded"}


def test_a_round_delivered_twice_does_nothing_the_second_time(world):
    group = _group(world, 2)
    run = plans.plan_start(actor=world["operator"], group=group, kind="failover")
    tick = PlanRun.objects.get(pk=run.pk).tick
    first = plans.batch_round(run_id=run.pk, tick=tick + 1)
    assert first[0] and first[2] == tick + 2
    since = _since(world)
    steps = {s.pk: (s.tick, s.phase) for s in PlanStep.objects.filter(run=run)}
    assert plans.batch_round(run_id=run.pk, tick=tick + 1) == (False, 0.0, tick + 1)
    assert world["control"].get(f"/calls?since={since}")["count"] == 0
    assert {s.pk: (s.tick, s.phase) for s in PlanStep.objects.filter(run=run)} == steps
    run, _rounds = drive_rounds(run)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    assert world["control"].get("/calls?action=FailoverDiskReplicaPair")["count"] == 2


def test_a_step_driven_by_a_round_and_by_a_resumed_task_at_once_fails_its_pair_over_once(world):
    group = _group(world, 1)
    run = plans.plan_start(actor=world["operator"], group=group, kind="failover")
    step = run.steps.get(action="pair_failover")
    tick = PlanStep.objects.get(pk=step.pk).tick
    # The reconciler resumed the step while a round was on its way: both deliver the same tick.
    plans.step_run(step_id=step.pk, tick=tick + 1)
    run, _rounds = drive_rounds(run)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    applied = [c for c in world["control"].get("/calls?action=FailoverDiskReplicaPair")["calls"]
               if c["outcome"] == "ok"]
    assert len(applied) == 1
    assert PlanStep.objects.get(pk=step.pk).status == PlanStep.Status.SUCCEEDED


def test_a_drill_in_rounds_leaves_production_untouched_and_nothing_behind(world):
    group = _group(world, 4)
    production = [m.external_id for m in group.members.all()]
    since = _since(world)
    run, _rounds = drive_rounds(plans.plan_start(actor=world["operator"], group=group, kind="drill"))
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    writes = world["control"].get(f"/calls?kind=write&since={since}")["calls"]
    assert [c for c in writes if set(c["ids"]) & set(production)] == []
    assert run.leftovers == [] and plans.leftovers(group, run.id) == []
    assert len({s.result["drill_id"] for s in run.steps.filter(action="drill_copy")}) == 4


def test_a_failover_then_a_failback_in_rounds_moves_only_the_changed_data_back(world):
    group = _group(world, 2)
    run, _rounds = drive_rounds(plans.plan_start(actor=world["operator"], group=group, kind="failover"))
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    truth = {p["pair_id"]: p for p in world["control"].get("/replication")["pairs"]}
    member = group.members.order_by("id").first()
    world["control"].post("/disks/write", {"disk_id": truth[member.replica_id]["dest_disk_id"], "bytes": 1024 * 1024})
    group.refresh_from_db()
    back, _rounds = drive_rounds(plans.plan_start(actor=world["operator"], group=group, kind="failback"), timeout=90)
    assert back.status == PlanRun.Status.SUCCEEDED, back.error
    after = {p["pair_id"]: p for p in world["control"].get("/replication")["pairs"]}
    assert after[member.replica_id]["bytes_moved"] - truth[member.replica_id]["bytes_moved"] == 1024 * 1024
    assert {p["direction"] for p in after.values()} == {"forward"}
    group.refresh_from_db()
    assert group.state == "protected"


def test_the_reconciler_resumes_the_steps_and_the_rounds_of_a_run_whose_round_was_lost(world):
    group = _group(world, 2)
    run = plans.plan_start(actor=world["operator"], group=group, kind="failover")
    # The round task was lost with its worker: nothing drives the batch and its steps' heartbeats age.
    PlanStep.objects.filter(run=run, status=PlanStep.Status.RUNNING).update(heartbeat_at="2000-01-01T00:00:00Z")
    steps, rounds = [], []
    original = plans._queue, plans._queue_round
    plans._queue = lambda step_id, tick, countdown=0.0: steps.append((step_id, tick))
    plans._queue_round = lambda run_id, tick, countdown=0.0: rounds.append((run_id, tick))
    try:
        assert plans.reconcile(stale_after=30)["resumed"] == 2
    finally:
        plans._queue, plans._queue_round = original
    tick = PlanRun.objects.get(pk=run.pk).tick
    assert rounds == [(run.pk, tick + 1)] and len(steps) == 2
    # The resumed round and the resumed steps together fail each pair over once.
    for step_id, step_tick in steps:
        plans.step_run(step_id=step_id, tick=step_tick)
    run, _rounds = drive_rounds(run)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    calls = world["control"].get("/calls?action=FailoverDiskReplicaPair")["calls"]
    assert len([c for c in calls if c["outcome"] == "ok"]) == 2
