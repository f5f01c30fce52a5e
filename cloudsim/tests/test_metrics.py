"""CloudMonitor metrics: plausible, bounded and the same on every query."""

from __future__ import annotations

import json

import pytest
from alibabacloud_cms20190101 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from .conftest import make_network, run_instances


def test_metric_list_is_deterministic_and_bounded(cms, ecs, vpc):
    _, vsw = make_network(vpc)
    [iid] = run_instances(ecs, vsw)
    request = m.DescribeMetricListRequest(
        namespace="acs_ecs_dashboard", metric_name="CPUUtilization", period="60",
        start_time="2024-05-01 00:00:00", end_time="2024-05-01 23:59:00",
        dimensions=json.dumps([{"instanceId": iid}]), length="1440")
    first = cms.describe_metric_list(request).body
    assert first.code == "200" and first.success
    points = json.loads(first.datapoints)
    assert len(points) == 1440
    assert all(5 <= p["Average"] <= 85 and p["instanceId"] == iid for p in points)
    assert json.loads(cms.describe_metric_list(request).body.datapoints) == points
    by_hour = {}
    for p in points:
        by_hour.setdefault(p["timestamp"] // 3_600_000 % 24, []).append(p["Average"])
    means = {h: sum(v) / len(v) for h, v in by_hour.items()}
    assert max(means.values()) - min(means.values()) > 5  # a visible day/night swing


def test_metric_last_and_unknown_metric(cms):
    body = cms.describe_metric_last(m.DescribeMetricLastRequest(
        namespace="acs_ecs_dashboard", metric_name="memory_usedutilization",
        dimensions=json.dumps([{"instanceId": "i-abc"}]))).body
    [point] = json.loads(body.datapoints)
    assert 20 <= point["Average"] <= 90
    with pytest.raises(ClientException) as exc:
        cms.describe_metric_list(m.DescribeMetricListRequest(namespace="acs_ecs_dashboard", metric_name="Nope"))
    assert exc.value.code == "ResourceNotFound"
