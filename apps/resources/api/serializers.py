from django.utils import timezone
from rest_framework import serializers

from apps.core.api.serializers import OperationSerializer
from apps.resources.models import AssignmentRule, Resource, SyncRun


class ResourceSerializer(serializers.ModelSerializer):
    platform = serializers.CharField(source="platform_id", read_only=True)
    platform_name = serializers.CharField(source="platform.name", read_only=True)
    platform_type = serializers.CharField(source="platform.type", read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True, allow_null=True)
    project = serializers.UUIDField(source="project_id", read_only=True, allow_null=True)
    seen_at = serializers.SerializerMethodField(help_text="When the cloud last reported the resource: the "
                                                          "platform's last sync for live ones")

    class Meta:
        model = Resource
        fields = ["id", "platform", "platform_name", "platform_type", "region", "zone", "service", "type",
                  "external_id", "name", "status", "spec", "tags", "vcpu", "memory_mib", "storage_gib",
                  "resource_group", "vpc_id", "organization", "project", "assigned_by", "first_seen_at",
                  "last_changed_at", "seen_at", "deleted", "deleted_at"]
        read_only_fields = fields

    def get_seen_at(self, obj: Resource) -> str | None:
        seen = obj.deleted_at if obj.deleted else (obj.platform.last_synced_at or obj.last_changed_at)
        return timezone.localtime(seen).isoformat() if seen else None


class AssignSerializer(serializers.Serializer):
    organization = serializers.UUIDField(allow_null=True)
    project = serializers.UUIDField(required=False, allow_null=True)


class SyncRunSerializer(serializers.ModelSerializer):
    platform = serializers.CharField(source="platform_id", read_only=True)
    operation = serializers.CharField(source="operation_id", read_only=True)

    class Meta:
        model = SyncRun
        fields = ["id", "platform", "operation", "kind", "status", "fetched", "created", "updated", "unchanged",
                  "deleted", "error", "started_at", "finished_at"]
        read_only_fields = fields


class SyncStartSerializer(serializers.Serializer):
    platform = serializers.CharField(max_length=32)


class SyncStartedSerializer(serializers.Serializer):
    sync = SyncRunSerializer()
    operation = OperationSerializer()


class AssignmentRuleSerializer(serializers.ModelSerializer):
    platform = serializers.CharField(source="platform_id", read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    project = serializers.UUIDField(source="project_id", read_only=True, allow_null=True)

    class Meta:
        model = AssignmentRule
        fields = ["id", "platform", "priority", "match", "key", "value", "organization", "project", "created_at"]
        read_only_fields = fields


class AssignmentRuleCreateSerializer(serializers.Serializer):
    platform = serializers.CharField(max_length=32)
    match = serializers.ChoiceField(choices=AssignmentRule.Match.choices)
    key = serializers.CharField(max_length=128, required=False, default="", allow_blank=True)
    value = serializers.CharField(max_length=255)
    organization = serializers.UUIDField()
    project = serializers.UUIDField(required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(min_value=0, max_value=100000, default=100)
    apply_now = serializers.BooleanField(default=True)
