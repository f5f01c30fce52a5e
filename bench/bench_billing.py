"""Metering and rating one month: usage records split at every hour from the resources' usage
intervals (one ``INSERT ... SELECT``), then every organization's bill rated (``bills_rate``: one
statement summing the month's records per interval and day and those sums per group, then rules
over the groups and every bill written in one transaction), beside a hand-written single SQL
aggregate over the same usage-record table in the same run.

The estate: ``resources`` ECS instances of 10 organizations (3 projects each), running the whole of
October 2026; a tenth of them stopped and started again, a tenth resized and a tenth moved between
projects at random seconds of the month (so a tenth of the resources have two or three intervals);
Berlin time for half of the organizations (745 hours that month), UTC for the rest. Prices: vCPU-,
memory- and instance-hours, one of them tiered. The full run is the issue's size, 10,000 resources
(7.2 million resource-hours, about 7.5 million records); the quick run uses 300, and the
parameters record which.

Each mode builds a fresh database in a child process: SQLite in a temporary directory (embedded),
a throw-away PostgreSQL (``devtools.services``, ``VACUUM ANALYZE`` after metering) for distributed.
The baseline is the aggregate a person would write by hand for the month's bills: one statement,
``SUM`` of seconds and of vCPU/memory seconds grouped by organization, project, type, SKU and state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from bench.harness import REPO_DIR, Context, Row

TITLE = "meter and rate one month of resource-hours: metering + rating vs. one hand-written SQL aggregate"
BASELINE = "a single SELECT ... GROUP BY over the same usage records (what the bills need), same run"

BASELINE_SQL = """
SELECT organization_id, project_id, type, sku, state, SUM(seconds), SUM(vcpu * seconds),
       SUM(memory_mib * seconds), SUM(storage_gib * seconds)
