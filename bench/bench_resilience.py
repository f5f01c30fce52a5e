"""resilience: failover of 100 and 1,000 replicated disks in 3 ordered tiers, on cloudsim.

A child process per mode and size: embedded (SQLite under a temporary directory, WAL, immediate
transactions) or distributed (PostgreSQL and Redis started for the run). cloudsim runs in a thread, a
platform is registered on it, N disks are made and collected, protected by one group (members in tiers
1, 2 and 3, round robin) and replicating. Then a failover plan is started and driven by 8 worker threads
that take the plan's tasks from an in-process queue with their countdowns, as Celery workers would (the
same task bodies: ``plans.batch_round`` for a batch's rounds, ``plans.step_run`` for a resumed step).
The sample is the RTO: from the start request to the plan's end, every pair failed over, tier after
tier; beside it when each tier ended, the rounds run and the cloud calls made, by action.

The baseline is the critical path of cloudsim's own delays in the same run: a pair takes one
configured step to go failovering -> failovered, and the three tiers switch one after the other, so
no failover can end sooner than three steps (the floor). Goal: at most the floor + 2 s at 100.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from bench.harness import REPO_DIR, Context, Row

TITLE = "failover of N replicated disks in 3 ordered tiers on cloudsim: RTO vs the critical-path floor"
BASELINE = "cloudsim's critical path: 3 tiers x one configured failover step, the floor"
STEP = 1.0
TIERS = 3
WORKERS = 8


def run(ctx: Context) -> list[Row]:
    sizes = (100,) if ctx.quick else (100, 1000)
    ctx.parameters.update({"sizes": list(sizes), "tiers": TIERS, "cloudsim_step_s": STEP, "workers": WORKERS,
                           "floor_s": TIERS * STEP,
                           "database": {"embedded": "SQLite (WAL)", "distributed": "PostgreSQL + Redis"},
                           "tasks": "plan round and step tasks run by in-process worker threads with their "
                                    "countdowns, as Celery workers would"})
    rows = []
    for mode in ctx.modes:
        for count in sizes:
            ctx.log(f"{mode}: failover of {count} disks")
            with tempfile.TemporaryDirectory(prefix="um-bench-dr-") as tmp:
                env = {**os.environ, "UNIMANAGER_DATA_DIR": tmp, "UNIMANAGER_CLOUDSIM": "0",
                       "DJANGO_SETTINGS_MODULE": "unimanager.settings"}
                for key in ("DATABASE_URL", "REDIS_URL"):
                    env.pop(key, None)
                if mode == "distributed":
                    from devtools.services import distributed_services

                    with distributed_services() as (pg, redis):
                        data = _child(ctx, count, {**env, "DATABASE_URL": pg.url, "REDIS_URL": redis.url})
                else:
                    data = _child(ctx, count, env)
            if data is None:
                rows.append(Row(mode, f"failover of {count} disks in {TIERS} tiers", "RTO", "s", None, TIERS * STEP))
                continue
            rows.append(Row(mode, f"failover of {count} disks in {TIERS} tiers", "RTO", "s", data["rto"],
                            data["floor"], delivered=data["failed_over"], expected=count,
                            extra={"status": data["status"], "steps": data["steps"], "setup_s": data["setup_s"],
                                   "task_errors": data["task_errors"], "first_errors": data["first_errors"],
                                   "over_floor_s": round(data["rto"] - data["floor"], 3),
                                   "tiers_done_at_s": data["tiers_done_at_s"], "rounds": data["rounds"],
                                   "cloud_calls": data["cloud_calls"]}))
    return rows


def _child(ctx: Context, count: int, env: dict[str, str]) -> dict | None:
    result = subprocess.run([sys.executable, "-m", "bench.bench_resilience", str(count)], cwd=REPO_DIR,
                            env=env, capture_output=True, text=True, timeout=3600)
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        ctx.log(f"child failed:\n{(result.stdout + result.stderr)[-3000:]}")
        return None
    return json.loads(line[len("RESULT"):])


def child(count: int) -> None:
    """Set the world up and fail it over (runs in its own process, embedded settings)."""
    import faulthandler
    import queue
    import signal
    import threading
    import time

    import django

    faulthandler.register(signal.SIGUSR1)  # a stuck run can be asked where it is

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", "--noinput", verbosity=0)
    from apps.clouds.services import platform_discover_regions
    from apps.clouds.simulated import sim_adapter
    from apps.clouds.tests.factories import platform as make_platform
    from apps.organizations.models import Organization
    from apps.resilience import plans, services
    from apps.resilience.models import PlanRun, ProtectedMember
    from apps.resources.models import Resource
    from apps.resources.services import resource_refresh
    from cloudsim.server import CloudSim

    started = time.monotonic()
    sim = CloudSim(port=0, provision_seconds=0, regions=["cn-hangzhou", "cn-shanghai"]).start()
    org = Organization.objects.create(name="Bench DR")
    platform = make_platform(org, endpoint=sim.endpoint, name="bench cloudsim")
    platform_discover_regions(platform=platform)
    a = sim_adapter(sim.endpoint)
    disks = [a.create("ecs.disk", "cn-hangzhou", {"zone": "cn-hangzhou-a", "size_gib": 20, "name": f"d-{i}"})
             for i in range(count)]
    rows = [resource_refresh(platform=platform, resource_type="ecs.disk", region="cn-hangzhou", external_id=d,
                             adapter=a) for d in disks]
    Resource.objects.filter(pk__in=[r.pk for r in rows]).update(organization=org)
    group = services.group_create(
        actor=None, organization=org, name="bench", selection="explicit",
        resources=list(Resource.objects.filter(pk__in=[r.pk for r in rows])), primary_platform=platform,
        primary_region="cn-hangzhou", primary_zone="cn-hangzhou-a", secondary_platform=platform,
        secondary_region="cn-shanghai", secondary_zone="cn-shanghai-a")
    for n, member in enumerate(group.members.order_by("id")):
        ProtectedMember.objects.filter(pk=member.pk).update(tier=1 + n % TIERS)
    services.group_setup(group_id=group.id)
    while True:
        polled = services.group_poll(group=group)
        if polled.rpo_seconds is not None:
            break
        time.sleep(0.2)
    setup = time.monotonic() - started
    sim.store.provision_seconds = STEP

    tasks: queue.PriorityQueue = queue.PriorityQueue()
    rounds = [0]
    order = iter(range(10**9))

    def enqueue(kind: str, key: str, tick: int, countdown: float = 0.0) -> None:
        tasks.put((time.monotonic() + countdown, next(order), kind, key, tick))

    def queue_after_commit(kind: str):
        # As the real _queue and _queue_round: the task is sent once the transaction that made it
        # runnable commits.
        def send(key: str, tick: int, countdown: float = 0.0) -> None:
            transaction.on_commit(lambda: enqueue(kind, key, tick, countdown))
        return send

    plans._queue = queue_after_commit("step")  # type: ignore[assignment]
    plans._queue_round = queue_after_commit("round")  # type: ignore[assignment]
    stop = threading.Event()
    errors: list[str] = []

    profile_path = os.environ.get("UNIMANAGER_BENCH_PROFILE")  # opt-in: where the worker threads spend time
    profiles: list = []
    if profile_path:
        import cProfile

        plain_in_thread = plans._in_thread

        def profiled_in_thread(*args, **kwargs):
            profiler = cProfile.Profile()
            profiler.enable()
            try:
                return plain_in_thread(*args, **kwargs)
            finally:
                profiler.disable()
                profiles.append(profiler)

        plans._in_thread = profiled_in_thread  # type: ignore[assignment]

    def worker() -> None:
        if profile_path:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        try:
            work()
        finally:
            if profile_path:
                profiler.disable()
                profiles.append(profiler)

    def work() -> None:
        while not stop.is_set():
            try:
                due, _n, kind, key, tick = tasks.get(timeout=0.1)
            except queue.Empty:
                continue
            wait = due - time.monotonic()
            if wait > 0:
                if wait > 0.05:
                    tasks.put((due, _n, kind, key, tick))
                    time.sleep(0.02)
                    continue
                time.sleep(wait)
            try:
                if kind == "round":
                    rounds[0] += 1
                    more, delay, next_tick = plans.batch_round(run_id=key, tick=tick)
                else:
                    more, delay, next_tick = plans.step_run(step_id=key, tick=tick)
            except Exception as exc:  # noqa: BLE001 - a task that raised is delivered again, as the reconciler would
                errors.append(repr(exc)[:200])
                more, delay, next_tick = True, 0.5, tick
            if more:
                enqueue(kind, key, next_tick, delay)
        connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    calls_before = sim.store.call_seq
    t0 = time.monotonic()
    run = plans.plan_start(actor=None, group=group, kind="failover")
    while True:
        current = PlanRun.objects.get(pk=run.pk)
        if current.status in PlanRun.FINAL:
            break
        time.sleep(0.05)
    rto = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join(timeout=5)
    if profile_path and profiles:
        import pstats

        stats = pstats.Stats(profiles[0])
        for extra in profiles[1:]:
            stats.add(extra)
        stats.dump_stats(profile_path)
    failed_over = sum(1 for p in sim.store.rows("replica_pair") if p["Status"] == "failovered")
    calls: dict[str, int] = {}
    for entry in sim.store.calls_for(since=calls_before):
        calls[entry["action"]] = calls.get(entry["action"], 0) + 1
    started_at = current.started_at
    tiers_done = [round((max(s.finished_at for s in current.steps.filter(batch=b)) - started_at).total_seconds(), 3)
                  for b in range(1, current.batches + 1)]
    print("RESULT" + json.dumps({"rto": rto, "floor": TIERS * STEP, "status": current.status,
                                 "failed_over": failed_over, "steps": current.steps.count(), "setup_s": setup,
                                 "task_errors": len(errors), "first_errors": errors[:3],
                                 "tiers_done_at_s": tiers_done, "rounds": rounds[0], "cloud_calls": calls}))
    sim.stop()


if __name__ == "__main__":
    child(int(sys.argv[1]))
