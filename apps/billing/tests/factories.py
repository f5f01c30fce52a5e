"""Builders of billing rows for tests, and the objects the tenant isolation test needs."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from apps.billing.models import Bill, BillLine, Budget, BudgetCrossing, Discount, PriceBook, PriceRule, UsageInterval
from apps.clouds.tests.factories import platform as make_platform
from apps.resources.tests.factories import resource

_seq = itertools.count(1)
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """A UTC moment from ``YYYY-MM-DD HH:MM[:SS]``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def price_book(org: Any, *, currency: str = "CNY", minor_unit: int = 2, active: bool = True) -> PriceBook:
    if active:
        PriceBook.objects.filter(is_active=True).update(is_active=False)
    return PriceBook.objects.create(organization=org, name=f"book-{next(_seq)}", currency=currency,
                                    minor_unit=minor_unit, is_active=active)


def rule(book: PriceBook, resource_type: str, dimension: str, unit_price: Any, **kw: Any) -> PriceRule:
    return PriceRule.objects.create(price_book=book, service=resource_type.split(".")[0], resource_type=resource_type,
                                    dimension=dimension, unit_price=Decimal(str(unit_price)), **kw)


def instance(platform: Any, org: Any, *, project: Any = None, since: dt.datetime, vcpu: int = 2,
             memory_mib: int = 4096, instance_type: str = "ecs.g6.large", **kw: Any) -> Any:
    return resource(platform, organization=org, project=project, type="ecs.instance", vcpu=vcpu,
                    memory_mib=memory_mib, spec={"instance_type": instance_type}, first_seen_at=since,
                    last_changed_at=since, **kw)


def isolation_objects(org: Any) -> list[Any]:
    book = PriceBook.objects.create(organization=org, name=f"iso-{next(_seq)}", currency="CNY")
    price = rule(book, "ecs.instance", "hours", "0.5")
    n = next(_seq)
    bill = Bill.objects.create(organization=org, period=dt.date(2000 + n // 12, n % 12 + 1, 1),
                               time_zone="UTC", currency="CNY", price_book=book)
    line = BillLine.objects.create(bill=bill, rule=price, description="x", quantity=1, unit="hour",
                                   unit_price=Decimal("0.5"), amount=Decimal("0.5"))
    budget = Budget.objects.create(organization=org, name=f"iso-{next(_seq)}", amount=100, thresholds=[50])
    discount = Discount.objects.create(organization=org, percent=5)
    crossing = BudgetCrossing.objects.create(budget=budget, period=bill.period, threshold=50, basis="actual",
                                             spend=Decimal(60))
    vm = resource(make_platform(org, name=f"billing-{next(_seq)}"), organization=org)
    interval = UsageInterval.objects.create(resource=vm, organization=org, platform_id=vm.platform_id,
                                            region=vm.region, service="ecs", type=vm.type, state="running",
                                            start_s=0, end_s=3600)
    return [book, price, bill, line, budget, discount, crossing, interval]
