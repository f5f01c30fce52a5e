"""The hierarchy rule between limits of one dimension: the projects of an organization are peers (a
project's limit holds nothing below it, so two projects' limits never constrain each other), and a
limit holds its own figure unless overcommit is on, whatever factor it keeps for when it is."""

from __future__ import annotations

import pytest

from apps.core.errors import Refused
from apps.quotas import services
from tests import factories as f

pytestmark = pytest.mark.django_db


def _set(org, value, **kw):
    return services.limit_set(actor=None, organization=org, dimension="ecs.instance", limit=value, **kw)


def test_the_limits_of_two_projects_of_one_organization_do_not_hold_each_other():
    org = f.org("HQ")
    shop, billing = f.project(org, name="shop-web"), f.project(org, name="billing")
    _set(org, 5, project=shop)
    assert _set(org, 10, project=billing).limit == 10
    assert _set(org, 8, project=shop).limit == 8


def test_a_factor_kept_with_overcommit_off_does_not_raise_what_a_limit_holds():
    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    _set(root, 10, overcommit=False, overcommit_factor=2)
    with pytest.raises(Refused) as refused:
        _set(team, 15)
    assert refused.value.code == "quota_hierarchy"
    assert refused.value.detail["capacity"] == 10 and refused.value.detail["shortfall"] == 5
    _set(root, 10, overcommit=True, overcommit_factor=2)
    assert _set(team, 15).limit == 15


def test_limits_of_other_platforms_and_regions_do_not_hold_each_other():
    from apps.clouds.tests.factories import platform as make_platform

    root = f.org("HQ")
    team = f.org("Shop", parent=root)
    east, west = make_platform(root, type="aws", name="East"), make_platform(root, type="aws", name="West")
    _set(root, 10, platform=east)
    _set(root, 10, platform=east, region="us-east-1")
    # Under the root's East limits only: another platform, or another region of East, is not held by them.
    assert _set(team, 15, platform=west).limit == 15
    assert _set(team, 15, platform=east, region="us-west-2").limit == 15
    with pytest.raises(Refused):
        _set(team, 15, platform=east, region="us-east-1")
