"""Provisioning requests and their approvals, lifecycle changes (the record and the execution state
of every operation on a cloud resource) and scheduled operations.

A ``ChangeRecord`` is created with the ``Operation`` it drives: who asked, why, the spec before and
after, and where the step task is (``phase``, ``step``, ``attempts``, ``heartbeat_at``). Its
``client_token`` is sent to the cloud with a create, so a step that runs twice never creates twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.ids import PrefixedId
from apps.core.models import TenantModel


class ProvisioningRequest(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        PROVISIONING = "provisioning", "Provisioning"
        COMPLETED = "completed", "Completed"
        PARTIAL = "partial", "Partly failed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    OPEN = {Status.PENDING}
    scope_fields = {"project": "project", "cloud_platform": "platform"}

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("preq"), editable=False)
    project = models.ForeignKey("organizations.Project", on_delete=models.PROTECT, related_name="+")
    platform = models.ForeignKey("clouds.CloudPlatform", on_delete=models.PROTECT, related_name="+")
    region = models.CharField(max_length=64)
    resource_type = models.CharField(max_length=64, default="ecs.instance")
    spec = models.JSONField(default=dict)
    count = models.PositiveIntegerField(default=1)
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    policy = models.ForeignKey("ApprovalPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    levels = models.JSONField(default=list, blank=True)  # the policy's levels when the request was made
    level = models.PositiveSmallIntegerField(default=0)  # the level waiting for decisions (0-based)
    price_estimate = models.JSONField(default=dict, blank=True)
    quota_reservation = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "status", "-created_at"], name="preq_org_status")]

    def __str__(self) -> str:
        return f"{self.id} {self.count}x {self.spec.get('instance_type', self.resource_type)} ({self.status})"

    @property
    def topic(self) -> str:
        return f"request:{self.id}"

    @property
    def summary(self) -> str:
        """What was asked for, in one line ("2 × ecs.g6.large in cn-hangzhou-a", "MySQL 8.0 ...")."""
        from apps.provisioning.checks import summary

        try:
            return summary(self.resource_type, self.spec or {}, self.count)
        except KeyError:
            return f"{self.count} × {self.resource_type}"

    @property
    def spec_facts(self) -> list[tuple[str, object]]:
        """The spec's fields but the name, for a page (an instance's are shown by the page itself)."""
        return [(k.replace("_", " "), v) for k, v in sorted((self.spec or {}).items())
                if k not in ("name", "tags") and v not in (None, "", [], {})]


class RequestEvent(models.Model):
    """One line of a request's timeline: submitted, each decision, approved, each instance's outcome."""

    request = models.ForeignKey(ProvisioningRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    message = models.CharField(max_length=500)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.request_id} {self.kind}"


class ApprovalPolicy(TenantModel):
    """Which requests need whose approval. The most specific active policy of the request's
    organization applies (project and service match beat organization-wide ones).

    ``levels`` is a list of ``{"mode": "any"|"all", "roles": [role keys], "users": [user ids]}``,
    decided in order; an empty list approves every request. A request at or under both
    ``auto_approve_max_count`` and ``auto_approve_max_vcpu`` (when set) is approved at once."""

    scope_fields = {"project": "project"}

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("apol"), editable=False)
    name = models.CharField(max_length=128)
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    service = models.CharField(max_length=32, blank=True)
    auto_approve_max_count = models.PositiveIntegerField(null=True, blank=True)
    auto_approve_max_vcpu = models.PositiveIntegerField(null=True, blank=True)
    levels = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "name", "id"]
        indexes = [models.Index(fields=["organization", "is_active"], name="apol_org_active")]

    def __str__(self) -> str:
        return self.name


class ApprovalDecision(models.Model):
    class Verdict(models.TextChoices):
        APPROVE = "approve", "Approved"
        DENY = "deny", "Denied"

    request = models.ForeignKey(ProvisioningRequest, on_delete=models.CASCADE, related_name="decisions")
    level = models.PositiveSmallIntegerField()
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "level", "approver"], name="decision_once_per_level")]

    def __str__(self) -> str:
        return f"{self.request_id} L{self.level} {self.verdict}"


class ChangeRecord(TenantModel):
    class Phase(models.TextChoices):
        CALL = "call", "Calling the cloud"
        WAIT = "wait", "Waiting for the cloud"
        DONE = "done", "Done"

    scope_fields = {"project": "project", "cloud_platform": "platform"}

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("chg"), editable=False)
    operation = models.OneToOneField("core.Operation", on_delete=models.CASCADE, related_name="change_record")
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    platform = models.ForeignKey("clouds.CloudPlatform", on_delete=models.CASCADE, related_name="+")
    request = models.ForeignKey(ProvisioningRequest, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="changes")
    resource = models.ForeignKey("resources.Resource", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    action = models.CharField(max_length=16, db_index=True)
    resource_type = models.CharField(max_length=64)
    region = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    name = models.CharField(max_length=255, blank=True)
    client_token = models.CharField(max_length=64, unique=True)
    params = models.JSONField(default=dict, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    comment = models.CharField(max_length=500, blank=True)
    schedule = models.ForeignKey("ScheduledOperation", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.CALL)
    step = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    polls = models.PositiveIntegerField(default=0)
    deadline = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="change_org_created"),
            models.Index(fields=["phase", "heartbeat_at"], name="change_phase_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.resource_type} {self.external_id or self.name}"


class ScheduledOperation(TenantModel):
    """An operation on a resource run at a time (``run_at``) or on a recurring power schedule
    (``cron``: five crontab fields, UTC), by a django-celery-beat periodic task."""

    scope_fields = {"project": "project"}

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("sched"), editable=False)
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    resource = models.ForeignKey("resources.Resource", on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=16)
    run_at = models.DateTimeField(null=True, blank=True)
    cron = models.CharField(max_length=128, blank=True)
    comment = models.CharField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    periodic_task = models.OneToOneField("django_celery_beat.PeriodicTask", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_operation_id = models.CharField(max_length=32, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.resource_id} {'at ' + str(self.run_at) if self.run_at else self.cron}"


class Script(TenantModel):
    """A saved script of an organization (or of one of its projects): shell or PowerShell text whose
    ``{{name}}`` placeholders are the declared ``parameters`` (``[{"name", "description", "default",
    "required"}]``). Every change makes a new ``version`` and keeps the old text in ``ScriptVersion``."""

    class Language(models.TextChoices):
        SHELL = "shell", "Shell"
        POWERSHELL = "powershell", "PowerShell"

    scope_fields = {"project": "project"}

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("scr"), editable=False)
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=16, choices=Language.choices, default=Language.SHELL)
    content = models.TextField()
    parameters = models.JSONField(default=list, blank=True)
    timeout_seconds = models.PositiveIntegerField(default=60)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="script_name_unique_in_org")]

    def __str__(self) -> str:
        return self.name

    @property
    def topic(self) -> str:
        return f"script:{self.id}"


class ScriptVersion(models.Model):
    """The text and parameters of a script as they were at one version, and who made it."""

    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=128)
    language = models.CharField(max_length=16)
    content = models.TextField()
    parameters = models.JSONField(default=list, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["script", "-version"]
        constraints = [models.UniqueConstraint(fields=["script", "version"], name="script_version_once")]

    def __str__(self) -> str:
        return f"{self.script_id} v{self.version}"


class ScriptRun(TenantModel):
    """One script run on 1..N instances, driven by step tasks (``apps/provisioning/scripts.py``).

    ``calls`` holds one cloud call per platform and region: ``{"platform", "region", "instances"
    (external ids), "client_token", "invocation" (the cloud's id, once sent), "error"}``. The run's
    project is its instances' project when they share one (else none: organization-wide)."""

    class Phase(models.TextChoices):
        CALL = "call", "Sending to the cloud"
        WAIT = "wait", "Waiting for results"
        DONE = "done", "Done"

    scope_fields = {"project": "project"}

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("srun"), editable=False)
    operation = models.OneToOneField("core.Operation", on_delete=models.CASCADE, related_name="script_run")
    project = models.ForeignKey("organizations.Project", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    script = models.ForeignKey(Script, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    script_version = models.PositiveIntegerField(null=True, blank=True)
    name = models.CharField(max_length=128)
    language = models.CharField(max_length=16, choices=Script.Language.choices)
    content = models.TextField()
    parameters = models.JSONField(default=dict, blank=True)
    timeout_seconds = models.PositiveIntegerField(default=60)
    comment = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    calls = models.JSONField(default=list, blank=True)
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.CALL)
    step = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    deadline = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="script_run_org_created")]

    def __str__(self) -> str:
        return f"{self.name} on {len(self.calls)} call(s)"

    @property
    def topic(self) -> str:
        return f"script_run:{self.id}"


class ScriptRunTarget(models.Model):
    """One instance of a run: its status, exit code and output (the first ``OUTPUT_LIMIT`` characters)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCESS = "success", "Succeeded"
        FAILED = "failed", "Failed"
        TIMEOUT = "timeout", "Timed out"
        STOPPED = "stopped", "Stopped"
        ERROR = "error", "Not run"

    FINAL = {Status.SUCCESS, Status.FAILED, Status.TIMEOUT, Status.STOPPED, Status.ERROR}
    OUTPUT_LIMIT = 65536

    run = models.ForeignKey(ScriptRun, on_delete=models.CASCADE, related_name="targets")
    resource = models.ForeignKey("resources.Resource", null=True, on_delete=models.SET_NULL, related_name="+")
    platform = models.ForeignKey("clouds.CloudPlatform", on_delete=models.CASCADE, related_name="+")
    region = models.CharField(max_length=64)
    instance_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    exit_code = models.IntegerField(null=True, blank=True)
    output = models.TextField(blank=True)
    output_truncated = models.BooleanField(default=False)
    error_code = models.CharField(max_length=128, blank=True)
    error = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "name", "id"]

    def __str__(self) -> str:
        return f"{self.run_id} {self.instance_id} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL
