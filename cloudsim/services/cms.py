"""CloudMonitor API (version 2019-01-01): DescribeMetricList and DescribeMetricLast.

Values are computed, not stored: a level per instance and metric, a diurnal curve and noise, all fixed
by the seed, the metric and the dimension, so the same query always gives the same series and nothing
grows with time. Memory and disk follow the time of day less than CPU and traffic, and about one
instance in four runs hot, so a console always has something above a sensible threshold.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from datetime import UTC, datetime
from typing import Any

from ..errors import CloudError
from ..store import Store
from . import action

V = "2019-01-01"

# metric -> (low, high, unit kind). Percentages are bounded to 0..100.
METRICS: dict[str, dict[str, tuple[float, float]]] = {
    "acs_ecs_dashboard": {
        "CPUUtilization": (5, 85), "cpu_total": (5, 85), "memory_usedutilization": (20, 90),
        "diskusage_utilization": (10, 80), "load_1m": (0.1, 4), "load_5m": (0.1, 3.5),
        "InternetInRate": (1_000, 5_000_000), "InternetOutRate": (1_000, 8_000_000),
        "IntranetInRate": (10_000, 50_000_000), "IntranetOutRate": (10_000, 50_000_000),
        "DiskReadBPS": (0, 20_000_000), "DiskWriteBPS": (0, 30_000_000), "DiskReadIOPS": (0, 2_000),
        "DiskWriteIOPS": (0, 3_000), "net_tcpconnection": (10, 2_000),
    },
    "acs_rds_dashboard": {
        "CpuUsage": (5, 80), "MemoryUsage": (20, 85), "DiskUsage": (5, 70), "ConnectionUsage": (1, 60),
        "IOPSUsage": (1, 50),
    },
    "acs_kvstore": {"CpuUsage": (2, 60), "MemoryUsage": (10, 80), "ConnectionUsage": (1, 40),
                    "IntranetIn": (1_000, 10_000_000), "IntranetOut": (1_000, 10_000_000)},
    # Per-port metrics and the instance-level ones (``Instance*``, dimensions userId and instanceId).
    "acs_slb_dashboard": {"ActiveConnection": (10, 20_000), "NewConnection": (1, 2_000),
                          "TrafficRXNew": (1_000, 10_000_000), "TrafficTXNew": (1_000, 10_000_000),
                          "InstanceActiveConnection": (10, 20_000), "InstanceNewConnection": (1, 2_000),
                          "InstanceMaxConnection": (10, 50_000), "InstanceTrafficRX": (1_000, 10_000_000),
                          "InstanceTrafficTX": (1_000, 10_000_000), "InstancePacketRX": (10, 100_000),
                          "InstancePacketTX": (10, 100_000), "InstanceQps": (1, 5_000)},
}
MAX_POINTS = 1440


def _unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# Memory and disk fill steadily: they follow the time of day far less than CPU and traffic do.
STEADY = {"memory_usedutilization", "MemoryUsage", "diskusage_utilization", "DiskUsage"}
# About one instance in four runs hot (a busy database, a leaking service): high on every metric.
HOT_SHARE = 0.25


def metric_value(seed: int, namespace: str, metric: str, instance_id: str, ts: int) -> float:
    lo, hi = METRICS[namespace][metric]
    hot = _unit(seed, "hot", instance_id) < HOT_SHARE
    base = (0.85 + 0.15 * _unit(seed, namespace, metric, instance_id) if hot
            else 0.25 + 0.5 * _unit(seed, namespace, metric, instance_id))
    phase = _unit(seed, "phase", instance_id) * 2 * math.pi / 6
    hour = (ts / 3_600_000) % 24
    diurnal = 0.5 + 0.5 * math.sin((hour - 8) / 24 * 2 * math.pi + phase)  # peaks in the afternoon
    noise = _unit(seed, metric, instance_id, ts) - 0.5
    weights = (0.75, 0.15, 0.1) if metric in STEADY else (0.55, 0.35, 0.2)
    level = min(1.0, max(0.0, weights[0] * base + weights[1] * diurnal + weights[2] * noise))
    return round(lo + (hi - lo) * level, 2)


def _parse_time(value: str | None, default_ms: int, name: str) -> int:
    if not value:
        return default_ms
    if value.isdigit():
        return int(value)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return int(datetime.strptime(value, fmt).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    raise CloudError("InvalidParameter", f'The specified parameter "{name}" is not valid.')


def _dimensions(raw: str | None) -> list[dict[str, str]]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        raise CloudError("InvalidParameter", 'The specified parameter "Dimensions" is not valid JSON.') from None
    value = value if isinstance(value, list) else [value]
    if not all(isinstance(d, dict) for d in value):
        raise CloudError("InvalidParameter", 'The specified parameter "Dimensions" is not valid.')
    return [{str(k): str(v) for k, v in d.items()} for d in value]


def _instances_for(store: Store, namespace: str, dims: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(instanceId, regionId) pairs the query covers."""
    kind = {"acs_ecs_dashboard": "ecs_instance", "acs_rds_dashboard": "rds", "acs_kvstore": "redis",
            "acs_slb_dashboard": "slb"}[namespace]
    table = store.tables[kind]
    if dims:
        return [(d.get("instanceId", ""), table[d["instanceId"]].get("RegionId", "") if d.get("instanceId") in table
                 else "") for d in dims if d.get("instanceId")]
    return [(rid, r.get("RegionId", "")) for rid, r in list(table.items())[:50]]


