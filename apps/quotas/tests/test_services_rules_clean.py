"""What a limit may be, field by field, through ``limit_set``: each refusal names exactly the fields
at fault with the message a client shows, every fault at once, and writes nothing; the edges of each
range are accepted and stored as given (the overcommit factor to two decimals)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.clouds.tests.factories import platform as make_platform
from apps.core.errors import InvalidInput
from apps.quotas import services
from apps.quotas.dimensions import dimensions
from apps.quotas.models import QuotaLimit
from tests import factories as f

pytestmark = pytest.mark.django_db

LIMIT = ["an integer from 0 to 1000000000000"]
PERCENT = ["an integer from 1 to 100"]
FACTOR = ["a number from 1 to 100"]
REGION = ["a region id of at most 64 characters"]


def _set(org, **kw):
    values = {"dimension": "ecs.vcpu", "limit": 3, **kw}
    return services.limit_set(actor=None, organization=org, **values)


@pytest.mark.parametrize(("given", "detail"), [
    ({"dimension": "ecs.gpus"}, {"dimension": [f"one of {', '.join(dimensions())}"]}),
    ({"dimension": 7}, {"dimension": [f"one of {', '.join(dimensions())}"]}),
    ({"limit": -1}, {"limit": LIMIT}),
    ({"limit": 10**12 + 1}, {"limit": LIMIT}),
    ({"limit": True}, {"limit": LIMIT}),
    ({"limit": 3.0}, {"limit": LIMIT}),
    ({"warning_percent": 0}, {"warning_percent": PERCENT}),
    ({"warning_percent": 101}, {"warning_percent": PERCENT}),
    ({"warning_percent": True}, {"warning_percent": PERCENT}),
    ({"warning_percent": "80"}, {"warning_percent": PERCENT}),
    ({"overcommit": "yes"}, {"overcommit": ["true or false"]}),
    ({"overcommit": 1}, {"overcommit": ["true or false"]}),
    ({"overcommit_factor": "0.99"}, {"overcommit_factor": FACTOR}),
    ({"overcommit_factor": 100.01}, {"overcommit_factor": FACTOR}),
    ({"overcommit_factor": True}, {"overcommit_factor": FACTOR}),
    ({"overcommit_factor": "two"}, {"overcommit_factor": FACTOR}),
    ({"overcommit_factor": None}, {"overcommit_factor": FACTOR}),
    ({"region": "r" * 65}, {"region": REGION}),
    ({"region": 5}, {"region": REGION}),
    ({"region": "cn-hangzhou"}, {"region": ["a region narrows a platform: choose the platform too"]}),
    ({"dimension": "ecs.gpus", "limit": -1, "warning_percent": 0, "overcommit": None, "overcommit_factor": 0,
      "region": 5},
     {"dimension": [f"one of {', '.join(dimensions())}"], "limit": LIMIT, "warning_percent": PERCENT,
      "overcommit": ["true or false"], "overcommit_factor": FACTOR, "region": REGION}),
])
def test_each_fault_is_named_with_its_message_and_nothing_is_written(given, detail):
    org = f.org("HQ")
    with pytest.raises(InvalidInput) as refused:
        _set(org, **given)
    assert refused.value.detail == detail
    assert refused.value.message == "The limit is not valid; see detail."
    assert not QuotaLimit.objects.exists()


def test_a_project_of_another_organization_is_refused():
    org, other = f.org("HQ"), f.org("Elsewhere")
    with pytest.raises(InvalidInput) as refused:
        _set(org, project=f.project(other, name="theirs"))
    assert refused.value.detail == {"project": ["must belong to the organization"]}
    assert not QuotaLimit.objects.exists()


def test_the_edges_of_each_range_are_accepted_and_stored_as_given():
    org = f.org("HQ")
    cloud = make_platform(org, type="aws", name="East")
    low = _set(org, limit=0, warning_percent=1, overcommit=False, overcommit_factor="1")
    high = _set(org, dimension="ecs.instance", limit=10**12, warning_percent=100, overcommit=True,
                overcommit_factor=100, platform=cloud, region="r" * 64)
    rounded = _set(org, dimension="ecs.memory_gib", overcommit=True, overcommit_factor="1.234")
    stored = {lim.dimension: (lim.limit, lim.warning_percent, lim.overcommit, lim.overcommit_factor, lim.region)
              for lim in QuotaLimit.objects.all()}
    assert stored == {
        "ecs.vcpu": (0, 1, False, Decimal("1.00"), ""),
        "ecs.instance": (10**12, 100, True, Decimal("100.00"), "r" * 64),
        "ecs.memory_gib": (3, 80, True, Decimal("1.23"), ""),
    }
    assert (low.pk, high.pk, rounded.pk) == tuple(QuotaLimit.objects.get(dimension=d).pk
                                                  for d in ("ecs.vcpu", "ecs.instance", "ecs.memory_gib"))
