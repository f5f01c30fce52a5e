from rest_framework import serializers

from apps.rbac.catalog import matching_codes
from apps.rbac.models import AccessPolicy, Grant, Role


class PermissionSerializer(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()
    app_label = serializers.CharField()
    service = serializers.CharField()
    is_menu = serializers.BooleanField()


class RoleSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True, allow_null=True)
    effective_permissions = serializers.SerializerMethodField()

    class Meta:
        model = Role
        fields = ["id", "key", "name", "description", "is_predefined", "duty", "permissions", "excluded_permissions",
                  "effective_permissions", "organization", "created_at", "updated_at"]
        read_only_fields = fields

    def get_effective_permissions(self, obj: Role) -> list[str]:
        """The catalog codes the role's patterns cover."""
        return list(matching_codes(tuple(obj.permissions or ()), tuple(obj.excluded_permissions or ())))


class RoleWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    key = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    permissions = serializers.JSONField()
    excluded_permissions = serializers.JSONField(required=False, default=list)
    organization = serializers.UUIDField(required=False, allow_null=True)


class RoleUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    permissions = serializers.JSONField(required=False)
    excluded_permissions = serializers.JSONField(required=False)


class GrantSerializer(serializers.ModelSerializer):
    role = serializers.UUIDField(source="role_id", read_only=True)
    role_key = serializers.CharField(source="role.key", read_only=True)
    grantee = serializers.SerializerMethodField()
    scope = serializers.SerializerMethodField()
    organization = serializers.UUIDField(source="organization_id", read_only=True, allow_null=True)
    description = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = Grant
        fields = ["id", "role", "role_key", "grantee_type", "grantee", "scope_type", "scope", "organization",
                  "note", "description", "created_at"]
        read_only_fields = fields

    def get_grantee(self, obj: Grant) -> str:
        return str(obj.user_id or obj.group_id or obj.grantee_organization_id or obj.grantee_project_id)

    def get_scope(self, obj: Grant) -> str | None:
        value = obj.scope_organization_id or obj.scope_project_id or obj.scope_key
        return str(value) if value else None


class GrantWriteSerializer(serializers.Serializer):
    role = serializers.UUIDField()
    grantee_type = serializers.ChoiceField(choices=Grant.GranteeType.choices)
    grantee = serializers.UUIDField()
    scope_type = serializers.ChoiceField(choices=Grant.ScopeType.choices)
    scope = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None,
                                  help_text="Organization or project id, cloud platform id or cloud service code")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PolicySerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True, allow_null=True)
    users = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()

    class Meta:
        model = AccessPolicy
        fields = ["id", "name", "description", "document", "organization", "users", "groups", "created_at",
                  "updated_at"]
        read_only_fields = fields

    def get_users(self, obj: AccessPolicy) -> list[str]:
        return [str(u.pk) for u in obj.users.all()]

    def get_groups(self, obj: AccessPolicy) -> list[str]:
        return [str(g.pk) for g in obj.groups.all()]


class PolicyWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    document = serializers.JSONField()
    organization = serializers.UUIDField(required=False, allow_null=True)


class PolicyUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    document = serializers.JSONField(required=False)


class AttachSerializer(serializers.Serializer):
    user = serializers.UUIDField(required=False, allow_null=True)
    group = serializers.UUIDField(required=False, allow_null=True)


class ExplainQuerySerializer(serializers.Serializer):
    user = serializers.UUIDField()
    action = serializers.RegexField(r"^[a-z][a-z0-9_]*(:[a-z][a-z0-9_]*){2,3}$", max_length=200)
    target_type = serializers.CharField(required=False, allow_blank=True, default="platform",
                                        help_text="<app_label>.<model> (e.g. core.operation) or platform")
    target_id = serializers.CharField(required=False, allow_blank=True, default="")
