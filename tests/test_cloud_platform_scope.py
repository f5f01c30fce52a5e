"""A grant scoped to one cloud platform reaches that platform's row and its resources, nothing of
another platform."""

from __future__ import annotations

import pytest

from apps.clouds.models import CloudPlatform
from apps.core.scoping import authorize, restrict
from tests import factories as f
from tests.fixtures import api_as, fast_passwords, rbac_scoping  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clouds():
    hq = f.org("HQ")
    other = f.org("Other")
    p = f.platform(hq, name="P")
    q = f.platform(hq, name="Q")
    r = f.platform(other, name="R")
    return {"p": p, "q": q, "r": r,
            "p_res": f.resource(p, organization=hq), "q_res": f.resource(q, organization=hq),
            "r_res": f.resource(r, organization=other), "p_unassigned": f.resource(p)}


@pytest.fixture
def operator(clouds):
    carol = f.user("carol")
    role = f.role("clouds:platform:read", "resources:resource:read", "resources:resource:write")
    f.grant(role, carol, None, scope_type="cloud_platform", scope_key=clouds["p"].pk)
    return f.fresh(carol)


def test_platform_grant_decides_for_the_platform_row_and_its_resources(clouds, operator):
    assert authorize(operator, "clouds:platform:read", clouds["p"])
    assert not authorize(operator, "clouds:platform:read", clouds["q"])
    assert not authorize(operator, "clouds:platform:read", clouds["r"])
    assert authorize(operator, "resources:resource:write", clouds["p_res"])
    assert authorize(operator, "resources:resource:write", clouds["p_unassigned"])
    assert not authorize(operator, "resources:resource:write", clouds["q_res"])
    assert not authorize(operator, "clouds:platform:write", clouds["p"])  # the role does not hold it


def test_platform_grant_lists_the_platform_row_only(clouds, operator):
    assert set(restrict(CloudPlatform.objects.all(), operator, "clouds:platform:read")) == {clouds["p"]}
    assert not restrict(CloudPlatform.objects.all(), operator, "clouds:platform:write").exists()


def test_platform_grant_shows_the_platform_and_its_resources_in_the_api(clouds, operator):
    client = api_as(operator)
    platforms = client.get("/api/v1/clouds/platforms/")
    assert platforms.status_code == 200
    assert [row["id"] for row in platforms.json()["results"]] == [clouds["p"].pk]
    assert client.get(f"/api/v1/clouds/platforms/{clouds['p'].pk}/").status_code == 200
    assert client.get(f"/api/v1/clouds/platforms/{clouds['q'].pk}/").status_code == 404
    resources = client.get("/api/v1/resources/resources/")
    assert resources.status_code == 200
    assert {row["id"] for row in resources.json()["results"]} == {clouds["p_res"].pk, clouds["p_unassigned"].pk}
    assert client.get(f"/api/v1/resources/resources/{clouds['q_res'].pk}/").status_code == 404
