"""The inventory: one ``Resource`` row per cloud resource, whatever the cloud, and how it is collected.

A resource is identified by (platform, type, external id). ``content_hash`` is a digest of
everything collection stores about it (name, status, spec, tags, relations, placement, owner), so
a sync compares digests and writes only what changed: a sync of an unchanged cloud writes no row.
For the same reason a live row is not touched to say it was seen: the platform's last finished
sync confirms every live row (``seen_at`` in the API); ``last_changed_at`` is when the cloud last
reported something new. Resources that vanish are kept, flagged ``deleted`` with ``deleted_at``.

Ownership: ``organization``/``project`` come from assignment rules (or an administrator);
``NULL`` is unassigned, visible to platform-wide and cloud-platform grants only.
"""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.db import models

from apps.core.ids import PrefixedId
from apps.core.models import TenantQuerySet


def resource_id() -> str:
    """``res-`` + 12 hex digits of milliseconds + 16 random hex digits: opaque, unguessable (64 random
    bits) and increasing with creation time, so the newest-first list is one index walk (keyset)."""
    return f"res-{int(time.time() * 1000):012x}{os.urandom(8).hex()}"


class Resource(models.Model):
    tenant_field = "organization"
    # Grants on a project see its resources; grants on a cloud platform see all of that platform's.
    scope_fields = {"project": "project", "cloud_platform": "platform"}

    id = models.CharField(primary_key=True, max_length=40, default=resource_id, editable=False)
    # No index of their own: the list's (platform, -id), (organization, -id) and (project, -id) indexes
    # lead with them (a duplicate cost every insert of a collection its upkeep).
    platform = models.ForeignKey("clouds.CloudPlatform", on_delete=models.CASCADE, related_name="resources",
                                 db_index=False)
    organization = models.ForeignKey("organizations.Organization", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+", db_index=False)
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", db_index=False)
    assigned_by = models.CharField(max_length=16, blank=True)  # "" (unassigned), "rule", "manual"
    region = models.CharField(max_length=64)
    zone = models.CharField(max_length=64, blank=True)
    service = models.CharField(max_length=32)
    type = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=32, blank=True)
    spec = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    vcpu = models.PositiveIntegerField(default=0)
    memory_mib = models.PositiveBigIntegerField(default=0)
    storage_gib = models.PositiveBigIntegerField(default=0)
    resource_group = models.CharField(max_length=128, blank=True)
    vpc_id = models.CharField(max_length=128, blank=True)
    content_hash = models.CharField(max_length=32)
    first_seen_at = models.DateTimeField()
    last_changed_at = models.DateTimeField()
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "type", "external_id"], name="resource_unique_external_id"),
        ]
        # Every filter of the list is the leading column of an index that ends with the list order.
        indexes = [
            models.Index(fields=["platform", "-id"], name="resource_platform_id"),
            models.Index(fields=["type", "-id"], name="resource_type_id"),
            models.Index(fields=["service", "-id"], name="resource_service_id"),
            models.Index(fields=["region", "-id"], name="resource_region_id"),
            models.Index(fields=["status", "-id"], name="resource_status_id"),
            models.Index(fields=["organization", "-id"], name="resource_org_id"),
            models.Index(fields=["project", "-id"], name="resource_project_id"),
            models.Index(fields=["deleted", "-id"], name="resource_deleted_id"),
            models.Index(fields=["name"], name="resource_name"),
            models.Index(fields=["external_id"], name="resource_external_id"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name or self.external_id}"

    @property
    def topic(self) -> str:
        return f"resource:{self.id}"


class ResourceRelation(models.Model):
    """A typed edge from a resource to another of the same platform, named by the target's external id
    (so it holds before the target has been collected, and survives the target's deletion)."""

    # Indexed as the leading columns of ``relation_unique`` and ``relation_target``.
    source = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="relations", db_index=False)
    platform = models.ForeignKey("clouds.CloudPlatform", on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=32)
    target_type = models.CharField(max_length=64)
    target_external_id = models.CharField(max_length=255)

    class Meta:
        ordering = ["kind", "target_type", "target_external_id"]
        indexes = [models.Index(fields=["platform", "target_type", "target_external_id"], name="relation_target")]
        constraints = [models.UniqueConstraint(fields=["source", "kind", "target_type", "target_external_id"],
                                               name="relation_unique")]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_type}:{self.target_external_id}"


class AssignmentRule(models.Model):
    """Resources of a platform that match (a tag, a resource group, a VPC) belong to an organization
    and optionally one of its projects. Rules are tried by ascending ``priority``; the first wins."""

    class Match(models.TextChoices):
        TAG = "tag", "Tag"
        RESOURCE_GROUP = "resource_group", "Resource group"
        VPC = "vpc", "VPC"

    tenant_field = "organization"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("rule"), editable=False)
    platform = models.ForeignKey("clouds.CloudPlatform", on_delete=models.CASCADE, related_name="assignment_rules")
    priority = models.PositiveIntegerField(default=100)
    match = models.CharField(max_length=16, choices=Match.choices)
    key = models.CharField(max_length=128, blank=True)  # the tag key (tag rules)
    value = models.CharField(max_length=255)  # tag value, resource group id or VPC id
    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["platform", "priority", "created_at", "id"]
        indexes = [models.Index(fields=["platform", "priority"], name="assignmentrule_platform_prio")]

    def __str__(self) -> str:
        return f"{self.match} {self.key}={self.value} -> {self.organization_id}"



class SyncRun(models.Model):
    """One collection of a platform (full, or one resource), driven step by step by Celery.

    The platform's own row is the lock: starting a run locks it (``select_for_update``) and refuses
    while another run of the platform is unfinished. Pages fetched from the cloud are staged in
    ``SyncPage`` and applied in one transaction at the end, so a failed run changes no resource."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    tenant_field = "organization"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("sync"), editable=False)
    platform = models.ForeignKey("clouds.CloudPlatform", on_delete=models.CASCADE, related_name="sync_runs")
    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    operation = models.OneToOneField("core.Operation", on_delete=models.CASCADE, related_name="sync_run")
    kind = models.CharField(max_length=16, default="full")  # full | targeted
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    units = models.JSONField(default=list)  # [[type, region], ...] to collect
    unit_index = models.PositiveIntegerField(default=0)
    page_token = models.CharField(max_length=512, blank=True)
    step = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["platform", "-started_at"], name="syncrun_platform_started")]

    def __str__(self) -> str:
        return f"sync {self.id} of {self.platform_id} ({self.status})"



class SyncPage(models.Model):
    """Pages fetched by a run, kept until the run applies or abandons them: ``items`` holds the new and
    changed resources in full, ``seen`` the external ids of every resource the pages listed."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="staged_pages")
    seq = models.PositiveIntegerField()
    resource_type = models.CharField(max_length=64)
    region = models.CharField(max_length=64)
    items = models.JSONField(default=list)
    seen = models.JSONField(default=list)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="syncpage_unique_seq")]

    def __str__(self) -> str:
        return f"{self.run_id} page {self.seq}"
