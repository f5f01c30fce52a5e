from rest_framework import serializers

from apps.alerts.models import (
    Alert,
    AlertHistory,
    AlertRule,
    ContactPoint,
    Delivery,
    InboxMessage,
    InspectionRun,
    MessageTemplate,
    NotificationRoute,
    Silence,
)


class AlertRuleSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    kind = serializers.CharField(read_only=True, help_text="threshold or event")
    event_type = serializers.CharField(read_only=True, help_text="The event of an event rule; empty for a threshold "
                                                                "rule")
    firing = serializers.SerializerMethodField(help_text="How many of the rule's alerts fire now")

    class Meta:
        model = AlertRule
        fields = ["id", "organization", "name", "description", "kind", "severity", "enabled", "metric", "aggregation",
                  "operator", "threshold", "window_seconds", "for_seconds", "event_type", "scope", "labels", "summary",
                  "firing", "created_at", "updated_at", "last_evaluated_at"]
        read_only_fields = fields

    def get_firing(self, obj: AlertRule) -> int:
        return getattr(obj, "firing_count", None) or obj.alerts.filter(state=Alert.State.FIRING).count()


class AlertRuleWriteSerializer(serializers.Serializer):
    """Types only; the rule's own checks (metric known, window at least the collection interval, a
    valid scope) are made by the service, which names the field it refuses."""

    name = serializers.CharField(max_length=128, required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    kind = serializers.CharField(required=False)
    severity = serializers.CharField(required=False)
    enabled = serializers.BooleanField(required=False)
    metric = serializers.CharField(required=False, allow_blank=True)
    aggregation = serializers.CharField(required=False)
    operator = serializers.CharField(required=False)
    threshold = serializers.FloatField(required=False)
    window_seconds = serializers.IntegerField(required=False)
    for_seconds = serializers.IntegerField(required=False)
    event_type = serializers.CharField(required=False, allow_blank=True)
    scope = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    summary = serializers.CharField(max_length=500, required=False, allow_blank=True)


class AlertRuleCreateSerializer(AlertRuleWriteSerializer):
    organization = serializers.UUIDField()
    name = serializers.CharField(max_length=128)


class AlertSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    rule = serializers.CharField(source="rule_id", read_only=True, allow_null=True)
    resource = serializers.CharField(source="resource_id", read_only=True, allow_null=True)
    platform = serializers.CharField(source="platform_id", read_only=True, allow_null=True)
    silenced_by = serializers.CharField(source="silenced_by_id", read_only=True, allow_null=True)
    inhibited_by = serializers.CharField(source="inhibited_by_id", read_only=True, allow_null=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", read_only=True, allow_null=True,
                                            default=None)
    assignee = serializers.CharField(source="assignee.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Alert
        fields = ["id", "organization", "rule", "source", "fingerprint", "name", "labels", "annotations", "severity",
                  "state", "value", "resource", "platform", "pending_since", "starts_at", "ends_at",
                  "state_changed_at", "silenced_by", "inhibited_by", "acknowledged_by", "acknowledged_at", "assignee",
                  "escalated_at", "created_at"]
        read_only_fields = fields


class AlertHistorySerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="state, acknowledge, assign, comment, silence, inhibit, "
                                                          "notify or escalate")
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = AlertHistory
        fields = ["id", "at", "kind", "from_state", "to_state", "reason", "actor"]
        read_only_fields = fields


class TopicCountsSerializer(serializers.Serializer):
    critical = serializers.IntegerField()
    warning = serializers.IntegerField()
    info = serializers.IntegerField()
    total = serializers.IntegerField()


class SeverityCountsSerializer(TopicCountsSerializer):
    topics = serializers.ListField(child=serializers.CharField(), help_text="Websocket topics to follow for changes")
    by_topic = serializers.DictField(
        child=TopicCountsSerializer(), help_text="The same counts for each topic; an \"ingested\" event on a topic "
        "carries its new counts as \"counts\"")


class AcknowledgeSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class AlertAssignSerializer(serializers.Serializer):
    assignee = serializers.UUIDField(allow_null=True, help_text="A person's id, or null to unassign")


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=1000)


class ResolveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class MatcherSerializer(serializers.Serializer):
    name = serializers.CharField()
    op = serializers.CharField(default="=")
    value = serializers.CharField(allow_blank=True)


class SilenceSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    matchers = MatcherSerializer(many=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Silence
        fields = ["id", "organization", "matchers", "starts_at", "ends_at", "comment", "created_by", "created_at"]
        read_only_fields = fields


class SilenceCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    matchers = serializers.JSONField(help_text="[{name, op (=, !=, =~, !~), value}]")
    starts_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    ends_at = serializers.DateTimeField()
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ContactPointSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    kind = serializers.CharField(read_only=True, help_text="email, webhook, dingtalk, wecom, feishu, slack, teams "
                                                          "or inbox")
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = ContactPoint
        fields = ["id", "organization", "name", "kind", "config", "has_secret", "enabled", "created_at"]
        read_only_fields = fields

    def get_has_secret(self, obj: ContactPoint) -> bool:
        return bool(obj.secrets_encrypted)


class ContactPointCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    name = serializers.CharField(max_length=128)
    kind = serializers.CharField()
    config = serializers.JSONField(help_text="url (webhooks); to, host, port, from, use_tls, username (email); "
                                             "users (inbox)")
    secrets = serializers.DictField(child=serializers.CharField(), required=False, default=dict,
                                    help_text="secret (webhook signing, DingTalk, Feishu) or password (SMTP); "
                                              "never returned")


class RouteSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    matchers = MatcherSerializer(many=True, read_only=True)
    contact_points = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    escalate_to = serializers.CharField(source="escalate_to_id", read_only=True, allow_null=True)
    group_by = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = NotificationRoute
        fields = ["id", "organization", "name", "priority", "matchers", "contact_points", "group_by",
                  "group_wait_seconds", "group_interval_seconds", "repeat_interval_seconds", "escalate_after_seconds",
                  "escalate_to", "continue_matching", "created_at"]
        read_only_fields = fields


class RouteCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    name = serializers.CharField(max_length=128)
    priority = serializers.IntegerField(min_value=0, max_value=100000, default=100)
    matchers = serializers.JSONField(required=False, default=list)
    contact_points = serializers.ListField(child=serializers.CharField(max_length=32), max_length=20)
    group_by = serializers.JSONField(required=False, default=None)
    group_wait_seconds = serializers.IntegerField(min_value=0, max_value=3600, default=0)
    group_interval_seconds = serializers.IntegerField(min_value=0, max_value=86400, default=300)
    repeat_interval_seconds = serializers.IntegerField(min_value=60, max_value=7 * 86400, default=14400)
    escalate_after_seconds = serializers.IntegerField(min_value=60, max_value=7 * 86400, required=False,
                                                      allow_null=True, default=None)
    escalate_to = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
    continue_matching = serializers.BooleanField(default=False)


class TemplateSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)

    class Meta:
        model = MessageTemplate
        fields = ["id", "organization", "name", "event_type", "subject", "body", "created_at"]
        read_only_fields = fields


class TemplateSaveSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    name = serializers.CharField(max_length=128)
    event_type = serializers.CharField()
    subject = serializers.CharField(max_length=500)
    body = serializers.CharField(max_length=20_000)


class TemplatePreviewSerializer(serializers.Serializer):
    event_type = serializers.ChoiceField(choices=MessageTemplate.EventType.choices, default="alert")
    subject = serializers.CharField(max_length=500)
    body = serializers.CharField(max_length=20_000)


class TemplatePreviewResultSerializer(serializers.Serializer):
    subject = serializers.CharField()
    body = serializers.CharField()


class DeliverySerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    contact_point = serializers.CharField(source="contact_point_id", read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "organization", "contact_point", "group_key", "event_type", "subject", "status", "attempts",
                  "last_error", "response_code", "created_at", "next_attempt_at", "sent_at"]
        read_only_fields = fields


class InboxMessageSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)

    class Meta:
        model = InboxMessage
        fields = ["id", "organization", "subject", "body", "severity", "link", "created_at", "read_at"]
        read_only_fields = fields


class FindingSerializer(serializers.Serializer):
    check = serializers.CharField()
    severity = serializers.CharField()
    subject = serializers.CharField(help_text="The resource or platform id")
    name = serializers.CharField(allow_blank=True)
    platform = serializers.CharField(allow_blank=True)
    detail = serializers.CharField()


class InspectionRunSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    findings = FindingSerializer(many=True, read_only=True)
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = InspectionRun
        fields = ["id", "organization", "started_at", "finished_at", "counts", "findings"]
        read_only_fields = fields


class InspectionStartSerializer(serializers.Serializer):
    organization = serializers.UUIDField()


class PointListField(serializers.ListField):
    child = serializers.ListField(child=serializers.JSONField(), min_length=2, max_length=2)


class SeriesSerializer(serializers.Serializer):
    resource = serializers.CharField()
    points = PointListField(help_text="[[ISO time, value], ...]")


class MetricSeriesSerializer(serializers.Serializer):
    metric = serializers.CharField()
    resolution = serializers.CharField()
    series = SeriesSerializer(many=True)


class MetricGroupSerializer(serializers.Serializer):
    group = serializers.CharField()
    value = serializers.FloatField()
    series = serializers.IntegerField(help_text="How many series the group holds")


class MetricAggregateSerializer(serializers.Serializer):
    metric = serializers.CharField()
    group_by = serializers.CharField()
    aggregation = serializers.CharField()
    results = MetricGroupSerializer(many=True)


class MetricCatalogSerializer(serializers.Serializer):
    types = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    collect_seconds = serializers.IntegerField()


class IngestedSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    firing = serializers.IntegerField()
    resolved = serializers.IntegerField()
