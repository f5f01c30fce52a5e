"""The predefined widgets count what collection stores: EIPs in use are ``in_use``, a platform
whose first collection succeeded is healthy on the "Healthy platforms" gauge, and a platform nobody
has checked or collected yet is counted apart (``unknown``), not as down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.clouds.models import CloudPlatform
from apps.core.models import Operation
from apps.dashboards import predefined, selectors
from apps.resources.models import SyncRun
from tests import factories as f

pytestmark = pytest.mark.django_db


def widget(board: str, wid: str) -> dict:
    return next(w for w in predefined.template(board)["widgets"] if w["id"] == wid)


def result_of(w: dict, org) -> dict:
    return selectors.one_widget_data(widget=w, scope=selectors.screen_scope(organization_id=org.pk))["result"]


def value_of(w: dict, org) -> tuple[int, int]:
    result = result_of(w, org)
    return result["value"], result["total"]


def test_eips_in_use_counts_the_status_collection_stores():
    org = f.org("net")
    platform = f.platform(org)
    f.resource(platform, organization=org, type="eip.eip", status="in_use")
    f.resource(platform, organization=org, type="eip.eip", status="available")
    f.resource(platform, organization=org, type="ecs.instance", status="running")
    bound = widget("network", "eips-bound")
    assert value_of(bound, org) == (1, 2)
    # Dashboards saved with the old spelling count the same.
    legacy = {**bound, "query": {"name": "resources.count", "params": {"type": "eip.eip", "status": "inuse"}}}
    assert value_of(legacy, org) == (1, 2)


def sync(platform: CloudPlatform, status: str, at) -> SyncRun:
    op = Operation.objects.create(organization=platform.organization, kind="resources.sync")
    return SyncRun.objects.create(platform=platform, organization=platform.organization, operation=op,
                                  status=status, finished_at=at)


def test_a_platform_is_healthy_by_its_newest_check_or_finished_collection():
    org = f.org("clouds")
    platform = f.platform(org)
    gauge = widget("resources", "platforms")
    now = timezone.now()
    assert platform.health == CloudPlatform.Health.UNKNOWN
    assert result_of(gauge, org) == {"value": 0, "total": 0, "unknown": 1}  # nothing known yet: not down
    sync(platform, SyncRun.Status.RUNNING, None)
    assert result_of(gauge, org) == {"value": 0, "total": 0, "unknown": 1}  # a running collection says nothing
    sync(platform, SyncRun.Status.SUCCEEDED, now - timedelta(minutes=10))
    assert value_of(gauge, org) == (1, 1)  # the first collection answered: healthy, never checked by hand
    CloudPlatform.objects.filter(pk=platform.pk).update(health=CloudPlatform.Health.DEGRADED,
                                                        health_checked_at=now - timedelta(minutes=5))
    assert value_of(gauge, org) == (0, 1)  # a newer check failed
    sync(platform, SyncRun.Status.SUCCEEDED, now - timedelta(minutes=1))
    assert value_of(gauge, org) == (1, 1)  # then a collection succeeded again
    sync(platform, SyncRun.Status.FAILED, now)
    assert value_of(gauge, org) == (0, 1)  # and the newest one failed


def test_a_platform_checked_healthy_and_never_collected_is_healthy_and_other_organizations_do_not_count():
    org, other = f.org("mine"), f.org("theirs")
    f.platform(org, health=CloudPlatform.Health.HEALTHY, health_checked_at=timezone.now())
    f.platform(other)
    f.platform(org, is_active=False)
    assert value_of(widget("resources", "platforms"), org) == (1, 1)


def test_platforms_not_known_yet_are_counted_apart_not_as_down():
    org = f.org("fleet")
    now = timezone.now()
    f.platform(org, health=CloudPlatform.Health.HEALTHY, health_checked_at=now)
    f.platform(org, health=CloudPlatform.Health.UNREACHABLE, health_checked_at=now)
    f.platform(org)  # just registered: never checked, never collected
    sync(f.platform(org), SyncRun.Status.SUCCEEDED, now)  # collected, never checked by hand
    gauge = widget("resources", "platforms")
    assert result_of(gauge, org) == {"value": 2, "total": 3, "unknown": 1}  # 67 %, not 50 %
    by_health = {**gauge, "query": {"name": "clouds.platforms_healthy", "params": {}}}
    # The platform table's own health field: the collected platform was never checked either.
    assert result_of(by_health, org) == {"value": 1, "total": 2, "unknown": 2}
