"""Builders of inventory rows for tests, and the objects the tenant isolation test needs."""

from __future__ import annotations

import itertools
from typing import Any

from django.utils import timezone

from apps.clouds.tests.factories import platform as make_platform
from apps.core.models import Operation
from apps.resources.models import AssignmentRule, Resource, SyncRun

_seq = itertools.count(1)


def resource(platform: Any, *, organization: Any = None, type: str = "ecs.instance", **kw: Any) -> Resource:
    n = next(_seq)
    now = timezone.now()
    values = {"region": "cn-hangzhou", "zone": "cn-hangzhou-a", "service": type.split(".")[0],
              "external_id": f"x-{n:08d}", "name": f"res-{n}", "status": "running", "content_hash": "0" * 32,
              "first_seen_at": now, "last_changed_at": now, **kw}
    return Resource.objects.create(platform=platform, organization=organization, type=type, **values)


def isolation_objects(org: Any) -> list[Any]:
    platform = make_platform(org, name=f"inventory-{next(_seq)}")
    op = Operation.objects.create(organization=org, kind="resources.sync")
    run = SyncRun.objects.create(platform=platform, organization=org, operation=op, status=SyncRun.Status.SUCCEEDED)
    rule = AssignmentRule.objects.create(platform=platform, match="tag", key="team", value="x", organization=org)
    return [platform, resource(platform, organization=org), run, rule]
