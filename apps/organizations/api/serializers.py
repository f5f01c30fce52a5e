from rest_framework import serializers

from apps.organizations.models import Organization, Project, User, UserGroup


class OrganizationSerializer(serializers.ModelSerializer):
    parent = serializers.UUIDField(source="parent_id", read_only=True, allow_null=True)
    depth = serializers.IntegerField(read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "name", "kind", "description", "parent", "path", "depth", "is_active", "created_at",
                  "updated_at"]
        read_only_fields = fields


class OrganizationWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    kind = serializers.ChoiceField(choices=Organization.Kind.choices, default=Organization.Kind.DEPARTMENT)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    parent = serializers.UUIDField(required=False, allow_null=True)


class OrganizationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False)
    kind = serializers.ChoiceField(choices=Organization.Kind.choices, required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)


class MoveSerializer(serializers.Serializer):
    parent = serializers.UUIDField(allow_null=True)


class UserRefSerializer(serializers.Serializer):
    user = serializers.UUIDField()


class GroupRefSerializer(serializers.Serializer):
    group = serializers.UUIDField()


class UserSerializer(serializers.ModelSerializer):
    organizations = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "email", "first_name", "last_name", "is_active",
                  "is_superuser", "organizations", "date_joined", "last_login"]
        read_only_fields = fields

    def get_organizations(self, obj: User) -> list[str]:
        return [str(m.organization_id) for m in obj.memberships.all()]


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                     style={"input_type": "password"})
    organization = serializers.UUIDField(required=False, allow_null=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    display_name = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")


class UserUpdateSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    display_name = serializers.CharField(max_length=128, required=False, allow_blank=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


class MemberSerializer(serializers.Serializer):
    user = serializers.UUIDField(source="user_id")
    username = serializers.CharField(source="user.username")
    display_name = serializers.CharField(source="user.display_name")
    organization = serializers.UUIDField(source="organization_id")
    joined_at = serializers.DateTimeField()


class UserGroupSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    members = serializers.SerializerMethodField()

    class Meta:
        model = UserGroup
        fields = ["id", "organization", "name", "description", "members", "created_at", "updated_at"]
        read_only_fields = fields

    def get_members(self, obj: UserGroup) -> list[str]:
        return [str(u.pk) for u in obj.members.all()]


class NamedWriteSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    name = serializers.CharField(max_length=128)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class NamedUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class ProjectSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", read_only=True)
    members = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "organization", "name", "description", "is_active", "members", "groups", "created_at",
                  "updated_at"]
        read_only_fields = fields

    def get_members(self, obj: Project) -> list[str]:
        return [str(u.pk) for u in obj.members.all()]

    def get_groups(self, obj: Project) -> list[str]:
        return [str(g.pk) for g in obj.groups.all()]


class PasswordSetSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class SignInEndedSerializer(serializers.Serializer):
    """What a password reset or a deactivation closed for the person."""

    message = serializers.CharField()
    sessions_signed_out = serializers.IntegerField(source="sessions")
    access_keys_disabled = serializers.IntegerField(source="access_keys")


class UserDisabledSerializer(UserSerializer):
    message = serializers.CharField()
    access_keys_disabled = serializers.IntegerField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "message", "access_keys_disabled"]
        read_only_fields = fields


class PasswordChangeSerializer(serializers.Serializer):
    current_password = serializers.CharField(max_length=256, trim_whitespace=False)
    new_password = serializers.CharField(max_length=256, trim_whitespace=False)
