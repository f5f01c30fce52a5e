"""Quota reservations under concurrency on PostgreSQL, and what quotas add to a provisioning request.

1. Reservations per second at 1, 8 and 32 concurrent clients (separate processes, each with its own
   connection, started together behind a barrier, each running for a fixed time): every client
   calls ``quota_reserve`` for one instance against one organization's limit (high enough never to
   refuse), so every reservation locks the same limit row. The baseline, in the same run and at the
   same concurrency, is the bare minimum any exact counter needs: a transaction of
   ``SELECT ... FOR UPDATE`` and ``UPDATE`` on one row. Also measured: reservations against three
   nested organizations (three rows locked root to leaf).
2. The added latency of a provisioning request: ``request_create`` (spec checks against cloudsim in a
   thread, reserve, record) with the quota backend installed and limits on the project's path,
   against the same call with the default ``GrantEverything`` backend, alternating, in one process.

Each run builds a throw-away PostgreSQL (``devtools.services``); the embedded mode is not measured
here (SQLite serializes writers by design; its exactness is tested in tests/integration).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import REPO_DIR, Context, Row

TITLE = "quota reservations/s at 1, 8, 32 clients vs bare SELECT FOR UPDATE + UPDATE; request latency on/off"
BASELINE = "bare SELECT ... FOR UPDATE + UPDATE transactions on one row, same clients, same run"
CLIENTS = (1, 8, 32)


def run(ctx: Context) -> list[Row]:
    if "distributed" not in ctx.modes:
        ctx.log("PostgreSQL only: nothing to do in the embedded mode")
        return []
    seconds = 3.0 if ctx.quick else 8.0
    requests = 15 if ctx.quick else 60
    ctx.parameters.update(clients=list(CLIENTS), seconds_per_case=seconds, provisioning_requests=requests,
                          database="PostgreSQL from devtools.services", client="one process per client")
    from devtools.services import distributed_services

    rows: list[Row] = []
    with distributed_services() as (pg, _redis), tempfile.TemporaryDirectory(prefix="um-bench-quotas-") as tmp:
        env = {**os.environ, "DATABASE_URL": pg.url, "DJANGO_SETTINGS_MODULE": "unimanager.settings",
               "UNIMANAGER_DATA_DIR": tmp, "UNIMANAGER_CLOUDSIM": "0"}
        env.pop("REDIS_URL", None)
        ctx.log("migrating a fresh PostgreSQL database")
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO_DIR, env=env,
                       check=True)
        ids = _child(env, "setup")
        for clients in CLIENTS:
            ctx.log(f"{clients} clients: bare transactions")
            base = _clients(env, clients, "bare", ids["bare_limit"], seconds, Path(tmp))
            for case, target in (("one organization", ids["single"]), ("three nested organizations", ids["leaf"])):
                ctx.log(f"{clients} clients, {case}")
                done = _clients(env, clients, "reserve", target, seconds, Path(tmp))
                # Every reservation row must be counted once by every limit on its path, no more.
                held = _child(env, "check", target)
                rows.append(Row("distributed", f"{clients} clients, {case}", "reservations per second", "1/s",
                                done["count"] / done["seconds"], base["count"] / base["seconds"],
                                delivered=done["count"], expected=done["count"] + done["errors"],
                                baseline_delivered=base["count"], baseline_expected=base["count"] + base["errors"],
                                extra={"errors": done["errors"], "baseline_errors": base["errors"],
                                       "reservation_rows": held["rows"], "limit_counters": held["reserved"],
                                       "counters_match_rows": all(r == held["rows"] for r in held["reserved"])}))
        ctx.log(f"{requests} provisioning requests with quotas on and off")
        lat = _child(env, "latency", str(requests))
        rows.append(Row("distributed", "provisioning request (checks, reserve, record)", "median latency, quotas on",
                        "ms", statistics.median(lat["on"]), statistics.median(lat["off"]),
                        delivered=len(lat["on"]), expected=requests, baseline_delivered=len(lat["off"]),
                        baseline_expected=requests,
                        extra={"p95_on_ms": _p95(lat["on"]), "p95_off_ms": _p95(lat["off"]),
                               "added_median_ms": round(statistics.median(lat["on"]) -
                                                        statistics.median(lat["off"]), 2)}))
    return rows


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2)


def _child(env: dict[str, str], *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_quotas", *args], cwd=REPO_DIR, env=env,
                         capture_output=True, text=True, check=False, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _clients(env: dict[str, str], n: int, kind: str, target: str, seconds: float, tmp: Path) -> dict:
    barrier = Path(tempfile.mkdtemp(dir=tmp))
    procs = [subprocess.Popen([sys.executable, "-m", "bench.bench_quotas", "client", kind, target, str(barrier),
                               str(seconds)], cwd=REPO_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(n)]
    deadline = time.monotonic() + 900  # 32 clients start Django on a shared, busy machine
    while len(list(barrier.glob("ready-*"))) < n:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            for p in procs:
                p.kill()
            raise RuntimeError("a client did not get ready: " + "".join(p.stderr.read()[-2000:] for p in procs
                                                                           if p.poll() is not None))
        time.sleep(0.05)
    (barrier / "go").touch()
    count = errors = 0
    for p in procs:
        out, err = p.communicate(timeout=seconds + 300)
        if p.returncode != 0:
            raise RuntimeError(err[-3000:])
        result = json.loads(out.strip().splitlines()[-1])
        count += result["count"]
        errors += result["errors"]
    return {"count": count, "errors": errors, "seconds": seconds}


# -- child processes -----------------------------------------------------------------------------------

def _setup() -> dict:
    from apps.organizations.models import Organization
    from apps.quotas import services

    single = Organization.objects.create(name="bench single")
    services.limit_set(actor=None, organization=single, dimension="ecs.instance", limit=10**9)
    root = Organization.objects.create(name="bench root")
    mid = Organization.objects.create(name="bench mid", parent=root)
    leaf = Organization.objects.create(name="bench leaf", parent=mid)
    for org in (root, mid, leaf):
        services.limit_set(actor=None, organization=org, dimension="ecs.instance", limit=10**9 - org.depth)
    bare = Organization.objects.create(name="bench bare")
    bare_limit = services.limit_set(actor=None, organization=bare, dimension="ecs.instance", limit=10**9)
    return {"single": str(single.pk), "leaf": str(leaf.pk), "bare_limit": str(bare_limit.pk)}


def _check(target: str) -> dict:
    """The reservation rows of ``target`` and the ``reserved`` counters of the limits on its path."""
    from apps.organizations.models import Organization
    from apps.quotas.models import QuotaLimit, Reservation

    org = Organization.objects.get(pk=target)
    reserved = list(QuotaLimit.objects.filter(organization_id__in=org.ancestor_ids).order_by("depth")
                    .values_list("reserved", flat=True))
    return {"rows": Reservation.objects.filter(organization=org).count(), "reserved": reserved}


def _client(kind: str, target: str, barrier: str, seconds: float) -> dict:
    from django.db import OperationalError, connection, transaction

    from apps.core.errors import ApplicationError
    from apps.organizations.models import Organization
    from apps.quotas import services

    org = Organization.objects.get(pk=target) if kind == "reserve" else None
    connection.ensure_connection()
    Path(barrier, f"ready-{os.getpid()}").touch()
    while not Path(barrier, "go").exists():
        time.sleep(0.001)
    count = errors = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if kind == "reserve":
                services.quota_reserve(organization=org, project=None, resource_type="ecs.instance",
                                       amounts={"count": 1})
            else:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SELECT reserved FROM quotas_quotalimit WHERE id = %s FOR UPDATE", [target])
                    cursor.fetchone()
                    cursor.execute("UPDATE quotas_quotalimit SET reserved = reserved + 1 WHERE id = %s", [target])
            count += 1
        except (ApplicationError, OperationalError):
            errors += 1
    return {"count": count, "errors": errors}


def _latency(n: int) -> dict:
    from apps.clouds.services import platform_discover_catalog, platform_discover_regions
    from apps.clouds.simulated import _wait, sim_adapter
    from apps.clouds.tests.factories import platform as make_platform
    from apps.organizations.models import Organization, Project, User
    from apps.provisioning import hooks, requests
    from apps.provisioning.hooks import GrantEverything
    from apps.quotas import services
    from cloudsim.server import CloudSim

    sim = CloudSim(port=0, provision_seconds=0.05, regions=["cn-hangzhou"]).start()
    try:
        root = Organization.objects.create(name="bench latency")
        team = Organization.objects.create(name="bench latency team", parent=root)
        admin = User.objects.create_superuser(username="bench-admin", password="bench-pass-1234")
        project = Project.objects.create(organization=team, name="bench")
        platform = make_platform(root, endpoint=sim.endpoint, name="bench sim")
        platform_discover_regions(platform=platform)
        platform_discover_catalog(platform=platform)
        a = sim_adapter(sim.endpoint)
        vpc = a.create("vpc.vpc", "cn-hangzhou", {"cidr_block": "192.168.0.0/16", "name": "bench"})
        _wait(a, "vpc.vpc", "cn-hangzhou", vpc, {"available"})
        vsw = a.create("vpc.vswitch", "cn-hangzhou", {"vpc_id": vpc, "zone": "cn-hangzhou-a",
                                                      "cidr_block": "192.168.1.0/24", "name": "bench"})
        _wait(a, "vpc.vswitch", "cn-hangzhou", vsw, {"available"})
        sg = a.create("ecs.security_group", "cn-hangzhou", {"vpc_id": vpc, "name": "bench"})
        for org, proj in ((root, None), (team, None), (team, project)):
            for dim in ("ecs.instance", "ecs.vcpu", "ecs.memory_gib", "ecs.disk_gib"):
                services.limit_set(actor=None, organization=org, project=proj, dimension=dim,
                                   limit=10**9 - org.depth - (1 if proj else 0))
        spec = {"instance_type": "ecs.g6.large", "image_id": "centos_7_9_x64_20G_alibase_20230919.vhd",
                "zone": "cn-hangzhou-a", "vswitch_id": vsw, "security_group_id": sg, "name": "bench"}
        backend = hooks.quota_backend()
        samples: dict[str, list[float]] = {"on": [], "off": []}
        for i in range(2 * n + 2):
            label = "on" if i % 2 == 0 else "off"
            hooks.install_quota_backend(backend if label == "on" else GrantEverything())
            t0 = time.perf_counter()
            requests.request_create(actor=admin, project=project, platform=platform, region="cn-hangzhou",
                                    spec=spec, count=1)
            took = (time.perf_counter() - t0) * 1000
            if i >= 2:  # the first pair warms caches (offers, catalog, permissions)
                samples[label].append(took)
        return samples
    finally:
        sim.stop()


if __name__ == "__main__":
    import django

    sys.path.insert(0, str(REPO_DIR))
    django.setup()
    command, *rest = sys.argv[1:]
    if command == "setup":
        print(json.dumps(_setup()))
    elif command == "client":
        print(json.dumps(_client(rest[0], rest[1], rest[2], float(rest[3]))))
    elif command == "check":
        print(json.dumps(_check(rest[0])))
    elif command == "latency":
        print(json.dumps(_latency(int(rest[0]))))
