from rest_framework import serializers

from apps.quotas import approvals
from apps.quotas.models import QuotaLimit, QuotaRequest, Reservation
from apps.quotas.services import MAX_LIMIT


class QuotaLimitSerializer(serializers.ModelSerializer):
    organization_name = serializers.CharField(source="organization.name", read_only=True)
    project_name = serializers.CharField(source="project.name", default=None, read_only=True)
    used = serializers.IntegerField(read_only=True, help_text="committed + reserved")
    free = serializers.IntegerField(read_only=True)
    warning = serializers.BooleanField(read_only=True, help_text="usage reached the warning threshold")
    overcommit_factor = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)

    class Meta:
        model = QuotaLimit
        fields = ["id", "organization", "organization_name", "project", "project_name", "dimension", "platform",
                  "region", "limit", "warning_percent", "overcommit", "overcommit_factor", "committed", "reserved",
                  "used", "free", "warning", "created_at", "updated_at"]


class LimitWriteSerializer(serializers.Serializer):
    """Sets a node's limit in one dimension (and platform and region): created, or replaced when it exists."""

    organization = serializers.UUIDField()
    project = serializers.UUIDField(required=False, allow_null=True, default=None)
    dimension = serializers.CharField(max_length=64)
    platform = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
    region = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    limit = serializers.IntegerField(min_value=0, max_value=MAX_LIMIT)
    warning_percent = serializers.IntegerField(min_value=1, max_value=100, default=80)
    overcommit = serializers.BooleanField(default=False)
    overcommit_factor = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=1, max_value=100,
                                                 default=1, coerce_to_string=False)
    force = serializers.BooleanField(default=False, help_text="Allow a limit below current usage (audited).")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class LimitChangeSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=0, max_value=MAX_LIMIT, required=False)
    warning_percent = serializers.IntegerField(min_value=1, max_value=100, required=False)
    overcommit = serializers.BooleanField(required=False)
    overcommit_factor = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=1, max_value=100,
                                                 required=False, coerce_to_string=False)
    force = serializers.BooleanField(default=False, help_text="Allow a limit below current usage (audited).")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ReservationSerializer(serializers.ModelSerializer):
    unit = serializers.DictField(child=serializers.IntegerField(), help_text="dimension -> amount of one unit")

    class Meta:
        model = Reservation
        fields = ["id", "organization", "project", "platform", "region", "resource_type", "unit", "count",
                  "reserved_units", "committed_units", "released_units", "status", "expires_at", "created_at"]


class QuotaRequestSerializer(serializers.ModelSerializer):
    requester = serializers.CharField(source="requester.username", default=None, read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", default=None, read_only=True)
    organization_name = serializers.CharField(source="organization.name", read_only=True)
    project_name = serializers.CharField(source="project.name", default=None, read_only=True)
    policy_name = serializers.CharField(source="policy.name", default=None, read_only=True,
                                        help_text="the lifecycle's approval policy deciding it, if any")
    waiting_for = serializers.SerializerMethodField(help_text="the level and approvers it waits for, while pending")

    class Meta:
        model = QuotaRequest
        fields = ["id", "organization", "organization_name", "project", "project_name", "dimension", "platform",
                  "region", "current_limit", "requested_limit", "reason", "status", "requester", "decided_by",
                  "comment", "created_at", "decided_at", "policy", "policy_name", "levels", "level", "waiting_for"]

    def get_waiting_for(self, obj: QuotaRequest) -> str:
        return approvals.waiting_for(obj)


class QuotaRequestCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    project = serializers.UUIDField(required=False, allow_null=True, default=None)
    dimension = serializers.CharField(max_length=64)
    platform = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
    region = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    requested_limit = serializers.IntegerField(min_value=0, max_value=MAX_LIMIT)
    reason = serializers.CharField(max_length=500)


class DecideSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class LimitUsageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    dimension = serializers.CharField()
    dimension_name = serializers.CharField()
    platform = serializers.CharField(allow_null=True)
    region = serializers.CharField(allow_blank=True)
    limit = serializers.IntegerField()
    committed = serializers.IntegerField()
    reserved = serializers.IntegerField()
    used = serializers.IntegerField()
    free = serializers.IntegerField()
    percent = serializers.IntegerField()
    warning_percent = serializers.IntegerField()
    warning = serializers.BooleanField()
    overcommit = serializers.BooleanField()
    overcommit_factor = serializers.CharField()


class ProjectUsageSerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.UUIDField()
    name = serializers.CharField()
    limits = LimitUsageSerializer(many=True)


class UsageTreeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.UUIDField()
    name = serializers.CharField()
    depth = serializers.IntegerField()
    limits = LimitUsageSerializer(many=True)
    projects = ProjectUsageSerializer(many=True)
    children = serializers.ListField(child=serializers.DictField(),
                                     help_text="Sub-organizations, each a node of this same shape.")


class HeadroomSerializer(serializers.Serializer):
    dimension = serializers.CharField()
    dimension_name = serializers.CharField()
    limit = serializers.IntegerField()
    used = serializers.IntegerField()
    free = serializers.IntegerField(help_text="what may still be created (the tightest limit from the root down)")
    warning = serializers.BooleanField()
    bound_by = serializers.CharField(help_text="the organization or project whose limit binds")
    bound_by_organization = serializers.UUIDField(help_text="where to ask for more: the binding limit's organization")
    bound_by_project = serializers.UUIDField(allow_null=True, help_text="and its project, for a project's limit")


class DimensionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class DriftSerializer(serializers.Serializer):
    limit = serializers.UUIDField()
    organization = serializers.DictField()
    project = serializers.DictField(allow_null=True)
    dimension = serializers.CharField()
    platform = serializers.CharField(allow_null=True)
    region = serializers.CharField(allow_blank=True)
    recorded = serializers.IntegerField()
    inventory = serializers.IntegerField()
    drift = serializers.IntegerField(help_text="recorded - inventory")
