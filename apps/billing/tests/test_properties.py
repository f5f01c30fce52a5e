"""Properties of metering and rating over random usage and rules: the bill's lines add up to the
usage priced independently from the intervals; rating twice and metering twice change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.billing import metering, services
from apps.billing.models import BillLine, UsageInterval, UsageRecord
from apps.billing.tests.factories import price_book, rule
from tests import factories as f

pytestmark = pytest.mark.django_db
MONTH_START = int(dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp())
MONTH_END = int(dt.datetime(2026, 4, 1, tzinfo=dt.UTC).timestamp())
Q6 = Decimal("0.000001")

prices = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("5"), places=6)
piece = st.tuples(
    st.integers(min_value=MONTH_START - 86400, max_value=MONTH_END + 86400),  # start
    st.integers(min_value=1, max_value=5 * 86400),  # length in seconds
    st.integers(min_value=1, max_value=16),  # vCPU
    st.sampled_from(["running", "stopped"]),
    st.integers(min_value=0, max_value=1),  # project index
)


class Rollback(Exception):
    pass


def tiered(quantity: Decimal, price: Decimal, tiers: list[tuple[Decimal | None, Decimal]]) -> Decimal:
    if not tiers:
        return quantity * price
    amount, below = Decimal(0), Decimal(0)
    for top, step_price in tiers:
        upper = quantity if top is None else min(quantity, top)
        if upper > below:
            amount += (upper - below) * step_price
        if top is None or quantity <= top:
            break
        below = top
    return amount


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(pieces=st.lists(piece, min_size=1, max_size=8), vcpu_price=prices, hour_price=prices,
       bill_stopped=st.booleans(), tier_top=st.one_of(st.none(), st.integers(min_value=1, max_value=500)),
       tier_price=prices)
def test_lines_add_up_to_the_usage_and_rating_or_metering_twice_changes_nothing(
        people, platform, pieces, vcpu_price, hour_price, bill_stopped, tier_top, tier_price):
    try:
        with transaction.atomic():
            hq = people["hq"]
            projects = [f.project(hq), f.project(hq)]
            book = price_book(hq)
            tiers = [(Decimal(tier_top), vcpu_price), (None, tier_price)] if tier_top else []
            rule(book, "ecs.instance", "vcpu_hours", vcpu_price, bill_stopped=bill_stopped,
                 tiers=[{"up_to": str(t), "unit_price": str(p)} if t is not None else {"up_to": None,
                                                                                       "unit_price": str(p)}
                        for t, p in tiers])
            rule(book, "ecs.instance", "hours", hour_price, bill_stopped=True)
            vm = f.resource(platform, organization=hq, type="ecs.instance")
            # Disjoint intervals of one resource, written straight into the usage table.
            cursor = MONTH_START - 86400
            expected_seconds: dict[tuple[int, str], Decimal] = {}
            for start, length, vcpu, state, p in sorted(pieces):
                begin = max(start, cursor)
                end = begin + length
                cursor = end
                UsageInterval.objects.create(resource=vm, organization=hq, project=projects[p], platform=platform,
                                             region="r", service="ecs", type="ecs.instance", state=state, vcpu=vcpu,
                                             start_s=begin, end_s=end)
                inside = max(0, min(end, MONTH_END) - max(begin, MONTH_START))
                for dim, weight in (("vcpu", vcpu), ("hours", 1)):
                    key = (p, dim)
                    if state == "stopped" and dim == "vcpu" and not bill_stopped:
                        continue
                    expected_seconds[key] = expected_seconds.get(key, Decimal(0)) + Decimal(inside * weight)
            now = dt.datetime(2026, 4, 5, tzinfo=dt.UTC)
            span = {"start": dt.datetime(2026, 2, 27, tzinfo=dt.UTC), "end": dt.datetime(2026, 4, 3, tzinfo=dt.UTC),
                    "now": now}
            metering.meter_period(**span)
            records = sorted(UsageRecord.objects.values_list("interval_id", "hour_s", "seconds", "day", "state"))
            metering.meter_period(**span)
            assert sorted(UsageRecord.objects.values_list("interval_id", "hour_s", "seconds", "day", "state")) == \
                records
            bill = services.bill_rate(actor=None, organization=hq, period="2026-03", now=now)
            lines = sorted(BillLine.objects.filter(bill=bill).values_list("project_id", "dimension", "quantity",
                                                                          "amount"))
            expected_total = Decimal(0)
            for (_project, dim), seconds in expected_seconds.items():
                quantity = (seconds / Decimal(3600)).quantize(Q6, ROUND_HALF_UP)
                if not quantity:
                    continue
                amount = tiered(quantity, vcpu_price, tiers) if dim == "vcpu" else quantity * hour_price
                expected_total += amount.quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert sum((amount for *_, amount in lines), Decimal(0)) == bill.total == expected_total
            again = services.bill_rate(actor=None, organization=hq, period="2026-03", now=now)
            assert sorted(BillLine.objects.filter(bill=again).values_list("project_id", "dimension", "quantity",
                                                                          "amount")) == lines
            assert again.total == bill.total
            raise Rollback
    except Rollback:
        pass
