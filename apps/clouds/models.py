"""Cloud platforms, their regions and zones, and the service catalog.

``CloudPlatform`` is one registered cloud instance (an Apsara Stack region, an AWS account...) owned
by an organization. Its credentials (AccessKey secret, security token) are stored encrypted
(``apps.clouds.secrets``) and never leave the server. Its connection settings say how the adapter
reaches the cloud: per-product endpoint templates or one ASAPI gateway, the Apsara Stack
organization and resource set sent on every call, a private CA or no certificate check, and the
OSS clusters of each region (see ``apps.clouds.adapters.apsara_connection``).

The unified catalog (``ServiceCategory`` -> ``CloudService`` -> ``ResourceType``) is the
same for every cloud; ``PlatformService`` says which services a platform offers under which name,
and ``Flavor`` lists the specs (instance types, disk categories, database classes) discovered per
platform and region.
"""

from __future__ import annotations

from django.db import models

from apps.core.ids import PrefixedId
from apps.core.models import TenantModel


class CloudPlatform(TenantModel):
    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Not checked yet"
        HEALTHY = "healthy", "Healthy"
        DEGRADED = "degraded", "Degraded"
        UNREACHABLE = "unreachable", "Unreachable"

    class Protocol(models.TextChoices):
        HTTPS = "https", "HTTPS"
        HTTP = "http", "HTTP"

    class CredentialType(models.TextChoices):
        ACCESS_KEY = "access_key", "AccessKey pair"
        STS_TOKEN = "sts_token", "STS token (AccessKey pair and security token)"
        RAM_ROLE = "ram_role", "RAM role assumed through STS (refreshed before it expires)"

    scope_fields = {"cloud_platform": "id"}  # a grant on a cloud platform reaches its own row

    id = models.CharField(primary_key=True, max_length=32, default=PrefixedId("cp"), editable=False)
    type = models.CharField(max_length=32, db_index=True)
    name = models.CharField(max_length=128)
    edition = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=500, blank=True)
    endpoint = models.CharField(max_length=255, blank=True)
    protocol = models.CharField(max_length=8, choices=Protocol.choices, default=Protocol.HTTPS)
    default_region = models.CharField(max_length=64, blank=True)
    options = models.JSONField(default=dict, blank=True)
    gateway = models.CharField(max_length=255, blank=True, help_text="ASAPI/POP gateway domain")
    endpoints = models.JSONField(default=dict, blank=True, help_text="product -> endpoint, {region} replaced")
    apsara_organization_id = models.CharField(max_length=64, blank=True)
    apsara_resource_set_id = models.CharField(max_length=64, blank=True)
    ca_bundle = models.TextField(blank=True, help_text="PEM certificates of a private CA to trust")
    verify_tls = models.BooleanField(default=True)
    oss_clusters = models.JSONField(default=dict, blank=True, help_text="region -> OSS clusters (bucket locations)")
    credential_type = models.CharField(max_length=16, choices=CredentialType.choices,
                                       default=CredentialType.ACCESS_KEY)
    role_arn = models.CharField(max_length=255, blank=True)
    credentials_encrypted = models.TextField(blank=True, editable=False)
    access_key_hint = models.CharField(max_length=64, blank=True, editable=False)
    projects = models.ManyToManyField("organizations.Project", blank=True, related_name="cloud_platforms")
    is_active = models.BooleanField(default=True)
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    health_message = models.CharField(max_length=500, blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    connection_checks = models.JSONField(default=list, blank=True, editable=False)  # per product, last test
    sync_interval_minutes = models.PositiveIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="cloudplatform_unique_name_per_org"),
        ]
        indexes = [models.Index(fields=["organization", "name"], name="cloudplatform_org_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def topic(self) -> str:
        return f"sync:{self.id}"

    def connection_options(self) -> dict:
        """``options`` with the connection settings the adapter reads (a set field wins over an old option)."""
        fields = {"gateway": self.gateway, "endpoints": self.endpoints, "organization_id": self.apsara_organization_id,
                  "resource_set_id": self.apsara_resource_set_id, "ca_bundle": self.ca_bundle,
                  "oss_clusters": self.oss_clusters}
        out = dict(self.options or {})
        out.update({k: v for k, v in fields.items() if v})
        if not self.verify_tls:
            out["verify_tls"] = False
        return out


class Region(models.Model):
    platform = models.ForeignKey(CloudPlatform, on_delete=models.CASCADE, related_name="regions")
    region_id = models.CharField(max_length=64)
    name = models.CharField(max_length=128, blank=True)
    enabled = models.BooleanField(default=True)
    discovered_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["region_id"]
        constraints = [models.UniqueConstraint(fields=["platform", "region_id"], name="region_unique_per_platform")]

    def __str__(self) -> str:
        return self.region_id


class Zone(models.Model):
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="zones")
    zone_id = models.CharField(max_length=64)
    name = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["zone_id"]
        constraints = [models.UniqueConstraint(fields=["region", "zone_id"], name="zone_unique_per_region")]

    def __str__(self) -> str:
        return self.zone_id


class ServiceCategory(models.Model):
    code = models.CharField(primary_key=True, max_length=32)
    name = models.CharField(max_length=64)
    order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name


class CloudService(models.Model):
    code = models.CharField(primary_key=True, max_length=32)
    category = models.ForeignKey(ServiceCategory, on_delete=models.PROTECT, related_name="services")
    name = models.CharField(max_length=128)
    api_code = models.CharField(max_length=64, blank=True)
    billable = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["category__order", "code"]

    def __str__(self) -> str:
        return self.name


class ResourceType(models.Model):
    """A unified resource type, ``<service>.<kind>`` (``ecs.instance``); ``collected`` ones are inventoried."""

    code = models.CharField(primary_key=True, max_length=64)
    service = models.ForeignKey(CloudService, on_delete=models.CASCADE, related_name="resource_types")
    name = models.CharField(max_length=128)
    collected = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class PlatformService(models.Model):
    platform = models.ForeignKey(CloudPlatform, on_delete=models.CASCADE, related_name="services")
    service = models.ForeignKey(CloudService, on_delete=models.CASCADE, related_name="+")
    display_name = models.CharField(max_length=128)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["service_id"]
        constraints = [models.UniqueConstraint(fields=["platform", "service"], name="platformservice_unique")]

    def __str__(self) -> str:
        return self.display_name


class Flavor(models.Model):
    class Kind(models.TextChoices):
        INSTANCE_TYPE = "instance_type", "Instance type"
        DISK_CATEGORY = "disk_category", "Disk category"
        RDS_CLASS = "rds_class", "Database class"
        REDIS_CLASS = "redis_class", "Cache class"
        SLB_SPEC = "slb_spec", "Load balancer spec"

    platform = models.ForeignKey(CloudPlatform, on_delete=models.CASCADE, related_name="flavors")
    region = models.CharField(max_length=64)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    code = models.CharField(max_length=128)
    name = models.CharField(max_length=128, blank=True)
    vcpu = models.PositiveIntegerField(null=True, blank=True)
    memory_mib = models.PositiveIntegerField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["kind", "vcpu", "memory_mib", "code"]
        constraints = [models.UniqueConstraint(fields=["platform", "region", "kind", "code"], name="flavor_unique")]

    def __str__(self) -> str:
        return self.code
