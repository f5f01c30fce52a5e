"""Alerts: (a) one evaluation cycle of a threshold rule over 10,000 series; (b) one alert from the
moment it is sent to the ingestion API to the moment a webhook receiver has it, and to the moment
the console's header badge shows it (its websocket event, which carries the new counts); (c)
10,000 alerts in 100 groups from one ingestion request until every group is notified.

(b) and (c) run on a real deployment of each mode (``bench.deployments``: embedded = one server
process with SQLite and the Celery worker inside; distributed = daphne, a separate Celery worker,
PostgreSQL and Redis): alerts are POSTed to ``/api/v1/alerts/ingest/v2/alerts`` signed with an
AccessKey, as a Prometheus would, and go through the same ingestion, dispatch, sender threads,
Celery and channel layer as in production. The badge is measured the way the page updates it: a
websocket client subscribed to the alert topic, which stops the clock when the "ingested" event's
frame, read from its socket (and handled from there, as a page's message handler runs on it), shows the
new alert by its counts (or, for an event without them, by its read of ``/api/v1/alerts/alerts/summary/``),
and reads the summary 250 ms after a burst of events, as the page confirms what it drew.

Baselines, each measured in the same run on the same machine and receiver:
(a) the read no evaluation can avoid: one hand-written ``SELECT resource_id, AVG(value) ... GROUP BY
resource_id`` over the same window, and a Python comparison of each average with the threshold;
(b), (c) Prometheus Alertmanager (Debian's ``prometheus-alertmanager``, started by the benchmark on
loopback with ``group_wait: 0s``, one route per case grouping as ours does, while our deployment is
stopped) fed the same alerts through its ``POST /api/v2/alerts`` with the same HTTP client and
sending to the same receiver. When the binary is missing those rows have no baseline.

A breakdown of (b) is measured in a child process on a fresh database of each mode, without HTTP in
front: ``external_alerts_receive`` (ingest, dispatch, commit, hand-over to a sender thread), then
the send until the receiver has it, beside a bare POST of the same body with one reused client; and
signed requests given to the ingestion lane as daphne gives them, alternated between its short way and
Django's whole handler, with each stage of one alert to the webhook; then the ingestion again once the
organization holds 22,000 alerts (resolved over months, 2,000 firing), beside the same without them.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

from bench.harness import REPO_DIR, Context, Row, percentile

TITLE = "alert rules over 10,000 series; firing -> webhook and -> badge; 10,000 alerts in 100 groups to notified"
BASELINE = ("(a) one GROUP BY over the window's samples plus the comparisons; (b), (c) Prometheus Alertmanager fed "
            "the same alerts in the same run, sending to the same receiver")
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
SECRET = "bench-secret"
# The history an organization is given for the ingestion's row at scale: alerts resolved over the last
# months and some firing.
ESTATE_ALERTS = 22_000
ESTATE_FIRING = 2_000


def run(ctx: Context) -> list[Row]:
    from apps.alerts.tests.receivers import HttpReceiver

    series = 2_000 if ctx.quick else 10_000
    alerts, groups = (1_000, 10) if ctx.quick else (10_000, 100)
    probes = 50 if ctx.quick else 200
    ctx.parameters.update(series=series, samples_per_series=5, window_seconds=300, alerts=alerts, groups=groups,
                          firing_probes=probes,
                          alertmanager=_alertmanager_version() or "not installed (prometheus-alertmanager)",
                          embedded="manage.py serve on SQLite (WAL), Celery worker inside",
                          distributed="daphne + Celery worker (threads) + PostgreSQL + Redis from devtools.services",
                          badge="websocket event on alerts:platform carrying its counts (GET "
                                "/api/v1/alerts/alerts/summary/ 250 ms after a burst, or at once for an event "
                                "without counts)")
    rows: list[Row] = []
    for mode in ctx.modes:
        with tempfile.TemporaryDirectory(prefix="um-bench-alerts-") as data_dir:
            env = {**os.environ, "UNIMANAGER_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "unimanager.settings"}
            env.pop("DATABASE_URL", None)
            env.pop("REDIS_URL", None)
            ctx.log(f"{mode}: {series} series and {probes} firing probes in a child process")
            args = [str(series), str(probes)]
            if mode == "distributed":
                from devtools.services import distributed_services

                with distributed_services() as (pg, redis):
                    result = _child(args, {**env, "DATABASE_URL": pg.url, "REDIS_URL": redis.url})
            else:
                result = _child(args, env)
        receiver = HttpReceiver(secret=SECRET)
        try:
            ctx.log(f"{mode}: {probes} probes and {alerts} alerts in {groups} groups through a served deployment")
            served = _served(mode, receiver, probes, alerts, groups)
            ctx.log(f"{mode}: the same through Alertmanager")
            am = _alertmanager(receiver, probes, alerts, groups) if os.path.exists(ALERTMANAGER) else None
        finally:
            receiver.stop()
        rows += _rows(mode, result, served, am, series, alerts, groups, probes)
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


def _rows(mode: str, r: dict, served: dict, am: dict | None, series: int, alerts: int, groups: int,
          probes: int) -> list[Row]:
    am = am or {"ms": [], "received": None, "groups_s": None, "groups_received": None}
    b = r["firing"]
    h = r["handler"]
    return [
        Row(mode, "one alert POSTed to the ingestion API -> signed webhook received, beside Alertmanager", "p50",
            "ms", percentile(served["webhook_ms"], 50), percentile(am["ms"], 50), delivered=served["webhooks"],
            expected=probes, baseline_delivered=am["received"], baseline_expected=probes,
            # The server process's CPU over the probes' loop, per probe: the ingestion, its announcement and
            # the badge's read of it, and the GET /healthz beside it (not PostgreSQL's or Redis's).
            extra={"server_cpu_ms_per_probe": served["server_cpu_ms_per_probe"]}),
        Row(mode, "one alert POSTed to the ingestion API -> signed webhook received, beside Alertmanager", "p99",
            "ms", percentile(served["webhook_ms"], 99), percentile(am["ms"], 99)),
        Row(mode, "breakdown, served: GET /healthz answered by the same server (its floor per request, nothing "
            "done), beside Alertmanager's webhook", "p50", "ms", percentile(served["floor_ms"], 50),
            percentile(am["ms"], 50), delivered=len(served["floor_ms"]), expected=probes,
            extra={"p99_ms": percentile(served["floor_ms"], 99)}),
        Row(mode, "breakdown, served: GET answered by a bare ASGI application under daphne beside it (daphne's "
            "own floor, no Django), beside Alertmanager's webhook", "p50", "ms", percentile(served["raw_ms"], 50),
            percentile(am["ms"], 50), delivered=len(served["raw_ms"]), expected=probes,
            extra={"p99_ms": percentile(served["raw_ms"], 99)}),
        Row(mode, "one alert POSTed to the ingestion API -> console badge shows it (websocket event with its "
            "counts), beside Alertmanager's webhook", "p50", "ms", percentile(served["badge_ms"], 50),
            percentile(am["ms"], 50), delivered=served["badges"], expected=probes,
            baseline_delivered=am["received"], baseline_expected=probes,
            extra={"event_p50_ms": percentile(served["event_ms"], 50),
                   "event_p99_ms": percentile(served["event_ms"], 99), "summary_reads": served["badge_reads"]}),
        Row(mode, "one alert POSTed to the ingestion API -> console badge shows it (websocket event with its "
            "counts), beside Alertmanager's webhook", "p99", "ms", percentile(served["badge_ms"], 99),
            percentile(am["ms"], 99)),
        Row(mode, f"{alerts:,} alerts in {groups} groups POSTed at once -> every group notified, beside "
            "Alertmanager", "total", "s", served["groups_s"], am["groups_s"], delivered=served["groups_received"],
            expected=groups, baseline_delivered=am["groups_received"], baseline_expected=groups,
            extra={"request_s": served["groups_request_s"]}),
        Row(mode, f"{series:,} series, 5 samples each, steady (no state changes)", "evaluate one cycle", "s",
            min(r["steady_s"]), min(r["baseline_s"]), delivered=r["series_seen"], expected=series),
        Row(mode, f"{series:,} series, a tenth crossing the threshold", "evaluate one cycle", "s",
            r["crossing_s"], min(r["baseline_s"]), delivered=r["changes"], expected=series // 10),
        Row(mode, "breakdown, no HTTP in front: ingest + dispatch in one transaction, to its commit", "p50",
            "ms", percentile(b["receive_ms"], 50), None, delivered=b["received"], expected=b["expected"],
            extra={"p99_ms": percentile(b["receive_ms"], 99),
                   "announce_after_hand_over_p50_ms": percentile(b["after_ms"], 50)}),
        Row(mode, f"breakdown, no HTTP in front: ingest + dispatch to its commit, the organization holding "
            f"{ESTATE_ALERTS:,} alerts more ({ESTATE_FIRING:,} firing), beside the same with none", "p50", "ms",
            percentile(r["estate_receive_ms"], 50), percentile(b["receive_ms"], 50),
            delivered=len(r["estate_receive_ms"]), expected=probes, baseline_delivered=b["received"],
            baseline_expected=b["expected"], extra={"p99_ms": percentile(r["estate_receive_ms"], 99)}),
        Row(mode, "breakdown, no HTTP in front: hand-over -> signed webhook received, beside a bare POST of the "
            "same body", "p50", "ms", percentile(b["send_ms"], 50), percentile(b["baseline_ms"], 50),
            delivered=b["received"], expected=b["expected"], baseline_delivered=b["baseline_received"],
            baseline_expected=b["expected"], extra={"p99_ms": percentile(b["send_ms"], 99),
                                                    "baseline_p99_ms": percentile(b["baseline_ms"], 99)}),
        Row(mode, "breakdown, no HTTP in front: receive -> signed webhook received", "p50", "ms",
            percentile(b["ms"], 50), percentile(b["baseline_ms"], 50), delivered=b["received"],
            expected=b["expected"], baseline_delivered=b["baseline_received"], baseline_expected=b["expected"]),
        Row(mode, "breakdown, no server in front: signed request through Django's handler -> signed webhook "
            "received (stage p50s in extra)", "p50", "ms", percentile(h["total"], 50),
            percentile(b["baseline_ms"], 50), delivered=len(h["total"]), expected=probes,
            extra={"p99_ms": percentile(h["total"], 99),
                   **{f"{k}_p50_ms": percentile(v, 50) for k, v in h.items() if k != "total"}}),
        Row(mode, "breakdown, no server in front: signed request through the ingestion lane's short way -> signed "
            "webhook received, beside the lane through Django's whole handler, alternated (stage p50s in extra)",
            "p50", "ms", percentile(r["lane"]["short"]["total"], 50), percentile(r["lane"]["whole"]["total"], 50),
            delivered=len(r["lane"]["short"]["total"]), expected=probes,
            baseline_delivered=len(r["lane"]["whole"]["total"]), baseline_expected=probes,
            extra={f"{way}_{k}_p50_ms": percentile(v, 50) for way in ("short", "whole")
                   for k, v in r["lane"][way].items() if k != "total"}),
    ]


def _measure(series: int, probes: int) -> dict:
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
    from apps.alerts.models import Alert, AlertRule, MetricSample
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

    receiver = HttpReceiver(secret=SECRET)
    hook = services.contact_point_create(actor=None, organization=org, name="hook", kind="webhook",
                                         config={"url": receiver.url + "/hook"}, secrets={"secret": SECRET})
    services.route_create(actor=None, organization=org, name="by probe", contact_points=[hook],
                          group_by=["probe"], group_wait_seconds=0, repeat_interval_seconds=86400)
    Alert.objects.all().delete()
    # When each delivery is handed to a sender thread (after the commit), for the breakdown.
    from apps.alerts import sender

    handed_at: list[float] = []
    hand_over = sender.hand_over

    def timed_hand_over(delivery: Any, *args: Any) -> Any:
        handed_at.append(time.perf_counter())
        return hand_over(delivery, *args)

    sender.hand_over = timed_hand_over
    def ingest_round(prefix: str) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {"firing_ms": [], "receive_ms": [], "send_ms": [], "after_ms": []}
        for n in range(probes):
            name = f"{prefix}{n}"
            handed_at.clear()
            began = time.perf_counter()
            services.external_alerts_receive(actor=None, organization=org, alerts=[
                {"labels": {"alertname": "probe", "probe": name, "severity": "critical"}}])
            returned = time.perf_counter()
            got = receiver.wait_for(lambda rs, name=name: next(
                (x for x in rs if x["path"] == "/hook" and x["body"]["groupLabels"].get("probe") == name), None), 10)
            if got is not None and handed_at:
                out["firing_ms"].append((got["at"] - began) * 1000)
                out["receive_ms"].append((handed_at[0] - began) * 1000)
                out["send_ms"].append((got["at"] - handed_at[0]) * 1000)
                out["after_ms"].append((returned - handed_at[0]) * 1000)
            time.sleep(0.002)  # the sender thread records the delivery as sent before the next probe
        return out

    first = ingest_round("p")
    firing_ms, receive_ms, send_ms, after_ms = (first[k] for k in ("firing_ms", "receive_ms", "send_ms", "after_ms"))
    baseline_ms: list[float] = []
    probe_received = sum(1 for x in receiver.received if x["path"] == "/hook" and x["signature_ok"])
    stages = _handler_stages(org, receiver, probes, handed_at)
    sender.hand_over = hand_over
    lane = _lane_stages(org, receiver, probes)
    # The same ingestion into an organization that has a history: what grows with its alerts shows here.
    from django.utils import timezone

    now = timezone.now()
    Alert.objects.bulk_create([
        Alert(organization=org, source=Alert.Source.EXTERNAL, fingerprint=f"estate-{n}", name="estate",
              labels={"alertname": "estate", "probe": f"e{n}", "severity": "warning"}, severity="warning",
              state=Alert.State.FIRING if n < ESTATE_FIRING else Alert.State.RESOLVED,
              state_changed_at=now - dt.timedelta(days=n % 300),
              ends_at=None if n < ESTATE_FIRING else now - dt.timedelta(days=2 + n % 300))
        for n in range(ESTATE_ALERTS)], batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE alerts_alert")
    sender.hand_over = timed_hand_over
    estate = ingest_round("q")["receive_ms"]
    sender.hand_over = hand_over
    body = receiver.received[-1]["body"] if receiver.received else {}
    bare = httpx.Client(timeout=5)
    for n in range(probes):
        began = time.perf_counter()
        bare.post(receiver.url + "/bare", content=json.dumps(body).encode(),
                  headers={"Content-Type": "application/json"})
        got = receiver.wait_for(lambda rs, n=n: sum(1 for x in rs if x["path"] == "/bare") > n and rs[-1], 10)
        if got is not None:
            baseline_ms.append((got["at"] - began) * 1000)
    bare_received = sum(1 for x in receiver.received if x["path"] == "/bare")
    receiver.stop()
    return {"vendor": connection.vendor, "steady_s": steady, "baseline_s": baseline, "series_seen": seen,
            "crossing_s": crossing_s, "changes": len(crossing.changes),
            "firing": {"ms": firing_ms, "receive_ms": receive_ms, "send_ms": send_ms, "after_ms": after_ms,
                       "baseline_ms": baseline_ms,
                       "received": probe_received, "expected": probes, "baseline_received": bare_received},
            "handler": stages, "lane": lane, "estate_receive_ms": estate}


def _handler_stages(org: Any, receiver: Any, probes: int, handed_at: list[float]) -> dict:
    """Signed ingestion requests through Django's request handler in this process (middleware, DRF,
    the AccessKey check, the view), without a server in front: when each stage began, from the
    request's start, until the signed webhook arrived."""
    from django.conf import settings
    from django.test import Client

    from apps.alerts import services
    from apps.organizations.models import Membership, User
    from apps.security.authentication import AccessKeyAuthentication
    from apps.security.client import sign
    from apps.security.services import access_key_create

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    person = User.objects.create_user(username="bench-ingest", password="x-Unimanager-9", is_superuser=True)
    Membership.objects.create(user=person, organization=org)
    key, secret = access_key_create(actor=person)
    marks: dict[str, float] = {}

    def marked(name: str, function: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            marks.setdefault(name, time.perf_counter())
            return function(*args, **kwargs)
        return run

    authenticate, receive = AccessKeyAuthentication.authenticate, services.external_alerts_receive
    AccessKeyAuthentication.authenticate = marked("authenticate", authenticate)
    services.external_alerts_receive = marked("receive", receive)
    client, path = Client(), "/api/v1/alerts/ingest/v2/alerts"
    out: dict[str, list[float]] = {"total": [], "to_authenticate": [], "authenticate_to_view": [],
                                   "receive_to_hand_over": [], "hand_over_to_webhook": [], "answered": []}
    try:
        for n in range(probes + 5):
            name = f"h{n}"
            raw = json.dumps([{"labels": {"alertname": "probe", "probe": name, "severity": "critical"}}]).encode()
            headers = sign("POST", "http://testserver" + path, access_key_id=key.id, secret=secret, body=raw,
                           headers={"Content-Type": "application/json"})
            meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
            marks.clear()
            handed_at.clear()
            began = time.perf_counter()
            answer = client.generic("POST", path, raw, content_type="application/json", **meta)
            answered = time.perf_counter()
            got = receiver.wait_for(lambda rs, name=name: next(
                (x for x in rs if x["path"] == "/hook" and x["body"]["groupLabels"].get("probe") == name), None), 10)
            if answer.status_code != 200 or got is None or not handed_at or n < 5:
                continue  # the first five warm the process up
            out["total"].append((got["at"] - began) * 1000)
            out["to_authenticate"].append((marks["authenticate"] - began) * 1000)
            out["authenticate_to_view"].append((marks["receive"] - marks["authenticate"]) * 1000)
            out["receive_to_hand_over"].append((handed_at[0] - marks["receive"]) * 1000)
            out["hand_over_to_webhook"].append((got["at"] - handed_at[0]) * 1000)
            out["answered"].append((answered - began) * 1000)
            time.sleep(0.002)
    finally:
        AccessKeyAuthentication.authenticate, services.external_alerts_receive = authenticate, receive
    return out


LANE_STAGES = ("to_lane_thread", "to_authenticate", "authenticate_to_view", "receive_to_hand_over",
               "hand_over_to_written", "written_to_webhook")


def _lane_stages(org: Any, receiver: Any, probes: int) -> dict:
    """Signed ingestion requests given to the ingestion lane as daphne gives them (ASGI messages on an
    event loop, no HTTP), alternately to one that answers them the short way (below Django's
    handler) and to one that takes Django's whole handler: when each stage of one alert began, from
    the lane's call to the receiver having the webhook (the sender thread's too), and the lane
    thread's CPU time until the hand-over. ``written``: when the webhook's request was wholly written, by the
    committing thread on a connection opened before (``channels.begin``) or by a sender thread."""
    import asyncio

    from apps.alerts import channels, sender, services
    from apps.alerts.api.lane import IngestionLane
    from apps.organizations.models import Membership, User
    from apps.security.authentication import AccessKeyAuthentication
    from apps.security.client import sign
    from apps.security.services import access_key_create

    person = User.objects.create_user(username="bench-lane", password="x-Unimanager-9", is_superuser=True)
    Membership.objects.create(user=person, organization=org)
    key, secret = access_key_create(actor=person)
    marks: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def marked(name: str, function: Any, thread_cpu: bool = False) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            marks.setdefault(name, time.perf_counter())
            if thread_cpu:
                cpu.setdefault(name, time.thread_time())
            return function(*args, **kwargs)
        return run

    lanes = {"short": IngestionLane(None, threads=1), "whole": IngestionLane(None, threads=1, direct=False)}
    for lane in lanes.values():
        lane._respond = marked("lane_thread", lane._respond, thread_cpu=True)
    patched = [(AccessKeyAuthentication, "authenticate", "authenticate", False),
               (services, "external_alerts_receive", "receive", False), (sender, "hand_over", "hand_over", True)]
    originals = [(owner, attribute, getattr(owner, attribute)) for owner, attribute, _, _ in
                 [*patched, (channels, "begin", "", False), (channels, "send", "", False)]]
    for owner, attribute, name, thread_cpu in patched:
        setattr(owner, attribute, marked(name, getattr(owner, attribute), thread_cpu))
    begin, send = channels.begin, channels.send

    def beginning(post: Any) -> Any:
        begun = begin(post)
        if begun is not None and begun.whole:
            marks.setdefault("written", time.perf_counter())
        return begun

    def sending(*args: Any, written: Any = None, **kwargs: Any) -> Any:
        def told() -> None:
            marks.setdefault("written", time.perf_counter())
            if written is not None:
                written()
        return send(*args, written=told, **kwargs)

    channels.begin, channels.send = beginning, sending
    path = "/api/v1/alerts/ingest/v2/alerts"
    loop = asyncio.new_event_loop()
    out: dict[str, dict[str, list[float]]] = {
        way: {name: [] for name in ("total", "lane_cpu_to_hand_over", *LANE_STAGES)} for way in lanes}
    try:
        for n in range(probes + 5):
            for way in ("short", "whole") if n % 2 else ("whole", "short"):
                name = f"l{way}{n}"
                raw = json.dumps([{"labels": {"alertname": "probe", "probe": name, "severity": "critical"}}]).encode()
                headers = {"Content-Type": "application/json"}
                headers.update(sign("POST", "http://testserver" + path, access_key_id=key.id, secret=secret, body=raw,
                                    headers=headers))
                headers["Content-Length"] = str(len(raw))
                scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                         "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                         "root_path": "",
                         "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
                         "client": ("127.0.0.1", 40000), "server": ("testserver", 80)}
                messages = [{"type": "http.request", "body": raw, "more_body": False}]
                statuses: list[int] = []

                async def receive(messages: list = messages) -> dict:
                    return messages.pop(0) if messages else {"type": "http.disconnect"}

                async def send(message: dict, statuses: list = statuses) -> None:
                    if message["type"] == "http.response.start":
                        statuses.append(message["status"])

                marks.clear()
                cpu.clear()
                began = time.perf_counter()
                loop.run_until_complete(lanes[way](scope, receive, send))
                got = receiver.wait_for(lambda rs, name=name: next((x for x in rs if x["path"] == "/hook" and x[
                    "body"]["groupLabels"].get("probe") == name), None), 10)
                if statuses != [200] or got is None or n < 5:
                    continue  # the first five warm the process up
                at = [began, *(marks[k] for k in ("lane_thread", "authenticate", "receive", "hand_over", "written")),
                      got["at"]]
                for stage, start, end in zip(LANE_STAGES, at[:-1], at[1:], strict=True):
                    out[way][stage].append((end - start) * 1000)
                out[way]["total"].append((got["at"] - began) * 1000)
                out[way]["lane_cpu_to_hand_over"].append((cpu["hand_over"] - cpu["lane_thread"]) * 1000)
                time.sleep(0.002)
    finally:
        for owner, attribute, function in originals:
            setattr(owner, attribute, function)
        loop.close()
    return out


