from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.resilience.models import BackupJob, BackupPlan, PlanRun, PlanStep, ProtectedMember, ProtectionGroup, Vault
from apps.resilience.selectors import group_live_breached, group_live_rpo, live_rpo
from apps.resilience.statemachine import KINDS, allowed


class ProtectedMemberSerializer(serializers.ModelSerializer):
    rpo_seconds = serializers.SerializerMethodField(help_text="Now minus the last recovery point (null: none yet)")

    state = serializers.CharField(read_only=True)
    channel = serializers.CharField(read_only=True)

    class Meta:
        model = ProtectedMember
        fields = ["id", "group", "resource", "resource_type", "external_id", "name", "zone", "state", "tier", "channel",
                  "replica_id", "replica_status", "secondary_id", "last_recovery_point", "rpo_seconds",
                  "bytes_moved", "error", "created_at"]

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_rpo_seconds(self, obj: ProtectedMember) -> float | None:
        return live_rpo(obj)


class GroupSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    primary_platform_name = serializers.CharField(source="primary_platform.name", read_only=True)
    secondary_platform_name = serializers.CharField(source="secondary_platform.name", read_only=True)
    allowed_plans = serializers.SerializerMethodField()
    rpo_seconds = serializers.SerializerMethodField(
        help_text="Live: now minus the oldest last recovery point of the replicated members, as last read from "
                  "the cloud at rpo_checked_at (null: a member has none yet)")

    selection = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)

    class Meta:
        model = ProtectionGroup
        fields = ["id", "organization", "name", "description", "project", "selection", "tag_key", "tag_value",
                  "auto_join", "primary_platform", "primary_platform_name", "primary_region", "primary_zone",
                  "secondary_platform", "secondary_platform_name", "secondary_region", "secondary_zone",
                  "target_rpo_seconds", "target_rto_seconds", "state", "rpo_seconds", "rpo_breached",
                  "rpo_checked_at", "drift", "allowed_plans", "created_at", "updated_at"]

    rpo_breached = serializers.SerializerMethodField(
        help_text="Live: the RPO above misses the target (or is unknown while members replicate)")

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_rpo_seconds(self, obj: ProtectionGroup) -> float | None:
        return group_live_rpo(obj)

    @extend_schema_field(serializers.BooleanField())
    def get_rpo_breached(self, obj: ProtectionGroup) -> bool:
        return group_live_breached(obj, group_live_rpo(obj))

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_plans(self, obj: ProtectionGroup) -> list[str]:
        return sorted(allowed(obj.state))


class GroupDetailSerializer(GroupSerializer):
    members = ProtectedMemberSerializer(many=True, read_only=True)

    class Meta(GroupSerializer.Meta):
        fields = [*GroupSerializer.Meta.fields, "members"]


class GroupCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    name = serializers.CharField(max_length=128)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    project = serializers.UUIDField(required=False, allow_null=True, default=None)
    selection = serializers.CharField(max_length=16, default="explicit", help_text="explicit, tag or project")
    tag_key = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    tag_value = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    auto_join = serializers.BooleanField(default=True)
    resources = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list,
                                      max_length=2000, help_text="Inventory ids (explicit selection)")
    primary_platform = serializers.CharField(max_length=64)
    primary_region = serializers.CharField(max_length=64)
    primary_zone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    secondary_platform = serializers.CharField(max_length=64)
    secondary_region = serializers.CharField(max_length=64)
    secondary_zone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    target_rpo_seconds = serializers.IntegerField(min_value=1, max_value=604800, default=60)
    target_rto_seconds = serializers.IntegerField(min_value=1, max_value=604800, default=600)


class GroupChangeSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    auto_join = serializers.BooleanField(required=False)
    target_rpo_seconds = serializers.IntegerField(min_value=1, max_value=604800, required=False)
    target_rto_seconds = serializers.IntegerField(min_value=1, max_value=604800, required=False)


class EndpointSerializer(serializers.Serializer):
    zone_id = serializers.CharField(max_length=128)
    name = serializers.CharField(max_length=255)
    value = serializers.CharField(max_length=255)