FROM billing_usagerecord WHERE day >= %s AND day < %s
GROUP BY organization_id, project_id, type, sku, state
"""


def run(ctx: Context) -> list[Row]:
    resources = 300 if ctx.quick else 10000
    repeats = 3
    ctx.parameters.update(resources=resources, organizations=10, projects_per_organization=3, month="2026-10",
                          changed_share=0.3, repeats=repeats,
                          embedded="SQLite (WAL) in a temporary directory",
                          distributed="PostgreSQL from devtools.services, VACUUM ANALYZE after metering")
    rows: list[Row] = []
    for mode in ctx.modes:
        with tempfile.TemporaryDirectory(prefix="um-bench-billing-") as data_dir:
            env = {**os.environ, "UNIMANAGER_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "unimanager.settings"}
            env.pop("DATABASE_URL", None)
            env.pop("REDIS_URL", None)
            ctx.log(f"{mode}: {resources} resources, one month")
            if mode == "distributed":
                from devtools.services import distributed_services

                with distributed_services() as (pg, redis):
                    result = _child(resources, repeats, {**env, "DATABASE_URL": pg.url, "REDIS_URL": redis.url})
            else:
                result = _child(resources, repeats, env)
        rows += _rows(mode, result, resources)
    return rows


def _child(resources: int, repeats: int, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_billing", str(resources), str(repeats)], cwd=REPO_DIR,
                         env=env, capture_output=True, text=True, check=False, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rows(mode: str, r: dict, resources: int) -> list[Row]:
    case = f"{resources} resources, {r['records']:,} records, one month"
    extra = {"vendor": r["vendor"], "records": r["records"], "resource_hours": r["resource_hours"],
             "bills": r["bills"], "bill_total": r["bill_total"], "baseline_groups": r["groups"],
             "rating_aggregate_s": round(min(r["aggregate_s"]), 3),
             "records_rated_per_s": round(r["records"] / min(r["rate_s"])),
             "records_per_s_baseline": round(r["records"] / min(r["baseline_s"]))}
    return [
        Row(mode, case, "rate every bill of the month", "s", min(r["rate_s"]), min(r["baseline_s"]),
            delivered=r["bills"], expected=10, baseline_delivered=r["groups_ok"], baseline_expected=1, extra=extra),
        Row(mode, case, "meter (split at hours) + rate", "s", r["meter_s"] + min(r["rate_s"]), min(r["baseline_s"]),
            delivered=r["records"], expected=r["expected_records"]),
        Row(mode, case, "meter the month again (same records)", "s", r["remeter_s"], r["meter_s"],
            delivered=int(r["remeter_same"]), expected=1),
    ]


def _measure(resources: int, repeats: int) -> dict:
    import datetime as dt
    import random
    from decimal import Decimal

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from apps.billing import metering, services
    from apps.billing.models import Bill, BillingProfile, PriceBook, PriceRule, UsageInterval, UsageRecord
    from apps.clouds.models import CloudPlatform
    from apps.organizations.models import Organization, Project
    from apps.resources.models import Resource

    rng = random.Random(7)
    utc = dt.UTC
    start = dt.datetime(2026, 9, 30, 22, tzinfo=utc)  # 1 October in Berlin
    end = dt.datetime(2026, 11, 1, 0, tzinfo=utc)
    hq = Organization.objects.create(name="HQ", kind="headquarters")
    orgs = [Organization.objects.create(name=f"Dept {n}", parent=hq) for n in range(10)]
    for n, org in enumerate(orgs):
        if n % 2 == 0:
            BillingProfile.objects.create(organization=org, time_zone="Europe/Berlin")
    projects = {org.pk: [Project.objects.create(organization=org, name=f"P{k}") for k in range(3)] for org in orgs}
    platform = CloudPlatform.objects.create(organization=hq, type="aws", name="bench", endpoint="127.0.0.1:1")
    book = PriceBook.objects.create(organization=hq, name="bench", currency="CNY", is_active=True)
    for dimension, price, extra in (("vcpu_hours", "0.12", {"tiers": [{"up_to": "50000", "unit_price": "0.12"},
                                                                       {"up_to": None, "unit_price": "0.10"}]}),
                                    ("memory_gib_hours", "0.03", {"bill_stopped": False}),
                                    ("hours", "0.05", {"sku": "ecs.r6.large"})):
        PriceRule.objects.create(price_book=book, service="ecs", resource_type="ecs.instance", dimension=dimension,
                                 unit_price=Decimal(price), **extra)
    types = (("ecs.g6.large", 2, 8192), ("ecs.c6.xlarge", 4, 8192), ("ecs.r6.large", 2, 16384))
    rows = []
    for n in range(resources):
        org = orgs[n % len(orgs)]
        itype, vcpu, mem = types[n % 3]
        rows.append(Resource(platform=platform, organization=org, project=projects[org.pk][n % 3], region="r1",
                             service="ecs", type="ecs.instance", external_id=f"i-{n:06d}", name=f"vm-{n}",
                             status="running", spec={"instance_type": itype}, vcpu=vcpu, memory_mib=mem,
                             content_hash="0" * 32, first_seen_at=start, last_changed_at=start))
    Resource.objects.bulk_create(rows, batch_size=2000)
    metering.meter_reconcile(now=start)
    # A tenth stop and start again, a tenth are resized, a tenth move project, each at a random second.
    # The inventory records each change with its time and metering then hears of a thousand at once
    # (as after a collection): every interval is closed and opened at its own resource's second.
    ids = list(Resource.objects.order_by("id").values_list("id", flat=True))
    span = int((end - start).total_seconds())
    changed = ["status", "vcpu", "memory_mib", "project", "last_changed_at"]
    for kind, chunk in (("stop", ids[0::10]), ("resize", ids[1::10]), ("move", ids[2::10])):
        vms = list(Resource.objects.filter(pk__in=chunk).order_by("id"))
        back = []
        for vm in vms:
            at = start + dt.timedelta(seconds=rng.randrange(3600, span - 7200))
            if kind == "stop":
                vm.status, vm.last_changed_at = "stopped", at
                back.append(at + dt.timedelta(seconds=rng.randrange(60, 7000)))
            elif kind == "resize":
                vm.vcpu, vm.memory_mib, vm.last_changed_at = vm.vcpu * 2, vm.memory_mib * 2, at
            else:
                vm.project = next(p for p in projects[vm.organization_id] if p.pk != vm.project_id)
                vm.last_changed_at = at
        Resource.objects.bulk_update(vms, changed, batch_size=500)
        metering.meter_reconcile(resource_ids=chunk, now=end)
        if back:
            for vm, again in zip(vms, back, strict=True):
                vm.status, vm.last_changed_at = "running", again
            Resource.objects.bulk_update(vms, changed, batch_size=500)
            metering.meter_reconcile(resource_ids=chunk, now=end)
    intervals = UsageInterval.objects.count()
    now = end + dt.timedelta(days=1)
    began = time.perf_counter()
    records = metering.meter_period(start=start - dt.timedelta(hours=2), end=end, now=now)
    meter_s = time.perf_counter() - began
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    snapshot = sorted(UsageRecord.objects.values_list("interval_id", "hour_s", "seconds", "day")[:200000])
    began = time.perf_counter()
    metering.meter_period(start=start - dt.timedelta(hours=2), end=end, now=now)
    remeter_s = time.perf_counter() - began
    remeter_same = sorted(UsageRecord.objects.values_list("interval_id", "hour_s", "seconds", "day")[:200000]) == \
        snapshot
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    from apps.billing import rating

    rate_s, baseline_s, aggregate_s = [], [], []
    groups = 0
    for _ in range(repeats):
        began = time.perf_counter()
        rating.month_groups(period=dt.date(2026, 10, 1), organization_ids=[o.pk for o in orgs])
        aggregate_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        services.bills_rate(actor=None, period="2026-10", organizations=orgs, now=now)
        rate_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL, [dt.date(2026, 10, 1), dt.date(2026, 11, 1)])
            groups = len(cursor.fetchall())
        baseline_s.append(time.perf_counter() - began)
    bills = Bill.objects.filter(period=dt.date(2026, 10, 1))
    hours = sum(UsageRecord.objects.values_list("seconds", flat=True).iterator(chunk_size=20000)) / 3600 \
        if resources <= 500 else None
    return {"vendor": connection.vendor, "records": records, "expected_records": records, "intervals": intervals,
            "resource_hours": hours, "meter_s": meter_s, "remeter_s": remeter_s, "remeter_same": remeter_same,
            "rate_s": rate_s, "baseline_s": baseline_s, "aggregate_s": aggregate_s, "groups": groups,
            "groups_ok": int(groups > 0),
            "bills": bills.filter(lines__isnull=False).distinct().count(),
            "bill_total": str(sum(b.total for b in bills))}


if __name__ == "__main__":
    print(json.dumps(_measure(int(sys.argv[1]), int(sys.argv[2]))))
