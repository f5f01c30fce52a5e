"""A sync of a cloud that did not change writes no inventory row, also when the inventory keeps rows of
resources that vanished (flagged deleted). ``tests/integration/test_resync_postgres.py`` runs the same
check on PostgreSQL."""

from __future__ import annotations

import re
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.clouds.simulated import seed_resources, sim_adapter
from apps.resources.models import Resource
from apps.resources.services import sync_drive, sync_start

pytestmark = pytest.mark.django_db
INVENTORY_WRITE_RE = re.compile(r'^\s*(INSERT|UPDATE|DELETE)\b.*"resources_(resource|resourcerelation)"', re.I | re.S)
# cloudsim's passing states (see cloudsim/README.md); every resource leaves them after a few steps.
TRANSITIONAL = {"pending", "starting", "stopping", "creating", "attaching", "detaching", "associating",
                "unassociating", "changing", "dbinstanceclasschanging", "deleting", "flushing", "inactive"}
KINDS = ("ecs_instance", "disk", "security_group", "vpc", "vswitch", "eip", "slb", "rds", "redis")


def settled(control) -> bool:
    return all((row.get("status") or "").lower() not in TRANSITIONAL
               for kind in KINDS for row in control.get(f"/resources?type={kind}")["resources"])


def wait_until_settled(control, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not settled(control):
        assert time.monotonic() < deadline, "cloudsim's resources did not reach a resting state"
        time.sleep(0.05)


def run_sync(platform):
    return sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)


def assert_an_unchanged_resync_writes_nothing(platform, control, sim) -> None:
    made = seed_resources(sim.endpoint, instances=3)
    wait_until_settled(control)
    assert run_sync(platform).status == "succeeded"
    adapter = sim_adapter(sim.endpoint)
    gone = [("redis.instance", made["redis.instance"][0]), ("rds.instance", made["rds.instance"][0])]
    for resource_type, external_id in gone:
        adapter.delete(resource_type, "cn-hangzhou", external_id)
    wait_until_settled(control)
    run = run_sync(platform)
    assert run.status == "succeeded" and run.deleted == len(gone), (run.created, run.updated, run.deleted)
    deleted = set(Resource.objects.filter(platform=platform, deleted=True).values_list("type", "external_id"))
    assert deleted == set(gone)
    before = list(Resource.objects.filter(platform=platform).order_by("id").values())
    with CaptureQueriesContext(connection) as queries:
        run = run_sync(platform)
    assert run.status == "succeeded", run.error
    assert (run.created, run.updated, run.deleted) == (0, 0, 0) and run.unchanged == run.fetched > 0
    writes = [q["sql"] for q in queries.captured_queries if INVENTORY_WRITE_RE.match(q["sql"])]
    assert writes == [], writes[:3]
    assert list(Resource.objects.filter(platform=platform).order_by("id").values()) == before


def test_an_unchanged_resync_writes_no_row_with_deleted_rows_present(platform, control, sim):
    assert_an_unchanged_resync_writes_nothing(platform, control, sim)
