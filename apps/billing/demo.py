"""Demo data of billing: a price book in CNY, the East IT department's months counted in Shanghai
time with a 5% discount, and, once the simulated platform has been collected for the first time,
three weeks of usage history for its resources (a resize, a stop over a weekend), rated into last
month's finalized bill and this month's draft, with budgets sized so the month's forecast crosses
a threshold. The history is written once: a platform whose intervals already reach back before its
first collection is left alone."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.demo import register_demo

logger = logging.getLogger(__name__)
BOOK_NAME = "Demo price book"
HISTORY_DAYS = 24
# (resource type, dimension, unit price per hour, SKU, extra fields)
RULES: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("ecs.instance", "vcpu_hours", "0.12", "", {"bill_stopped": False, "description": "ECS vCPU",
                                                 "tiers": [{"up_to": "2000", "unit_price": "0.12"},
                                                           {"up_to": None, "unit_price": "0.10"}]}),
    ("ecs.instance", "memory_gib_hours", "0.03", "", {"bill_stopped": False, "description": "ECS memory"}),
    ("ecs.instance", "hours", "0.05", "ecs.r6.large", {"description": "Memory-optimised instance surcharge"}),
    ("ecs.disk", "storage_gib_hours", "0.0007", "cloud_essd", {"description": "ESSD storage"}),
    ("ecs.disk", "storage_gib_hours", "0.0004", "", {"description": "Disk storage"}),
    ("eip.eip", "hours", "0.03", "", {"description": "Elastic IP"}),
    ("eip.eip", "bandwidth_mbps_hours", "0.025", "", {"description": "EIP bandwidth"}),
    ("slb.instance", "hours", "0.08", "", {"description": "Load balancer", "fixed_amount": "5"}),
    ("rds.instance", "hours", "0.90", "", {"description": "RDS instance"}),
    ("rds.instance", "storage_gib_hours", "0.0012", "", {"description": "RDS storage"}),
    ("redis.instance", "hours", "0.35", "", {"description": "Redis instance"}),
    ("oss.bucket", "storage_gib_hours", "0.00017", "", {"description": "OSS storage", "unit": "hour"}),
]


@register_demo(order=380)
def seed_billing() -> None:
    from apps.billing.models import BillingProfile, Discount, PriceBook, PriceRule
    from apps.clouds.demo import SIM_NAME
    from apps.clouds.models import CloudPlatform
    from apps.organizations.models import Organization

    hq = Organization.objects.filter(parent=None, name="Headquarters").first()
    if hq is None:
        return
    book = PriceBook.objects.filter(name=BOOK_NAME).first()
    if book is None:
        book = PriceBook.objects.create(organization=hq, name=BOOK_NAME, currency="CNY", minor_unit=2,
                                        is_active=not PriceBook.objects.filter(is_active=True).exists())
        for resource_type, dimension, price, sku, extra in RULES:
            PriceRule.objects.create(price_book=book, service=resource_type.split(".")[0], resource_type=resource_type,
                                     dimension=dimension, unit_price=Decimal(price), sku=sku, **extra)
    east = Organization.objects.filter(name="East IT Department").first()
    if east is not None:
        BillingProfile.objects.get_or_create(organization=east, defaults={"time_zone": "Asia/Shanghai"})
        if not Discount.objects.filter(organization=east).exists():
            Discount.objects.create(organization=east, percent=Decimal(5), description="Demo: committed use")
    platform = CloudPlatform.objects.filter(name=SIM_NAME).first()
    if platform is not None:
        history_for(platform)


def history_after_collection(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    """Subscriber of ``sync:*``: the simulated platform's first collection gets its history."""
    if payload.get("event") != "sync_finished":
        return
    from apps.clouds.models import CloudPlatform

    platform = CloudPlatform.objects.filter(pk=topic.split(":", 1)[1], edition="cloudsim").first()
    if platform is not None:
        history_for(platform)


def _segments(n: int, start: int, end: int) -> list[tuple[int, int, dict[str, Any]]]:
    """Pieces of an instance's history, each in one shape: every third one ran at half size for its
    first ten days; every other one was stopped from a Friday 19:17 to the Monday 08:17 after."""
    day = 86400
    cuts: dict[int, dict[str, Any]] = {start: {}}
    if n % 3 == 1:
        cuts[start] = {"half": True}
        cuts[start + 10 * day] = {}
    if n % 2 == 0:
        stop = start + 12 * day + 19 * 3600 + 17 * 60
        cuts[stop] = {"state": "stopped"}
        cuts[stop + 2 * day + 13 * 3600] = {}
    moments = sorted(t for t in cuts if t < end)
    return [(t, moments[i + 1] if i + 1 < len(moments) else end, cuts[t]) for i, t in enumerate(moments)]


