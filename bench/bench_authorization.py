"""Authorization overhead: listing 50 rows out of 100,000 as an organization-scoped user versus as a
platform administrator (no scoping), through the real API endpoint, in the same run.

Until the resource inventory exists, the tenant table is core's ``Operation`` (a tenant model):
100,000 rows spread evenly over 200 organizations (headquarters -> 19 regions -> 180 departments).
The scoped user is a member of one region (its 10 organizations, about 5,000 rows), so every
request pays the RBAC path: reading the person's access snapshot from the cache (local memory in
the embedded mode, Redis in the distributed mode) with its two version tokens, turning it into an
``organization_id IN (...)`` predicate, and the keyset-paginated, filtered query.
Requests alternate between the two users so both see the same machine state. Also reported: the
SQL queries one list request costs at page sizes 10 and 50 (must be equal: nothing per row), and
the queries of the first list after a change to each person's access (a membership added and
removed), which loads the scoped user's snapshot from the database again.

The data lives in a fresh database: SQLite under a temporary directory for the embedded mode, a
throw-away PostgreSQL cluster (``devtools.services.start_postgres``, vacuumed and analyzed after the
bulk load) and a Redis server (``devtools.services.start_redis``: the cache) for the distributed
mode. The measurement runs in a child process so its settings never mix with another benchmark's.

What the embedded figure depended on: for ``organization_id IN (11 ids) ORDER BY created_at DESC, id
DESC LIMIT 51`` SQLite (3.40, with or without ANALYZE) cannot merge the eleven ranges of an index in
order, so it read all ~5,500 visible rows and sorted them (EXPLAIN QUERY PLAN: ``SEARCH core_operation
USING INDEX ..._organization_id (organization_id=?)`` + ``USE TEMP B-TREE FOR ORDER BY``), where
PostgreSQL walks the ``created_at`` index backwards and stops after 51 matches. The paginator now
pages keys first where an index covers the tenant column and the order (``operation_org_created_id``:
organization, -created_at, -id): SQLite sorts the 5,500 index entries (``USING COVERING INDEX``) and
reads only the 51 rows, in the same single statement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from bench.harness import REPO_DIR, Context, Row, collector_paused, percentile

TITLE = "list 50 of 100,000 rows across 200 organizations: org-scoped user vs. unscoped superuser"
BASELINE = "the same request by a platform administrator (no scoping), interleaved in the same run"

ROWS = 100_000
LIST = "/api/v1/core/operations/"


def run(ctx: Context) -> list[Row]:
    requests = 60 if ctx.quick else 400
    ctx.parameters.update(rows=ROWS, organizations=200, page_size=50, requests_per_user=requests,
                          embedded="SQLite, access snapshots in the local-memory cache",
                          distributed="PostgreSQL and Redis from devtools.services (Redis holds the access "
                                      "snapshots), VACUUM ANALYZE after the bulk load")
    rows: list[Row] = []
    for mode in ctx.modes:
        with tempfile.TemporaryDirectory(prefix="um-bench-authz-") as data_dir:
            env = {**os.environ, "UNIMANAGER_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "unimanager.settings"}
            env.pop("DATABASE_URL", None)
            env.pop("REDIS_URL", None)
            if mode == "distributed":
                from devtools.services import distributed_services

                with distributed_services() as (pg, redis):
                    ctx.log(f"{mode}: building {ROWS} rows in PostgreSQL on port {pg.port} (Redis on port "
                            f"{redis.port}), {requests} requests per user")
                    result = _child(requests, {**env, "DATABASE_URL": pg.url, "REDIS_URL": redis.url})
            else:
                ctx.log(f"{mode}: building {ROWS} rows in {data_dir} (SQLite), {requests} requests per user")
                result = _child(requests, env)
        rows += _rows(mode, result, requests)
    return rows


def _child(requests: int, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_authorization", str(requests)], cwd=REPO_DIR,
                         env=env, capture_output=True, text=True, check=False, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rows(mode: str, result: dict, requests: int) -> list[Row]:
    case = "list 50 of 100,000 rows, 200 organizations"
    scoped, admin = result["scoped_ms"], result["superuser_ms"]
    rows = [
        Row(mode, case, "median latency", "ms", percentile(scoped, 50), percentile(admin, 50),
            delivered=result["scoped_ok"], expected=requests, baseline_delivered=result["superuser_ok"],
            baseline_expected=requests, extra={"visible_rows": result["visible_rows"], "vendor": result["vendor"],
                                               "cache": result["cache"]}),
        Row(mode, case, "p95 latency", "ms", percentile(scoped, 95), percentile(admin, 95),
            delivered=result["scoped_ok"], expected=requests, baseline_delivered=result["superuser_ok"],
            baseline_expected=requests),
    ]
    for size in ("10", "50"):
        rows.append(Row(mode, f"list page_size={size}", "SQL queries per request", "queries",
                        result["queries"]["scoped"][size], result["queries"]["superuser"][size]))
    rows.append(Row(mode, "first list after an access change", "SQL queries per request", "queries",
                    result["queries"]["scoped"]["changed"], result["queries"]["superuser"]["changed"]))
    return rows


def _measure(requests: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.core.models import Operation
    from apps.organizations.models import Membership, Organization, User

    call_command("migrate", verbosity=0)
    hq = Organization.objects.create(name="HQ", kind="headquarters")
    orgs = [hq]
    regions = []
    for r in range(19):
        region = Organization.objects.create(name=f"Region {r}", kind="region", parent=hq)
        regions.append(region)
        orgs.append(region)
    for d in range(180):
        orgs.append(Organization.objects.create(name=f"Dept {d}", kind="department", parent=regions[d % 19]))
    batch = []
    for i in range(ROWS):
        batch.append(Operation(organization=orgs[i % len(orgs)], kind="bench", status="succeeded", progress=100))
        if len(batch) == 5000:
            Operation.objects.bulk_create(batch)
            batch = []
    hasher = "django.contrib.auth.hashers.MD5PasswordHasher"
    from django.conf import settings

    settings.PASSWORD_HASHERS = [hasher]
    admin = User.objects.create_superuser(username="bench-admin", password="bench-Admin-2024")
    member = User.objects.create_user(username="bench-member", password="bench-Member-2024")
    Membership.objects.create(user=member, organization=regions[0])
    if connection.vendor == "postgresql":
        # Statistics for tables filled a moment ago, as autovacuum would have gathered them.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    visible = Operation.objects.filter(organization__path__startswith=regions[0].path).count()

    clients = {}
    for name, user in (("scoped", member), ("superuser", admin)):
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        clients[name] = client
    queries: dict[str, dict[str, int]] = {"scoped": {}, "superuser": {}}
    for name, client in clients.items():
        for size in ("10", "50"):
            client.get(LIST, {"page_size": size})  # the first list after signing in loads the snapshot
            with CaptureQueriesContext(connection) as captured:
                assert client.get(LIST, {"page_size": size}).status_code == 200
            queries[name][size] = len(captured.captured_queries)
    for name, user in (("scoped", member), ("superuser", admin)):
        # A real change to the person's access (through the model signals), undone at once.
        Membership.objects.create(user=user, organization=regions[1]).delete()
        with CaptureQueriesContext(connection) as captured:
            assert clients[name].get(LIST, {"page_size": 50}).status_code == 200
        queries[name]["changed"] = len(captured.captured_queries)
    for _ in range(20):
        for client in clients.values():
            client.get(LIST, {"page_size": 50})
    samples: dict[str, list[float]] = {"scoped": [], "superuser": []}
    ok = {"scoped": 0, "superuser": 0}
    with collector_paused():
        for _ in range(requests):
            for name, client in clients.items():
                started = time.perf_counter()
                response = client.get(LIST, {"page_size": 50})
                samples[name].append((time.perf_counter() - started) * 1000)
                if response.status_code == 200 and len(response.json()["results"]) == 50:
                    ok[name] += 1
    return {"scoped_ms": samples["scoped"], "superuser_ms": samples["superuser"], "scoped_ok": ok["scoped"],
            "superuser_ok": ok["superuser"], "queries": queries, "visible_rows": visible,
            "vendor": connection.vendor, "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


if __name__ == "__main__":
    print(json.dumps(_measure(int(sys.argv[1]))))
