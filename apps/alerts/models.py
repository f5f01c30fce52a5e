"""Metrics, alert rules, alerts and their handling, silences, notification routing and delivery.

Metrics: one ``MetricSample`` row per (resource, metric, resolution, time). Collection writes the
``raw`` resolution; rollups fold closed buckets into ``5m`` and ``1h`` rows (average, minimum,
maximum, count), and each resolution is kept for its own retention. The unique index leads with
resource, metric and resolution and ends with the time, so a time-range query of one series is one
index range scan (on PostgreSQL and SQLite alike).

Alerts: an ``Alert`` is one series of one rule (or one event, or one alert sent from outside) and
carries its state: ``pending`` (breaching, waiting for ``for``), ``firing``, ``resolved``, ``ok``
and ``insufficient_data``. Every change of state, and every acknowledgement, assignment, comment,
notification and escalation is one ``AlertHistory`` row with its reason.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.ids import PrefixedId
from apps.core.models import TenantModel, TenantQuerySet


class Resolution(models.TextChoices):
    RAW = "raw", "Raw (collection interval)"
    FIVE_MINUTES = "5m", "5 minutes"
    HOUR = "1h", "1 hour"


class MetricSample(models.Model):
    resource = models.ForeignKey("resources.Resource", on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=64)
    resolution = models.CharField(max_length=3, choices=Resolution.choices, default=Resolution.RAW)
    ts = models.DateTimeField()
    value = models.FloatField()  # the average over the bucket (raw: the collected value)
    minimum = models.FloatField()
    maximum = models.FloatField()
    count = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["resource", "metric", "resolution", "ts"]
        constraints = [models.UniqueConstraint(fields=["resource", "metric", "resolution", "ts"],
                                               name="metricsample_unique_series_ts")]
        indexes = [models.Index(fields=["resolution", "ts"], name="metricsample_resolution_ts")]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.metric} {self.resolution} {self.ts:%Y-%m-%d %H:%M} {self.value}"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class AlertRule(TenantModel):
    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "Threshold over a metric"
        EVENT = "event", "Event"

    class Aggregation(models.TextChoices):
        AVG = "avg", "Average"
        MAX = "max", "Maximum"
        MIN = "min", "Minimum"
        LAST = "last", "Last value"

    class Operator(models.TextChoices):
        GT = ">", "above"
        GE = ">=", "at or above"
        LT = "<", "below"
        LE = "<=", "at or below"

    class EventType(models.TextChoices):
        OPERATION_FAILED = "operation_failed", "An operation failed"
        SYNC_FAILED = "sync_failed", "An inventory sync failed"
        PLATFORM_UNREACHABLE = "platform_unreachable", "A cloud platform is unreachable"
        QUOTA_THRESHOLD = "quota_threshold", "A quota crossed its threshold"
        BUDGET_THRESHOLD = "budget_threshold", "A budget crossed its threshold"
        RESOURCE_DELETED = "resource_deleted", "A resource was deleted outside the console"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("arule"), editable=False)
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.THRESHOLD)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    enabled = models.BooleanField(default=True)
    metric = models.CharField(max_length=64, blank=True)
    aggregation = models.CharField(max_length=8, choices=Aggregation.choices, default=Aggregation.AVG)
    operator = models.CharField(max_length=2, choices=Operator.choices, default=Operator.GT)
    threshold = models.FloatField(default=0)
    window_seconds = models.PositiveIntegerField(default=300)
    for_seconds = models.PositiveIntegerField(default=0)
    event_type = models.CharField(max_length=32, choices=EventType.choices, blank=True)
    # Which resources (threshold) or events the rule covers: platform, service, type, project, tag "k=v".
    scope = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="alertrule_org_created"),
                   models.Index(fields=["kind", "enabled"], name="alertrule_kind_enabled")]

    def __str__(self) -> str:
        return self.name


class Alert(TenantModel):
    class State(models.TextChoices):
        OK = "ok", "OK"
        PENDING = "pending", "Pending"
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"
        INSUFFICIENT_DATA = "insufficient_data", "Insufficient data"

    class Source(models.TextChoices):
        RULE = "rule", "Threshold rule"
        EVENT = "event", "Event rule"
        EXTERNAL = "external", "Sent from outside (Prometheus)"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("alert"), editable=False)
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.RULE)
    fingerprint = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OK)
    value = models.FloatField(null=True, blank=True)
    resource = models.ForeignKey("resources.Resource", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    platform = models.ForeignKey("clouds.CloudPlatform", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    pending_since = models.DateTimeField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField()
    silenced_by = models.ForeignKey("Silence", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    inhibited_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    escalated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-state_changed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["organization", "fingerprint"], name="alert_unique_fingerprint")]
        indexes = [models.Index(fields=["organization", "state", "-state_changed_at"], name="alert_org_state"),
                   models.Index(fields=["state", "-state_changed_at"], name="alert_state_changed"),
                   models.Index(fields=["rule", "state"], name="alert_rule_state"),
                   # A group's members: its organization's firing alerts and those resolved lately (ends_at),
                   # not every alert it ever had (``notify._group_members``).
                   models.Index(fields=["organization", "state", "ends_at"], name="alert_org_state_ends"),
                   # The badge's counts (``selectors._showing``), read with every ingestion: its index alone.
                   models.Index(fields=["state", "severity", "organization"], name="alert_badge_counts",
                                condition=models.Q(silenced_by__isnull=True, inhibited_by__isnull=True))]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state == self.State.FIRING


class AlertHistory(models.Model):
    """One change of an alert: a state change, or a person's or the system's action on it."""

    class Kind(models.TextChoices):
        STATE = "state", "State changed"
        ACKNOWLEDGE = "acknowledge", "Acknowledged"
        ASSIGN = "assign", "Assigned"
        COMMENT = "comment", "Comment"
        SILENCE = "silence", "Silenced"
        INHIBIT = "inhibit", "Inhibited"
        NOTIFY = "notify", "Notified"
        ESCALATE = "escalate", "Escalated"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STATE)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=1000)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")

    class Meta:
        ordering = ["alert", "at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind} {self.from_state}->{self.to_state}"


class Silence(TenantModel):
    """Alerts whose labels match every matcher are not notified between ``starts_at`` and ``ends_at``."""

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("silence"), editable=False)
    matchers = models.JSONField(default=list)  # [{"name", "value", "op": "=" | "!=" | "=~" | "!~"}]
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    comment = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "ends_at"], name="silence_org_ends")]

    def __str__(self) -> str:
        return f"silence {self.id}"


class ContactPoint(TenantModel):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email (SMTP)"
        WEBHOOK = "webhook", "Webhook (JSON, HMAC-signed)"
        DINGTALK = "dingtalk", "DingTalk robot"
        WECOM = "wecom", "WeCom robot"
        FEISHU = "feishu", "Feishu / Lark bot"
        SLACK = "slack", "Slack incoming webhook"
        TEAMS = "teams", "Microsoft Teams webhook"
        INBOX = "inbox", "In-app inbox"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("contact"), editable=False)
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Public settings: url (webhooks), to/from/host/port/use_tls (email), users (inbox).
    config = models.JSONField(default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, editable=False)  # signing secret, SMTP password
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="contactpoint_org_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class NotificationRoute(TenantModel):
    """Alerts matching ``matchers`` go to ``contact_points``, grouped by ``group_by`` labels. Routes are
    tried by ascending ``priority``; the first match wins unless it says ``continue_matching``."""

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("route"), editable=False)
    name = models.CharField(max_length=128)
    priority = models.PositiveIntegerField(default=100)
    matchers = models.JSONField(default=list, blank=True)
    contact_points = models.ManyToManyField(ContactPoint, related_name="routes", blank=True)
    group_by = models.JSONField(default=list, blank=True)
    group_wait_seconds = models.PositiveIntegerField(default=0)
    group_interval_seconds = models.PositiveIntegerField(default=300)
    repeat_interval_seconds = models.PositiveIntegerField(default=4 * 3600)
    escalate_after_seconds = models.PositiveIntegerField(null=True, blank=True)
    escalate_to = models.ForeignKey(ContactPoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    continue_matching = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority", "created_at", "id"]

    def __str__(self) -> str:
        return self.name


class MessageTemplate(TenantModel):
    """An operator's wording of a notification for one event type, in the sandboxed template language."""

    class EventType(models.TextChoices):
        ALERT = "alert", "Alert group (firing or resolved)"
        APPROVAL_WAITING = "approval_waiting", "An approval is waiting"
        OPERATION_FAILED = "operation_failed", "An operation failed"
        BUDGET_CROSSED = "budget_crossed", "A budget was crossed"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("tmpl"), editable=False)
    name = models.CharField(max_length=128)
    event_type = models.CharField(max_length=32, choices=EventType.choices, default=EventType.ALERT)
    subject = models.CharField(max_length=500)
    body = models.TextField(max_length=20_000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["organization", "event_type"], name="template_one_per_event")]

    def __str__(self) -> str:
        return self.name


