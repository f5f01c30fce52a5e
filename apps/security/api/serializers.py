from rest_framework import serializers

from apps.security.models import AccessKey, AuditEntry, DisplayToken, SecurityPolicy, SignInLock, UserSession


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ["id", "created_at", "organization_id", "actor_id", "actor_name", "action", "target_type",
                  "target_id", "target_label", "result", "source_ip", "request_id", "detail", "prev_hash", "hash"]
        read_only_fields = fields


class AccessKeySerializer(serializers.ModelSerializer):
    owner = serializers.UUIDField(source="user_id", read_only=True)
    owner_name = serializers.CharField(source="user.username", read_only=True)
    status = serializers.CharField(read_only=True, help_text="active or disabled")

    class Meta:
        model = AccessKey
        fields = ["id", "owner", "owner_name", "organization", "status", "description", "created_at", "last_used_at"]
        read_only_fields = fields


class AccessKeyCreatedSerializer(AccessKeySerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: store it now.")

    class Meta(AccessKeySerializer.Meta):
        fields = [*AccessKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields


class AccessKeyCreateSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class DisplayTokenSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = DisplayToken
        fields = ["id", "organization", "name", "prefix", "dashboards", "allowed_networks", "is_active", "created_at",
                  "revoked_at", "last_used_at"]
        read_only_fields = fields


class DisplayTokenCreatedSerializer(DisplayTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once: enter it on the wall screen.")

    class Meta(DisplayTokenSerializer.Meta):
        fields = [*DisplayTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class DisplayTokenCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    name = serializers.CharField(max_length=128)
    dashboards = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1, max_length=50)
    allowed_networks = serializers.ListField(child=serializers.CharField(max_length=64), required=False,
                                             max_length=20, default=list)


class SecurityPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = SecurityPolicy
        fields = ["id", "organization", "password_min_length", "password_min_classes", "lockout_threshold",
                  "lockout_minutes", "mfa_required", "mfa_required_roles", "updated_at"]
        read_only_fields = fields


class SecurityPolicyWriteSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False)
    password_min_length = serializers.IntegerField(required=False)
    password_min_classes = serializers.IntegerField(required=False)
    lockout_threshold = serializers.IntegerField(required=False)
    lockout_minutes = serializers.IntegerField(required=False)
    mfa_required = serializers.BooleanField(required=False)
    mfa_required_roles = serializers.ListField(child=serializers.CharField(max_length=64), required=False,
                                               max_length=50)


class SignInLockSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="account or ip")

    class Meta:
        model = SignInLock
        fields = ["id", "kind", "key", "failures", "first_failure_at", "last_failure_at", "locked_until"]
        read_only_fields = fields


class UserSessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = UserSession
        fields = ["id", "ip", "user_agent", "with_mfa", "created_at", "current"]
        read_only_fields = fields

    def get_current(self, obj: UserSession) -> bool:
        request = self.context.get("request")
        return bool(request and request.session.session_key == obj.session_key)


class CodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class MfaStatusSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    required = serializers.BooleanField()
    exempt = serializers.BooleanField()
    recovery_codes_left = serializers.IntegerField()


class MfaEnrollmentSerializer(serializers.Serializer):
    secret = serializers.CharField()
    uri = serializers.CharField()
    qr_svg = serializers.CharField()


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField())


class ExemptSerializer(serializers.Serializer):
    exempt = serializers.BooleanField()
