"""The alerts engine on PostgreSQL: the timed acceptance tests of the fast tier run again here, with
the JSON label lookups of group dispatch, the tag scope of rules (JSON containment) and the rollups'
upsert on conflict."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from apps.alerts import services
from apps.alerts.metrics import metrics_rollup, store_points
from apps.alerts.models import Alert, MetricSample
from apps.alerts.rules import rules_evaluate
from apps.alerts.tests.conftest import fresh_cache, world  # noqa: F401 - fixtures
from apps.alerts.tests.test_notifications import (  # noqa: F401 - run here on PostgreSQL
    test_an_alert_from_outside_notifies_only_its_group_and_is_still_inhibited_by_an_unreachable_platform,
)
from apps.alerts.tests.test_timed import *  # noqa: F403 - the timed acceptance tests, run here on PostgreSQL
from apps.alerts.tests.test_timed import at, setup  # noqa: F401 - fixtures
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_a_rule_scoped_by_tag_covers_only_the_tagged_resources_on_postgresql(world):  # noqa: F811
    assert connection.vendor == "postgresql", "the integration tier runs on PostgreSQL"
    a = world["a"]
    tagged, other = a["resources"][0], a["resources"][1]
    tagged.tags = {"env": "prod"}
    tagged.save(update_fields=["tags"])
    rule = services.rule_create(actor=a["user"], organization=a["org"], data={
        "name": "prod cpu", "metric": "CPUUtilization", "threshold": 50, "window_seconds": 120,
        "scope": {"tag": "env=prod"}})
    for r in (tagged, other):
        store_points(r, "CPUUtilization", [(at(0), 90)])
    rules_evaluate(now=at(30))
    assert list(Alert.objects.filter(rule=rule).values_list("resource_id", "state")) == [(tagged.pk, "firing")]


def test_rollups_upsert_their_buckets_on_postgresql(world):  # noqa: F811
    r = world["a"]["resources"][0]
    store_points(r, "CPUUtilization", [(at(0), 10), (at(60), 30)])
    metrics_rollup(now=at(0) + timedelta(hours=2), lookback_buckets=30)
    store_points(r, "CPUUtilization", [(at(120), 50)])  # a late point: the bucket is recomputed
    metrics_rollup(now=at(0) + timedelta(hours=2), lookback_buckets=30)
    bucket = MetricSample.objects.get(resource=r, resolution="5m")
    assert (bucket.value, bucket.minimum, bucket.maximum, bucket.count) == (30, 10, 50, 3)
    hour = MetricSample.objects.get(resource=r, resolution="1h")
    assert (hour.value, hour.count) == (30, 3)
