"""Alerts: (a) one evaluation cycle of a threshold rule over 10,000 series, (b) an alert from firing to
a webhook receiver, (c) 10,000 alerts in 100 groups from ingestion until every group is notified.

Baselines, each measured in the same run on the same database and receiver:
(a) the read no evaluation can avoid: one hand-written ``SELECT resource_id, AVG(value) ... GROUP BY
resource_id`` over the same window, and a Python comparison of each average with the threshold;
(b) and (c) the transport alone: a bare POST of the same JSON body with one reused ``httpx.Client``
to the same loopback receiver, once per notification, from the same process.

(b) and (c) are also measured on Prometheus Alertmanager (Debian's ``prometheus-alertmanager``,
started by the benchmark on loopback with ``group_wait: 0s``, one route per case grouping as ours
does) fed the same alerts through its ``POST /api/v2/alerts`` and sending to the same receiver; those
rows give the ratio to it. Alertmanager's figure includes its HTTP ingestion request; ours starts at
the ingestion service (the HTTP request in front of it adds about a millisecond). When the binary is
missing those rows are left out and the parameters say so. (b) to the websocket badge needs a running
server and is not measured here.

Events are handed to one long-lived event loop of the measuring process, as the embedded server's
worker hands them to the server's loop. Each mode runs in a child process on a fresh database:
SQLite in a temporary directory (embedded), a throw-away PostgreSQL from ``devtools.services``
(distributed). Deliveries are sent in the measuring process (``delivery_attempt``), as one worker
would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from bench.harness import REPO_DIR, Context, Row, percentile

TITLE = "alert rules over 10,000 series; firing -> webhook; 10,000 alerts in 100 groups to notified"
BASELINE = ("(a) one GROUP BY over the window's samples plus the comparisons; (b), (c) bare HTTP POSTs of the same "
            "bodies to the same loopback receiver, and Prometheus Alertmanager fed the same alerts")
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def run(ctx: Context) -> list[Row]:
    series = 2_000 if ctx.quick else 10_000
    alerts, groups = (1_000, 10) if ctx.quick else (10_000, 100)
    probes = 50 if ctx.quick else 200
    ctx.parameters.update(series=series, samples_per_series=5, window_seconds=300, alerts=alerts, groups=groups,
                          firing_probes=probes,
                          alertmanager=_alertmanager_version() or "not installed (prometheus-alertmanager)",
                          embedded="SQLite (WAL) in a temporary directory",
                          distributed="PostgreSQL from devtools.services")
    rows: list[Row] = []
    for mode in ctx.modes:
        with tempfile.TemporaryDirectory(prefix="um-bench-alerts-") as data_dir:
            env = {**os.environ, "UNIMANAGER_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "unimanager.settings"}
            env.pop("DATABASE_URL", None)
            env.pop("REDIS_URL", None)
            ctx.log(f"{mode}: {series} series, {probes} firing probes, {alerts} alerts in {groups} groups")
            args = [str(series), str(probes), str(alerts), str(groups)]
            if mode == "distributed":
                from devtools.services import distributed_services

                with distributed_services() as (pg, redis):
                    result = _child(args, {**env, "DATABASE_URL": pg.url, "REDIS_URL": redis.url})
            else:
                result = _child(args, env)
        rows += _rows(mode, result, series, alerts, groups)
    return rows


def _alertmanager_version() -> str | None:
    if not os.path.exists(ALERTMANAGER):
        return None
    out = subprocess.run([ALERTMANAGER, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "unknown version"


def _child(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_alerts", *args], cwd=REPO_DIR, env=env,
                         capture_output=True, text=True, check=False, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rows(mode: str, r: dict, series: int, alerts: int, groups: int) -> list[Row]:
    b = r["firing"]
    am = r.get("alertmanager")
    versus = []
    if am:
        versus = [
            Row(mode, "one alert in a new group -> webhook received, beside Alertmanager", "p50", "ms",
                percentile(b["ms"], 50), percentile(am["ms"], 50), delivered=b["received"], expected=b["expected"],
                baseline_delivered=am["received"], baseline_expected=b["expected"]),
            Row(mode, "one alert in a new group -> webhook received, beside Alertmanager", "p99", "ms",
                percentile(b["ms"], 99), percentile(am["ms"], 99)),
            Row(mode, f"{alerts:,} alerts in {groups} groups -> every group notified, beside Alertmanager", "total",
                "s", r["groups_s"], am["groups_s"], delivered=r["groups_received"], expected=groups,
                baseline_delivered=am["groups_received"], baseline_expected=groups),
        ]
    return versus + [
        Row(mode, f"{series:,} series, 5 samples each, steady (no state changes)", "evaluate one cycle", "s",
            min(r["steady_s"]), min(r["baseline_s"]), delivered=r["series_seen"], expected=series),
        Row(mode, f"{series:,} series, a tenth crossing the threshold", "evaluate one cycle", "s",
            r["crossing_s"], min(r["baseline_s"]), delivered=r["changes"], expected=series // 10),
        Row(mode, "one alert in a new group -> signed webhook received", "p50", "ms",
            percentile(b["ms"], 50), percentile(b["baseline_ms"], 50), delivered=b["received"],
            expected=b["expected"], baseline_delivered=b["baseline_received"], baseline_expected=b["expected"]),
        Row(mode, "one alert in a new group -> signed webhook received", "p99", "ms",
            percentile(b["ms"], 99), percentile(b["baseline_ms"], 99)),
        Row(mode, f"{alerts:,} alerts in {groups} groups: ingest -> every group notified", "total", "s",
            r["groups_s"], r["groups_baseline_s"], delivered=r["groups_received"], expected=groups,
            baseline_delivered=r["groups_baseline_received"], baseline_expected=groups,
            extra={"ingest_s": r["ingest_s"], "dispatch_s": r["dispatch_s"], "send_s": r["send_s"]}),
    ]


def _measure(series: int, probes: int, alerts: int, groups: int) -> dict:
    import datetime as dt

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    import httpx

    from apps.core import runtime

    # As in the embedded server: events go to one long-lived loop, not a new loop per event.
    runtime.set_server_loop(runtime.background_loop())

    from apps.alerts import services
    from apps.alerts.models import Alert, AlertRule, Delivery, MetricSample
    from apps.alerts.notify import delivery_attempt, notifications_dispatch
    from apps.alerts.rules import rule_evaluate
    from apps.alerts.tests.receivers import HttpReceiver
    from apps.clouds.models import CloudPlatform
    from apps.organizations.models import Organization
    from apps.resources.models import Resource

    t0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    org = Organization.objects.create(name="Bench", kind="headquarters")
    platform = CloudPlatform.objects.create(organization=org, type="apsara", name="bench", endpoint="127.0.0.1:1")
    Resource.objects.bulk_create([
        Resource(platform=platform, organization=org, region="r1", service="ecs", type="ecs.instance",
                 external_id=f"i-{n:06d}", name=f"vm-{n}", status="running", content_hash="0" * 32, first_seen_at=t0,
                 last_changed_at=t0) for n in range(series)], batch_size=2000)
    ids = list(Resource.objects.order_by("id").values_list("id", flat=True))
    MetricSample.objects.bulk_create([
        MetricSample(resource_id=rid, metric="CPUUtilization", ts=t0 - dt.timedelta(seconds=60 * k), value=30 + k,
                     minimum=30 + k, maximum=30 + k) for rid in ids for k in range(5)], batch_size=5000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    rule = AlertRule.objects.create(organization=org, name="cpu", metric="CPUUtilization", aggregation="avg",
                                    operator=">", threshold=80, window_seconds=300)
    steady, baseline = [], []
    seen = 0
    start_ts = t0 - dt.timedelta(seconds=300)
    for _ in range(3):
        began = time.perf_counter()
        result = rule_evaluate(rule, now=t0)
        steady.append(time.perf_counter() - began)
        seen = result.series
        began = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT resource_id, AVG(value) FROM alerts_metricsample WHERE metric = %s AND "
                           "resolution = 'raw' AND ts > %s AND ts <= %s GROUP BY resource_id",
                           ["CPUUtilization", start_ts, t0])
            breaching = [rid for rid, avg in cursor.fetchall() if avg > 80]
        baseline.append(time.perf_counter() - began)
        assert not breaching
    MetricSample.objects.filter(resource_id__in=ids[::10], ts=t0).update(value=500)
    began = time.perf_counter()
    crossing = rule_evaluate(rule, now=t0)
    crossing_s = time.perf_counter() - began

    receiver = HttpReceiver(secret="bench-secret")
    hook = services.contact_point_create(actor=None, organization=org, name="hook", kind="webhook",
                                         config={"url": receiver.url + "/hook"}, secrets={"secret": "bench-secret"})
    services.route_create(actor=None, organization=org, name="by probe", contact_points=[hook],
                          group_by=["probe"], group_wait_seconds=0, repeat_interval_seconds=86400)
    Alert.objects.all().delete()
    firing_ms, baseline_ms = [], []
    for n in range(probes):
        began = time.perf_counter()
        done = services.external_alerts_ingest(actor=None, organization=org, alerts=[
            {"labels": {"alertname": "probe", "probe": f"p{n}", "severity": "critical"}}])
        for d in notifications_dispatch(organization_id=org.pk, touched=done):
            delivery_attempt(delivery_id=d.pk)
        firing_ms.append((time.perf_counter() - began) * 1000)
    probe_received = sum(1 for x in receiver.received if x["path"] == "/hook" and x["signature_ok"])
    body = receiver.received[-1]["body"] if receiver.received else {}
    bare = httpx.Client(timeout=5)
    for _ in range(probes):
        began = time.perf_counter()
        bare.post(receiver.url + "/bare", content=json.dumps(body).encode(),
                  headers={"Content-Type": "application/json"})
        baseline_ms.append((time.perf_counter() - began) * 1000)
    bare_received = sum(1 for x in receiver.received if x["path"] == "/bare")

    Alert.objects.all().delete()
    Delivery.objects.all().delete()
    services.route_create(actor=None, organization=org, name="by group", priority=1, contact_points=[hook],
                          matchers=[{"name": "alertname", "op": "=", "value": "load"}], group_by=["group"],
                          group_wait_seconds=0, repeat_interval_seconds=86400)
    batch = [{"labels": {"alertname": "load", "group": f"g{n % groups}", "instance": f"i{n}"}} for n in range(alerts)]
    before = len(receiver.received)
    began = time.perf_counter()
    done = services.external_alerts_ingest(actor=None, organization=org, alerts=batch)
    ingest_s = time.perf_counter() - began
    deliveries = notifications_dispatch(organization_id=org.pk, touched=done)
    dispatch_s = time.perf_counter() - began - ingest_s
    for d in deliveries:
        delivery_attempt(delivery_id=d.pk)
    groups_s = time.perf_counter() - began
    got = receiver.received[before:]
    groups_received = len({x["body"]["groupLabels"]["group"] for x in got
                           if x["signature_ok"] and len(x["body"]["alerts"]) == alerts // groups})
    payloads = [json.dumps(x["body"]).encode() for x in got]
    began = time.perf_counter()
    for raw in payloads:
        bare.post(receiver.url + "/bare-groups", content=raw, headers={"Content-Type": "application/json"})
    groups_baseline_s = time.perf_counter() - began
    bare_groups = sum(1 for x in receiver.received if x["path"] == "/bare-groups")
    alertmanager = _alertmanager(receiver, probes, alerts, groups) if os.path.exists(ALERTMANAGER) else None
    receiver.stop()
    return {"vendor": connection.vendor, "steady_s": steady, "baseline_s": baseline, "series_seen": seen,
            "crossing_s": crossing_s, "changes": len(crossing.changes),
            "firing": {"ms": firing_ms, "baseline_ms": baseline_ms, "received": probe_received, "expected": probes,
                       "baseline_received": bare_received},
            "ingest_s": ingest_s, "dispatch_s": dispatch_s, "send_s": groups_s - ingest_s - dispatch_s,
            "groups_s": groups_s, "groups_received": groups_received, "groups_baseline_s": groups_baseline_s,
            "groups_baseline_received": bare_groups, "alertmanager": alertmanager}


def _alertmanager(receiver, probes: int, alerts: int, groups: int) -> dict:
    """The same alerts through Alertmanager on loopback, to the same receiver."""
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    work = tempfile.mkdtemp(prefix="um-bench-am-")
    config = os.path.join(work, "alertmanager.yml")
    with open(config, "w") as fh:
        fh.write(f"""route:
  receiver: hook
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 24h
  routes:
    - matchers: ['alertname="probe"']
      group_by: [probe]
    - matchers: ['alertname="load"']
      group_by: [group]
