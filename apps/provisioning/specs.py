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