def _query(store: Store, p) -> tuple[str, str, int, list[tuple[str, str]], int, int]:
    namespace = p.str("Namespace", required=True)
    metric = p.str("MetricName", required=True)
    if namespace not in METRICS:
        raise CloudError("ResourceNotFound", f"The namespace {namespace} does not exist.", 404)
    if metric not in METRICS[namespace]:
        raise CloudError("ResourceNotFound", f"The metric {metric} does not exist in {namespace}.", 404)
    period = p.int("Period", 60, lo=15, hi=86_400)
    if period % 15:
        raise CloudError("InvalidParameter", 'The specified parameter "Period" must be a multiple of 15.')
    return namespace, metric, period, _instances_for(store, namespace, _dimensions(p.str("Dimensions"))), 0, 0


def _point(store: Store, namespace: str, metric: str, iid: str, region: str, ts: int, period: int) -> dict[str, Any]:
    value = metric_value(store.seed, namespace, metric, iid, ts)
    spread = value * 0.15
    return {"timestamp": ts, "userId": "1000000000000000", "instanceId": iid, "regionId": region,
            "Average": value, "Minimum": round(max(0.0, value - spread), 2), "Maximum": round(value + spread, 2),
            "Value": value}


@action(V, "DescribeMetricList")
def describe_metric_list(store: Store, p) -> dict[str, Any]:
    namespace, metric, period, instances, _, _ = _query(store, p)
    now_ms = int(time.time() * 1000)
    end = _parse_time(p.str("EndTime"), now_ms, "EndTime")
    start = _parse_time(p.str("StartTime"), end - 3_600_000, "StartTime")
    if start > end:
        raise CloudError("InvalidParameter", "StartTime must not be later than EndTime.")
    step = period * 1000
    first = (start + step - 1) // step * step
    length = p.int("Length", 1000, lo=1, hi=MAX_POINTS)
    stamps = list(range(first, end + 1, step))
    points = [_point(store, namespace, metric, iid, region, ts, period) for iid, region in instances for ts in stamps]
    offset = int(p.str("NextToken") or 0) if (p.str("NextToken") or "0").isdigit() else 0
    chunk = points[offset:offset + length]
    next_token = str(offset + length) if offset + length < len(points) else None
    body = {"Code": "200", "Message": "", "Success": True, "Period": str(period), "Datapoints": json.dumps(chunk)}
    if next_token:
        body["NextToken"] = next_token
    return body


@action(V, "DescribeMetricLast")
def describe_metric_last(store: Store, p) -> dict[str, Any]:
    namespace, metric, period, instances, _, _ = _query(store, p)
    step = period * 1000
    ts = int(time.time() * 1000) // step * step
    points = [_point(store, namespace, metric, iid, region, ts, period) for iid, region in instances]
    return {"Code": "200", "Message": "", "Success": True, "Period": str(period), "Datapoints": json.dumps(points)}


@action(V, "DescribeMetricMetaList")
def describe_metric_meta_list(store: Store, p) -> dict[str, Any]:
    namespace = p.str("Namespace")
    rows = [{"Namespace": ns, "MetricName": m, "Periods": "15,60,900,3600", "Statistics": "Average,Minimum,Maximum",
             "Dimensions": "userId,instanceId", "Unit": "%" if hi <= 100 else "count"}
            for ns, metrics in METRICS.items() if namespace in (None, ns) for m, (_, hi) in metrics.items()]
    return {"Code": "200", "Success": True, "TotalCount": len(rows), "Resources": {"Resource": rows}}
