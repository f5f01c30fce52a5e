"""The apply step on staged pages written by hand: what lands in the inventory does not depend on how the
database writes it (set-based statements on PostgreSQL, rows of values elsewhere). The integration tier
runs these on PostgreSQL (``tests/integration/test_sync_postgres.py``)."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from django.utils import timezone

from apps.clouds.adapters.base import CloudResource, Relation
from apps.clouds.tests.factories import platform as make_platform
from apps.resources.models import Resource, ResourceRelation, SyncPage, SyncRun
from apps.resources.services import apply_pages, content_hash, item_of, resource_assign
from tests import factories as f

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"


def _item(external_id: str, name: str, owner: tuple = (None, None), **extra) -> dict:
    cr = CloudResource("ecs.instance", external_id, REGION, name=name, status="running", zone=f"{REGION}-a",
                       spec={"instance_type": "ecs.g6.large", "ip": ["10.0.0.1"]}, tags={"team": "shop"},
                       relations=[Relation("in_vpc", "vpc.vpc", "vpc-1"),
                                  Relation("in_vswitch", "vpc.vswitch", "vsw-1")],
                       vcpu=2, memory_mib=8192, resource_group="rg-1", vpc_id="vpc-1", **extra)
    item = item_of(cr)
    item["hash"] = content_hash(item)
    item["owner"] = [str(owner[0]) if owner[0] else None, str(owner[1]) if owner[1] else None]
    return item


def _apply(platform, pages: list[list[dict]], seen_extra: tuple = ()) -> dict:
    """One run that staged ``pages`` (each resource seen where staged, plus ``seen_extra`` unchanged)."""
    run = SyncRun.objects.create(platform=platform, organization=platform.organization, kind="full",
                                 operation=f.operation(platform.organization, kind="resources.sync"),
                                 units=[["ecs.instance", REGION]])
    for seq, items in enumerate(pages, start=1):
        seen = [i["external_id"] for i in items] + (list(seen_extra) if seq == 1 else [])
        SyncPage.objects.create(run=run, seq=seq, resource_type="ecs.instance", region=REGION, items=items, seen=seen)
    with transaction.atomic():
        return apply_pages(platform=platform, run=run, now=timezone.now())


@pytest.fixture
def cloud_platform():
    org = f.org("Apply")
    return make_platform(org, endpoint="127.0.0.1:9", name="apply")


def test_new_resources_are_written_with_every_field_their_relations_and_an_opaque_id(cloud_platform):
    owner = f.org("Shop")
    counts = _apply(cloud_platform, [[_item("i-1", "web-1", (owner.pk, None)), _item("i-2", "web-2")]])
    assert counts == {"created": 2, "updated": 0, "deleted": 0, "unchanged": 0}
    row = Resource.objects.get(platform=cloud_platform, external_id="i-1")
    assert re.fullmatch(r"res-[0-9a-f]{28}", row.id)
    assert (row.type, row.service, row.region, row.zone, row.name, row.status) == (
        "ecs.instance", "ecs", REGION, f"{REGION}-a", "web-1", "running")
    assert (row.spec, row.tags, row.vcpu, row.memory_mib, row.resource_group, row.vpc_id) == (
        {"instance_type": "ecs.g6.large", "ip": ["10.0.0.1"]}, {"team": "shop"}, 2, 8192, "rg-1", "vpc-1")
    assert (row.organization_id, row.assigned_by, row.deleted) == (owner.pk, "rule", False)
    assert row.content_hash == _item("i-1", "web-1", (owner.pk, None))["hash"]
    assert row.first_seen_at == row.last_changed_at
    other = Resource.objects.get(platform=cloud_platform, external_id="i-2")
    assert (other.organization_id, other.assigned_by) == (None, "")
    assert other.id != row.id
    assert set(ResourceRelation.objects.filter(source=row).values_list("kind", "target_type", "target_external_id")) \
        == {("in_vpc", "vpc.vpc", "vpc-1"), ("in_vswitch", "vpc.vswitch", "vsw-1")}


def test_a_resource_listed_on_two_pages_is_one_row_as_the_last_page_saw_it(cloud_platform):
    counts = _apply(cloud_platform, [[_item("i-1", "before")], [_item("i-1", "after"), _item("i-2", "x")]])
    assert counts["created"] == 2
    rows = Resource.objects.filter(platform=cloud_platform, external_id="i-1")
    assert [r.name for r in rows] == ["after"]
    assert ResourceRelation.objects.filter(source=rows[0]).count() == 2


def test_changed_vanished_returned_and_manually_assigned_resources(cloud_platform):
    _apply(cloud_platform, [[_item("i-1", "a"), _item("i-2", "b"), _item("i-3", "c"), _item("i-4", "d")]])
    kept = f.org("Kept")
    manual = Resource.objects.get(platform=cloud_platform, external_id="i-4")
    resource_assign(actor=f.user("admin", kept, is_superuser=True), resource=manual, organization=kept)
    # i-1 renamed, i-2 unchanged, i-3 gone, i-4 (manual) renamed and claimed by a rule.
    shop = f.org("Shop")
    counts = _apply(cloud_platform, [[_item("i-1", "a2"), _item("i-4", "d2", (shop.pk, None))]], seen_extra=("i-2",))
    assert counts == {"created": 0, "updated": 2, "deleted": 1, "unchanged": 1}
    rows = {r.external_id: r for r in Resource.objects.filter(platform=cloud_platform)}
    assert (rows["i-1"].name, rows["i-1"].deleted) == ("a2", False)
    assert rows["i-3"].deleted and rows["i-3"].deleted_at is not None
    assert (rows["i-4"].name, rows["i-4"].organization_id, rows["i-4"].assigned_by) == ("d2", kept.pk, "manual")
    assert ResourceRelation.objects.filter(source=rows["i-1"]).count() == 2
    # The vanished one returns, unchanged: it is live again with the same id.
    counts = _apply(cloud_platform, [[_item("i-3", "c")]], seen_extra=("i-1", "i-2", "i-4"))
    assert counts == {"created": 0, "updated": 1, "deleted": 0, "unchanged": 3}
    returned = Resource.objects.get(platform=cloud_platform, external_id="i-3")
    assert (returned.id, returned.deleted, returned.deleted_at) == (rows["i-3"].id, False, None)
