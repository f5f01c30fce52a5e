from rest_framework import serializers

from apps.clouds.models import CloudPlatform, Flavor, PlatformService, Region


class PlatformSerializer(serializers.ModelSerializer):
    """A platform as the API shows it: the credentials (secret, security token) never appear, only a hint of
    the key id; the connection settings and the per-product result of the last connection test do."""

    organization = serializers.UUIDField(source="organization_id", read_only=True)
    projects = serializers.SerializerMethodField()

    class Meta:
        model = CloudPlatform
        fields = ["id", "type", "name", "edition", "description", "endpoint", "protocol", "default_region", "options",
                  "organization", "projects", "is_active", "access_key_hint", "credential_type", "role_arn", "gateway",
                  "endpoints", "apsara_organization_id", "apsara_resource_set_id", "ca_bundle", "verify_tls",
                  "oss_clusters", "health", "health_message", "health_checked_at", "connection_checks",
                  "sync_interval_minutes", "last_synced_at", "created_at", "updated_at"]
        read_only_fields = fields

    def get_projects(self, obj: CloudPlatform) -> list[str]:
        return [str(p.pk) for p in obj.projects.all()]


class CredentialsSerializer(serializers.Serializer):
    access_key_id = serializers.CharField(max_length=256)
    access_key_secret = serializers.CharField(max_length=256, write_only=True)
    security_token = serializers.CharField(max_length=8192, write_only=True, required=False,
                                           help_text="STS security token (credential_type sts_token)")


def _connection_fields(required: bool) -> dict[str, serializers.Field]:
    """The connection settings, the same on create (with defaults) and update (each optional)."""
    def opt(field: type, default: object, **kw: object) -> serializers.Field:
        return field(required=False, **kw) if not required else field(default=default, **kw)
    return {
        "gateway": opt(serializers.CharField, "", max_length=255, allow_blank=True,
                       help_text="ASAPI/POP gateway domain; products without their own endpoint go through it"),
        "endpoints": opt(serializers.DictField, dict, child=serializers.CharField(max_length=255, allow_blank=True),
                         help_text="product (ecs, vpc, slb, rds, redis, cms, sts, oss) -> endpoint; {region} is "
                                   "replaced by the region, {cluster} (OSS) by the region's OSS cluster"),
        "apsara_organization_id": opt(serializers.CharField, "", max_length=64, allow_blank=True,
                                      help_text="sent as x-acs-organizationid"),
        "apsara_resource_set_id": opt(serializers.CharField, "", max_length=64, allow_blank=True,
                                      help_text="sent as x-acs-resourcegroupid"),
        "ca_bundle": opt(serializers.CharField, "", max_length=65536, allow_blank=True, trim_whitespace=False,
                         help_text="PEM certificates of a private CA to trust"),
        "verify_tls": opt(serializers.BooleanField, True, help_text="false skips the certificate check"),
        "oss_clusters": opt(serializers.DictField, dict, child=serializers.ListField(
            child=serializers.CharField(max_length=63), max_length=20), help_text="region -> OSS cluster names"),
        "credential_type": opt(serializers.ChoiceField, "access_key", choices=CloudPlatform.CredentialType.choices),
        "role_arn": opt(serializers.CharField, "", max_length=255, allow_blank=True,
                        help_text="the RAM role to assume (credential_type ram_role)"),
    }


ConnectionOnCreate = type("ConnectionOnCreate", (serializers.Serializer,), _connection_fields(required=True))
ConnectionOnUpdate = type("ConnectionOnUpdate", (serializers.Serializer,), _connection_fields(required=False))


class PlatformCreateSerializer(ConnectionOnCreate):
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


class PlatformUpdateSerializer(ConnectionOnUpdate):
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
    products = serializers.ListField(child=serializers.DictField(), required=False,
                                     help_text="one call per product: product, action, ok, and code/message if not")
    error = serializers.DictField(required=False, help_text="the first call that failed")


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


class ServiceToggleSerializer(serializers.Serializer):
    service = serializers.CharField(max_length=64, help_text="a service code of the platform (e.g. mongodb, kafka)")
    enabled = serializers.BooleanField(help_text="false: the service is not collected")


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
