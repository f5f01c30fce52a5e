"""A limit is one row per organization (or project), dimension, platform and region: setting it
again through the API, for the same place, replaces that row (200) instead of making another (201)."""

from __future__ import annotations

import pytest

from apps.clouds.tests.factories import platform as make_platform
from apps.quotas.models import QuotaLimit
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db

URL = "/api/v1/quotas/limits/"


def test_setting_a_platform_and_region_limit_again_replaces_its_row():
    root = f.org("HQ")
    admin = f.user("quota-admin", root)
    f.grant(f.role("quotas:*", "organizations:organization:read", "clouds:platform:read"), admin, root)
    cloud = make_platform(root, type="aws", name="East")
    api = api_as(admin)
    places = [{}, {"platform": str(cloud.pk)}, {"platform": str(cloud.pk), "region": "us-east-1"}]
    for place in places:
        body = {"organization": str(root.pk), "dimension": "ecs.vcpu", "limit": 16, **place}
        r = api.post(URL, body, format="json")
        assert r.status_code == 201, r.json()
    for place in places:
        body = {"organization": str(root.pk), "dimension": "ecs.vcpu", "limit": 20, **place}
        r = api.post(URL, body, format="json")
        assert r.status_code == 200, r.json()
    assert sorted(QuotaLimit.objects.values_list("scope_key", "limit")) == [
        ("-|-|", 20), (f"-|{cloud.pk}|", 20), (f"-|{cloud.pk}|us-east-1", 20)]
