"""What a reservation's parts and the sweeper do to usage, through the services: parts committed and
released one after another add up on the reservation and on its limits; a part of no units moves
nothing; a commit after the sweeper released the reservation counts those units again; the sweeper
renews only the reservations an unfinished provisioning request holds, and says how many expired;
freed usage comes off exactly the limits of its place; reconciling reports each drifting limit once,
root to leaf, however many there are, and announces what it fixes."""

from __future__ import annotations

import uuid

import pytest

from apps.clouds.tests.factories import platform as make_platform
from apps.provisioning.models import ProvisioningRequest
from apps.quotas import services
from apps.quotas.models import QuotaLimit, Reservation
from tests import factories as f

pytestmark = pytest.mark.django_db


def _limit(org, value, dimension="ecs.instance", **kw):
    return services.limit_set(actor=None, organization=org, dimension=dimension, limit=value, **kw)


def _reserve(org, count, **kw):
    return services.quota_reserve(organization=org, project=kw.pop("project", None), resource_type="ecs.instance",
                                  amounts={"count": count}, **kw)


def _units(held):
    row = Reservation.objects.get(pk=held.pk)
    return row.reserved_units, row.committed_units, row.released_units, row.status


def _usage(lim):
    lim.refresh_from_db()
    return lim.committed, lim.reserved


def test_parts_committed_and_released_one_after_another_add_up_on_the_reservation_and_its_limit():
    org = f.org("HQ")
    lim = _limit(org, 10)
    held = _reserve(org, 4)
    services.reservation_commit(reservation_id=held.pk, units=1)
    services.reservation_commit(reservation_id=held.pk, units=1)
    assert _units(held) == (2, 2, 0, "active") and _usage(lim) == (2, 2)
    services.reservation_release(reservation_id=held.pk, units=1)
    services.reservation_release(reservation_id=held.pk, units=0)  # a part of no units moves nothing
    services.reservation_commit(reservation_id=held.pk, units=0)
    assert _units(held) == (1, 2, 1, "active") and _usage(lim) == (2, 1)
    # A commit of more than is still held commits what is held; what was released stays released.
    services.reservation_commit(reservation_id=held.pk, units=3)
    assert _units(held) == (0, 3, 1, "settled") and _usage(lim) == (3, 0)


def test_a_commit_after_the_sweeper_released_the_reservation_counts_those_units_again():
    org = f.org("HQ")
    lim = _limit(org, 10)
    held, other = _reserve(org, 3), _reserve(org, 1)
    assert services.reservations_expire(now=max(held.expires_at, other.expires_at)) == 2
    assert _units(held) == (0, 0, 3, "expired") and _usage(lim) == (0, 0)
    services.reservation_commit(reservation_id=held.pk, units=2)  # the cloud made two after all
    assert _units(held) == (0, 2, 1, "expired") and _usage(lim) == (2, 0)
    # The next sweep has nothing left to expire: an expired reservation is not counted again.
    assert services.reservations_expire(now=max(held.expires_at, other.expires_at)) == 0


def test_the_sweeper_renews_only_the_reservation_an_unfinished_request_holds():
    org = f.org("HQ")
    project = f.project(org, name="shop-web")
    cloud = make_platform(org, type="aws", name="East")
    lim = _limit(org, 10)
    waiting, left = _reserve(org, 2, project=project), _reserve(org, 1, project=project)
    ProvisioningRequest.objects.create(organization=org, project=project, platform=cloud, region="us-east-1",
                                       quota_reservation=waiting.pk)
    assert services.reservations_expire(now=max(waiting.expires_at, left.expires_at)) == 1
    assert _units(waiting) == (2, 0, 0, "active") and _units(left) == (0, 0, 1, "expired")
    assert Reservation.objects.get(pk=waiting.pk).expires_at > waiting.expires_at
    assert _usage(lim) == (0, 2)


