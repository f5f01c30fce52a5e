"""Disaster recovery: protection groups and their members, recovery plans run step by step, backups.

A ``ProtectionGroup`` names an application's resources at a primary site and the secondary site they
are replicated to (a platform and a region, optionally a zone; another platform is allowed). Members
are chosen explicitly, by tag or by project; a selection by tag or project is re-read by the poll, and
a resource that matches but is not a member yet is *drift*: it joins (``auto_join``) or is flagged.
Each member replicates on its own channel (a disk replication pair, an RDS cross-region backup, an
OSS bucket replication), and its RPO is the age of the last point the secondary holds: a stuck
channel keeps ageing and breaches the target, it never looks healthy.

A ``PlanRun`` is one drill, switchover, failover, switchback or failback of a group: ordered groups
of ``PlanStep`` rows (sequence numbers), each step an ``Operation`` driven by short Celery tasks.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.ids import PrefixedId
from apps.core.models import TenantModel


class ProtectionGroup(TenantModel):
    class Selection(models.TextChoices):
        EXPLICIT = "explicit", "Chosen resources"
        TAG = "tag", "By tag"
        PROJECT = "project", "By project"

    class State(models.TextChoices):
        PROTECTED = "protected", "Protected (primary active)"
        SWITCHED_OVER = "switched_over", "Switched over (secondary active)"
        FAILED_OVER = "failed_over", "Failed over (secondary active)"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("pg"), editable=False)
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=500, blank=True)
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    selection = models.CharField(max_length=16, choices=Selection.choices, default=Selection.EXPLICIT)
    tag_key = models.CharField(max_length=128, blank=True)
    tag_value = models.CharField(max_length=255, blank=True)
    auto_join = models.BooleanField(default=True)
    primary_platform = models.ForeignKey("clouds.CloudPlatform", on_delete=models.PROTECT, related_name="+")
    primary_region = models.CharField(max_length=64)
    primary_zone = models.CharField(max_length=64, blank=True)
    secondary_platform = models.ForeignKey("clouds.CloudPlatform", on_delete=models.PROTECT, related_name="+")
    secondary_region = models.CharField(max_length=64)
    secondary_zone = models.CharField(max_length=64, blank=True)
    target_rpo_seconds = models.PositiveIntegerField(default=60)
    target_rto_seconds = models.PositiveIntegerField(default=600)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PROTECTED, db_index=True)
    rpo_seconds = models.FloatField(null=True, blank=True)
    rpo_breached = models.BooleanField(default=False)
    rpo_checked_at = models.DateTimeField(null=True, blank=True)
    drift = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["organization", "name"], name="pgroup_org_name")]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="pgroup_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def topic(self) -> str:
        return f"resilience:{self.id}"


class ProtectedMember(TenantModel):
    class State(models.TextChoices):
        JOINED = "joined", "Protected"
        FLAGGED = "flagged", "Matches, not protected (drift)"
        LEFT = "left", "No longer matches"

    class Channel(models.TextChoices):
        DISK_PAIR = "disk_pair", "Disk replication pair"
        RDS_BACKUP = "rds_backup", "RDS cross-region backup"
        OSS_REPLICATION = "oss_replication", "OSS bucket replication"
        SNAPSHOT_COPY = "snapshot_copy", "Cross-region snapshot copies"
        NONE = "none", "Not replicated (started and stopped by plans)"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("pm"), editable=False)
    group = models.ForeignKey(ProtectionGroup, on_delete=models.CASCADE, related_name="members")
    resource = models.ForeignKey("resources.Resource", null=True, on_delete=models.SET_NULL, related_name="+")
    resource_type = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    zone = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.JOINED)
    # Recovery order: plans switch tier 1 (databases, say) before tier 2 (applications) and so on, one
    # ordered batch per tier.
    tier = models.PositiveSmallIntegerField(default=1)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.NONE)
    replica_id = models.CharField(max_length=255, blank=True)
    replica_status = models.CharField(max_length=32, blank=True)
    secondary_id = models.CharField(max_length=255, blank=True)
    last_recovery_point = models.DateTimeField(null=True, blank=True)
    rpo_seconds = models.FloatField(null=True, blank=True)
    bytes_moved = models.PositiveBigIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["resource_type", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["group", "resource_type", "external_id"],
                                               name="pmember_unique_resource")]

    def __str__(self) -> str:
        return f"{self.resource_type} {self.name or self.external_id}"


class PlanRun(TenantModel):
    class Kind(models.TextChoices):
        DRILL = "drill", "Drill"
        SWITCHOVER = "switchover", "Switchover (planned)"
        FAILOVER = "failover", "Failover (unplanned)"
        SWITCHBACK = "switchback", "Switchback"
        FAILBACK = "failback", "Failback (reprotect)"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for approval"
        CLEANING = "cleaning", "Cleaning up"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.RUNNING, Status.WAITING, Status.CLEANING)
    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("plan"), editable=False)
    group = models.ForeignKey(ProtectionGroup, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    operation = models.OneToOneField("core.Operation", on_delete=models.CASCADE, related_name="plan_run")
    batch = models.PositiveIntegerField(default=1)  # the sequence number of the ordered group now running
    batches = models.PositiveIntegerField(default=1)
    tick = models.PositiveIntegerField(default=0)  # rounds of the running batch: a stale round task does nothing
    recovery_point = models.DateTimeField(null=True, blank=True)
    measured_rpo_seconds = models.FloatField(null=True, blank=True)
    measured_rto_seconds = models.FloatField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    leftovers = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["group", "-started_at"], name="planrun_group_started")]
        constraints = [
            # One running plan per protection group, held by the database itself.
            models.UniqueConstraint(fields=["group"], condition=models.Q(status__in=["running", "waiting", "cleaning"]),
                                    name="planrun_one_active_per_group"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def topic(self) -> str:
        return f"resilience:{self.group_id}"


class PlanStep(TenantModel):
    class Kind(models.TextChoices):
        CLOUD = "cloud", "Cloud action"
        RESOURCE = "resource", "Resource action"
        WAIT = "wait", "Wait for healthy"
        APPROVAL = "approval", "Manual approval"
        ENDPOINT = "endpoint", "Endpoint switch"
        CLEANUP = "cleanup", "Cleanup"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for approval"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    DONE = (Status.SUCCEEDED, Status.FAILED, Status.SKIPPED)

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("pstep"), editable=False)
    run = models.ForeignKey(PlanRun, on_delete=models.CASCADE, related_name="steps")
    member = models.ForeignKey(ProtectedMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    batch = models.PositiveIntegerField()
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    action = models.CharField(max_length=48)
    title = models.CharField(max_length=255)
    params = models.JSONField(default=dict, blank=True)
    critical = models.BooleanField(default=True)
    timeout_seconds = models.PositiveIntegerField(default=600)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    operation = models.ForeignKey("core.Operation", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    # ``phase`` call -> wait -> done, ``tick`` counts deliveries: a task redelivered with an old tick does
    # nothing, and a call is made only once its result is not recorded yet.
    phase = models.CharField(max_length=8, default="call")
    tick = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "batch", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="planstep_unique_seq")]

    def __str__(self) -> str:
        return f"{self.run_id} #{self.seq} {self.action}"


class Vault(TenantModel):
    class Kind(models.TextChoices):
        LOCAL = "local", "Local"
        CROSS_REGION = "cross_region", "Cross-region"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("vault"), editable=False)
    name = models.CharField(max_length=128)
    platform = models.ForeignKey("clouds.CloudPlatform", on_delete=models.PROTECT, related_name="+")
    region = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.LOCAL)
    dest_region = models.CharField(max_length=64, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="vault_unique_name")]

    def __str__(self) -> str:
        return self.name


class BackupPlan(TenantModel):
    class Source(models.TextChoices):
        ECS_DISK = "ECS_DISK", "ECS disk"
        RDS = "RDS", "RDS instance"
        OSS = "OSS", "OSS bucket"
        NAS = "NAS", "NAS file system"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("bplan"), editable=False)
    name = models.CharField(max_length=128)
    vault = models.ForeignKey(Vault, on_delete=models.PROTECT, related_name="plans")
    source_type = models.CharField(max_length=16, choices=Source.choices)
    source_id = models.CharField(max_length=255)
    schedule = models.CharField(max_length=64, blank=True)  # "" is manual only; "every <n>h"
    retention_days = models.PositiveIntegerField(default=7)
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class BackupJob(TenantModel):
    class Kind(models.TextChoices):
        BACKUP = "backup", "Backup"
        RESTORE = "restore", "Restore"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("bjob"), editable=False)
    plan = models.ForeignKey(BackupPlan, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BACKUP)
    target = models.CharField(max_length=16, blank=True)  # restores: in_place | new
    operation = models.OneToOneField("core.Operation", on_delete=models.CASCADE, related_name="backup_job")
    external_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, default="running")
    progress = models.PositiveSmallIntegerField(default=0)
    bytes_done = models.PositiveBigIntegerField(default=0)
    error = models.CharField(max_length=1000, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"
