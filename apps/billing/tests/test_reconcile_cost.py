"""Reconciling the meter with the inventory costs a fixed number of statements however many resources
it opens intervals for, and a resource back after it was gone is metered from when it came back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.billing import metering
from apps.billing.models import UsageInterval
from apps.billing.tests.factories import at, instance

pytestmark = pytest.mark.django_db


def test_opening_intervals_for_many_resources_takes_the_same_statements_as_for_a_few(people, platform):
    def cost(n):
        ids = [instance(platform, people["hq"], since=at("2026-04-01 00:00")).pk for _ in range(n)]
        with CaptureQueriesContext(connection) as queries:
            assert metering.meter_reconcile(resource_ids=ids, now=at("2026-04-01 01:00"))["opened"] == n
        return len(queries)

    assert cost(3) == cost(60)


def test_a_resource_back_after_it_was_gone_is_metered_from_its_return(people, platform):
    vm = instance(platform, people["hq"], since=at("2026-04-01 00:00"))
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-04-01 00:00"))
    vm.deleted, vm.deleted_at = True, at("2026-04-01 05:00")
    vm.save()
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-04-01 06:00"))
    vm.deleted, vm.deleted_at, vm.last_changed_at = False, None, at("2026-04-01 08:00")
    vm.save()
    metering.meter_reconcile(resource_ids=[vm.pk], now=at("2026-04-01 09:00"))

    spans = list(UsageInterval.objects.filter(resource_id=vm.pk).order_by("start_s").values_list("start_s", "end_s"))
    assert spans == [(metering.epoch(at("2026-04-01 00:00")), metering.epoch(at("2026-04-01 05:00"))),
                     (metering.epoch(at("2026-04-01 08:00")), None)]
