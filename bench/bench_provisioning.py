"""provisioning: concurrent create operations against cloudsim, driven by Celery workers.

The distributed deployment with a second worker process beside its own (both on the deployment's
threads pool, ``bench.deployments.WORKER_POOL``) and
cloudsim in its own process with a configured step length. A platform is registered on it through
the clouds services, with an auto-approving policy; N instances are then requested at once over the
API (requests of up to 20 instances, sent from N/20 threads). A sample is one instance's time from its
request being sent to its create operation finishing with the instance Running on the cloud.

The baseline is cloudsim's own provisioning delay: an instance goes Pending -> Starting -> Running, one
configured step each, so no create can finish sooner than two steps (the floor). Throughput is set
beside the rate at which N instances would finish if every one took exactly the floor, all at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.deployments import WORKER_POOL, deployment
from bench.harness import REPO_DIR, Context, Row, percentile
from devtools.services import free_port, wait_for_port

TITLE = "N concurrent ECS creates on cloudsim through 2 Celery workers: time to Running and throughput"
BASELINE = "cloudsim's configured provisioning delay (two steps: Pending -> Starting -> Running), the floor"

REGION = "cn-hangzhou"
PER_REQUEST = 20

SETUP = """
import json
from apps.clouds import services as clouds
from apps.clouds.simulated import _wait, sim_adapter
from apps.organizations.models import Membership, Organization, Project, User
from apps.provisioning.requests import policy_create
admin = User.objects.get(username="admin")
org = Organization.objects.create(name="Bench provisioning")
Membership.objects.create(user=admin, organization=org)
project = Project.objects.create(organization=org, name="bench-provisioning")
project.members.add(admin)
platform = clouds.platform_create(
    actor=admin, organization=org, type="apsara", name="bench cloudsim", endpoint=ENDPOINT, protocol="http",
    default_region=REGION, credentials={"access_key_id": "cloudsim-access-key",
                                        "access_key_secret": "cloudsim-access-secret"})
clouds.platform_discover_regions(platform=platform)
clouds.platform_discover_catalog(platform=platform)
a = sim_adapter(ENDPOINT)
vpc = a.create("vpc.vpc", REGION, {"cidr_block": "10.0.0.0/8", "name": "bench"})
_wait(a, "vpc.vpc", REGION, vpc, {"available"})
vsw = a.create("vpc.vswitch", REGION, {"vpc_id": vpc, "zone": REGION + "-a", "cidr_block": "10.1.0.0/16",
                                       "name": "bench"})
_wait(a, "vpc.vswitch", REGION, vsw, {"available"})
sg = a.create("ecs.security_group", REGION, {"vpc_id": vpc, "name": "bench"})
policy_create(actor=admin, organization=org, name="bench: auto", levels=[])
print("SETUP" + json.dumps({"project": project.pk, "platform": platform.pk, "vswitch": vsw,
                            "security_group": sg}, default=str))
"""

TIMES = """
import json
from apps.provisioning.models import ChangeRecord
rows = ChangeRecord.objects.filter(request_id__in=IDS).values_list(
    "request_id", "operation__status", "external_id", "operation__finished_at", "operation__created_at",
    "operation__started_at")
print("TIMES" + json.dumps([[str(r), s, *(t.timestamp() if t else None for t in ts), x] for r, s, x, *ts in rows]))
"""

# The looks at the cloud recorded on the changes while they waited (the poll rounds' steps before the finish).
LOOKS = """
import json
from django.db.models import Sum
from apps.provisioning.models import ChangeRecord
print("LOOKS" + json.dumps(ChangeRecord.objects.filter(request_id__in=IDS).aggregate(n=Sum("polls"))["n"] or 0))
"""


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _shell(env: dict[str, str], code: str, marker: str) -> Any:
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=REPO_DIR, env=env,
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    for line in result.stdout.splitlines():
        if line.startswith(marker):
            return json.loads(line[len(marker):])
    raise RuntimeError(f"manage.py shell failed:\n{(result.stdout + result.stderr)[-3000:]}")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _cpu_by_process(processes: list[tuple[str, Any, Path]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, process, _log in processes:
        try:
            out[name] = _cpu_seconds(process.pid)
        except OSError:
            continue
    return out


def _pg_processes(database_url: str) -> list[int]:
    """The PostgreSQL server of ``database_url``: its postmaster and every process it started (the backends)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return [postmaster, *children]