class AlertGroup(TenantModel):
    """Alerts of one route sharing the values of its ``group_by`` labels: notified together."""

    route = models.ForeignKey(NotificationRoute, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    labels = models.JSONField(default=dict)
    first_seen_at = models.DateTimeField()
    last_notified_at = models.DateTimeField(null=True, blank=True)
    notified_digest = models.CharField(max_length=64, blank=True)  # which alerts (and states) were last sent

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="alertgroup_unique_key")]

    def __str__(self) -> str:
        return f"group {self.key}"


class Delivery(TenantModel):
    """One notification to one contact point: its first try is made by the process that made it, right
    after commit; retries (with a growing backoff) and lost tries go through Celery."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("dlv"), editable=False)
    contact_point = models.ForeignKey(ContactPoint, on_delete=models.CASCADE, related_name="deliveries")
    group_key = models.CharField(max_length=64, blank=True)
    event_type = models.CharField(max_length=32, default="alert")
    subject = models.CharField(max_length=500)
    body = models.TextField()
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=1000, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While an attempt is being made: until when its sender holds it. A sender that died leaves a
    # lease that runs out, and the sweeper hands the delivery to another (see notify.deliveries_sweep).
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="delivery_org_created"),
                   models.Index(fields=["status", "next_attempt_at"], name="delivery_status_next")]

    def __str__(self) -> str:
        return f"{self.id} -> {self.contact_point_id} ({self.status})"


class InboxMessage(TenantModel):
    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("msg"), editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=500)
    body = models.TextField()
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    link = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="inbox_user_created")]

    def __str__(self) -> str:
        return self.subject


class InspectionRun(TenantModel):
    """One inspection of an organization's platforms and resources: the report's findings, each also
    raised as an alert (and the alerts of findings gone since the last run resolved)."""

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("insp"), editable=False)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    findings = models.JSONField(default=list)  # [{check, severity, subject, name, platform, detail}]
    counts = models.JSONField(default=dict)  # check -> findings
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["organization", "-started_at"], name="inspection_org_started")]

    def __str__(self) -> str:
        return f"inspection {self.id}"


class SettingsVersion(models.Model):
    """A number that moves with every change of an organization's routes, contact points, templates or
    silences, in the transaction of the change. Each process keeps those settings
    (``notify.org_config``) and reads them again when the number it reads differs from the one it
    read them under; the read goes with a received alert's other reads, in their round trip.
    ``organization_id`` is not a foreign key: a number left behind by a deleted organization is
    harmless, and its deletion's cascade must not meet a row written during it."""

    organization_id = models.UUIDField(primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"settings version {self.version} of {self.organization_id}"
