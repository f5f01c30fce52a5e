"""Metering, price books, bills and budgets.

Usage is kept at two grains. A ``UsageInterval`` says who owned a resource and in which shape
(spec, running or stopped) from one second to another; it is opened and closed from the
inventory's change events and a periodic pass. A ``UsageRecord`` is one interval's share of one
clock hour (UTC hours, each labelled with its day in the owning organization's time zone): the
metered table that rating aggregates. Records of a period are rebuilt from the intervals, so
metering a period again writes the same records.

Times in the usage tables are whole seconds since the epoch (UTC): the hourly split is integer
arithmetic that runs the same on PostgreSQL and SQLite.

A finalized ``Bill`` and its lines and charges never change again: the services refuse it, and on
PostgreSQL the database does too (triggers, migration 0002, like the audit log). Corrections are
``BillAdjustment`` rows, which are never changed or removed either.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from apps.core.ids import PrefixedId
from apps.core.models import TenantModel, TenantQuerySet

# Usage tables outlive what they describe (a resource, project or organization removed later is
# still what was billed), so they point at it without a database constraint and never cascade.
_HISTORY = {"on_delete": models.DO_NOTHING, "db_constraint": False, "related_name": "+"}
# The metered table has millions of rows and is written a whole period at a time: it keeps only the
# indexes its reads use (see ``UsageRecord.Meta``), not one per reference.
_RECORD = {**_HISTORY, "db_index": False}


class Dimension(models.TextChoices):
    HOURS = "hours", "Resource hours"
    VCPU_HOURS = "vcpu_hours", "vCPU hours"
    MEMORY_GIB_HOURS = "memory_gib_hours", "Memory GiB hours"
    STORAGE_GIB_HOURS = "storage_gib_hours", "Storage GiB hours"
    BANDWIDTH_MBPS_HOURS = "bandwidth_mbps_hours", "Bandwidth Mbps hours"


class BillingTagSet(models.Model):
    """One set of resource tags, stored once: intervals and records carry its id, so rating groups
    usage by tags with one integer column and cost analysis can group by any tag key."""

    digest = models.CharField(max_length=64, unique=True)  # SHA-256 of the tags as sorted, compact JSON
    tags = models.JSONField(default=dict)

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))


class BillingProfile(models.Model):
    """An organization's billing settings: the time zone its months are counted in."""

    tenant_field = "organization"

    organization = models.OneToOneField("organizations.Organization", primary_key=True, on_delete=models.CASCADE,
                                        related_name="+")
    time_zone = models.CharField(max_length=64, default="UTC")

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.organization_id} ({self.time_zone})"


class UsageInterval(models.Model):
    """A resource in one shape, owned by one organization and project, from ``start_s`` to ``end_s``
    (``NULL``: still so). A resource has at most one open interval."""

    tenant_field = "organization"

    resource = models.ForeignKey("resources.Resource", **_HISTORY)
    organization = models.ForeignKey("organizations.Organization", null=True, **_HISTORY)
    project = models.ForeignKey("organizations.Project", null=True, **_HISTORY)
    platform = models.ForeignKey("clouds.CloudPlatform", **_HISTORY)
    region = models.CharField(max_length=64)
    service = models.CharField(max_length=32)
    type = models.CharField(max_length=64)
    sku = models.CharField(max_length=64, blank=True)  # instance type, disk category, DB class, storage class
    state = models.CharField(max_length=16)  # running | stopped
    vcpu = models.PositiveIntegerField(default=0)
    memory_mib = models.PositiveBigIntegerField(default=0)
    storage_gib = models.PositiveBigIntegerField(default=0)
    bandwidth_mbps = models.PositiveIntegerField(default=0)  # an EIP's (or any resource's) bandwidth
    tag_set = models.ForeignKey(BillingTagSet, null=True, blank=True, **_HISTORY)  # none: no tags
    start_s = models.BigIntegerField()
    end_s = models.BigIntegerField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["resource", "start_s"]
        indexes = [
            models.Index(fields=["resource", "start_s"], name="usageinterval_resource_start"),
            models.Index(fields=["start_s"], name="usageinterval_start"),
            models.Index(fields=["end_s"], name="usageinterval_end"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["resource"], condition=models.Q(end_s__isnull=True),
                                    name="usageinterval_one_open_per_resource"),
            models.CheckConstraint(condition=models.Q(end_s__isnull=True) | models.Q(end_s__gte=models.F("start_s")),
                                   name="usageinterval_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.state} {self.start_s}..{self.end_s or ''}"


class BillingHour(models.Model):
    """The clock hours of a time zone with the local day each starts in: the calendar that metering
    joins intervals with (filled for the hours being metered)."""

    zone = models.CharField(max_length=64)
    hour_s = models.BigIntegerField()
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["zone", "hour_s"], name="billinghour_unique")]

    def __str__(self) -> str:
        return f"{self.zone} {self.hour_s} {self.day}"


