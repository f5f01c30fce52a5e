"""The billing demo: after the simulated platform's first collection, its resources get weeks of
history, last month is billed and finalized, this month has a draft and budgets have crossings."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.billing import demo
from apps.billing.models import Bill, BudgetCrossing, UsageInterval
from apps.billing.tests.factories import at, instance
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_demo_history_is_written_once_and_billed(people, platform):
    hq = f.org("Headquarters")
    east = f.org("East IT Department", parent=hq)
    shop = f.project(east, name="Web shop")
    now = at("2026-11-20 10:30")
    vms = [instance(platform, east, project=shop, since=now, vcpu=4, memory_mib=8192) for _ in range(3)]
    demo.seed_billing()
    assert demo.history_for(platform, now=now) > 0
    # 24 days back from 20 Nov reaches into October: October is finalized, November is a draft.
    bills = {b.period: b for b in Bill.objects.filter(organization=east)}
    assert bills[dt.date(2026, 10, 1)].status == "finalized" and bills[dt.date(2026, 11, 1)].status == "draft"
    assert bills[dt.date(2026, 11, 1)].total > 0
    assert BudgetCrossing.objects.filter(budget__organization=east, basis="forecast", threshold=80).exists()
    # In id order, the first instance was stopped over a weekend; the second ran at half size at first.
    vms.sort(key=lambda vm: vm.pk)
    assert UsageInterval.objects.filter(resource=vms[0], state="stopped").count() == 1
    assert UsageInterval.objects.filter(resource=vms[1], vcpu=2).count() == 1
    count = UsageInterval.objects.count()
    assert demo.history_for(platform, now=now) == 0
    assert UsageInterval.objects.count() == count
