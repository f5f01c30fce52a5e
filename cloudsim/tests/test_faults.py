"""Injected faults reach the SDK as the cloud's errors, timeouts and dropped connections."""

from __future__ import annotations

import pytest
from alibabacloud_ecs20140526 import models as m
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from darabonba.runtime import RuntimeOptions

from .conftest import REGION, make_network, run_instances, sdk_config


def test_error_rate_of_one_fails_every_call_of_that_action_only(ecs, control):
    control.post("/faults", {"action": "DescribeInstances", "error_rate": 1.0, "code": "ServiceUnavailable"})
    for _ in range(3):
        with pytest.raises(ServerException) as exc:
            ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION))
        assert (exc.value.code, exc.value.status_code) == ("ServiceUnavailable", 503)
    ecs.describe_regions(m.DescribeRegionsRequest())
    control.post("/faults", {"action": "DescribeRegions", "error_rate": 1.0, "code": "Throttling"})
    with pytest.raises(ClientException) as exc:
        ecs.describe_regions(m.DescribeRegionsRequest())
    assert (exc.value.code, exc.value.status_code) == ("Throttling", 400)
    status, _ = control.call("DELETE", "/faults")
    assert status == 200
    ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION))
    assert control.get("/stats")["errors"] == {"ServiceUnavailable": 3, "Throttling": 1}


def test_permanent_error_with_chosen_status_and_limited_count(ecs, control):
    control.post("/faults", {"action": "DescribeRegions", "error_rate": 1.0, "code": "OperationDenied.NoStock",
                             "status": 403, "remaining": 1})
    with pytest.raises(ClientException) as exc:
        ecs.describe_regions(m.DescribeRegionsRequest())
    assert (exc.value.code, exc.value.status_code) == ("OperationDenied.NoStock", 403)
    ecs.describe_regions(m.DescribeRegionsRequest())


def test_lost_response_applies_the_action_but_the_client_fails(ecs, vpc, control):
    _, vsw = make_network(vpc)
    control.post("/faults", {"action": "RunInstances", "lost_rate": 1.0})
    with pytest.raises(Exception) as exc:
        run_instances(ecs, vsw, amount=2)
    assert not isinstance(exc.value, ClientException | ServerException)
    control.call("DELETE", "/faults?action=RunInstances")
    assert ecs.describe_instances(m.DescribeInstancesRequest(region_id=REGION)).body.total_count == 2


def _transport_failure(exc: BaseException) -> str:
    """How the SDK's HTTP call failed: "read timeout" (it gave up waiting), "dropped" (the server closed the
    connection unanswered), or "other"."""
    assert not isinstance(exc, ClientException | ServerException), f"the cloud answered: {exc!r}"
    text = str(getattr(exc, "inner_exception", None) or exc)
    if "Read timed out" in text:
        return "read timeout"
    if "closed connection without response" in text or "Connection aborted" in text:
        return "dropped"
    return "other"


def test_timeout_holds_the_request_past_the_clients_read_timeout(sim, ecs, control):
    control.post("/faults", {"action": "DescribeRegions", "timeout_rate": 1.0, "hold_ms": 3000})
    with pytest.raises(Exception) as exc:
        ecs.describe_regions_with_options(m.DescribeRegionsRequest(), RuntimeOptions(read_timeout=300))
    assert _transport_failure(exc.value) == "read timeout", repr(exc.value.inner_exception)
    # Held, then closed unanswered: a client that waits longer than the hold sees the connection dropped.
    with pytest.raises(Exception) as exc:
        ecs.describe_regions_with_options(m.DescribeRegionsRequest(), RuntimeOptions(read_timeout=10_000))
    assert _transport_failure(exc.value) == "dropped", repr(exc.value.inner_exception)


def test_latency_is_added(sim, control):
    """A call held longer than the client's read timeout times out; a shorter one is answered as usual."""
    client = EcsClient(sdk_config(sim))
    control.post("/faults", {"action": "DescribeZones", "latency_ms": 3000, "remaining": 1})
    with pytest.raises(Exception) as exc:
        client.describe_zones_with_options(m.DescribeZonesRequest(region_id=REGION), RuntimeOptions(read_timeout=500))
    assert _transport_failure(exc.value) == "read timeout", repr(exc.value.inner_exception)
    control.post("/faults", {"action": "DescribeZones", "latency_ms": 300, "remaining": 1})
    answer = client.describe_zones_with_options(m.DescribeZonesRequest(region_id=REGION),
                                                RuntimeOptions(read_timeout=10_000))
    assert answer.body.zones.zone
    assert [r["remaining"] for r in control.get("/faults")["faults"]] == [0], "the short latency applied"


def test_bad_fault_specs_are_refused(control):
    assert control.call("POST", "/faults", {"action": "X", "error_rate": 2})[0] == 400
    assert control.call("POST", "/faults", {"bogus": 1})[0] == 400
    assert control.call("GET", "/nothing")[0] == 404
