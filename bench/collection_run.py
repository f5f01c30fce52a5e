"""One measured run of inventory collection, in its own process (so Django is set up for one database).

``python -m bench.collection_run --count N`` with ``DATABASE_URL`` set (PostgreSQL) or not (SQLite in
a temporary directory) prints one JSON object:

- ``collect``: a full sync of N cloudsim instances (plus their VPC and vSwitches) through the apsara
  adapter, seconds and resources/s; ``raw_insert``: the same rows written by one ``executemany``
  INSERT in one transaction (the floor for storing them). cloudsim runs in its own process, as a
  cloud does (its own work is not this process's). ``subscribers_seconds`` is the part of the sync
  spent after its last commit in other apps' subscribers to ``sync_finished`` (billing reconciles the
  platform's usage intervals, quotas recount usage): the inventory is written and the sync's operation
  has succeeded before they start, so the collection rate is given both without and with them;
- ``resync``: a second sync with nothing changed, seconds and rows written (counted from every
  INSERT/UPDATE/DELETE on the inventory tables); ``fetch_only``: the same pages fetched through the
  adapter without touching the database;
- ``list``: the resource list API (keyset page of 50, as an organization member) per filter case,
  latency samples; ``list_raw``: the same page read by one raw SQL statement. Each case starts with
  ``WARMUP`` untimed requests (both sides); on PostgreSQL the inventory table is vacuumed and
  analyzed first, as autovacuum would have done in a running deployment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time

# Untimed requests before each list case (API and raw alike): the first requests of a process pay
# for URL resolution, imports and the database connection, which is not the list's cost.
WARMUP = 3

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--collect-only", action="store_true",
                        help="stop after the first collection (its timeline and CPU per process)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        os.environ["UNIMANAGER_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-collection-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unimanager.settings")
    os.environ["UNIMANAGER_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(json.dumps(measure(args.count, args.requests, collect_only=args.collect_only)))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (any user's: /proc/<pid>/stat is world-readable)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timeline:
    """When each part of a sync ran (plan, fetch, stage, apply: seconds from the start to its start and
    its end, and the CPU seconds this process, cloudsim and PostgreSQL spent meanwhile; a fetch step
    includes its stage), and the CPU each process spent over the whole sync (PostgreSQL: the backend
    serving this process's connection)."""

    PARTS = {"_step_plan": "plan", "_fetch_pages": "fetch", "_stage": "stage", "apply_pages": "apply"}

    def __init__(self, sim_pid: int):
        self.sim_pid = sim_pid
        self.spans: list[list] = []
        self.cpu: dict[str, float] = {}

    def _backend_pid(self) -> int | None:
        from django.db import connection

        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    @contextlib.contextmanager
    def recording(self):
        from apps.resources import services

        began = time.perf_counter()
        originals = {name: getattr(services, name) for name in self.PARTS}

        backend = self._backend_pid()

        def others() -> tuple[float, float]:
            return _cpu_seconds(self.sim_pid), _cpu_seconds(backend) if backend else 0.0

        def timed(name, fn):
            def run(*args, **kwargs):
                wall, cpu, (sim, pg) = time.perf_counter(), time.process_time(), others()
                try:
                    return fn(*args, **kwargs)
                finally:
                    sim_after, pg_after = others()
                    self.spans.append([self.PARTS[name], round(wall - began, 3), round(time.perf_counter() - began, 3),
                                       round(time.process_time() - cpu, 3), round(sim_after - sim, 2),
                                       round(pg_after - pg, 2)])
            return run

        for name, fn in originals.items():
            setattr(services, name, timed(name, fn))
        before = {"this process": time.process_time(), "cloudsim": _cpu_seconds(self.sim_pid)}
        if backend:
            before["postgresql"] = _cpu_seconds(backend)
        try:
            yield
        finally:
            for name, fn in originals.items():
                setattr(services, name, fn)
            self.cpu = {"this process": time.process_time() - before["this process"],
                        "cloudsim": _cpu_seconds(self.sim_pid) - before["cloudsim"]}
            if backend:
                self.cpu["postgresql"] = _cpu_seconds(backend) - before["postgresql"]
            self.cpu = {k: round(v, 2) for k, v in self.cpu.items()}


def measure(count: int, requests: int, collect_only: bool = False) -> dict:
    import subprocess
    import urllib.request

    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from apps.clouds.simulated import sim_adapter
    from apps.clouds.tests.factories import platform as make_platform
    from apps.core import events
    from apps.resources.models import Resource
    from apps.resources.services import sync_drive, sync_start
    from devtools.services import free_port, wait_for_port
    from tests import factories as f

    out: dict = {"count": count, "vendor": connection.vendor}
    port = free_port()
    sim = subprocess.Popen([sys.executable, "-m", "cloudsim", "--port", str(port), "--provision-seconds", "0"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=60)
        body = json.dumps({"type": "ecs_instance", "count": count, "region_id": "cn-hangzhou",
                           "zone_id": "cn-hangzhou-a", "tags": {"team": "shop"}}).encode()
        request = urllib.request.Request(f"http://{endpoint}/_cloudsim/bulk", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=300).read()
        org = f.org("Bench")
        platform = make_platform(org, endpoint=endpoint, name="bench")

        # Time spent in other apps' event subscribers (they run after the sync's last commit).
        in_subscribers = {"seconds": 0.0}

        def timed(handler):
            def run_handler(*args):
                began = time.perf_counter()
                try:
                    return handler(*args)
                finally:
                    in_subscribers["seconds"] += time.perf_counter() - began
            return run_handler

        events._subscribers[:] = [(prefix, timed(handler)) for prefix, handler in events._subscribers]
        timeline = Timeline(sim.pid)
        started = time.perf_counter()
        with timeline.recording():
            run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
        out["collect"] = {"seconds": time.perf_counter() - started, "fetched": run.fetched, "created": run.created,
                          "status": run.status, "subscribers_seconds": in_subscribers["seconds"],
                          "timeline": timeline.spans, "cpu_seconds": timeline.cpu}
        if collect_only:
            return out

        # The raw floor: the same rows, one executemany in one transaction, into another platform.
        other = make_platform(org, endpoint=endpoint, name="raw")
        fields = [fl for fl in Resource._meta.concrete_fields]
        columns = ", ".join(connection.ops.quote_name(fl.column) for fl in fields)
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO resources_resource ({columns}) VALUES ({marks})"
        rows = []
        now = timezone.now()
        for i, r in enumerate(Resource.objects.filter(platform=platform).iterator(chunk_size=5000)):
            r.id = f"res-{i:012x}{'0' * 16}"
            r.platform_id = other.pk
            r.first_seen_at = r.last_changed_at = now
            rows.append(tuple(fl.get_db_prep_save(getattr(r, fl.attname), connection) for fl in fields))
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        out["raw_insert"] = {"seconds": time.perf_counter() - started, "rows": len(rows)}
        Resource.objects.filter(platform=other).delete()

        written = {"rows": 0}

        def count_writes(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            head = sql.lstrip()[:6].upper()
            if head in ("INSERT", "UPDATE", "DELETE") and ('"resources_resource' in sql or
                                                           "resources_resource" in sql):
                written["rows"] += max(0, context["cursor"].rowcount)
            return result

        def state() -> dict:
            return {pk: rest for pk, *rest in Resource.objects.filter(platform=platform).values_list(
                "id", "content_hash", "last_changed_at", "deleted").iterator(chunk_size=5000)}

        before = state()
        in_subscribers["seconds"] = 0.0
        started = time.perf_counter()
        with connection.execute_wrapper(count_writes):
            again = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
        seconds = time.perf_counter() - started
        # Rows written in bulk (COPY on PostgreSQL) pass no statement wrapper: the rows are compared too.
        after = state()
        changed = sum(1 for pk, rest in after.items() if before.get(pk) != rest) + len(before.keys() - after.keys())
        out["resync"] = {"seconds": seconds, "rows_written": max(written["rows"], changed),
                         "fetched": again.fetched, "unchanged": again.unchanged, "status": again.status,
                         "subscribers_seconds": in_subscribers["seconds"]}
        adapter = sim_adapter(endpoint)
        started = time.perf_counter()
        fetched = sum(1 for t in ("ecs.instance", "vpc.vpc", "vpc.vswitch") for _ in
                      adapter.iter_resources(t, "cn-hangzhou"))
        out["fetch_only"] = {"seconds": time.perf_counter() - started, "fetched": fetched}

        # The list API as a member of the organization that owns every resource.
        Resource.objects.filter(platform=platform).update(organization=org)
        if connection.vendor == "postgresql":
            # The raw-insert cleanup and the update above leave every row as a dead tuple, and the
            # planner has no statistics for a table filled seconds ago: a running deployment's
            # autovacuum would have dealt with both. Without this, the list figures (API and raw
            # alike) measure whether autovacuum happened to pass by during the run.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE resources_resource")
                cursor.execute("ANALYZE clouds_cloudplatform")
        member = f.user("bench-member", org)
        f.grant(f.role("resources:resource:read", key="bench_reader"), member, org)
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(member)
        some = Resource.objects.filter(platform=platform, type="ecs.instance").order_by("id")[count // 2]
        cases = {
            "first page": {},
            "platform+type": {"platform": platform.pk, "type": "ecs.instance"},
            "status+region": {"status": "running", "region": "cn-hangzhou"},
            "tag": {"tag": "team=shop"},
            "free text": {"q": some.name},
        }
        org_ids = [Resource._meta.get_field("organization").get_db_prep_value(org.pk, connection)]
        raw_where = {
            "first page": ("", []),
            "platform+type": (" AND r.platform_id = %s AND r.type = %s", [platform.pk, "ecs.instance"]),
            "status+region": (" AND r.status = %s AND r.region = %s", ["running", "cn-hangzhou"]),
            "tag": None,
            # The API's name__icontains: SQLite's LIKE ignores ASCII case already; PostgreSQL's does not.
            "free text": ((" AND (UPPER(r.name::text) LIKE UPPER(%s) OR r.external_id = %s)"
                           if connection.vendor == "postgresql" else " AND (r.name LIKE %s OR r.external_id = %s)"),
                          [f"%{some.name}%", some.name]),
        }
        out["list"] = {}
        out["list_raw"] = {}
        for case, params in cases.items():
            for _ in range(WARMUP):
                client.get("/api/v1/resources/resources/", params)
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get("/api/v1/resources/resources/", params)
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200, response.content[:300]
            out["list"][case] = {"samples": samples, "rows": len(response.json()["results"])}
            where = raw_where[case]
            if where is None:
                tag_sql = ("r.tags->>'team' = %s" if connection.vendor == "postgresql"
                           else "json_extract(r.tags, '$.team') = %s")
                where = (f" AND {tag_sql}", ["shop"])
            placeholders = ", ".join(["%s"] * len(org_ids))
            sql = (f"SELECT * FROM resources_resource r JOIN clouds_cloudplatform p ON p.id = r.platform_id "
                   f"WHERE r.organization_id IN ({placeholders}) AND r.deleted = %s{where[0]} "
                   f"ORDER BY r.id DESC LIMIT 50")
            raw = []
            for _ in range(WARMUP + requests):
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.execute(sql, [*org_ids, False, *where[1]])
                    got = cursor.fetchall()
                raw.append(time.perf_counter() - started)
            del raw[:WARMUP]
            out["list_raw"][case] = {"samples": raw, "rows": len(got)}
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    return out


if __name__ == "__main__":
    sys.exit(main())