def test_freed_usage_comes_off_exactly_the_limits_of_its_place_and_never_below_zero():
    org = f.org("HQ")
    cloud, other = make_platform(org, type="aws", name="East"), make_platform(org, type="aws", name="West")
    everywhere, on_cloud, in_region = _limit(org, 10), _limit(org, 10, platform=cloud), \
        _limit(org, 10, platform=cloud, region="us-east-1")
    elsewhere = [_limit(org, 10, platform=other), _limit(org, 10, platform=cloud, region="us-west-2")]
    vpcs = _limit(org, 5, "vpc.vpc")  # another dimension of the same place
    here = {"platform": cloud, "region": "us-east-1"}
    services.reservation_commit(reservation_id=_reserve(org, 3, **here).pk)
    services.reservation_commit(reservation_id=_reserve(org, 1, platform=other, region="us-west-2").pk)
    free = {"organization": org, "project": None, "resource_type": "ecs.instance", **here}
    services.usage_free(**free, amounts={"count": 2})
    assert [_usage(lim) for lim in (everywhere, on_cloud, in_region)] == [(2, 0), (1, 0), (1, 0)]
    assert [_usage(lim) for lim in elsewhere] == [(1, 0), (0, 0)] and _usage(vpcs) == (0, 0)
    for count in (0, -1):  # nothing freed, nothing added
        services.usage_free(**free, amounts={"count": count})
    assert [_usage(lim) for lim in (everywhere, on_cloud, in_region)] == [(2, 0), (1, 0), (1, 0)]
    services.usage_free(**{**free, "platform": cloud.pk}, amounts={"count": 5})
    assert [_usage(lim) for lim in (everywhere, on_cloud, in_region)] == [(0, 0), (0, 0), (0, 0)]


def test_reconciling_reports_each_drifting_limit_once_and_announces_what_it_fixes(monkeypatch):
    announced = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload, **kw: announced.append((org, topic, payload)))
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    cloud = make_platform(root, type="aws", name="East")
    steady = _limit(root, 5, "vpc.vpc")  # in line with the inventory, and locked first
    on_cloud, everywhere = _limit(team, 10, platform=cloud), _limit(team, 10)
    services.reservation_commit(reservation_id=_reserve(team, 2, platform=cloud).pk)
    announced.clear()

    def entry(lim, platform):
        return {"limit": str(lim.pk), "organization": {"id": str(team.pk), "name": "Shop"}, "project": None,
                "dimension": "ecs.instance", "platform": platform, "region": "", "recorded": 2, "inventory": 0,
                "drift": 2}

    expected = sorted([entry(on_cloud, str(cloud.pk)), entry(everywhere, None)], key=lambda e: uuid.UUID(e["limit"]))
    assert services.usage_reconcile(apply=False) == expected
    assert announced == [] and [_usage(lim) for lim in (on_cloud, everywhere)] == [(2, 0), (2, 0)]
    assert services.usage_reconcile(apply=True) == expected
    assert announced == [(team.pk, f"quota:{team.pk}", {"event": "drift", "name": "ecs.instance", **e})
                         for e in expected]
    assert [_usage(lim) for lim in (on_cloud, everywhere)] == [(0, 0), (0, 0)] and _usage(steady) == (0, 0)
    assert services.usage_reconcile(apply=False) == []


def test_reconciling_hundreds_of_limits_reports_each_once_root_to_leaf():
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    cloud = make_platform(root, type="aws", name="East")
    # 205 drifting limits of the team (one region each) and the root's, whose id sorts last.
    rows = [QuotaLimit(organization=team, dimension="ecs.instance", platform=cloud, region=f"r-{i:03}",
                       scope_key=f"-|{cloud.pk}|r-{i:03}", path=team.path, depth=team.depth, limit=10, committed=1)
            for i in range(205)]
    rows.append(QuotaLimit(id=uuid.UUID("ffffffff-ffff-4fff-bfff-ffffffffffff"), organization=root,
                           dimension="ecs.instance", scope_key="-|-|", path=root.path, depth=root.depth, limit=500,
                           committed=3))
    QuotaLimit.objects.bulk_create(rows)
    reported = [(entry["organization"]["name"], entry["limit"]) for entry in services.usage_reconcile(apply=False)]
    team_ids = sorted(str(row.pk) for row in rows[:205])
    assert reported == [("HQ", str(rows[-1].pk))] + [("Shop", pk) for pk in team_ids]
