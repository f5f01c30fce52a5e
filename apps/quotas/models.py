"""Quotas: limits on organizations (for their whole subtree) and on projects, reservations that
hold quota while a cloud works, and requests for more.

A ``QuotaLimit`` carries the usage of what it covers as two counters, ``committed`` (resources the
cloud confirmed) and ``reserved`` (live reservations), changed only by the services under the row
lock, so a check is one read of the rows on the path from the root to the project. A limit may be
narrowed to a cloud platform and a region; it then counts only usage there.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models

from apps.core.ids import PrefixedId
from apps.core.models import TenantModel


class QuotaLimit(TenantModel):
    scope_fields = {"project": "project"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    dimension = models.CharField(max_length=64)
    platform = models.ForeignKey("clouds.CloudPlatform", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    region = models.CharField(max_length=64, blank=True)
    # "<project or ->|<platform or ->|<region>": one limit per node, dimension and narrowing.
    scope_key = models.CharField(max_length=160, editable=False)
    # Where the node sits: the organization's path (a project is one level below its organization);
    # locks are taken in (depth, id) order, root to leaf.
    path = models.CharField(max_length=1024, editable=False, db_index=True)
    depth = models.PositiveSmallIntegerField(editable=False)
    limit = models.PositiveBigIntegerField()
    warning_percent = models.PositiveSmallIntegerField(default=80)
    overcommit = models.BooleanField(default=False)
    overcommit_factor = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1.00"))
    committed = models.BigIntegerField(default=0)
    reserved = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["depth", "path", "dimension", "scope_key"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "dimension", "scope_key"], name="quota_limit_unique_scope"),
            models.CheckConstraint(condition=models.Q(warning_percent__gte=1, warning_percent__lte=100),
                                   name="quota_limit_warning_1_100"),
        ]
        indexes = [models.Index(fields=["dimension", "path"], name="quota_limit_dim_path")]

    def __str__(self) -> str:
        return f"{self.dimension} {self.used}/{self.limit} ({self.scope_key})"

    @property
    def used(self) -> int:
        return self.committed + self.reserved

    @property
    def free(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def percent(self) -> int:
        return 100 if self.limit == 0 and self.used else (self.used * 100 // self.limit if self.limit else 0)

    @property
    def warning_at(self) -> int:
        return -(-self.limit * self.warning_percent // 100)

    @property
    def warning(self) -> bool:
        return self.limit > 0 and self.used >= self.warning_at

    @property
    def topic(self) -> str:
        return f"quota:{self.organization_id}"


class Reservation(TenantModel):
    """Quota held for ``count`` units of a resource type, each worth ``unit`` (dimension -> amount).

    Units move from reserved to committed (the cloud confirmed) or released (failed, cancelled,
    denied); whatever is still reserved at ``expires_at`` is released by the sweeper, so a worker
    that died holding a reservation cannot leak quota."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SETTLED = "settled", "Settled"
        EXPIRED = "expired", "Expired"

    scope_fields = {"project": "project", "cloud_platform": "platform"}

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("qres"), editable=False)
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    platform = models.ForeignKey("clouds.CloudPlatform", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    region = models.CharField(max_length=64, blank=True)
    resource_type = models.CharField(max_length=64)
    unit = models.JSONField(default=dict)
    count = models.PositiveIntegerField()
    reserved_units = models.PositiveIntegerField()
    committed_units = models.PositiveIntegerField(default=0)
    released_units = models.PositiveIntegerField(default=0)
    # Every reservation inserts a row: the one index on (status, expires_at) serves the sweeper, and
    # no single-column index on either is kept up to date on that hot path.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="quota_reservation_expiry")]

    def __str__(self) -> str:
        return f"{self.id} {self.count}x {self.resource_type} ({self.status})"

    def amounts(self, units: int) -> dict[str, int]:
        return {dim: int(per) * units for dim, per in self.unit.items()}


class QuotaRequest(TenantModel):
    """A tenant asks for a higher limit with a reason; an approver grants (the limit rises) or denies."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        GRANTED = "granted", "Granted"
        DENIED = "denied", "Denied"

    scope_fields = {"project": "project"}

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("qreq"), editable=False)
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    dimension = models.CharField(max_length=64)
    platform = models.ForeignKey("clouds.CloudPlatform", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    region = models.CharField(max_length=64, blank=True)
    current_limit = models.PositiveBigIntegerField(null=True, blank=True)
    requested_limit = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    comment = models.CharField(max_length=500, blank=True)
    # Decided under the lifecycle's approval policy of the organization that gives the quota (the
    # parent of the request's organization, or a root itself): its levels as they were when asked,
    # and the level waiting now.
    policy = models.ForeignKey("provisioning.ApprovalPolicy", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    levels = models.JSONField(default=list, blank=True)
    level = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "status", "-created_at"], name="quota_request_org_status")]

    def __str__(self) -> str:
        return f"{self.id} {self.dimension} -> {self.requested_limit} ({self.status})"

    @property
    def topic(self) -> str:
        return f"quota:{self.organization_id}"


class QuotaDecision(models.Model):
    """One approver's verdict on one level of a quota request; a person decides at most one level."""

    class Verdict(models.TextChoices):
        GRANT = "grant", "Granted"
        DENY = "deny", "Denied"

    request = models.ForeignKey(QuotaRequest, on_delete=models.CASCADE, related_name="decisions")
    level = models.PositiveSmallIntegerField()
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "level", "created_at"]
        constraints = [models.UniqueConstraint(fields=["request", "approver"], name="quota_decision_once")]

    def __str__(self) -> str:
        return f"{self.request_id} level {self.level + 1}: {self.verdict}"
