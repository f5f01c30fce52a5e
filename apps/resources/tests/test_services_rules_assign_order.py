"""Assignment rules are tried by ascending priority, then the older first, then by id; the first that matches
gives the resource its owner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.resources.models import AssignmentRule
from apps.resources.services import Assigner
from tests import factories as f

pytestmark = pytest.mark.django_db
ITEM = {"tags": {"team": "web"}, "resource_group": "rg-web", "vpc_id": "vpc-1"}


def _rule(platform, org, rule_id: str, priority: int, age: timedelta, match: str = "tag") -> AssignmentRule:
    rule = AssignmentRule.objects.create(id=rule_id, platform=platform, organization=org, priority=priority,
                                         match=match, key="team" if match == "tag" else "",
                                         value={"tag": "web", "resource_group": "rg-web", "vpc": "vpc-1"}[match])
    AssignmentRule.objects.filter(pk=rule.pk).update(created_at=timezone.now() - age)
    return rule


@pytest.fixture
def orgs(people):
    return [f.org(f"Team {n}") for n in range(3)]


def test_the_lower_priority_number_wins_over_an_older_rule(platform, orgs):
    _rule(platform, orgs[0], "rule-a", 20, timedelta(days=2), match="vpc")
    _rule(platform, orgs[1], "rule-b", 10, timedelta(days=1))
    assert Assigner(platform).owner(ITEM) == (orgs[1].pk, None)


def test_at_the_same_priority_the_older_rule_wins_whatever_its_id(platform, orgs):
    _rule(platform, orgs[0], "rule-z", 10, timedelta(days=2), match="resource_group")
    _rule(platform, orgs[1], "rule-a", 10, timedelta(days=1))
    assert Assigner(platform).owner(ITEM) == (orgs[0].pk, None)


def test_at_the_same_priority_and_age_the_lower_id_wins(platform, orgs):
    _rule(platform, orgs[0], "rule-z", 10, timedelta(days=1))  # written first
    _rule(platform, orgs[1], "rule-a", 10, timedelta(days=1))
    same = timezone.now() - timedelta(days=1)
    AssignmentRule.objects.update(created_at=same)
    assert Assigner(platform).owner(ITEM) == (orgs[1].pk, None)


def test_only_the_platforms_own_rules_apply(platform, orgs, people):
    from apps.clouds.tests.factories import platform as make_platform

    other = make_platform(people["hq"], endpoint=platform.endpoint, name="Other view")
    _rule(other, orgs[0], "rule-a", 1, timedelta(days=1))
    assert Assigner(platform).owner(ITEM) == (None, None)
    _rule(platform, orgs[2], "rule-b", 50, timedelta(days=1))
    assert Assigner(platform).owner(ITEM) == (orgs[2].pk, None)
