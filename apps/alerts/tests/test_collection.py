"""Metrics collected from a real cloudsim region through the Apsara adapter, rolled up and expired,
queried by resource and by group; the demo's rules fire on what is collected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.alerts import demo
from apps.alerts.metrics import metrics_collect, metrics_expire, metrics_rollup
from apps.alerts.models import Alert, AlertRule, MetricSample
from apps.alerts.rules import rules_evaluate
from apps.clouds.simulated import seed_resources
from apps.resources.models import Resource
from apps.resources.services import sync_drive, sync_start
from cloudsim.server import CloudSim
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=["cn-hangzhou"]).start()
    seed_resources(server.endpoint, region="cn-hangzhou", instances=3)
    yield server
    server.stop()


@pytest.fixture
def collected(world, sim):
    a = world["a"]
    platform = f.platform(a["org"], endpoint=sim.endpoint, name="sim")
    run = sync_start(actor=None, platform=platform, check=False)
    sync_drive(run_id=run.pk, sleep=False)
    # The region's resources belong to organization A (as an assignment rule would make them).
    Resource.objects.filter(platform=platform).update(organization=a["org"])
    now = timezone.now()
    result = metrics_collect(platform=platform, now=now)
    return {**a, "platform": platform, "now": now, "result": result}


def test_collection_stores_time_varying_series_of_every_collectable_resource(collected):
    result = collected["result"]
    assert result.errors == 0 and result.resources >= 5  # instances, the RDS, the Redis, the load balancer
    cpu = list(MetricSample.objects.filter(metric="CPUUtilization", resolution="raw").values_list("resource_id", "ts",
                                                                                                 "value"))
    by_resource: dict[str, list[float]] = {}
    for rid, _ts, value in cpu:
        by_resource.setdefault(rid, []).append(value)
    assert len(by_resource) == Resource.objects.filter(type="ecs.instance", platform=collected["platform"]).count()
    assert all(len(v) >= 14 for v in by_resource.values())  # a point a minute over the 15-minute backfill
    assert all(0 <= x <= 100 for v in by_resource.values() for x in v)
    assert all(len(set(v)) > 1 for v in by_resource.values())  # the series move
    again = metrics_collect(platform=collected["platform"], now=collected["now"])
    assert again.points == 0  # nothing new since the last point: nothing stored twice


def test_rollups_fold_raw_points_into_five_minute_and_hourly_rows_and_retention_expires_them(collected):
    now = collected["now"]
    written = metrics_rollup(now=now + timedelta(hours=1), lookback_buckets=20)
    assert written["5m"] > 0
    rid = MetricSample.objects.filter(metric="CPUUtilization").values_list("resource_id", flat=True).first()
    raw = list(MetricSample.objects.filter(resource_id=rid, metric="CPUUtilization", resolution="raw")
               .values_list("ts", "value"))
    for bucket in MetricSample.objects.filter(resource_id=rid, metric="CPUUtilization", resolution="5m"):
        inside = [v for ts, v in raw if bucket.ts <= ts < bucket.ts + timedelta(minutes=5)]
        assert bucket.count == len(inside)
        assert bucket.value == pytest.approx(sum(inside) / len(inside))
        assert (bucket.minimum, bucket.maximum) == (min(inside), max(inside))
    assert metrics_expire(now=now + timedelta(days=3)) >= len(raw)
    assert not MetricSample.objects.filter(resolution="raw").exists()
    assert MetricSample.objects.filter(resolution="5m").exists()


def test_metrics_are_queried_by_resource_and_by_group_through_the_api(collected, world):
    client = api_as(collected["user"])
    rid = Resource.objects.filter(type="ecs.instance").values_list("id", flat=True).first()
    series = client.get("/api/v1/alerts/metrics/series/", {"resource": rid, "metric": "CPUUtilization"}).json()
    assert series["resolution"] == "raw" and len(series["series"][0]["points"]) >= 14
    grouped = client.get("/api/v1/alerts/metrics/aggregate/", {"metric": "CPUUtilization", "group_by": "platform",
                                                                "aggregation": "max"}).json()
    assert [g["group"] for g in grouped["results"]] == [collected["platform"].pk]
    by_team = client.get("/api/v1/alerts/metrics/aggregate/", {"metric": "CPUUtilization",
                                                               "group_by": "tag:team"}).json()["results"]
    assert {g["group"] for g in by_team} >= {"shop"}
    other = api_as(world["b"]["user"]).get("/api/v1/alerts/metrics/series/", {"resource": rid,
                                                                             "metric": "CPUUtilization"})
    assert other.status_code == 404
    bad = client.get("/api/v1/alerts/metrics/series/", {"resource": rid, "metric": "Nope"})
    assert bad.status_code == 400 and "metric" in bad.json()["detail"]


def test_the_demo_rules_fire_on_the_collected_metrics(collected):
    from apps.clouds.demo import SIM_NAME

    collected["platform"].name = SIM_NAME
    collected["platform"].save(update_fields=["name"])
    demo.seed_alert_rules()
    demo.seed_alert_rules()  # idempotent
    assert AlertRule.objects.filter(organization=collected["org"]).count() == len(demo.THRESHOLD_RULES) + len(
        demo.EVENT_RULES)
    now = collected["now"]
    rules_evaluate(now=now)
    # The rule fires exactly for the instances whose highest memory point of the last 5 minutes is above 50.
    expected = {rid for rid, value in MetricSample.objects.filter(
        metric="memory_usedutilization", resolution="raw", ts__gt=now - timedelta(minutes=5), ts__lte=now)
        .values_list("resource_id", "value") if value > 50}
    firing = Alert.objects.filter(rule__name="Memory pressure", state="firing")
    assert set(firing.values_list("resource_id", flat=True)) == expected
    assert all(a.value > 50 for a in firing)
