from rest_framework import serializers

from apps.clouds.models import CloudPlatform, Flavor, PlatformService, Region


class PlatformSerializer(serializers.ModelSerializer):
    """A platform as the API shows it: the credentials never appear, only a hint of the key id."""

    organization = serializers.UUIDField(source="organization_id", read_only=True)
    projects = serializers.SerializerMethodField()

    class Meta:
        model = CloudPlatform
        fields = ["id", "type", "name", "edition", "description", "endpoint", "protocol", "default_region", "options",
                  "organization", "projects", "is_active", "access_key_hint", "health", "health_message",
                  "health_checked_at", "sync_interval_minutes", "last_synced_at", "created_at", "updated_at"]
        read_only_fields = fields

    def get_projects(self, obj: CloudPlatform) -> list[str]:
        return [str(p.pk) for p in obj.projects.all()]


class CredentialsSerializer(serializers.Serializer):
    access_key_id = serializers.CharField(max_length=256)
    access_key_secret = serializers.CharField(max_length=256, write_only=True)


class PlatformCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    type = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=128)
    edition = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    description = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    endpoint = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    protocol = serializers.ChoiceField(choices=CloudPlatform.Protocol.choices, default="https")
    default_region = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    options = serializers.DictField(required=False, default=dict)
    credentials = CredentialsSerializer()
    projects = serializers.ListField(child=serializers.UUIDField(), required=False, default=list, max_length=500)
    sync_interval_minutes = serializers.IntegerField(min_value=0, max_value=10080, default=0)


class PlatformUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False)
    edition = serializers.CharField(max_length=64, required=False, allow_blank=True)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    endpoint = serializers.CharField(max_length=255, required=False, allow_blank=True)
    protocol = serializers.ChoiceField(choices=CloudPlatform.Protocol.choices, required=False)
    default_region = serializers.CharField(max_length=64, required=False, allow_blank=True)
    options = serializers.DictField(required=False)
    is_active = serializers.BooleanField(required=False)
    credentials = CredentialsSerializer(required=False)
    projects = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=500)
    sync_interval_minutes = serializers.IntegerField(min_value=0, max_value=10080, required=False)


class ConnectivitySerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    health = serializers.CharField()
    regions = serializers.ListField(child=serializers.CharField(), required=False)
    error = serializers.DictField(required=False)


class RegionSerializer(serializers.ModelSerializer):
    zones = serializers.SerializerMethodField()

    class Meta:
        model = Region
        fields = ["region_id", "name", "enabled", "zones", "discovered_at"]

    def get_zones(self, obj: Region) -> list[str]:
        return [z.zone_id for z in obj.zones.all()]


class RegionToggleSerializer(serializers.Serializer):
    region = serializers.CharField(max_length=64)
    enabled = serializers.BooleanField()


class PlatformServiceSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="service_id")
    name = serializers.CharField(source="service.name")
    category = serializers.CharField(source="service.category_id")

    class Meta:
        model = PlatformService
        fields = ["code", "name", "category", "display_name", "enabled"]


class FlavorSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(help_text="instance_type, disk_category, rds_class, redis_class or slb_spec")

    class Meta:
        model = Flavor
        fields = ["region", "kind", "code", "name", "vcpu", "memory_mib", "attributes"]
