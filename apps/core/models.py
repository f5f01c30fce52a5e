"""Core models: the tenant-scoped base and long-running operations."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.ids import PrefixedId


class TenantQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "read") -> TenantQuerySet:
        from apps.core.scoping import restrict

        return restrict(self, user, action)


class TenantModel(models.Model):
    """Data that belongs to one organization; every read and write goes through ``restrict``."""

    tenant_field = "organization"

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Operation(TenantModel):
    """A long-running job (a cloud operation, a sync, a diagnostic) followed live by its watchers."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINAL = {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED}

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("op"), editable=False)
    kind = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    target_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    step = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Covers an organization's operations in list order, primary key included: a scoped page
            # picks its keys from this index alone (apps/core/pagination.py, keys first).
            models.Index(fields=["organization", "-created_at", "-id"], name="operation_org_created_id"),
            models.Index(fields=["target_type", "target_id"], name="operation_target"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="operation_progress_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def topic(self) -> str:
        return f"operation:{self.id}"


class IdempotencyRecord(models.Model):
    """The answer given to a command sent with an ``Idempotency-Key``, replayed on a retry."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_key_per_user")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code or 'in progress'})"
