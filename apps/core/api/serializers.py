from rest_framework import serializers

from apps.core.models import Operation


class OperationSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    organization = serializers.UUIDField(source="organization_id", read_only=True)

    class Meta:
        model = Operation
        fields = [
            "id", "kind", "status", "progress", "step", "message", "error", "target_type", "target_id",
            "target_name", "params", "result", "organization", "actor", "created_at", "started_at",
            "finished_at", "updated_at",
        ]
        read_only_fields = fields

    def get_actor(self, obj: Operation) -> str | None:
        return obj.actor.username if obj.actor_id and obj.actor else None


class DiagnosticRequestSerializer(serializers.Serializer):
    steps = serializers.IntegerField(min_value=1, max_value=50, default=5)
    interval = serializers.FloatField(min_value=0, max_value=10, default=0.5)
    organization = serializers.UUIDField(required=False)
