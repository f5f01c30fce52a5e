"""The apply step cuts fields longer than the inventory keeps to its columns (name 255, status 32,
resource group and VPC 128), for new rows and for rows written again, as a refresh does."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from apps.clouds.adapters.base import CloudResource
from apps.clouds.tests.factories import platform as make_platform
from apps.resources.models import Resource, SyncPage, SyncRun
from apps.resources.services import apply_pages, content_hash, item_of
from tests import factories as f

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"


def _item(external_id: str, fill: str) -> dict:
    item = item_of(CloudResource("ecs.instance", external_id, REGION, name=fill * 300, status=fill * 40,
                                 resource_group=fill * 140, vpc_id=fill * 140))
    item["hash"] = content_hash(item)
    item["owner"] = [None, None]
    return item


def _apply(platform, items: list[dict]) -> dict:
    run = SyncRun.objects.create(platform=platform, organization=platform.organization, kind="full",
                                 operation=f.operation(platform.organization, kind="resources.sync"),
                                 units=[["ecs.instance", REGION]])
    SyncPage.objects.create(run=run, seq=1, resource_type="ecs.instance", region=REGION, items=items,
                            seen=[i["external_id"] for i in items])
    with transaction.atomic():
        return apply_pages(platform=platform, run=run, now=timezone.now())


def test_long_fields_are_cut_to_their_columns_when_created_and_when_written_again():
    platform = make_platform(f.org("Apply"), endpoint="127.0.0.1:9", name="apply")

    def stored():
        return Resource.objects.filter(platform=platform, external_id="i-long").values_list(
            "name", "status", "resource_group", "vpc_id").get()

    assert _apply(platform, [_item("i-long", "a")])["created"] == 1
    assert stored() == ("a" * 255, "a" * 32, "a" * 128, "a" * 128)
    assert _apply(platform, [_item("i-long", "b")])["updated"] == 1
    assert stored() == ("b" * 255, "b" * 32, "b" * 128, "b" * 128)
