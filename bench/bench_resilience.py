"""resilience: failover of 100 and 1,000 replicated disks in 3 ordered tiers, on cloudsim.

Embedded deployment in a child process (SQLite under a temporary directory, WAL, immediate
transactions): cloudsim runs in a thread, a platform is registered on it, N disks are made and
collected, protected by one group (members in tiers 1, 2 and 3, round robin) and replicating. Then a
failover plan is started and driven by 8 worker threads that take the plan's step tasks from an
in-process queue with their countdowns, as Celery workers would (the same ``plan_step_task`` bodies:
``plans.step_run``). The sample is the RTO: from the start request to the plan's end, every pair
failed over, tier after tier.

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

TITLE = "failover of N replicated disks in 3 ordered tiers on cloudsim (embedded): RTO vs the critical-path floor"
BASELINE = "cloudsim's critical path: 3 tiers x one configured failover step, the floor"
STEP = 1.0
TIERS = 3
WORKERS = 8


def run(ctx: Context) -> list[Row]:
    if "embedded" not in ctx.modes:
        ctx.log("measured in the embedded mode only")
        return []
    sizes = (100,) if ctx.quick else (100, 1000)
    ctx.parameters.update({"sizes": list(sizes), "tiers": TIERS, "cloudsim_step_s": STEP, "workers": WORKERS,
                           "floor_s": TIERS * STEP, "database": "SQLite (embedded)"})
    rows = []
    for count in sizes:
        ctx.log(f"failover of {count} disks")
        with tempfile.TemporaryDirectory(prefix="um-bench-dr-") as tmp:
            env = {**os.environ, "UNIMANAGER_DATA_DIR": tmp, "UNIMANAGER_CLOUDSIM": "0",
                   "DJANGO_SETTINGS_MODULE": "unimanager.settings"}
            for key in ("DATABASE_URL", "REDIS_URL"):
                env.pop(key, None)
            result = subprocess.run([sys.executable, "-m", "bench.bench_resilience", str(count)], cwd=REPO_DIR,
                                    env=env, capture_output=True, text=True, timeout=3600)
            line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT")), None)
            if line is None:
                ctx.log(f"child failed:\n{(result.stdout + result.stderr)[-3000:]}")
                rows.append(Row("embedded", f"failover of {count} disks", "RTO", "s", None, TIERS * STEP))
                continue
            data = json.loads(line[len("RESULT"):])
        rows.append(Row("embedded", f"failover of {count} disks in {TIERS} tiers", "RTO", "s", data["rto"],
                        data["floor"], delivered=data["failed_over"], expected=count,
                        extra={"status": data["status"], "steps": data["steps"], "setup_s": data["setup_s"],
                               "task_errors": data["task_errors"], "first_errors": data["first_errors"],
                               "over_floor_s": round(data["rto"] - data["floor"], 3)}))
    return rows


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

    def worker() -> None:
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
    failed_over = sum(1 for p in sim.store.rows("replica_pair") if p["Status"] == "failovered")
    print("RESULT" + json.dumps({"rto": rto, "floor": TIERS * STEP, "status": current.status,
                                 "failed_over": failed_over, "steps": current.steps.count(), "setup_s": setup,
                                 "task_errors": len(errors), "first_errors": errors[:3]}))
    sim.stop()


if __name__ == "__main__":
    child(int(sys.argv[1]))