receivers:
  - name: hook
    webhook_configs:
      - url: {receiver.url}/am
        send_resolved: false
""")
    process = subprocess.Popen([ALERTMANAGER, f"--config.file={config}", f"--storage.path={work}/data",
                                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = httpx.Client(timeout=10)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.get(base + "/-/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Alertmanager did not start")
            time.sleep(0.05)

        def received(path_groups: set[str], key: str, want: int, limit: float = 30) -> int:
            end = time.monotonic() + limit
            while True:
                got = {x["body"]["groupLabels"].get(key) for x in receiver.received
                       if x["path"] == "/am" and x["body"]["groupLabels"].get(key) in path_groups}
                if len(got) >= want or time.monotonic() > end:
                    return len(got)
                time.sleep(0.0002)

        ms, ok = [], 0
        for n in range(probes):
            name = f"am{n}"
            began = time.perf_counter()
            client.post(base + "/api/v2/alerts", json=[{"labels": {"alertname": "probe", "probe": name,
                                                                    "severity": "critical"}}])
            ok += received({name}, "probe", 1, limit=10)
            ms.append((time.perf_counter() - began) * 1000)
        names = {f"g{n}" for n in range(groups)}
        batch = [{"labels": {"alertname": "load", "group": f"g{n % groups}", "instance": f"i{n}"}}
                 for n in range(alerts)]
        began = time.perf_counter()
        client.post(base + "/api/v2/alerts", json=batch)
        got = received(names, "group", groups, limit=60)
        groups_s = time.perf_counter() - began
        return {"ms": ms, "received": ok, "groups_s": groups_s, "groups_received": got}
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    print(json.dumps(_measure(*(int(a) for a in sys.argv[1:5]))))