def _backing_stats(database_url: str, redis_url: str) -> dict[str, float]:
    """CPU seconds of PostgreSQL (its processes, with the backends that exited) and Redis, Redis commands
    processed and PostgreSQL transactions committed, so far."""
    import psycopg
    import redis

    client = redis.Redis.from_url(redis_url)
    info = client.info("all")
    client.close()
    pg_cpu = 0.0
    for pid in _pg_processes(database_url):
        try:
            pg_cpu += _cpu_seconds(pid)
        except OSError:
            continue
    with psycopg.connect(database_url) as conn:
        commits = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                               ).fetchone()[0]
    commands = {k.removeprefix("cmdstat_"): v["calls"] for k, v in info.items() if k.startswith("cmdstat_")}
    return {"postgresql_cpu_s": pg_cpu, "redis_cpu_s": info["used_cpu_sys"] + info["used_cpu_user"],
            "redis_commands": sum(commands.values()), "postgresql_commits": commits,
            **{f"redis:{k}": v for k, v in commands.items()}}


def _log_statements(database_url: str, on: bool) -> Path:
    """Have PostgreSQL log every statement (a diagnostic: it costs the server), returns its log file."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET log_statement = '{'all' if on else 'none'}'")
        conn.execute("SELECT pg_reload_conf()")
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    return Path(data_dir).parent / "postgres.log"


STATEMENT_KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK")


def _statements_by_table(log: Path, offset: int) -> dict[str, int]:
    """Statements logged after ``offset``: by kind and first table named (``SELECT core_operation``)."""
    import re

    counts: dict[str, int] = {}
    with log.open("rb") as f:
        f.seek(offset)
        for raw in f:
            line = raw.decode(errors="replace")
            if "LOG:  statement: " not in line:
                continue
            sql = line.split("LOG:  statement: ", 1)[1].strip()
            kind = sql.split(None, 1)[0].upper() if sql else ""
            kind = kind if kind in STATEMENT_KINDS else "other"
            table = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
            key = f"{kind} {table.group(1)}" if table and kind in ("SELECT", "INSERT", "UPDATE", "DELETE") else kind
            counts[key] = counts.get(key, 0) + 1
    return counts


def _control(endpoint: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(f"http://{endpoint}/_cloudsim{path}", method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def run(ctx: Context) -> list[Row]:
    if "distributed" not in ctx.modes:
        ctx.log("provisioning runs in the distributed mode only")
        return []
    count = 40 if ctx.quick else 200
    step = 1.0
    floor = 2 * step
    ctx.parameters.update({"instances": count, "per_request": PER_REQUEST, "workers": 2,
                           "worker_pool": " ".join(WORKER_POOL),
                           "cloudsim_step_s": step, "floor_s": floor, "poll_seconds": 0.5})
    rows: list[Row] = []
    with deployment("distributed") as dep:
        workers = [p for name, p, _log in dep.processes.started if name == "worker"]
        # The server's environment is the worker's (a worker that sets its process title overwrites its own).
        env = _environ(next(p for name, p, _log in dep.processes.started if name == "daphne").pid)
        sim_port = free_port()
        dep.processes.start("cloudsim", [sys.executable, "-m", "cloudsim", "--port", str(sim_port),
                                         "--provision-seconds", str(step), "--regions", REGION], env)
        wait_for_port(sim_port, timeout=30)
        endpoint = f"127.0.0.1:{sim_port}"
        # A second worker beside the deployment's own, with the same settings; both poll the cloud every 0.5 s.
        worker_env = {**env, "UNIMANAGER_PROVISIONING_POLL_SECONDS": "0.5"}
        argv = list(workers[0].args)
        workers[0].terminate()
        workers[0].wait(timeout=30)
        dep.processes.started = [s for s in dep.processes.started if s[1] is not workers[0]]
        for n in (1, 2):
            named = [a if not a.startswith("bench-") else f"bench-provisioning-{n}-{sim_port}@127.0.0.1" for a in argv]
            dep.processes.start(f"worker{n}", named, worker_env)
        ids = _shell(env, f"ENDPOINT = {endpoint!r}\nREGION = {REGION!r}\n" + SETUP, "SETUP")
        session = dep.sign_in()
        spec = {"instance_type": "ecs.g6.large", "image_id": "centos_7_9_x64_20G_alibase_20230919.vhd",
                "zone": f"{REGION}-a", "vswitch_id": ids["vswitch"], "security_group_id": ids["security_group"]}
        time.sleep(3)  # the workers are up before the clock starts
        dep.processes.check()

        def submit(n: int) -> tuple[float, str, int]:
            sent = time.time()
            status, body = session.post_json("/api/v1/provisioning/requests/", {
                "project": ids["project"], "platform": ids["platform"], "region": REGION,
                "count": min(PER_REQUEST, count - n * PER_REQUEST), "spec": {**spec, "name": f"bench-{n}"}})
            if status not in (200, 201, 202):
                raise RuntimeError(f"request {n} refused: {status} {body}")
            return sent, body["id"], body["count"]

        batches = (count + PER_REQUEST - 1) // PER_REQUEST
        cpu_before = _cpu_by_process(dep.processes.started)
        backing_before = _backing_stats(env["DATABASE_URL"], env["REDIS_URL"])
        # UNIMANAGER_BENCH_LOG_STATEMENTS=1: count PostgreSQL's statements per create, by kind and table (the
        # logging costs the server: a diagnostic run, not one to quote the times of).
        log_statements = os.environ.get("UNIMANAGER_BENCH_LOG_STATEMENTS") == "1"
        if log_statements:
            pg_log = _log_statements(env["DATABASE_URL"], True)
            log_offset = pg_log.stat().st_size
        started = time.time()
        with ThreadPoolExecutor(max_workers=batches) as pool:
            submitted = list(pool.map(submit, range(batches)))
        ctx.log(f"{count} instances requested in {time.time() - started:.1f}s")
        sent_at = {rid: sent for sent, rid, _n in submitted}
        deadline = time.monotonic() + (60 if ctx.quick else 240)
        while True:
            done = sum(1 for i in _control(endpoint, "/resources?type=ecs_instance")["resources"]
                       if i.get("Status") == "Running")
            times = _shell(env, f"IDS = {list(sent_at)!r}\n" + TIMES, "TIMES")
            final = [t for t in times if t[1] in ("succeeded", "failed", "cancelled")]
            ctx.log(f"{len(final)}/{count} operations finished, {done} instances running on the cloud")
            if len(final) >= count or time.monotonic() > deadline:
                break
            dep.processes.check()
            time.sleep(2)
        cpu_after = _cpu_by_process(dep.processes.started)
        backing_after = _backing_stats(env["DATABASE_URL"], env["REDIS_URL"])
        # CPU seconds each process spent from the first request to the last poll of the operations (the
        # database and the broker run outside these), per create: what the machine's cores are shared by.
        cpu_ms = {name: round(1000 * (cpu_after[name] - cpu_before.get(name, 0.0)) / count, 1)
                  for name in cpu_after}
        backing = {k: backing_after[k] - backing_before.get(k, 0) for k in backing_after}
        if log_statements:
            _log_statements(env["DATABASE_URL"], False)
            by_table = _statements_by_table(pg_log, log_offset)
            ctx.parameters["statements_per_create"] = {
                "total": round(sum(by_table.values()) / count, 1),
                **{k: round(v / count, 2) for k, v in sorted(by_table.items(), key=lambda kv: -kv[1])
                   if v >= count / 10}}
            ctx.log(f"statements per create: {ctx.parameters['statements_per_create']}")
        cpu_ms.update({name.removesuffix("_cpu_s"): round(1000 * backing[name] / count, 1)
                       for name in ("postgresql_cpu_s", "redis_cpu_s")})
        # What one create costs the broker, cache and channel layer (Redis) and the database, in round trips
        # (the bench's own polls of the operations are a few transactions a second beside them).
        recorded_looks = _shell(env, f"IDS = {list(sent_at)!r}\n" + LOOKS, "LOOKS")
        per_create = {"redis_commands": round(backing["redis_commands"] / count, 1),
                      "looks_recorded": round(recorded_looks / count, 2),
                      "postgresql_commits": round(backing["postgresql_commits"] / count, 1),
                      "redis_top": {k.removeprefix("redis:"): round(v / count, 1) for k, v in sorted(
                          backing.items(), key=lambda kv: -kv[1]) if k.startswith("redis:") and v >= count / 2}}
        succeeded = [t for t in times if t[1] == "succeeded"]
        latencies = [t[2] - sent_at[t[0]] for t in succeeded]
        # Where the time went, per create: request sent -> its operation created (API, approval, launch);
        # created -> the cloud's create call recorded (queue, call step); call recorded -> finished
        # (the cloud's provisioning, polls, finish step).
        stages = {"to_created_s": [t[3] - sent_at[t[0]] for t in succeeded if t[3]],
                  "to_called_s": [t[4] - t[3] for t in succeeded if t[3] and t[4]],
                  "called_to_finished_s": [t[2] - t[4] for t in succeeded if t[4]]}
        # The same stages seen from the cloud (its call log): the create call's arrival, the instance Running
        # there (two steps after it), the first DescribeInstances naming it from then on (the look that saw it).
        asked: dict[str, float] = {}
        looks: dict[str, list[float]] = {}
        for call in _control(endpoint, "/calls?kind=read")["calls"] + _control(endpoint, "/calls?kind=write")["calls"]:
            if call["action"] == "RunInstances" and call["outcome"] == "ok":
                for instance in call["ids"]:
                    asked.setdefault(instance, call["time"])
            elif call["action"] == "DescribeInstances":
                for instance in call["ids"]:
                    looks.setdefault(instance, []).append(call["time"])
        seen = {i: min((t for t in looks.get(i, []) if t >= at + floor), default=None) for i, at in asked.items()}
        stages.update({
            "to_cloud_call_s": [asked[t[5]] - t[3] for t in succeeded if t[3] and t[5] in asked],
            "cloud_call_to_recorded_s": [t[4] - asked[t[5]] for t in succeeded if t[4] and t[5] in asked],
            "running_to_seen_s": [seen[t[5]] - asked[t[5]] - floor for t in succeeded if seen.get(t[5])],
            "seen_to_finished_s": [t[2] - seen[t[5]] for t in succeeded if seen.get(t[5])],
        })
        if os.environ.get("UNIMANAGER_BENCH_DUMP"):  # each create's times, for a closer look at one run
            Path(os.environ["UNIMANAGER_BENCH_DUMP"]).write_text(json.dumps({
                "started": started, "sent_at": sent_at, "times": times, "asked": asked, "seen": seen,
                "looks": looks}))
        stage_p = {f"{name} p{pct}": percentile(values, pct) for name, values in stages.items() for pct in (50, 95)}
        running = sum(1 for i in _control(endpoint, "/resources?type=ecs_instance")["resources"]
                      if i.get("Status") == "Running")
        elapsed = (max(t[2] for t in succeeded) - started) if succeeded else None
        calls = _control(endpoint, "/stats")["calls"]
        extra = {"running_on_cloud": running, "failed": len(final) - len(succeeded),
                 "cloud_calls": {a: calls.get(a, 0) for a in ("RunInstances", "DescribeInstances")},
                 "cpu_ms_per_create": cpu_ms, "per_create": per_create,
                 "p50_s": percentile(latencies, 50), "max_s": max(latencies) if latencies else None,
                 "elapsed_s": elapsed, **stage_p}
        rows.append(Row("distributed", f"{count} creates", "p95 request to Running", "s",
                        percentile(latencies, 95), floor, delivered=len(succeeded), expected=count,
                        baseline_delivered=count, baseline_expected=count, extra=extra))
        rows.append(Row("distributed", f"{count} creates", "throughput", "creates/s",
                        len(succeeded) / elapsed if elapsed else None, count / floor, delivered=len(succeeded),
                        expected=count, baseline_delivered=count, baseline_expected=count, extra=extra))
    return rows
