"""What a provisioning request's ``spec`` is made of, one typed serializer per resource type.

A spec is parsed by its type's serializer before any rule looks at it: a field of the wrong type,
an unknown field or a value out of range is refused naming the field, so the rules in
``requests.validate_spec`` (what the platform offers in the region, what the cloud lists) only
ever see strings and integers. The same serializers document ``spec`` in the OpenAPI document.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from apps.core.errors import InvalidInput

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._\-]{1,63}$")
MAX_TAGS = 20


class Text(serializers.CharField):
    """A JSON string, and nothing that merely converts to one (a number, an object)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Integer(serializers.IntegerField):
    """A JSON integer: not a string of digits, a float or a boolean."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class SpecSerializer(serializers.Serializer):
    def writable_fields(self) -> set[str]:
        return {name for name, field in self.fields.items() if not field.read_only}


class EcsInstanceSpec(SpecSerializer):
    """An ECS instance, as the cloud's RunInstances takes it. ``vcpu`` and ``memory_mib`` are filled
    in from the instance type when the request is accepted."""

    instance_type = Text(max_length=64, help_text="An instance type the platform offers in the region.")
    image_id = Text(max_length=128, help_text="An image of the region.")
    zone = Text(max_length=64, help_text="A zone of the region.")
    vswitch_id = Text(max_length=64, help_text="An available vSwitch in the zone.")
    security_group_id = Text(max_length=64, help_text="A security group in the vSwitch's VPC.")
    name = Text(default="instance", allow_blank=True, allow_null=True, validators=[RegexValidator(
        NAME_RE, "2 to 64 letters, digits, '.', '_' or '-', starting with a letter")],
        help_text="Instance name (numbered -1, -2, ... when count > 1); 'instance' when empty.")
    system_disk_category = Text(max_length=64, required=False, allow_null=True,
                                help_text="A disk category offered in the zone.")
    system_disk_gib = Integer(min_value=20, max_value=500, default=40)
    tags = serializers.DictField(child=Text(max_length=128, allow_blank=True), default=dict, allow_null=True,
                                 help_text=f"At most {MAX_TAGS} key=value pairs (keys up to 64 characters).")
    vcpu = serializers.IntegerField(read_only=True)
    memory_mib = serializers.IntegerField(read_only=True)

    def validate_name(self, value: str | None) -> str:
        return value or "instance"

    def validate_tags(self, value: dict[str, str] | None) -> dict[str, str]:
        value = value or {}
        if len(value) > MAX_TAGS or not all(0 < len(k) <= 64 for k in value):
            raise serializers.ValidationError(f"at most {MAX_TAGS} pairs, keys of 1 to 64 characters")
        return value


# Resource types a request may ask for, each with the serializer of its spec.
SPECS: dict[str, type[SpecSerializer]] = {"ecs.instance": EcsInstanceSpec}


def spec_parse(*, resource_type: str, spec: Any) -> dict[str, Any]:
    """The typed spec, or ``InvalidInput`` naming every bad field (unknown fields under ``spec``)."""
    if not isinstance(spec, dict):
        raise InvalidInput("spec must be an object.", detail={"spec": ["must be an object"]})
    serializer = SPECS[resource_type](data=spec)
    errors: dict[str, Any] = {} if serializer.is_valid() else dict(serializer.errors)
    unknown = set(spec) - serializer.writable_fields()
    if unknown:
        errors["spec"] = [f"unknown fields: {', '.join(sorted(map(str, unknown)))}"]
    if errors:
        raise InvalidInput("The request is not valid; see detail.", detail=errors)
    return dict(serializer.validated_data)


# -- the other types the adapters create -----------------------------------------------------------------

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
CIDR_HELP = "A private IPv4 block (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, or a block inside one)."


def _named(default: str) -> Text:
    return Text(default=default, allow_blank=True, allow_null=True, validators=[RegexValidator(
        NAME_RE, "2 to 64 letters, digits, '.', '_' or '-', starting with a letter")],
        help_text=f"Name; '{default}' when empty.")


class _Named(SpecSerializer):
    default_name = "resource"

    def validate_name(self, value: str | None) -> str:
        return value or self.default_name


class DiskSpec(_Named):
    """A data disk (CreateDisk). ``instance``, when given, is an instance of the inventory in the
    disk's zone that the new disk is attached to once it is available."""

    default_name = "data"
    zone = Text(max_length=64, help_text="A zone of the region.")
    category = Text(max_length=64, help_text="A disk category offered in the zone.")
    size_gib = Integer(min_value=20, max_value=32768, help_text="Size in GiB, 20 to 32768.")
    name = _named("data")
    instance = Text(max_length=40, required=False, allow_null=True, allow_blank=True,
                    help_text="An instance (inventory id, res-...) in the same zone to attach the disk to.")


class SecurityGroupRuleSpec(serializers.Serializer):
    protocol = Text(max_length=8, help_text="IP protocol: tcp, udp, icmp or all.")
    port_range = Text(max_length=11, default="-1/-1",
                      help_text="'from/to' (1..65535) for tcp and udp; '-1/-1' for icmp and all.")
    source_cidr = Text(max_length=43, default="0.0.0.0/0", help_text="Where traffic may come from.")
    policy = serializers.ChoiceField(choices=["accept", "drop"], default="accept")
    priority = Integer(min_value=1, max_value=100, default=1)
    description = Text(max_length=256, default="", allow_blank=True)

    def validate_protocol(self, value: str) -> str:
        if value not in ("tcp", "udp", "icmp", "all"):
            raise serializers.ValidationError("tcp, udp, icmp or all")
        return value