def history_for(platform: Any, *, now: dt.datetime | None = None) -> int:
    """Write the demo history of ``platform``'s resources, meter it and rate it; returns how many
    intervals were written (0 when the history exists or nothing was collected yet)."""
    from apps.billing import metering, rating, services
    from apps.billing.models import Budget, PriceBook, UsageInterval
    from apps.organizations.models import Organization, Project
    from apps.resources.models import AssignmentRule, Resource
    from apps.resources.services import resources_reassign

    if not PriceBook.objects.filter(name=BOOK_NAME).exists():
        return 0
    now = now or timezone.now()
    live = Resource.objects.filter(platform=platform, deleted=False, type__in=metering.METERED_TYPES)
    if not live.exists():
        return 0
    first_seen = min(live.values_list("first_seen_at", flat=True))
    if UsageInterval.objects.filter(platform=platform, start_s__lt=metering.epoch(first_seen)).exists():
        return 0
    # The shop's database, cache, load balancer and their network belong to the Web shop project too.
    east = Organization.objects.filter(name="East IT Department").first()
    shop = Project.objects.filter(organization=east, name="Web shop").first() if east else None
    vpc = live.filter(type="rds.instance").exclude(vpc_id="").values_list("vpc_id", flat=True).first()
    if east is not None and vpc and not AssignmentRule.objects.filter(platform=platform, match="vpc").exists():
        AssignmentRule.objects.create(platform=platform, match="vpc", value=vpc, organization=east, project=shop,
                                      priority=50)
        resources_reassign(platform=platform)
    metering.meter_reconcile(platform_id=platform.pk, now=now)
    start = metering.hour_floor(metering.epoch(first_seen) - HISTORY_DAYS * 86400)
    rows = list(live.filter(organization__isnull=False).order_by("id").values(*metering.RESOURCE_FIELDS))
    history = []
    tag_sets = metering.tag_set_ids(r["tags"] for r in rows)
    for n, row in enumerate(rows):
        shape = metering.shape_of(row, tag_sets)
        until = metering.epoch(row["first_seen_at"])
        pieces = _segments(n, start, until) if row["type"] == "ecs.instance" else [(start, until, {})]
        for begin, end, change in pieces:
            piece = dict(shape)
            if change.get("state"):
                piece["state"] = change["state"]
            if change.get("half"):
                piece["vcpu"] = max(1, shape["vcpu"] // 2)
                piece["memory_mib"] = max(1024, shape["memory_mib"] // 2)
            history.append(UsageInterval(resource_id=row["id"], start_s=begin, end_s=end, **piece))
    with transaction.atomic():
        UsageInterval.objects.bulk_create(history, batch_size=500)
    metering.meter_period(start=dt.datetime.fromtimestamp(start - 86400, dt.UTC), end=now, now=now)
    if rating.active_price_book() is None:
        return len(history)
    for org in Organization.objects.filter(pk__in={r["organization_id"] for r in rows}):
        zone = services.zone_for(org.pk)
        local = now.astimezone(metering.zone_of(zone)).date()
        this_month = local.replace(day=1)
        first_local = dt.datetime.fromtimestamp(start, metering.zone_of(zone)).date().replace(day=1)
        if first_local < this_month:
            bill = services.bill_rate(actor=None, organization=org, period=first_local, now=now)
            if not bill.is_final:
                services.bill_finalize(actor=None, bill=bill)
        bill = services.bill_rate(actor=None, organization=org, period=this_month, now=now)
        if org == east and not Budget.objects.filter(organization=org).exists():
            fraction = services.elapsed_fraction(this_month, zone, now)
            forecast = services.forecast_of(bill.total, fraction)
            # The organization's forecast passes 80% of its budget; the shop's actual spend passes 50%.
            Budget.objects.create(organization=org, name="East IT monthly", amount=(forecast * Decimal("1.15"))
                                  .quantize(Decimal("1")) or Decimal(100), thresholds=[50, 80, 100])
            if shop is not None:
                actual = services.spend_of(bill, shop.pk)
                Budget.objects.create(organization=org, project=shop, name="Web shop monthly",
                                      amount=(actual * Decimal("1.6")).quantize(Decimal("1")) or Decimal(100),
                                      thresholds=[50, 80, 100])
            services.budgets_check(organization=org, period=this_month, now=now)
    logger.info("billing demo: %s usage intervals of history for %s", len(history), platform.name)
    return len(history)