class PlanOptionsSerializer(serializers.Serializer):
    approval = serializers.BooleanField(required=False, help_text="Wait for a person's approval first")
    recovery_point = serializers.DateTimeField(required=False, help_text="Failover: restore databases to this time")
    endpoint = EndpointSerializer(required=False, help_text="DNS record switched to the serving side")
    timeout_seconds = serializers.IntegerField(min_value=5, max_value=86400, required=False)
    accept_loss = serializers.BooleanField(required=False)


class PlanStartSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=16, help_text=", ".join(KINDS))
    options = PlanOptionsSerializer(required=False, default=dict)


class CallSerializer(serializers.Serializer):
    platform = serializers.CharField()
    region = serializers.CharField()
    call = serializers.CharField(help_text="product.Action")
    function = serializers.CharField()
    target = serializers.CharField(allow_blank=True)
    write = serializers.BooleanField()


class DryRunStepSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    batch = serializers.IntegerField()
    action = serializers.CharField()
    title = serializers.CharField()
    critical = serializers.BooleanField()
    cleanup = serializers.BooleanField()
    timeout_seconds = serializers.IntegerField()
    member = serializers.CharField(allow_null=True)
    calls = CallSerializer(many=True)


class DryRunSerializer(serializers.Serializer):
    group = serializers.CharField()
    kind = serializers.CharField()
    batches = serializers.IntegerField()
    steps = DryRunStepSerializer(many=True)
    calls = serializers.IntegerField()
    writes_on_production = serializers.IntegerField(help_text="Drill: write calls naming a production id (0)")


class StepSerializer(serializers.ModelSerializer):
    operation_status = serializers.CharField(source="operation.status", default=None, read_only=True)
    operation_message = serializers.CharField(source="operation.message", default=None, read_only=True)

    kind = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = PlanStep
        fields = ["id", "run", "member", "batch", "seq", "kind", "action", "title", "params", "critical",
                  "timeout_seconds", "status", "operation", "operation_status", "operation_message", "attempts",
                  "result", "error", "started_at", "finished_at"]


class RunSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name", read_only=True)
    organization = serializers.UUIDField(source="organization_id", read_only=True)

    kind = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = PlanRun
        fields = ["id", "organization", "group", "group_name", "kind", "status", "operation", "batch", "batches",
                  "recovery_point", "measured_rpo_seconds", "measured_rto_seconds", "evidence", "leftovers",
                  "error", "started_at", "finished_at"]


class RunDetailSerializer(RunSerializer):
    steps = StepSerializer(many=True, read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "steps"]


class VaultSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)

    kind = serializers.CharField(read_only=True)

    class Meta:
        model = Vault
        fields = ["id", "organization", "name", "platform", "region", "kind", "dest_region", "external_id",
                  "created_at"]


class VaultCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    name = serializers.CharField(max_length=128)
    platform = serializers.CharField(max_length=64)
    region = serializers.CharField(max_length=64)
    kind = serializers.CharField(max_length=16, default="local", help_text="local or cross_region")
    dest_region = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class BackupPlanSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)

    source_type = serializers.CharField(read_only=True)

    class Meta:
        model = BackupPlan
        fields = ["id", "organization", "name", "vault", "source_type", "source_id", "schedule", "retention_days",
                  "external_id", "created_at"]


class BackupPlanCreateSerializer(serializers.Serializer):
    vault = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=128)
    source_type = serializers.CharField(max_length=16, help_text="ECS_DISK, RDS, OSS or NAS")
    source_id = serializers.CharField(max_length=255)
    schedule = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                     help_text="'' (manual) or 'every <n>h'")
    retention_days = serializers.IntegerField(min_value=1, max_value=3650, default=7)


class BackupJobSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    plan_name = serializers.CharField(source="plan.name", read_only=True)

    kind = serializers.CharField(read_only=True)

    class Meta:
        model = BackupJob
        fields = ["id", "organization", "plan", "plan_name", "kind", "target", "operation", "external_id",
                  "status", "progress", "bytes_done", "error", "expires_at", "created_at", "finished_at"]


class RestoreSerializer(serializers.Serializer):
    target = serializers.CharField(max_length=16, help_text="in_place or new")


class TierSerializer(serializers.Serializer):
    tier = serializers.IntegerField(min_value=1, max_value=9, help_text="Recovery order: lower tiers switch first")