class SecurityGroupSpec(_Named):
    """A security group in a VPC (CreateSecurityGroup), with the ingress rules it starts with."""

    default_name = "group"
    vpc_id = Text(max_length=64, help_text="A VPC of the region.")
    name = _named("group")
    description = Text(max_length=256, default="", allow_blank=True)
    rules = SecurityGroupRuleSpec(many=True, required=False, default=list, help_text="At most 20 ingress rules.")

    def validate_rules(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > 20:
            raise serializers.ValidationError("at most 20 rules")
        return [dict(r) for r in value]


class VpcSpec(_Named):
    """A VPC (CreateVpc)."""

    default_name = "vpc"
    cidr_block = Text(max_length=18, help_text=CIDR_HELP + " Prefix /8 to /24.")
    name = _named("vpc")
    description = Text(max_length=256, default="", allow_blank=True)


class VSwitchSpec(_Named):
    """A vSwitch in a zone of a VPC (CreateVSwitch); its block lies inside the VPC's."""

    default_name = "vswitch"
    vpc_id = Text(max_length=64, help_text="A VPC of the region.")
    zone = Text(max_length=64, help_text="A zone of the region.")
    cidr_block = Text(max_length=18, help_text="A block inside the VPC's, prefix /16 to /29.")
    name = _named("vswitch")


class EipSpec(_Named):
    """An elastic IP address (AllocateEipAddress)."""

    default_name = "eip"
    bandwidth_mbps = Integer(min_value=1, max_value=200, default=5, help_text="Peak bandwidth, 1 to 200 Mbit/s.")
    name = _named("eip")


class SlbSpec(_Named):
    """A classic load balancer (CreateLoadBalancer): on the internet, or on a vSwitch (intranet)."""

    default_name = "lb"
    spec = Text(max_length=64, help_text="A load balancer spec the platform offers.")
    address_type = serializers.ChoiceField(choices=["internet", "intranet"], default="intranet")
    vswitch_id = Text(max_length=64, required=False, allow_null=True, allow_blank=True,
                      help_text="The vSwitch of an intranet load balancer.")
    name = _named("lb")


class RdsSpec(_Named):
    """An ApsaraDB RDS instance (CreateDBInstance), pay-as-you-go, in a vSwitch."""

    default_name = "db"
    engine = Text(max_length=32, help_text="A database engine the platform offers (MySQL, PostgreSQL...).")
    engine_version = Text(max_length=32, help_text="A version of the engine.")
    db_class = Text(max_length=64, help_text="A database class the platform offers in the region.")
    storage_gib = Integer(min_value=20, max_value=6000, default=20, help_text="Storage, 20 to 6000 GiB.")
    zone = Text(max_length=64, help_text="A zone of the region.")
    vswitch_id = Text(max_length=64, help_text="An available vSwitch in the zone.")
    name = _named("db")
    vcpu = serializers.IntegerField(read_only=True)
    memory_mib = serializers.IntegerField(read_only=True)


class RedisSpec(_Named):
    """An ApsaraDB for Redis instance (CreateInstance), in a vSwitch."""

    default_name = "cache"
    cache_class = Text(max_length=64, help_text="A cache class the platform offers.")
    engine_version = Text(max_length=16, default="5.0", help_text="A Redis version the platform offers.")
    zone = Text(max_length=64, help_text="A zone of the region.")
    vswitch_id = Text(max_length=64, help_text="An available vSwitch in the zone.")
    name = _named("cache")
    memory_mib = serializers.IntegerField(read_only=True)


class BucketSpec(SpecSerializer):
    """An OSS bucket (PutBucket). Its name is global to the cloud: 3 to 63 lower-case letters, digits
    and hyphens, starting and ending with a letter or digit."""

    name = Text(max_length=63, help_text="3 to 63 of a-z, 0-9 and '-', not starting or ending with '-'.")
    acl = serializers.ChoiceField(choices=["private", "public-read", "public-read-write"], default="private")
    storage_class = serializers.ChoiceField(choices=["Standard", "IA", "Archive"], default="Standard")

    def validate_name(self, value: str) -> str:
        if not BUCKET_RE.match(value):
            raise serializers.ValidationError("3 to 63 of a-z, 0-9 and '-', starting and ending with a letter or digit")
        return value


class NatSpec(_Named):
    """An enhanced NAT gateway in a VPC (CreateNatGateway), on one of the VPC's vSwitches; EIPs and SNAT
    and DNAT entries are added on its page."""

    default_name = "nat"
    vpc_id = Text(max_length=64, help_text="A VPC of the region.")
    vswitch_id = Text(max_length=64, help_text="A vSwitch of the VPC.")
    nat_spec = Text(max_length=16, default="Small", help_text="Small, Middle, Large or XLarge.1.")
    name = _named("nat")

    def validate_nat_spec(self, value: str) -> str:
        if value not in ("Small", "Middle", "Large", "XLarge.1"):
            raise serializers.ValidationError("Small, Middle, Large or XLarge.1")
        return value


SPECS.update({"ecs.disk": DiskSpec, "ecs.security_group": SecurityGroupSpec, "vpc.vpc": VpcSpec,
              "vpc.vswitch": VSwitchSpec, "eip.eip": EipSpec, "slb.instance": SlbSpec, "rds.instance": RdsSpec,
              "redis.instance": RedisSpec, "oss.bucket": BucketSpec, "nat.nat_gateway": NatSpec})
# Types of which one request may create several (the rest have one name, or an address plan, each).
COUNTABLE = {"ecs.instance", "ecs.disk", "eip.eip"}
