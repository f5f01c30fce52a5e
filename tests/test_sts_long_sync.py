"""A platform that assumes a RAM role keeps collecting through a sync that outlasts its STS tokens: the
adapter refreshes the token before it expires, so cloudsim (strict, short-lived tokens) never answers
InvalidSecurityToken.Expired and the whole inventory arrives."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from apps.resources.models import Resource
from apps.resources.services import sync_drive, sync_start
from cloudsim.server import CloudSim
from tests import factories as f
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"
INSTANCES = 2500


def control(sim: CloudSim, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(f"http://{sim.endpoint}/_cloudsim{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def test_a_sync_longer_than_the_token_lifetime_refreshes_it_and_collects_everything():
    sim = CloudSim(port=0, provision_seconds=0.05, regions=[REGION]).start()
    try:
        control(sim, "POST", "/bulk", {"type": "ecs_instance", "count": INSTANCES, "region_id": REGION,
                                       "zone_id": f"{REGION}-a"})
        hq = f.org("HQ")
        platform = f.platform(hq, endpoint=sim.endpoint, name="Role", credential_type="ram_role",
                              role_arn="acs:ram::1000000000000000:role/unimanager-collector")
        control(sim, "POST", "/config", {"sts_token_seconds": 1.5})
        # Each page of instances takes a while: the sync as a whole outlasts several tokens.
        control(sim, "POST", "/faults", {"action": "DescribeInstances", "latency_ms": 150})
        run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
        stats = control(sim, "GET", "/stats")
        assert run.status == "succeeded", run.error
        assert Resource.objects.filter(platform=platform, type="ecs.instance", deleted=False).count() == INSTANCES
        assert stats["calls"]["AssumeRole"] >= 2, "the token was never refreshed"
        assert "InvalidSecurityToken.Expired" not in stats["errors"]
    finally:
        sim.stop()
