"""The provisioning lists filter through ``apps/provisioning/filters.py``: by status, project and
organization, with related objects matched by id, so an organization that exists elsewhere and one
that does not exist are answered alike (an empty page, never a tell-tale 400)."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from apps.provisioning.models import ProvisioningRequest
from apps.provisioning.tests.factories import STORED_SPEC

pytestmark = pytest.mark.django_db
REQUESTS = "/api/v1/provisioning/requests/"


def listed(user, **params) -> tuple[int, set[str]]:
    client = APIClient()
    client.force_login(user)
    response = client.get(REQUESTS, params)
    return response.status_code, {row["id"] for row in response.json().get("results", [])}


@pytest.fixture
def rows(world):
    def make(status: str) -> ProvisioningRequest:
        return ProvisioningRequest.objects.create(
            organization=world["hq"], project=world["project"], platform=world["platform"], region="cn-hangzhou",
            spec=STORED_SPEC, requester=world["tenant"], status=status,
            levels=[{"mode": "any", "roles": [], "users": []}])

    return {"pending": make("pending"), "denied": make("denied")}


def test_requests_filter_by_status_project_and_organization(world, rows):
    tenant = world["tenant"]
    assert listed(tenant, status="pending") == (200, {rows["pending"].id})
    assert listed(tenant, project=str(world["project"].pk)) == (200, {rows["pending"].id, rows["denied"].id})
    assert listed(tenant, organization=str(world["hq"].pk)) == (200, {rows["pending"].id, rows["denied"].id})


def test_another_organization_and_a_missing_one_look_the_same(world, rows):
    tenant = world["tenant"]
    assert listed(tenant, organization=str(world["other"].pk)) == (200, set())
    assert listed(tenant, organization=str(uuid.uuid4())) == (200, set())
    assert listed(tenant, project=str(world["foreign_project"].pk)) == (200, set())
    assert listed(tenant, project=str(uuid.uuid4())) == (200, set())
    assert listed(tenant, organization="not-an-id")[0] == 400