class UsageRecord(models.Model):
    """One interval's seconds within one clock hour, with the interval's owner and shape copied so
    rating aggregates one table."""

    tenant_field = "organization"

    interval = models.ForeignKey(UsageInterval, **_RECORD)
    resource = models.ForeignKey("resources.Resource", **_RECORD)
    organization = models.ForeignKey("organizations.Organization", null=True, **_RECORD)
    project = models.ForeignKey("organizations.Project", null=True, **_RECORD)
    platform = models.ForeignKey("clouds.CloudPlatform", **_RECORD)
    region = models.CharField(max_length=64)
    service = models.CharField(max_length=32)
    type = models.CharField(max_length=64)
    sku = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16)
    vcpu = models.PositiveIntegerField(default=0)
    memory_mib = models.PositiveBigIntegerField(default=0)
    storage_gib = models.PositiveBigIntegerField(default=0)
    bandwidth_mbps = models.PositiveIntegerField(default=0)
    tag_set = models.ForeignKey(BillingTagSet, null=True, blank=True, **_RECORD)
    hour_s = models.BigIntegerField()
    day = models.DateField()
    seconds = models.PositiveIntegerField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["hour_s", "interval"]
        indexes = [
            models.Index(fields=["organization", "day"], name="usagerecord_org_day"),
            models.Index(fields=["hour_s"], name="usagerecord_hour"),
        ]
        # Reads: rating and explain by organization and day, metering's rebuild and the hourly pass by
        # hour, one record per interval and hour by the constraint (its index leads by interval).
        # Nothing reads records by resource, project, platform or tag set, and every index is one
        # more b-tree each metered hour writes.
        constraints = [models.UniqueConstraint(fields=["interval", "hour_s"], name="usagerecord_unique_hour")]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.hour_s} {self.seconds}s"


class PriceBook(TenantModel):
    """Prices in one currency. Rating uses the one active book; ``organization`` is its owner
    (usually the headquarters), who may read and change it."""

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("pbk"), editable=False)
    name = models.CharField(max_length=128)
    currency = models.CharField(max_length=3)
    minor_unit = models.PositiveSmallIntegerField(default=2)  # digits after the point: 2 for CNY, 0 for JPY
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="pricebook_org_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.minor_unit)


class PriceRule(models.Model):
    """A price for one dimension of one resource type. Optional platform, region, organization and
    SKU narrow it; the most specific rule that matches wins. ``tiers`` prices the period's quantity
    by steps (``[{"up_to": "100", "unit_price": "0.5"}, {"up_to": null, "unit_price": "0.4"}]``);
    without tiers ``unit_price`` prices it all. ``fixed_amount`` is added once per bill line (per
    project and month) that has usage."""

    class Unit(models.TextChoices):
        HOUR = "hour", "per hour"
        MONTH = "month", "per month"

    tenant_field = "price_book__organization"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("prc"), editable=False)
    price_book = models.ForeignKey(PriceBook, on_delete=models.CASCADE, related_name="rules")
    service = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=64)
    dimension = models.CharField(max_length=32, choices=Dimension.choices)
    sku = models.CharField(max_length=64, blank=True)
    platform = models.ForeignKey("clouds.CloudPlatform", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    region = models.CharField(max_length=64, blank=True)
    organization = models.ForeignKey("organizations.Organization", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+")
    unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.HOUR)
    unit_price = models.DecimalField(max_digits=18, decimal_places=6)
    tiers = models.JSONField(default=list, blank=True)
    fixed_amount = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal(0))
    bill_stopped = models.BooleanField(default=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["service", "resource_type", "dimension", "sku", "created_at"]
        indexes = [models.Index(fields=["price_book", "resource_type"], name="pricerule_book_type")]

    def __str__(self) -> str:
        return f"{self.resource_type} {self.dimension} {self.sku or '*'}"


class Discount(TenantModel):
    """A percentage off an organization's bills in the months it is valid (whole months)."""

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("dsc"), editable=False)
    percent = models.DecimalField(max_digits=5, decimal_places=2)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="discount_org_created")]

    def __str__(self) -> str:
        return f"{self.percent}% off for {self.organization_id}"


