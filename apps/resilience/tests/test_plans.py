"""Recovery plans against cloudsim: dry run, drill (isolated, production untouched, evidence, cleanup
that resumes after a killed worker, no leftovers), failover under faults (each pair failed over exactly
once), failback moving only the data changed since the failover, and the 409s of the state machine."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.errors import Conflict, Forbidden, InvalidInput
from apps.core.models import Operation
from apps.resilience import plans
from apps.resilience.models import PlanRun, PlanStep, ProtectionGroup
from apps.resilience.statemachine import ALLOWED, KINDS
from apps.resilience.tests.conftest import SECONDARY, drive, make_disks, make_group, wait_replicating

pytestmark = pytest.mark.django_db(transaction=False)
MIB = 1024 * 1024


def _group(world, count=2, **kw):
    make_disks(world, count, tags={"app": "shop"})
    group = make_group(world, **kw)
    wait_replicating(group)
    return ProtectionGroup.objects.get(pk=group.pk)


def _writes_on(control, ids, since):
    calls = control.get(f"/calls?kind=write&since={since}")["calls"]
    return [c for c in calls if set(c["ids"]) & set(ids)]


def test_dry_run_lists_every_cloud_call_and_changes_nothing(world):
    group = _group(world, 2)
    since = world["control"].get("/calls")["last_seq"]
    result = plans.plan_dry_run(actor=world["operator"], group=group, kind="drill")
    assert [s["action"] for s in result["steps"]] == ["network_create", "drill_copy", "drill_copy", "evidence",
                                                      "drill_clear", "drill_clear", "network_delete", "leftovers"]
    calls = [c["call"] for s in result["steps"] for c in s["calls"]]
    assert calls.count("ebs.StartPairDrill") == 2 and calls.count("ebs.ClearPairDrill") == 2
    assert "vpc.CreateVpc" in calls and "vpc.DeleteVpc" in calls
    assert result["writes_on_production"] == 0
    assert not PlanRun.objects.exists()
    assert world["control"].get(f"/calls?kind=write&since={since}")["count"] == 0


def test_drill_of_a_20_disk_group_writes_nothing_on_production_and_leaves_nothing(world):
    group = _group(world, 20)
    members = list(group.members.all())
    production = [m.external_id for m in members]
    before = {p["pair_id"]: (p["status"], p["direction"]) for p in world["control"].get("/replication")["pairs"]}
    since = world["control"].get("/calls")["last_seq"]
    run = drive(plans.plan_start(actor=world["operator"], group=group, kind="drill"), timeout=120)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    assert _writes_on(world["control"], production, since) == []
    after = {p["pair_id"]: (p["status"], p["direction"]) for p in world["control"].get("/replication")["pairs"]}
    assert after == before
    assert run.leftovers == [] and plans.leftovers(group, run.id) == []
    copies = list(run.steps.filter(action="drill_copy"))
    assert len(copies) == 20 and all(s.result["disk_id"] for s in copies)
    network = run.steps.get(action="network_create").result
    vpcs = world["control"].get(f"/resources?type=vpc&region_id={SECONDARY}")["resources"]
    assert network["vpc_id"] and network["vpc_id"] not in {v.get("VpcId") for v in vpcs}
    assert run.measured_rpo_seconds is not None and run.measured_rto_seconds > 0
    assert run.evidence["copies"] == 20 and "rpo_met" in run.evidence
    group.refresh_from_db()
    assert group.state == "protected"


def test_drill_cleanup_resumes_after_a_killed_worker(world):
    group = _group(world, 2)
    run = plans.plan_start(actor=world["operator"], group=group, kind="drill")
    drive(run, until=lambda r: r.steps.filter(action="drill_clear", status=PlanStep.Status.RUNNING).exists())
    step = run.steps.filter(action="drill_clear", status=PlanStep.Status.RUNNING).first()
    # The worker made the cloud call, then died before recording it.
    ctx = plans.Ctx(run=PlanRun.objects.get(pk=run.pk), group=group, step=step)
    plans.ACTIONS["drill_clear"].act(ctx)
    PlanStep.objects.filter(pk=step.pk).update(heartbeat_at="2000-01-01T00:00:00Z")
    queued = []
    original = plans._queue
    plans._queue = lambda step_id, tick, countdown=0.0: queued.append((step_id, tick))
    try:
        assert plans.reconcile(stale_after=30)["resumed"] == 1
    finally:
        plans._queue = original
    assert queued == [(step.id, step.tick + 1)]
    run = drive(run)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    assert run.leftovers == [] and plans.leftovers(group, run.id) == []
    assert Operation.objects.get(pk=PlanStep.objects.get(pk=step.pk).operation_id).status == "succeeded"


def test_a_failed_drill_still_cleans_up_and_reports_no_leftovers(world):
    group = _group(world, 2)
    pair = group.members.first().replica_id
    world["control"].post("/faults", {"action": "StartPairDrill", "error_rate": 1.0, "code": "Forbidden.Drill",
                                      "status": 403, "remaining": 1})
    run = drive(plans.plan_start(actor=world["operator"], group=group, kind="drill"))
    assert run.status == PlanRun.Status.FAILED
    assert run.steps.filter(status=PlanStep.Status.FAILED).count() == 1
    assert run.steps.get(action="evidence").status == PlanStep.Status.SKIPPED
    assert all(s.status == PlanStep.Status.SUCCEEDED for s in run.steps.filter(kind=PlanStep.Kind.CLEANUP))
    assert plans.leftovers(group, run.id) == []
    assert world["control"].get(f"/replication?pair_id={pair}")["pairs"][0]["drills"] == []


def test_failover_under_transient_errors_and_lost_answers_fails_each_pair_over_exactly_once(world):
    group = _group(world, 10)
    world["control"].post("/faults", {"action": "*", "error_rate": 0.1, "lost_rate": 0.01})
    try:
        run = drive(plans.plan_start(actor=world["operator"], group=group, kind="failover"), timeout=120)
    finally:
        world["control"].call("DELETE", "/faults")
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    pairs = world["control"].get("/replication")["pairs"]
    assert {p["status"] for p in pairs} == {"failovered"} and len(pairs) == 10
    # One copy of each disk at the secondary: its pair's secondary disk, no other.
    disks = world["control"].get(f"/resources?type=disk&region_id={SECONDARY}")["resources"]
    assert sorted(d["DiskId"] for d in disks) == sorted(p["dest_disk_id"] for p in pairs)
    switches = run.steps.filter(action="pair_failover")
    assert switches.count() == 10 and {s.status for s in switches} == {"succeeded"}
    assert world["control"].get("/calls?action=FailoverDiskReplicaPair")["count"] >= 10
    group.refresh_from_db()
    assert group.state == "failed_over"


def test_failback_moves_only_the_data_written_since_the_failover(world):
    group = _group(world, 2)
    run = drive(plans.plan_start(actor=world["operator"], group=group, kind="failover"))
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    truth = {p["pair_id"]: p for p in world["control"].get("/replication")["pairs"]}
    member = group.members.first()
    world["control"].post("/disks/write", {"disk_id": truth[member.replica_id]["dest_disk_id"], "bytes": 5 * MIB})
    group.refresh_from_db()
    back = drive(plans.plan_start(actor=world["operator"], group=group, kind="failback"), timeout=90)
    assert back.status == PlanRun.Status.SUCCEEDED, back.error
    after = {p["pair_id"]: p for p in world["control"].get("/replication")["pairs"]}
    assert after[member.replica_id]["bytes_moved"] - truth[member.replica_id]["bytes_moved"] == 5 * MIB
    other = group.members.exclude(pk=member.pk).get()
    assert after[other.replica_id]["bytes_moved"] == truth[other.replica_id]["bytes_moved"]
    assert {p["direction"] for p in after.values()} == {"forward"}
    assert {p["status"] for p in after.values()} <= {"normal", "syncing"}
    group.refresh_from_db()
    assert group.state == "protected"


def test_switchover_ends_with_rpo_zero_at_the_switch(world):
    group = _group(world, 2)
    world["control"].post("/replication", {"lag_seconds": 2})
    run = drive(plans.plan_start(actor=world["operator"], group=group, kind="switchover"), timeout=60)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    for wait in run.steps.filter(action="wait_rpo_zero"):
        switch = run.steps.get(action="pair_failover", member=wait.member)
        assert switch.result["recovery_point"] >= wait.result["since"][:19]
    group.refresh_from_db()
    assert group.state == "switched_over"


def test_one_plan_runs_per_group(world):
    group = _group(world, 1)
    plans.plan_start(actor=world["operator"], group=group, kind="drill")
    with pytest.raises(Conflict) as exc:
        plans.plan_start(actor=world["operator"], group=group, kind="failover")
    assert exc.value.code == "plan_running"
    assert PlanRun.objects.count() == 1


def test_plans_need_the_run_permission_and_valid_options(world):
    group = _group(world, 1)
    with pytest.raises(Forbidden):
        plans.plan_start(actor=world["viewer"], group=group, kind="drill")
    with pytest.raises(InvalidInput) as exc:
        plans.plan_start(actor=world["operator"], group=group, kind="drill", options={"recovery_point": "x"})
    assert "recovery_point" in exc.value.detail
    with pytest.raises(InvalidInput):
        plans.plan_start(actor=world["operator"], group=group, kind="drill", options={"timeout_seconds": 1})
    with pytest.raises(InvalidInput):
        plans.plan_start(actor=world["operator"], group=group, kind="teleport")
    assert not PlanRun.objects.exists()


def test_approval_step_waits_for_a_person(world):
    group = _group(world, 1)
    run = drive(plans.plan_start(actor=world["operator"], group=group, kind="drill", options={"approval": True}))
    assert run.status == PlanRun.Status.WAITING
    step = run.steps.get(action="approval")
    with pytest.raises(Forbidden):
        plans.step_approve(actor=world["viewer"], step=step)
    plans.step_approve(actor=world["operator"], step=step)
    assert drive(run).status == PlanRun.Status.SUCCEEDED


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.sampled_from(("start", "succeed", "fail")), st.sampled_from(KINDS)),
                      min_size=1, max_size=12))
def test_a_plan_the_state_or_a_running_plan_does_not_allow_is_409(db_world, moves):
    world, group = db_world
    PlanRun.objects.filter(group=group).delete()
    ProtectionGroup.objects.filter(pk=group.pk).update(state="protected")
    state, running = "protected", None
    for move, kind in moves:
        group.refresh_from_db()
        if move == "start":
            expected_ok = running is None and kind in ALLOWED[state]
            try:
                run = plans.plan_start(actor=world["operator"], group=group, kind=kind)
            except Conflict:
                assert not expected_ok
                continue
            assert expected_ok
            running = run
        elif running is not None:
            ok = move == "succeed"
            PlanRun.objects.filter(pk=running.pk).update(status="succeeded" if ok else "failed")
            if ok and running.kind != "drill":
                state = {"switchover": "switched_over", "failover": "failed_over"}.get(running.kind, "protected")
                ProtectionGroup.objects.filter(pk=group.pk).update(state=state)
            running = None


@pytest.fixture
def db_world(world):
    """A group with one disk member (no cloud call is made: plans are only started)."""
    from apps.resilience.models import ProtectedMember

    disk = make_disks(world, 1, tags={"app": "prop"})[0]
    group = ProtectionGroup.objects.create(
        organization=world["hq"], name="prop", selection="explicit", primary_platform=world["platform"],
        primary_region="cn-hangzhou", secondary_platform=world["platform"], secondary_region=SECONDARY)
    ProtectedMember.objects.create(organization=world["hq"], group=group, resource=disk, resource_type="ecs.disk",
                                   external_id=disk.external_id, channel="disk_pair", replica_id="pair-prop")
    return world, group


def test_failover_switches_members_tier_by_tier_in_ordered_batches(world):
    from apps.resilience import services

    group = _group(world, 3)
    for tier, member in enumerate(group.members.order_by("id"), start=1):
        services.member_set_tier(actor=world["operator"], member=member, tier=tier)
    with pytest.raises(InvalidInput):
        services.member_set_tier(actor=world["operator"], member=group.members.first(), tier=0)
    dry = plans.plan_dry_run(actor=world["operator"], group=group, kind="failover")
    switches = [(s["batch"], s["member"]) for s in dry["steps"] if s["action"] == "pair_failover"]
    assert switches == [(n, m.id) for n, m in enumerate(group.members.order_by("tier"), start=1)]
    run = drive(plans.plan_start(actor=world["operator"], group=group, kind="failover"))
    ordered = list(run.steps.filter(action="pair_failover").order_by("batch"))
    assert all(a.finished_at <= b.started_at for a, b in zip(ordered, ordered[1:], strict=False))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=10**6))
def test_switchover_never_leaves_two_writable_sides_whatever_the_interleaving(world, seed):
    """Writable sides: the primary while any of its instances runs, the secondary once any pair is failed
    over. Over random orders of step and lifecycle deliveries, never both; the switch happens at RPO 0."""
    import random

    from apps.provisioning.models import ChangeRecord
    from apps.resilience.tests.conftest import adapter, make_instances
    from apps.resources.models import Resource

    rng = random.Random(seed)
    world["control"].post("/reset")
    world["control"].post("/config", {"provision_seconds": 0})
    world["control"].post("/replication", {"lag_seconds": 1})
    PlanRun.objects.all().delete()
    ProtectionGroup.objects.all().delete()
    ChangeRecord.objects.all().delete()
    Resource.objects.all().delete()
    make_instances(world, 2, tags={"app": "shop"})
    group = _group(world, 2)
    a = adapter(world)
    instances = [m.external_id for m in group.members.filter(resource_type="ecs.instance")]
    seen = []

    def check() -> None:
        primary = any(a.get_resource("ecs.instance", "cn-hangzhou", i).status == "running" for i in instances)
        secondary = any(p["status"] in ("failovering", "failovered")
                        for p in world["control"].get("/replication")["pairs"])
        seen.append((primary, secondary))
        assert not (primary and secondary), seen

    run = drive(plans.plan_start(actor=world["operator"], group=group, kind="switchover"), timeout=120,
                order=lambda work: rng.sample(work, len(work)), after_each=check)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    assert (True, False) in seen and seen[-1] == (False, True)
    for wait in run.steps.filter(action="wait_rpo_zero"):
        switch = run.steps.get(action="pair_failover", member=wait.member)
        assert switch.result["recovery_point"] >= wait.result["since"][:19]


def test_a_drill_start_whose_answer_is_lost_makes_one_drill_disk(world):
    group = _group(world, 2)
    world["control"].post("/faults", {"action": "StartPairDrill", "lost_rate": 1.0, "remaining": 2})
    run = drive(plans.plan_start(actor=world["operator"], group=group, kind="drill"))
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    # Without the step's client token the repeated start would meet the first drill (DrillExists) and fail.
    lost = [c for c in world["control"].get("/calls?action=StartPairDrill")["calls"] if c["outcome"] == "lost"]
    assert len(lost) == 2
    assert len({s.result["drill_id"] for s in run.steps.filter(action="drill_copy")}) == 2
    assert plans.leftovers(group, run.id) == []


def test_a_drill_whose_start_never_answered_is_still_cleared_by_the_cleanup(world):
    group = _group(world, 2)
    pairs = [m.replica_id for m in group.members.all()]
    # Every answer to a drill start is lost: the drills are made, the steps never learn their ids.
    world["control"].post("/faults", {"action": "StartPairDrill", "lost_rate": 1.0, "remaining": 1000})
    try:
        run = drive(plans.plan_start(actor=world["operator"], group=group, kind="drill"), timeout=120)
    finally:
        world["control"].call("DELETE", "/faults")
    copies = list(run.steps.filter(action="drill_copy"))
    assert {s.status for s in copies} == {PlanStep.Status.FAILED} and not any(s.result.get("drill_id") for s in copies)
    made = [c for c in world["control"].get("/calls?action=StartPairDrill")["calls"] if c["outcome"] == "lost"]
    assert made
    clears = list(run.steps.filter(action="drill_clear"))
    assert {s.status for s in clears} == {PlanStep.Status.SUCCEEDED} and all(s.result["cleared"] for s in clears)
    for pair in pairs:
        assert world["control"].get(f"/replication?pair_id={pair}")["pairs"][0]["drills"] == []
    assert run.leftovers == [] and plans.leftovers(group, run.id) == []


def test_a_drill_left_on_a_pair_shows_in_the_leftovers_and_the_evidence(world):
    from apps.clouds.adapters import apsara_dr
    from apps.resilience.tests.conftest import adapter

    group = _group(world, 2)
    member = group.members.order_by("id").first()
    run = plans.plan_start(actor=world["operator"], group=group, kind="drill")
    drive(run, until=lambda r: r.steps.filter(action="leftovers", status=PlanStep.Status.RUNNING).exists())
    # Someone starts a drill on a pair outside the plan before the leftover check.
    stray = apsara_dr.pair_drill_start(adapter(world), "cn-hangzhou", member.replica_id)
    run = drive(run)
    assert run.status == PlanRun.Status.FAILED
    assert {"type": "ebs.pair_drill", "id": stray} == {k: v for k, v in run.leftovers[0].items() if k != "name"}
    assert run.evidence["leftovers"] == 1
    assert run.steps.get(action="leftovers").status == PlanStep.Status.FAILED


def test_a_start_someone_else_has_under_way_is_waited_for_not_refused(world):
    """Failback starts the primary's instances; one that another start (the cloud's own console, an
    operator) is already moving is waited for until it runs, with no second start sent."""
    from apps.resilience.tests.conftest import adapter, make_instances
    from apps.resources.models import Resource
    from apps.resources.services import resource_refresh

    make_instances(world, 2, tags={"app": "shop"})
    group = _group(world, 2)
    failover = drive(plans.plan_start(actor=world["operator"], group=group, kind="failover"), timeout=120)
    assert failover.status == PlanRun.Status.SUCCEEDED, failover.error
    a = adapter(world)
    busy, other = [m.external_id for m in group.members.filter(resource_type="ecs.instance").order_by("id")]
    for instance in (busy, other):  # the primary site went down with its instances
        a.stop("ecs.instance", "cn-hangzhou", instance)
        resource_refresh(platform=world["platform"], resource_type="ecs.instance", region="cn-hangzhou",
                         external_id=instance, adapter=a)
    assert set(Resource.objects.filter(external_id__in=[busy, other]).values_list("status", flat=True)) == {"stopped"}
    world["control"].post("/config", {"provision_seconds": 1})
    a.start("ecs.instance", "cn-hangzhou", busy)
    resource_refresh(platform=world["platform"], resource_type="ecs.instance", region="cn-hangzhou",
                     external_id=busy, adapter=a)
    assert Resource.objects.get(external_id=busy).status == "starting"
    world["control"].post("/config", {"provision_seconds": 0})
    since = world["control"].get("/calls")["last_seq"]
    run = drive(plans.plan_start(actor=world["operator"], group=ProtectionGroup.objects.get(pk=group.pk),
                                 kind="failback"), timeout=120)
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    starts = [c for c in world["control"].get(f"/calls?kind=write&since={since}")["calls"]
              if c["action"] == "StartInstance"]
    assert [c["ids"] for c in starts] == [[other]]  # the busy one was not started twice
    step = run.steps.get(action="instance_start", member__external_id=busy)
    assert (step.status, step.result) == (PlanStep.Status.SUCCEEDED, {"awaiting": "running"})
    assert step.operation.message == "Already on its way: running"
    assert Resource.objects.get(external_id=busy).status == "running"


def test_a_start_finding_the_instance_being_stopped_waits_for_the_stop_then_starts_it(world):
    """Failback starts the primary's instances; one that another change is stopping (the cloud's own
    console) is left to stop, then started: one StartInstance for it, after its stop landed."""
    from apps.resilience.tests.conftest import adapter, make_instances
    from apps.resources.models import Resource
    from apps.resources.services import resource_refresh

    make_instances(world, 2, tags={"app": "shop"})
    group = _group(world, 2)
    failover = drive(plans.plan_start(actor=world["operator"], group=group, kind="failover"), timeout=120)
    assert failover.status == PlanRun.Status.SUCCEEDED, failover.error
    a = adapter(world)
    stopping, other = [m.external_id for m in group.members.filter(resource_type="ecs.instance").order_by("id")]

    def refresh(instance):
        resource_refresh(platform=world["platform"], resource_type="ecs.instance", region="cn-hangzhou",
                         external_id=instance, adapter=a)

    a.stop("ecs.instance", "cn-hangzhou", other)
    refresh(other)
    world["control"].post("/config", {"provision_seconds": 1})
    assert Resource.objects.get(external_id=stopping).status == "running"
    a.stop("ecs.instance", "cn-hangzhou", stopping)
    refresh(stopping)
    assert Resource.objects.get(external_id=stopping).status == "stopping"
    since = world["control"].get("/calls")["last_seq"]
    run = drive(plans.plan_start(actor=world["operator"], group=ProtectionGroup.objects.get(pk=group.pk),
                                 kind="failback"), timeout=120)
    world["control"].post("/config", {"provision_seconds": 0})
    assert run.status == PlanRun.Status.SUCCEEDED, run.error
    starts = [c["ids"] for c in world["control"].get(f"/calls?kind=write&since={since}")["calls"]
              if c["action"] == "StartInstance"]
    assert sorted(starts) == sorted([[other], [stopping]])
    step = run.steps.get(action="instance_start", member__external_id=stopping)
    assert step.status == PlanStep.Status.SUCCEEDED and "awaiting" not in step.result and step.result["change"]
    assert step.operation.message == "Started"
    assert Resource.objects.get(external_id=stopping).status == "running"
