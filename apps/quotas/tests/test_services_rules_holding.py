"""What a reservation is, through the services: nothing to reserve is refused with its message; the
reservation handed back and the stored row say the same project, platform (given as an object or
an id), region (none when none is given) and resource type, and a limit of that platform counts it;
a change that holds no quota (a resize that adds nothing) is kept without touching any limit."""

from __future__ import annotations

import pytest

from apps.clouds.tests.factories import platform as make_platform
from apps.core.errors import InvalidInput
from apps.quotas import services
from apps.quotas.models import QuotaLimit, Reservation
from tests import factories as f

pytestmark = pytest.mark.django_db


def _where(row):
    return row.project_id, row.platform_id, row.region, row.resource_type, row.count


def test_nothing_to_reserve_is_refused_and_nothing_is_kept():
    org = f.org("HQ")
    services.limit_set(actor=None, organization=org, dimension="ecs.instance", limit=5)
    with pytest.raises(InvalidInput) as refused:
        services.quota_reserve(organization=org, project=None, resource_type="ecs.instance", amounts={"count": 0})
    assert (refused.value.code, refused.value.message, refused.value.detail) == (
        "invalid", "Nothing to reserve.", {"count": ["at least 1"]})
    assert not Reservation.objects.exists() and QuotaLimit.objects.get().used == 0


@pytest.mark.parametrize("by_id", [False, True])
def test_the_reservation_handed_back_and_the_row_say_where_and_what(by_id):
    org = f.org("HQ")
    project = f.project(org, name="shop-web")
    cloud = make_platform(org, type="aws", name="East")
    on_cloud = services.limit_set(actor=None, organization=org, dimension="rds.instance", limit=5, platform=cloud)
    held = services.quota_reserve(organization=org, project=project, resource_type="rds.instance",
                                  amounts={"count": 2}, platform=cloud.pk if by_id else cloud, region="us-east-1")
    expected = (project.pk, cloud.pk, "us-east-1", "rds.instance", 2)
    assert _where(held) == expected and _where(Reservation.objects.get(pk=held.pk)) == expected
    on_cloud.refresh_from_db()
    assert on_cloud.reserved == 2
    # Without a region (nor a platform) the reservation has none.
    plain = services.quota_reserve(organization=org, project=None, resource_type="rds.instance",
                                   amounts={"count": 1})
    expected = (None, None, "", "rds.instance", 1)
    assert _where(plain) == expected and _where(Reservation.objects.get(pk=plain.pk)) == expected


def test_a_change_that_holds_no_quota_is_kept_without_touching_a_limit():
    org = f.org("HQ")
    services.limit_set(actor=None, organization=org, dimension="ecs.instance", limit=1)
    services.quota_reserve(organization=org, project=None, resource_type="ecs.instance", amounts={"count": 1})
    # A resize says ``instances: 0``: with no other amounts it holds nothing, even at a full limit.
    held = services.quota_reserve(organization=org, project=None, resource_type="ecs.instance",
                                  amounts={"count": 1, "instances": 0})
    stored = Reservation.objects.get(pk=held.pk)
    assert (stored.unit, stored.count, stored.status) == ({}, 1, "active")
    assert QuotaLimit.objects.get().reserved == 1
