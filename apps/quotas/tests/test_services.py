"""The rules of quotas, through the services: refusals name what blocked, reservations move between
reserved, committed and released, the hierarchy of limits holds, and force is needed (and recorded)
to go below usage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import Forbidden, InvalidInput, Refused
from apps.quotas import services
from apps.quotas.models import QuotaLimit, QuotaRequest, Reservation
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=False)

VM = {"count": 1, "vcpu": 2, "memory_mib": 4096, "disk_gib": 40}


def _limit(org, dim, n, project=None, **kw):
    return services.limit_set(actor=None, organization=org, project=project, dimension=dim, limit=n, **kw)


def _vms(n):
    return {k: v * n for k, v in VM.items()}


def test_reservation_over_an_ancestors_quota_is_refused_naming_it():
    root = f.org("HQ")
    region = f.org("East", parent=root)
    team = f.org("Shop", parent=region)
    proj = f.project(team)
    _limit(region, "ecs.vcpu", 10)
    services.quota_reserve(organization=team, project=proj, resource_type="ecs.instance", amounts=_vms(4))
    with pytest.raises(Refused) as exc:
        services.quota_reserve(organization=team, project=proj, resource_type="ecs.instance", amounts=_vms(2))
    assert exc.value.code == "quota_exceeded"
    d = exc.value.detail
    assert (d["organization"]["name"], d["dimension"], d["limit"], d["usage"], d["requested"], d["shortfall"]) == \
        ("East", "ecs.vcpu", 10, 8, 4, 2)
    assert Reservation.objects.count() == 1
    assert QuotaLimit.objects.get().reserved == 8


def test_the_first_blocking_limit_from_the_root_is_named():
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    proj = f.project(team)
    _limit(root, "ecs.instance", 1)
    _limit(team, "ecs.instance", 1)
    services.quota_reserve(organization=team, project=proj, resource_type="ecs.instance", amounts=VM)
    with pytest.raises(Refused) as exc:
        services.quota_reserve(organization=team, project=proj, resource_type="ecs.instance", amounts=VM)
    assert exc.value.detail["organization"]["name"] == "HQ"


def test_commit_moves_reserved_to_committed_and_release_frees_the_rest():
    org = f.org()
    proj = f.project(org)
    lim = _limit(org, "ecs.instance", 3)
    r = services.quota_reserve(organization=org, project=proj, resource_type="ecs.instance", amounts=_vms(3))
    services.reservation_commit(reservation_id=r.id, units=1)
    services.reservation_release(reservation_id=r.id, units=2)
    lim.refresh_from_db()
    r.refresh_from_db()
    assert (lim.committed, lim.reserved) == (1, 0)
    assert (r.committed_units, r.released_units, r.reserved_units, r.status) == (1, 2, 0, "settled")
    services.quota_reserve(organization=org, project=proj, resource_type="ecs.instance", amounts=_vms(2))
    with pytest.raises(Refused):
        services.quota_reserve(organization=org, project=proj, resource_type="ecs.instance", amounts=VM)


def test_releasing_twice_frees_only_once():
    org = f.org()
    lim = _limit(org, "ecs.instance", 2)
    r = services.quota_reserve(organization=org, project=None, resource_type="ecs.instance", amounts=VM)
    services.reservation_release(reservation_id=r.id, units=1)
    services.reservation_release(reservation_id=r.id, units=1)
    lim.refresh_from_db()
    assert (lim.reserved, lim.committed) == (0, 0)


def test_expired_reservations_are_released_by_the_sweeper_and_a_late_commit_still_counts():
    org = f.org()
    lim = _limit(org, "ecs.instance", 2)
    r = services.quota_reserve(organization=org, project=None, resource_type="ecs.instance", amounts=_vms(2),
                               ttl_seconds=30)
    assert services.reservations_expire() == 0
    assert services.reservations_expire(now=timezone.now() + timedelta(seconds=31)) == 1
    lim.refresh_from_db()
    assert lim.used == 0
    services.reservation_commit(reservation_id=r.id, units=1)
    lim.refresh_from_db()
    r.refresh_from_db()
    assert (lim.committed, lim.reserved, r.status) == (1, 0, "expired")


def test_children_may_not_hold_more_than_their_parent_without_overcommit():
    root = f.org()
    a, b = f.org(parent=root), f.org(parent=root)
    _limit(root, "ecs.vcpu", 100)
    _limit(a, "ecs.vcpu", 60)
    with pytest.raises(Refused) as exc:
        _limit(b, "ecs.vcpu", 50)
    assert exc.value.code == "quota_hierarchy"
    assert exc.value.detail["shortfall"] == 10 and exc.value.detail["organization"]["id"] == str(root.pk)
    assert not QuotaLimit.objects.filter(organization=b).exists()
    _limit(root, "ecs.vcpu", 100, overcommit=True, overcommit_factor="1.5")
    _limit(b, "ecs.vcpu", 50)
    with pytest.raises(Refused):
        _limit(root, "ecs.vcpu", 100, overcommit=False)


def test_a_project_limit_counts_among_its_organizations_children():
    org = f.org()
    p1, p2 = f.project(org), f.project(org)
    _limit(org, "ecs.instance", 5)
    _limit(org, "ecs.instance", 3, project=p1)
    with pytest.raises(Refused):
        _limit(org, "ecs.instance", 3, project=p2)


def test_a_limit_below_usage_needs_force_and_forcing_is_recorded():
    from apps.security.models import AuditEntry

    org = f.org()
    _limit(org, "ecs.instance", 5)
    services.quota_reserve(organization=org, project=None, resource_type="ecs.instance", amounts=_vms(3))
    with pytest.raises(Refused) as exc:
        _limit(org, "ecs.instance", 2)
    assert exc.value.code == "quota_below_usage" and exc.value.detail["usage"] == 3
    assert QuotaLimit.objects.get().limit == 5
    with pytest.raises(InvalidInput):
        _limit(org, "ecs.instance", 2, force="yes")
    with __import__("django.test", fromlist=["TestCase"]).TestCase.captureOnCommitCallbacks(execute=True):
        _limit(org, "ecs.instance", 2, force=True, reason="shrinking")
    assert QuotaLimit.objects.get().limit == 2
    assert AuditEntry.objects.filter(action="quota.limit_forced").exists()


def test_a_new_limit_starts_from_the_inventory_and_live_reservations():
    org = f.org()
    child = f.org(parent=org)
    platform = f.platform(org)
    f.resource(platform, organization=child, vcpu=4, memory_mib=8192)
    f.resource(platform, organization=child, vcpu=4, memory_mib=8192, deleted=True)
    services.quota_reserve(organization=child, project=None, resource_type="ecs.instance", amounts=VM)
    lim = _limit(org, "ecs.vcpu", 20)
    assert (lim.committed, lim.reserved) == (4, 2)


def test_reconcile_reports_drift_per_limit_and_fixes_it():
    org = f.org()
    platform = f.platform(org)
    lim = _limit(org, "ecs.instance", 10)
    f.resource(platform, organization=org)  # created outside the console, found by collection
    drift = services.usage_reconcile(apply=True)
    assert [(d["dimension"], d["recorded"], d["inventory"], d["drift"]) for d in drift] == [("ecs.instance", 0, 1, -1)]
    lim.refresh_from_db()
    assert lim.committed == 1
    assert services.usage_reconcile() == []


def test_bad_limits_are_refused_naming_the_field_and_change_nothing():
    org = f.org()
    for kwargs, field in (({"dimension": "ecs.gpus", "limit": 1}, "dimension"),
                          ({"dimension": "ecs.vcpu", "limit": -1}, "limit"),
                          ({"dimension": "ecs.vcpu", "limit": "3"}, "limit"),
                          ({"dimension": "ecs.vcpu", "limit": 3, "warning_percent": 0}, "warning_percent"),
                          ({"dimension": "ecs.vcpu", "limit": 3, "overcommit_factor": "0.5"}, "overcommit_factor"),
                          ({"dimension": "ecs.vcpu", "limit": 3, "region": "cn-hangzhou"}, "region")):
        with pytest.raises(InvalidInput) as exc:
            services.limit_set(actor=None, organization=org, **kwargs)
        assert field in exc.value.detail
    assert not QuotaLimit.objects.exists()


def test_only_who_may_write_limits_on_the_parent_sets_them():
    root = f.org()
    team = f.org(parent=root)
    admin_of_team = f.user(None, team)
    f.grant(f.role("quotas:limit:write"), admin_of_team, team)
    with pytest.raises(Forbidden):
        services.limit_set(actor=admin_of_team, organization=team, dimension="ecs.vcpu", limit=5)
    sub = f.org(parent=team)
    services.limit_set(actor=admin_of_team, organization=sub, dimension="ecs.vcpu", limit=5)
    assert list(QuotaLimit.objects.values_list("organization_id", flat=True)) == [sub.pk]


def test_a_granted_quota_request_raises_the_limit_and_the_requester_cannot_decide_it():
    root = f.org()
    team = f.org(parent=root)
    proj = f.project(team)
    tenant, approver = f.user(None, team), f.user(None, root)
    f.grant(f.role("ecs:instance:create"), tenant, proj)
    f.grant(f.role("provisioning:request:approve", "quotas:limit:read"), approver, root)
    _limit(team, "ecs.instance", 2)
    with pytest.raises(InvalidInput):
        services.quota_request_create(actor=tenant, organization=team, project=None, dimension="ecs.instance",
                                      requested_limit=2, reason="more")
    req = services.quota_request_create(actor=tenant, organization=team, project=None, dimension="ecs.instance",
                                        requested_limit=4, reason="launch week")
    with pytest.raises(Forbidden):
        services.quota_request_decide(actor=tenant, quota_request=req, verdict="grant")
    services.quota_request_decide(actor=approver, quota_request=req, verdict="grant")
    assert QuotaLimit.objects.get(organization=team).limit == 4
    assert QuotaRequest.objects.get().status == "granted"


def test_crossing_the_warning_threshold_is_announced_once_to_the_limits_organization():
    from django.test import TestCase

    from apps.security.models import AuditEntry

    org = f.org()
    _limit(org, "ecs.instance", 10, warning_percent=80)
    for n in (7, 1, 1):
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.quota_reserve(organization=org, project=None, resource_type="ecs.instance", amounts=_vms(n))
    crossed = AuditEntry.objects.filter(action="quota.threshold_crossed")
    assert [(e.organization_id, e.detail["usage"], e.detail["limit"]) for e in crossed] == [(org.pk, 8, 10)]


def test_the_quota_topic_is_followed_only_by_readers_of_that_organizations_limits():
    from apps.quotas.selectors import quota_topic_org

    org, other = f.org(), f.org()
    reader = f.user(None, org)
    f.grant(f.role("quotas:limit:read"), reader, org)
    assert quota_topic_org(reader, str(org.pk)) == str(org.pk)
    assert quota_topic_org(reader, str(other.pk)) is None
    assert quota_topic_org(reader, "not-a-uuid") is None
