"""A new limit starts from what its place already holds: the inventory's resources and the live
reservations of exactly its project (or organization subtree), platform and region, in its own
dimension -- instances and disks counted, an instance's vCPUs, memory and system disk summed over
every instance (one with none of a dimension adds nothing), a reservation's units times the units it
still holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.clouds.tests.factories import platform as make_platform
from apps.quotas import services
from apps.quotas.models import Reservation
from apps.resources.tests.factories import resource
from tests import factories as f

pytestmark = pytest.mark.django_db

REGION = "cn-hangzhou"


def _new_limit(org, project, cloud, dimension, region=REGION):
    lim = services.limit_set(actor=None, organization=org, project=project, dimension=dimension, limit=10_000,
                             platform=cloud, region=region)
    lim.refresh_from_db()
    return lim.committed, lim.reserved


@pytest.fixture
def place():
    org = f.org("HQ")
    shop, other = f.project(org, name="shop-web"), f.project(org, name="billing")
    cloud, elsewhere = make_platform(org, type="aws", name="East"), make_platform(org, type="aws", name="West")
    return org, shop, other, cloud, elsewhere


def test_a_new_limit_counts_and_sums_the_inventory_of_exactly_its_place(place):
    org, shop, other, cloud, elsewhere = place
    here = {"organization": org, "project": shop, "region": REGION}
    resource(cloud, vcpu=2, memory_mib=4096, storage_gib=40, **here)
    resource(cloud, vcpu=4, memory_mib=8192, storage_gib=0, **here)  # no system disk size known
    resource(cloud, type="ecs.disk", **here)
    # Not this limit's: deleted, another project, another platform, another region.
    resource(cloud, vcpu=64, memory_mib=65536, storage_gib=500, deleted=True, **here)
    resource(cloud, vcpu=64, memory_mib=65536, storage_gib=500, organization=org, project=other, region=REGION)
    resource(elsewhere, vcpu=64, memory_mib=65536, storage_gib=500, **here)
    resource(cloud, vcpu=64, memory_mib=65536, storage_gib=500, organization=org, project=shop, region="cn-beijing")
    resource(elsewhere, type="ecs.disk", **here)
    counted = {dim: _new_limit(org, shop, cloud, dim)[0]
               for dim in ("ecs.instance", "ecs.disk", "ecs.vcpu", "ecs.memory_gib", "ecs.disk_gib")}
    assert counted == {"ecs.instance": 2, "ecs.disk": 1, "ecs.vcpu": 6, "ecs.memory_gib": 12, "ecs.disk_gib": 40}


def _reservation(org, project, cloud, unit, held, region=REGION, resource_type="ecs.instance"):
    return Reservation.objects.create(organization=org, project=project, platform=cloud, region=region,
                                      resource_type=resource_type, unit=unit, count=held, reserved_units=held,
                                      expires_at=timezone.now() + timedelta(hours=1))


def test_a_new_limit_holds_the_live_reservations_of_exactly_its_place(place):
    org, shop, other, cloud, elsewhere = place
    _reservation(org, shop, cloud, {"ecs.instance": 1, "ecs.vcpu": 2}, held=2)
    _reservation(org, shop, cloud, {"vpc.vpc": 1}, held=1, resource_type="vpc.vpc")  # another dimension only
    # Not this limit's: another project, another platform, another region.
    _reservation(org, other, cloud, {"ecs.instance": 1, "ecs.vcpu": 8}, held=1)
    _reservation(org, shop, elsewhere, {"ecs.instance": 1, "ecs.vcpu": 8}, held=1)
    _reservation(org, shop, cloud, {"ecs.instance": 1, "ecs.vcpu": 8}, held=1, region="cn-beijing")
    assert _new_limit(org, shop, cloud, "ecs.vcpu") == (0, 4)
    assert _new_limit(org, shop, cloud, "ecs.instance") == (0, 2)
    assert _new_limit(org, shop, cloud, "vpc.vpc") == (0, 1)