def _stamped_connection() -> type:
    """The websocket client's connection, stamping each text frame as its socket reader parses it: the
    client hands messages from that thread to the one reading them, a hand-over a page does not have (its
    message handler runs where the frame was read) and which took 0.15-0.3 ms of this process's time."""
    from websockets.frames import Opcode
    from websockets.sync.client import ClientConnection

    class Stamped(ClientConnection):
        """``arrival``: when the text message ``recv`` returned last was read (each is one frame here)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.arrivals: collections.deque[float] = collections.deque()
            self.arrival = 0.0

        def process_event(self, event: Any) -> None:
            if getattr(event, "opcode", None) is Opcode.TEXT:
                self.arrivals.append(time.perf_counter())
            super().process_event(event)

        def recv(self, *args: Any, **kwargs: Any) -> Any:
            message = super().recv(*args, **kwargs)
            self.arrival = self.arrivals.popleft()
            return message

    return Stamped


class _Badge:
    """The console's header badge, as its script works: an "ingested" event of the alert topic carries the
    topic's new counts, which it shows at once, then confirms them with a read of the summary at the
    burst's end (250 ms later, at most one pending); an event without counts is followed by a read
    at once. ``events[k]`` is when the k-th such event's frame was read from the socket, ``shown[k]``
    when the badge showed its alert (counting more critical alerts than before the first probe)."""

    def __init__(self, ws: Any, session: Any, base: int, tell: Any = None):
        self.ws, self.session, self.base = ws, session, base
        self.tell = tell or (lambda kind, at=0.0: None)  # each event, read and showing, as it happens
        self.events: list[float] = []
        self.shown: list[float] = []
        self.reads = 0
        self.changed = threading.Condition()
        self.confirm: threading.Timer | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _confirmed(self) -> None:
        with self.changed:
            if self.closed:
                return
        try:
            self.session.get_json("/api/v1/alerts/alerts/summary/")
        except OSError:
            if self.closed:  # the server stopped while the read was on its way
                return
            raise
        with self.changed:
            self.reads += 1
            self.confirm = None
        self.tell("read")

    def close(self) -> None:
        """No confirming read once the measurement is over (the server stops after it)."""
        with self.changed:
            self.closed = True
            if self.confirm is not None:
                self.confirm.cancel()
        self.ws.close()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for raw in self.ws:
                # What this handler does from here on is counted from the frame's arrival.
                picked, at = time.perf_counter(), self.ws.arrival
                message = json.loads(raw)
                data = message.get("data") or {}
                if message.get("type") != "event" or data.get("event") != "ingested":
                    continue
                with self.changed:
                    self.events.append(at)
                    self.changed.notify_all()
                self.tell("event", at)
                counts = data.get("counts")
                if counts is None:
                    status, counts = self.session.get_json("/api/v1/alerts/alerts/summary/")
                    with self.changed:
                        self.reads += 1
                    self.tell("read")
                    if status != 200:
                        continue
                else:
                    with self.changed:
                        if self.confirm is None and not self.closed:
                            self.confirm = threading.Timer(0.25, self._confirmed)
                            self.confirm.daemon = True
                            self.confirm.start()
                done = at + (time.perf_counter() - picked)
                if counts["critical"] > self.base:
                    # The k-th "ingested" event is the k-th request's (nothing else ingests here); what it
                    # carries, or the read it made, is what the badge would show.
                    with self.changed:
                        self.shown.append(done)
                        self.changed.notify_all()
                    self.tell("shown", done)
        except ConnectionClosed:
            pass

    def wait(self, attribute: str, count: int, timeout: float) -> float | None:
        with self.changed:
            if self.changed.wait_for(lambda: len(getattr(self, attribute)) >= count, timeout=timeout):
                return getattr(self, attribute)[count - 1]
        return None


class _CookieSession:
    """The signed-in session's reads, in the badge's own process (its cookie handed over)."""

    def __init__(self, base_url: str, cookie: str):
        self.base_url, self.cookie = base_url, cookie

    def get_json(self, path: str) -> tuple[int, Any]:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.base_url + path, headers={"Cookie": self.cookie,
                                                                         "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, None


def _badge_child() -> None:
    """The badge's client, run by ``_BadgeProcess``: its settings on the first line of standard input, then
    it reports ``ready``, and each ``event``, ``shown`` (with its ``time.perf_counter()``) and ``read``, one
    per line, until its standard input is closed."""
    from websockets.sync.client import connect

    conf = json.loads(sys.stdin.readline())
    lock = threading.Lock()

    def tell(kind: str, at: float = 0.0) -> None:
        with lock:
            sys.stdout.write(f"{kind} {at!r}\n")
            sys.stdout.flush()

    with connect(conf["ws_url"], origin=conf["base_url"], additional_headers={"Cookie": conf["cookie"]},
                 open_timeout=30, create_connection=_stamped_connection()) as ws:
        ws.send(json.dumps({"type": "subscribe", "topic": "alerts:platform"}))
        while json.loads(ws.recv(timeout=30)).get("type") != "subscribed":
            pass
        badge = _Badge(ws, _CookieSession(conf["base_url"], conf["cookie"]), conf["base"], tell)
        tell("ready")
        sys.stdin.read()
        badge.close()


class _BadgeProcess:
    """``_Badge`` in a process of its own, as a browser is. In this process its socket reader waited for the
    interpreter while the webhook receiver here handled the request that had come just before (the frame's
    arrival to its stamp took 0.4-0.5 ms against 0.1 for the server's write of it to the socket). The times
    are ``time.perf_counter()``, one clock for every process of the machine."""

    def __init__(self, ws_url: str, base_url: str, cookie: str, base: int):
        self.events: list[float] = []
        self.shown: list[float] = []
        self.reads = 0
        self.ready = False
        self.changed = threading.Condition()
        self.process = subprocess.Popen([sys.executable, "-m", "bench.bench_alerts", "badge"], cwd=REPO_DIR,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.process.stdin.write(json.dumps({"ws_url": ws_url, "base_url": base_url, "cookie": cookie,
                                             "base": base}) + "\n")
        self.process.stdin.flush()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        if self.wait("ready", 1, 60) is None:
            self.close()
            raise RuntimeError("the badge's client did not subscribe")

    def _read(self) -> None:
        for line in self.process.stdout:
            kind, _, at = line.strip().partition(" ")
            with self.changed:
                if kind in ("event", "shown"):
                    getattr(self, "events" if kind == "event" else "shown").append(float(at))
                elif kind == "read":
                    self.reads += 1
                elif kind == "ready":
                    self.ready = True
                self.changed.notify_all()

    def wait(self, attribute: str, count: int, timeout: float) -> float | None:
        with self.changed:
            if attribute == "ready":
                return 0.0 if self.changed.wait_for(lambda: self.ready, timeout=timeout) else None
            if self.changed.wait_for(lambda: len(getattr(self, attribute)) >= count, timeout=timeout):
                return getattr(self, attribute)[count - 1]
        return None

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _served(mode: str, receiver: Any, probes: int, alerts: int, groups: int) -> dict:
    """Probes and the grouped batch POSTed to a served deployment, signed with an AccessKey."""
    import httpx

    from apps.security.client import sign
    from bench.deployments import DeploymentError, deployment

    with deployment(mode) as dep, _bare_daphne() as raw_url:
        session = dep.sign_in()
        status, key = session.post_json("/api/v1/security/access-keys/", {"description": "alerts benchmark"})
        if status != 201:
            raise DeploymentError(f"creating an AccessKey answered {status}: {key}")
        org = key["organization"]
        status, cp = session.post_json("/api/v1/alerts/contact-points/", {
            "organization": org, "name": "bench hook", "kind": "webhook", "config": {"url": receiver.url + "/served"},
            "secrets": {"secret": SECRET}})
        if status != 201:
            raise DeploymentError(f"creating the contact point answered {status}: {cp}")
        for name, label, match in (("bench probes", "probe", "probe"), ("bench load", "group", "load")):
            status, route = session.post_json("/api/v1/alerts/routes/", {
                "organization": org, "name": name, "priority": 0, "contact_points": [cp["id"]],
                "matchers": [{"name": "alertname", "op": "=", "value": match}], "group_by": [label],
                "group_wait_seconds": 0, "repeat_interval_seconds": 86400})
            if status != 201:
                raise DeploymentError(f"creating a route answered {status}: {route}")
        client = httpx.Client(timeout=120)
        url = dep.base_url + "/api/v1/alerts/ingest/v2/alerts"

        def post(body: Any) -> None:
            raw = json.dumps(body).encode()
            headers = {"Content-Type": "application/json"}
            headers.update(sign("POST", url, access_key_id=key["id"], secret=key["secret"], body=raw,
                                headers=headers))
            answer = client.post(url, content=raw, headers=headers)
            if answer.status_code != 200:
                raise DeploymentError(f"ingestion answered {answer.status_code}: {answer.text[:300]}")

        status, counts = session.get_json("/api/v1/alerts/alerts/summary/")
        badge = _BadgeProcess(dep.ws_url, dep.base_url, session.cookie_header, counts["critical"])
        post([{"labels": {"alertname": "probe", "probe": "warm-up", "severity": "critical"}}])
        badge.wait("shown", 1, 30)
        receiver.wait_for(lambda rs: any(x["path"] == "/served" for x in rs), 30)
        webhook_ms, event_ms, badge_ms, floor_ms, raw_ms = [], [], [], [], []
        for _ in range(20):
            client.get(raw_url)
        server = next(process.pid for name, process, _ in dep.processes.started if name in ("daphne", "serve"))
        server_cpu = _cpu_seconds(server)
        for n in range(probes):
            # The server's floor: a request that does nothing (no database, no signature), same client;
            # and daphne's own: the same request answered by a bare ASGI application.
            began = time.perf_counter()
            client.get(dep.base_url + "/healthz")
            floor_ms.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            client.get(raw_url)
            raw_ms.append((time.perf_counter() - began) * 1000)
            name = f"s{n}"
            began = time.perf_counter()
            post([{"labels": {"alertname": "probe", "probe": name, "severity": "critical"}}])
            got = receiver.wait_for(lambda rs, name=name: next(
                (x for x in rs if x["path"] == "/served" and x["signature_ok"]
                 and x["body"]["groupLabels"].get("probe") == name), None), 10)
            if got is not None:
                webhook_ms.append((got["at"] - began) * 1000)
            event = badge.wait("events", n + 2, 10)
            if event is not None:
                event_ms.append((event - began) * 1000)
            shown = badge.wait("shown", n + 2, 10)
            if shown is not None:
                badge_ms.append((shown - began) * 1000)
            dep.processes.check()
        time.sleep(0.2)  # let the last badge read finish before the batch
        server_cpu = _cpu_seconds(server) - server_cpu
        names = {f"g{n}" for n in range(groups)}
        batch = [{"labels": {"alertname": "load", "group": f"g{n % groups}", "instance": f"i{n}"}}
                 for n in range(alerts)]

        def notified(rs: list[dict]) -> set[str]:
            return {x["body"]["groupLabels"].get("group") for x in rs if x["path"] == "/served" and x["signature_ok"]
                    and x["body"]["groupLabels"].get("group") in names and len(x["body"]["alerts"]) == alerts // groups}

        began = time.perf_counter()
        post(batch)
        request_s = time.perf_counter() - began
        receiver.wait_for(lambda rs: len(notified(rs)) >= groups, 120)
        got = notified(receiver.received)
        last = max((x["at"] for x in receiver.received if x["path"] == "/served"
                    and x["body"]["groupLabels"].get("group") in names), default=None)
        badge.close()
        client.close()
    return {"webhook_ms": webhook_ms, "webhooks": len(webhook_ms), "event_ms": event_ms, "badge_ms": badge_ms,
            "floor_ms": floor_ms, "raw_ms": raw_ms, "server_cpu_ms_per_probe": server_cpu * 1000 / probes,
            "badges": len(badge_ms), "badge_reads": badge.reads,
            "groups_s": (last - began) if last is not None and len(got) == groups else None,
            "groups_received": len(got), "groups_request_s": request_s}


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:13]) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _bare_daphne() -> Iterator[str]:
    """daphne serving ``bench.asgi_floor`` (an application that does nothing) on loopback: its URL."""
    import httpx

    from bench.deployments import _tool
    from devtools.services import free_port, wait_for_port

    port = free_port()
    process = subprocess.Popen([_tool("daphne"), "-b", "127.0.0.1", "-p", str(port), "bench.asgi_floor:application"],
                               cwd=REPO_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}/"
        httpx.get(url, timeout=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


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

        def post(body: Any) -> None:
            client.post(base + "/api/v2/alerts", content=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json"})

        def first(name: str) -> dict | None:
            return receiver.wait_for(lambda rs: next(
                (x for x in rs if x["path"] == "/am" and x["body"]["groupLabels"].get("probe") == name), None), 10)

        post([{"labels": {"alertname": "probe", "probe": "am-warm-up", "severity": "critical"}}])
        first("am-warm-up")
        ms = []
        for n in range(probes):
            name = f"am{n}"
            began = time.perf_counter()
            post([{"labels": {"alertname": "probe", "probe": name, "severity": "critical"}}])
            got = first(name)
            if got is not None:
                ms.append((got["at"] - began) * 1000)
        names = {f"g{n}" for n in range(groups)}
        batch = [{"labels": {"alertname": "load", "group": f"g{n % groups}", "instance": f"i{n}"}}
                 for n in range(alerts)]

        def notified(rs: list[dict]) -> set[str]:
            # A group counts at its first notification, complete or not (Alertmanager may send a group's
            # first batch before the whole request is in): the kinder reading for the baseline.
            return {x["body"]["groupLabels"].get("group") for x in rs if x["path"] == "/am"
                    and x["body"]["groupLabels"].get("group") in names}

        began = time.perf_counter()
        post(batch)
        receiver.wait_for(lambda rs: len(notified(rs)) >= groups, 60)
        got = notified(receiver.received)
        firsts: dict[str, float] = {}
        for x in receiver.received:
            label = x["body"]["groupLabels"].get("group") if x["path"] == "/am" else None
            if label in names and label not in firsts:
                firsts[label] = x["at"]
        groups_s = (max(firsts.values()) - began) if len(firsts) == groups else None
        return {"ms": ms, "received": len(ms), "groups_s": groups_s, "groups_received": len(got)}
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    if sys.argv[1:] == ["badge"]:
        _badge_child()
    else:
        print(json.dumps(_measure(*(int(a) for a in sys.argv[1:3]))))
