from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from apps.core.api.serializers import OperationSerializer
from apps.provisioning.models import (
    ApprovalDecision,
    ApprovalPolicy,
    ChangeRecord,
    ProvisioningRequest,
    RequestEvent,
    ScheduledOperation,
)
from apps.provisioning.requests import MAX_COUNT
from apps.provisioning.specs import SPECS, Integer


@extend_schema_field(PolymorphicProxySerializer(
    component_name="ProvisioningSpec", serializers=SPECS, resource_type_field_name=None))
class SpecField(serializers.JSONField):
    """The spec of the request's ``resource_type``: one schema per resource type. It is parsed by that
    type's serializer (``apps/provisioning/specs.py``) before any rule looks at it, so every field
    error is reported under the field's own name."""


class RequestEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)

    class Meta:
        model = RequestEvent
        fields = ["kind", "message", "actor", "created_at"]


class DecisionSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username", read_only=True)

    class Meta:
        model = ApprovalDecision
        fields = ["level", "approver", "verdict", "comment", "created_at"]


class RequestSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="pending, approved, denied, provisioning, completed, "
                                                             "partial, failed or cancelled")
    requester = serializers.CharField(source="requester.username", default=None, read_only=True)
    spec = SpecField(read_only=True)
    operations = serializers.SerializerMethodField()

    class Meta:
        model = ProvisioningRequest
        fields = ["id", "organization", "project", "platform", "region", "resource_type", "spec", "count", "reason",
                  "status", "requester", "policy", "levels", "level", "price_estimate", "created_at", "updated_at",
                  "decided_at", "operations"]

    def get_operations(self, obj) -> list[str]:
        return [c.operation_id for c in obj.changes.all()] if obj.pk else []


class RequestDetailSerializer(RequestSerializer):
    events = RequestEventSerializer(many=True, read_only=True)
    decisions = DecisionSerializer(many=True, read_only=True)

    class Meta(RequestSerializer.Meta):
        fields = [*RequestSerializer.Meta.fields, "events", "decisions"]


class RequestCreateSerializer(serializers.Serializer):
    project = serializers.UUIDField()
    platform = serializers.CharField(max_length=32)
    region = serializers.CharField(max_length=64)
    resource_type = serializers.ChoiceField(choices=sorted(SPECS), default="ecs.instance")
    spec = SpecField(help_text="The resource to create, in the schema of its resource_type.")
    count = Integer(default=1, help_text=f"How many instances, from 1 to {MAX_COUNT}.")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DecisionRequestSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ActionRequestSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    params = serializers.JSONField(required=False, default=dict)


class BatchRequestSerializer(ActionRequestSerializer):
    action = serializers.ChoiceField(choices=["start", "stop", "reboot", "resize", "release"])
    resources = serializers.ListField(child=serializers.CharField(max_length=40), min_length=1, max_length=200)


class BatchResultSerializer(serializers.Serializer):
    operations = OperationSerializer(many=True)
    refused = serializers.ListField(child=serializers.DictField())


class ChangeRecordSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)
    status = serializers.CharField(source="operation.status", read_only=True)
    error = serializers.CharField(source="operation.error", read_only=True)

    class Meta:
        model = ChangeRecord
        fields = ["id", "organization", "project", "platform", "operation", "request", "resource", "action",
                  "resource_type", "region", "external_id", "name", "params", "before", "after", "actor", "comment",
                  "schedule", "status", "error", "created_at"]


class ApprovalPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApprovalPolicy
        fields = ["id", "organization", "name", "project", "service", "auto_approve_max_count",
                  "auto_approve_max_vcpu", "levels", "is_active", "created_at"]
        read_only_fields = ["id", "is_active", "created_at"]
        extra_kwargs = {"organization": {"required": True}, "levels": {"required": False}}


class ScheduleCreateSerializer(serializers.Serializer):
    resource = serializers.CharField(max_length=40, help_text="The inventory id of the resource (res-...).")
    action = serializers.CharField(max_length=16, help_text="start, stop or reboot")
    run_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                       help_text="Run once at this time (UTC); or give cron.")
    cron = serializers.CharField(max_length=128, required=False, allow_blank=True, default="",
                                 help_text="Five crontab fields (UTC) for a recurring run; or give run_at.")
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ScheduleSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScheduledOperation
        fields = ["id", "organization", "project", "resource", "action", "run_at", "cron", "comment", "enabled",
                  "last_run_at", "last_operation_id", "last_error", "created_at"]
        read_only_fields = ["id", "organization", "project", "enabled", "last_run_at", "last_operation_id",
                            "last_error", "created_at"]


class ProjectChoiceSerializer(serializers.Serializer):
    """A project a request may name: its id, name and organization's name."""

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    organization = serializers.CharField(source="organization.name", read_only=True)


class ModifyRequestSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    params = serializers.JSONField(help_text='{"operation": <name>, "args": {...}}: disk_resize {size_gib}; rule_add, '
                                   "rule_remove {protocol, port_range, source_cidr, policy, priority, description}; "
                                   "bandwidth {bandwidth_mbps}; listener_add {protocol, port, backend_port}; "
                                   "listener_remove {protocol, port}; backend_add, backend_remove {instance, weight}; "
                                   "account_create {name, password, account_type}; database_create {name, charset}; "
                                   "acl {acl}; lifecycle {prefix, days, enabled}.")


class Day2OperationSerializer(serializers.Serializer):
    operation = serializers.CharField()
    label = serializers.CharField()


class LifecycleActionSerializer(serializers.Serializer):
    action = serializers.CharField()
    label = serializers.CharField()


class CandidateSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    external_id = serializers.CharField()
    zone = serializers.CharField(allow_blank=True)


class ResourceDetailsSerializer(serializers.Serializer):
    """What the resource page offers now: lifecycle actions and day-2 operations its state and your
    permissions allow, the instances it may attach to or serve, the sizes it may become, and what the
    cloud lists about it."""

    actions = LifecycleActionSerializer(many=True)
    operations = Day2OperationSerializer(many=True)
    instances = CandidateSerializer(many=True)
    sizes = serializers.ListField(child=serializers.CharField())
    details = serializers.DictField(help_text="rules, listeners and backends, accounts and databases, lifecycle "
                                              "rules: whichever the type has")


class EstimateRequestSerializer(serializers.Serializer):
    platform = serializers.CharField(max_length=32)
    region = serializers.CharField(max_length=64)
    resource_type = serializers.ChoiceField(choices=sorted(SPECS), default="ecs.instance")
    spec = SpecField(help_text="The spec as the request form has it now.")
    count = Integer(default=1, min_value=1, max_value=MAX_COUNT)


class EstimateSerializer(serializers.Serializer):
    """What the price book says the request costs; empty fields when no price book prices it."""

    currency = serializers.CharField(allow_blank=True)
    hourly = serializers.CharField(allow_blank=True)
    monthly = serializers.CharField(allow_blank=True)
    priced = serializers.BooleanField()
