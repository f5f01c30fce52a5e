"""What granting a request for more quota changes: exactly the limit the request was about (its
organization, project, cloud platform and region), raised to what was asked, keeping that limit's
warning and overcommit settings; the change is announced with who granted it and why."""

from __future__ import annotations

import pytest

from apps.clouds.tests.factories import platform as make_platform
from apps.quotas import services
from apps.quotas.models import QuotaLimit
from tests import factories as f

pytestmark = pytest.mark.django_db


def _settings(lim: QuotaLimit) -> tuple:
    lim.refresh_from_db()
    return lim.limit, lim.warning_percent, lim.overcommit, str(lim.overcommit_factor)


def test_a_grant_raises_exactly_the_limit_asked_about_and_keeps_its_settings(monkeypatch):
    announced = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload, **kw: announced.append((org, topic, payload)))
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    tenant = f.user("tenant", team)
    f.grant(f.role("quotas:request:create", "quotas:limit:read"), tenant, team)
    approver = f.user("approver", root)
    f.grant(f.role("provisioning:request:approve"), approver, root)
    project = f.project(team, tenant, name="shop-web")
    cloud = make_platform(root, type="aws", name="East")

    def limit(org, value, dimension="ecs.instance", **kw):
        return services.limit_set(actor=None, organization=org, dimension=dimension, limit=value, **kw)

    # Neighbours of the limit asked about: the organizations' own, the project's on every platform, the
    # team's on the platform and region, the project's on the platform in every region, and the same
    # place's limit of disks (a dimension listed before instances).
    others = [limit(root, 20), limit(team, 4, warning_percent=70), limit(team, 1, project=project, warning_percent=75),
              limit(team, 5, platform=cloud, region="us-east-1", warning_percent=90),
              limit(team, 1, project=project, platform=cloud, warning_percent=95),
              limit(team, 9, "ecs.disk", project=project, platform=cloud, region="us-east-1", warning_percent=85)]
    asked = limit(team, 1, project=project, platform=cloud, region="us-east-1", warning_percent=60, overcommit=True,
                  overcommit_factor=2)
    before = {lim.pk: _settings(lim) for lim in others}
    request = services.quota_request_create(actor=tenant, organization=team, project=project, dimension="ecs.instance",
                                            requested_limit=3, reason="launch week", platform=cloud,
                                            region="us-east-1")
    announced.clear()
    services.quota_request_decide(actor=approver, quota_request=request, verdict="grant", comment="fine")

    assert _settings(asked) == (3, 60, True, "2.00")
    assert {lim.pk: _settings(lim) for lim in others} == before
    assert QuotaLimit.objects.count() == 7
    (changed,) = [payload for _, _, payload in announced if payload["event"].startswith("limit_")]
    assert changed["event"] == "limit_changed" and changed["id"] == str(asked.pk)
    assert (changed["platform"], changed["region"]) == (str(cloud.pk), "us-east-1")
    assert changed["before"] == {"limit": 1, "warning_percent": 60, "overcommit": True, "overcommit_factor": "2.00"}
    assert changed["after"] == {"limit": 3, "warning_percent": 60, "overcommit": True, "overcommit_factor": "2.00"}
    assert (changed["actor"], changed["reason"]) == ("approver", f"quota request {request.id}: launch week")
    assert announced[-1][2]["event"] == "request_granted"


def test_a_grant_where_no_limit_was_set_creates_one_with_the_default_settings(monkeypatch):
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    tenant = f.user("tenant", team)
    f.grant(f.role("quotas:request:create", "quotas:limit:read"), tenant, team)
    approver = f.user("approver", root)
    f.grant(f.role("provisioning:request:approve"), approver, root)
    services.limit_set(actor=None, organization=root, dimension="ecs.instance", limit=20, overcommit=True,
                       warning_percent=50)
    request = services.quota_request_create(actor=tenant, organization=team, project=None, dimension="ecs.instance",
                                            requested_limit=3, reason="first limit")
    services.quota_request_decide(actor=approver, quota_request=request, verdict="grant")
    created = QuotaLimit.objects.get(organization=team)
    assert (created.limit, created.warning_percent, created.overcommit, str(created.overcommit_factor)) == \
        (3, 80, False, "1.00")
