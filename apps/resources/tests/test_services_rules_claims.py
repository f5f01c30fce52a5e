"""Inventory rules of a refresh handed what the cloud reported, and of assignment: a resource made by a
request is claimed by the request's organization and project unless the rules already give it to that
organization; fields longer than the inventory keeps are cut to its columns; a changed resource's
relations are replaced, a relation listed twice is kept once; and assigning needs exactly the
``resources:resource:write`` permission, on the resource and on the organization it goes to."""

from __future__ import annotations

import pytest

from apps.clouds.adapters.base import CloudResource, Relation
from apps.core.errors import Forbidden
from apps.resources.models import AssignmentRule, Resource, ResourceRelation
from apps.resources.services import resource_assign, resource_refresh
from tests import factories as f

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"


def refresh(platform, cr: CloudResource, **kw):
    return resource_refresh(platform=platform, resource_type=cr.type, region=cr.region, external_id=cr.external_id,
                            found=cr, **kw)


def owner(row) -> tuple:
    return row.organization_id, row.project_id, row.assigned_by


def test_a_request_claims_what_it_made_unless_the_rules_give_it_to_its_organization(platform, people):
    team = f.org("Team", people["hq"])
    mine, theirs = f.project(team, name="mine"), f.project(team, name="theirs")
    AssignmentRule.objects.create(platform=platform, match="tag", key="team", value="shop", organization=team,
                                  project=theirs)
    plain = CloudResource(type="ecs.instance", external_id="i-plain", region=REGION, name="plain")
    assert owner(refresh(platform, plain, claim=(team.pk, mine.pk))) == (team.pk, mine.pk, "manual")
    other = CloudResource(type="ecs.instance", external_id="i-other", region=REGION, tags={"team": "shop"})
    assert owner(refresh(platform, other, claim=(people["other"].pk, None))) == (people["other"].pk, None, "manual")
    ruled = CloudResource(type="ecs.instance", external_id="i-ruled", region=REGION, tags={"team": "shop"})
    assert owner(refresh(platform, ruled, claim=(team.pk, mine.pk))) == (team.pk, theirs.pk, "rule")


def test_fields_longer_than_the_inventory_keeps_are_cut_to_its_columns(platform):
    cr = CloudResource(type="ecs.instance", external_id="i-long", region=REGION, name="n" * 300, status="s" * 40,
                       resource_group="g" * 140, vpc_id="v" * 140)
    row = refresh(platform, cr)
    row.refresh_from_db()
    assert (row.name, row.status, row.resource_group, row.vpc_id) == ("n" * 255, "s" * 32, "g" * 128, "v" * 128)


def test_a_changed_resource_s_relations_are_replaced_and_a_relation_listed_twice_is_kept_once(platform):
    in_vpc = Relation("in_vpc", "vpc.vpc", "vpc-1")
    first = CloudResource(type="ecs.instance", external_id="i-rel", region=REGION, name="a",
                          relations=[in_vpc, in_vpc, Relation("in_vswitch", "vpc.vswitch", "vsw-1")])
    row = refresh(platform, first)

    def edges():
        return sorted(ResourceRelation.objects.filter(source=row).values_list("kind", "target_type",
                                                                              "target_external_id"))

    assert edges() == [("in_vpc", "vpc.vpc", "vpc-1"), ("in_vswitch", "vpc.vswitch", "vsw-1")]
    moved = CloudResource(type="ecs.instance", external_id="i-rel", region=REGION, name="a",
                          relations=[Relation("in_vpc", "vpc.vpc", "vpc-2"), Relation("in_vpc", "vpc.vpc", "vpc-2")])
    assert refresh(platform, moved).pk == row.pk
    assert edges() == [("in_vpc", "vpc.vpc", "vpc-2")]


def test_assigning_needs_the_write_permission_on_the_resource_and_where_it_goes(platform, people):
    dept = f.org("Dept", people["hq"])
    team = f.org("Team", dept)
    writer = f.user("dept-writer", dept)
    f.grant(f.role("resources:resource:write", "resources:resource:read"), writer, dept)
    reader = f.user("dept-reader", dept)
    f.grant(f.role("resources:resource:read"), reader, dept)
    row = Resource.objects.create(platform=platform, type="ecs.instance", service="ecs", region=REGION,
                                  external_id="i-assign", content_hash="0" * 32, organization=dept,
                                  first_seen_at="2025-01-01T00:00:00Z", last_changed_at="2025-01-01T00:00:00Z")
    with pytest.raises(Forbidden):
        resource_assign(actor=reader, resource=row, organization=team)
    assert owner(resource_assign(actor=writer, resource=row, organization=team)) == (team.pk, None, "manual")
    with pytest.raises(Forbidden) as refused:
        resource_assign(actor=writer, resource=row, organization=people["other"])
    assert str(refused.value.message) == "You may not assign resources to that organization."


def test_a_resource_group_rule_gives_only_the_resources_of_that_group(platform, people):
    team = f.org("Team", people["hq"])
    AssignmentRule.objects.create(platform=platform, match="resource_group", value="rg-a", organization=team)
    inside = CloudResource(type="ecs.instance", external_id="i-rg-a", region=REGION, resource_group="rg-a")
    outside = CloudResource(type="ecs.instance", external_id="i-rg-b", region=REGION, resource_group="rg-b",
                            vpc_id="rg-a", tags={"rg-a": "rg-a"})
    assert owner(refresh(platform, inside)) == (team.pk, None, "rule")
    assert owner(refresh(platform, outside)) == (None, None, "")