class Bill(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        FINALIZED = "finalized", "Finalized"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("bill"), editable=False)
    period = models.DateField()  # the first day of the month, in the organization's time zone
    time_zone = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    price_book = models.ForeignKey(PriceBook, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    subtotal = models.DecimalField(max_digits=20, decimal_places=6, default=Decimal(0))
    discount = models.DecimalField(max_digits=20, decimal_places=6, default=Decimal(0))
    total = models.DecimalField(max_digits=20, decimal_places=6, default=Decimal(0))
    rated_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                     db_constraint=False, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="bill_org_created")]
        constraints = [models.UniqueConstraint(fields=["organization", "period"], name="bill_unique_org_period")]

    def __str__(self) -> str:
        return f"bill {self.organization_id} {self.period:%Y-%m} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status == self.Status.FINALIZED


class BillLine(models.Model):
    """One priced line: a rule's usage in one project (``usage``), or the bill's discount."""

    class Kind(models.TextChoices):
        USAGE = "usage", "Usage"
        DISCOUNT = "discount", "Discount"

    tenant_field = "bill__organization"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("bln"), editable=False)
    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.USAGE)
    project = models.ForeignKey("organizations.Project", null=True, blank=True, **_HISTORY)
    rule = models.ForeignKey(PriceRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    service = models.CharField(max_length=32, blank=True)
    resource_type = models.CharField(max_length=64, blank=True)
    dimension = models.CharField(max_length=32, blank=True)
    sku = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=255)
    quantity = models.DecimalField(max_digits=24, decimal_places=6)
    unit = models.CharField(max_length=32)
    unit_price = models.DecimalField(max_digits=18, decimal_places=6)
    fixed_amount = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal(0))
    amount = models.DecimalField(max_digits=20, decimal_places=6)
    tiers = models.JSONField(default=list, blank=True)  # how the quantity fell into the rule's tiers

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["bill", "kind", "service", "resource_type", "dimension", "sku", "id"]
        indexes = [models.Index(fields=["bill", "project"], name="billline_bill_project")]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.description} {self.amount}"


class Charge(models.Model):
    """A bill line's quantity and amount on one day, per platform, region and set of tags: what cost
    analysis groups. Amounts are the line's amount shared by quantity, after the bill's discount."""

    tenant_field = "organization"

    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="charges")
    line = models.ForeignKey(BillLine, on_delete=models.CASCADE, related_name="charges")
    organization = models.ForeignKey("organizations.Organization", **_HISTORY)
    project = models.ForeignKey("organizations.Project", null=True, **_HISTORY)
    day = models.DateField()
    platform = models.ForeignKey("clouds.CloudPlatform", **_HISTORY)
    region = models.CharField(max_length=64)
    service = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=64)
    tags = models.JSONField(default=dict, blank=True)  # the tags of the resources charged (one set per row)
    quantity = models.DecimalField(max_digits=24, decimal_places=6)
    amount = models.DecimalField(max_digits=20, decimal_places=6)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["day", "id"]
        indexes = [models.Index(fields=["organization", "day"], name="charge_org_day")]

    def __str__(self) -> str:
        return f"{self.line_id} {self.day} {self.amount}"


class BillAdjustment(models.Model):
    """A credit (negative) or debit on a finalized bill, with the reason; never changed or removed."""

    tenant_field = "bill__organization"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("adj"), editable=False)
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="adjustments")
    amount = models.DecimalField(max_digits=20, decimal_places=6)
    reason = models.CharField(max_length=500)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.bill_id} {self.amount}"


class Budget(TenantModel):
    """A monthly amount for an organization (``project`` empty) or one of its projects; crossing a
    threshold (percent) of it by actual or forecast spend is announced once per month."""

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("bdg"), editable=False)
    name = models.CharField(max_length=128)
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    amount = models.DecimalField(max_digits=20, decimal_places=2)
    thresholds = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="budget_org_created")]

    def __str__(self) -> str:
        return self.name


class BudgetCrossing(models.Model):
    class Basis(models.TextChoices):
        ACTUAL = "actual", "Actual"
        FORECAST = "forecast", "Forecast"

    tenant_field = "budget__organization"

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="crossings")
    period = models.DateField()
    threshold = models.PositiveSmallIntegerField()
    basis = models.CharField(max_length=16, choices=Basis.choices)
    spend = models.DecimalField(max_digits=20, decimal_places=2)
    crossed_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-crossed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["budget", "period", "threshold", "basis"],
                                               name="budgetcrossing_once")]

    def __str__(self) -> str:
        return f"{self.budget_id} {self.period:%Y-%m} {self.basis} {self.threshold}%"
