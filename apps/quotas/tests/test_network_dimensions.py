"""VPCs and NAT gateways are quota dimensions like the other creatable types: a request for one more
than the limit is refused with the numbers and leaves nothing behind; inventory rows count as one each."""

from __future__ import annotations

import pytest

from apps.provisioning.models import ProvisioningRequest
from apps.provisioning.tests.test_selfservice_types import SELF_SERVICE, body, specs_of
from apps.quotas import dimensions, services
from apps.quotas.models import Reservation
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db(transaction=True)


def test_vpcs_and_nat_gateways_are_named_dimensions_counted_one_each():
    names = dimensions.dimensions()
    assert names["nat.nat_gateway"] == "NAT gateways" and names["vpc.vpc"] == "VPCs"
    assert dimensions.unit_of("nat.nat_gateway", {"count": 1}) == (1, {"nat.nat_gateway": 1})
    assert dimensions.resource_units("vpc.vpc", 0, 0, 0) == {"vpc.vpc": 1}


@pytest.mark.parametrize("resource_type", ["nat.nat_gateway", "vpc.vpc"])
def test_a_request_beyond_the_network_limit_is_refused_and_leaves_nothing(world, resource_type):
    user = f.user("netbuilder", world["hq"])
    f.grant(f.role(*SELF_SERVICE, key="netbuilder_role"), user, world["hq"])
    services.limit_set(actor=None, organization=world["hq"], dimension=resource_type, limit=0)

    r = api_as(user).post("/api/v1/provisioning/requests/", body(world, resource_type, specs_of(world)[resource_type]),
                          format="json")

    assert r.status_code == 422, r.json()
    detail = r.json()["detail"]
    assert (r.json()["code"], detail["dimension"], detail["limit"], detail["shortfall"]) == \
        ("quota_exceeded", resource_type, 0, 1)
    assert not ProvisioningRequest.objects.exists() and not Reservation.objects.exists()
