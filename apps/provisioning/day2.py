"""Day-2 operations on a resource that are neither a state change nor an instance resize: a disk's
size, security group rules, an EIP's bandwidth, SLB listeners and backend servers, RDS accounts and
databases, a bucket's ACL and lifecycle rule. They run as the lifecycle action ``modify`` with
``params = {"operation": <name>, "args": {...}}``.

``clean_args`` checks the arguments before any cloud call and names the bad field (``args.<field>``);
a backend server must be an instance in the load balancer's region on the same platform, one the
caller may operate. A database account's password is sealed before it is stored with the change.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from rest_framework import serializers

from apps.clouds.adapters.base import CloudCallError
from apps.core.errors import Conflict, InvalidInput
from apps.core.scoping import authorize
from apps.provisioning.specs import Integer, SecurityGroupRuleSpec, Text
from apps.resources.models import Resource

ACCOUNT_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}[a-z0-9]$")
DATABASE_RE = re.compile(r"^[a-z][a-z0-9_\-]{0,62}[a-z0-9]$")
CHARSETS = ("utf8mb4", "utf8", "gbk", "latin1")


class DiskResize(serializers.Serializer):
    size_gib = Integer(min_value=20, max_value=32768, help_text="The new size in GiB, larger than today's.")


class Bandwidth(serializers.Serializer):
    bandwidth_mbps = Integer(min_value=1, max_value=200, help_text="Peak bandwidth, 1 to 200 Mbit/s.")


class ListenerAdd(serializers.Serializer):
    protocol = serializers.ChoiceField(choices=["tcp", "udp"])
    port = Integer(min_value=1, max_value=65535)
    backend_port = Integer(min_value=1, max_value=65535)


class ListenerRemove(serializers.Serializer):
    protocol = serializers.ChoiceField(choices=["tcp", "udp"])
    port = Integer(min_value=1, max_value=65535)


class Backend(serializers.Serializer):
    instance = Text(max_length=40, help_text="An instance (inventory id) in the load balancer's region.")
    weight = Integer(min_value=0, max_value=100, default=100)


class Account(serializers.Serializer):
    name = Text(max_length=32)
    password = Text(min_length=8, max_length=32, trim_whitespace=False)
    account_type = serializers.ChoiceField(choices=["Normal", "Super"], default="Normal")

    def validate_name(self, value: str) -> str:
        if not ACCOUNT_RE.match(value):
            raise serializers.ValidationError("2 to 32 of a-z, 0-9 and '_', starting with a letter")
        return value

    def validate_password(self, value: str) -> str:
        classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
        if classes < 3:
            raise serializers.ValidationError("at least three of: lower case, upper case, digits, other characters")
        return value


class Database(serializers.Serializer):
    name = Text(max_length=64)
    charset = serializers.ChoiceField(choices=list(CHARSETS), default="utf8mb4")

    def validate_name(self, value: str) -> str:
        if not DATABASE_RE.match(value):
            raise serializers.ValidationError("2 to 64 of a-z, 0-9, '_' and '-', starting with a letter")
        return value


class SnapshotCreate(serializers.Serializer):
    name = Text(max_length=128, help_text="The snapshot's name.")

    def validate_name(self, value: str) -> str:
        if not re.match(r"^[A-Za-z][A-Za-z0-9._:\-]{1,127}$", value) or value.startswith(("auto", "http")):
            raise serializers.ValidationError("2 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter"
                                              " (not 'auto' or 'http')")
        return value


class SnapshotRef(serializers.Serializer):
    snapshot = Text(max_length=64, help_text="A snapshot of this disk (its cloud id).")


class NoArgs(serializers.Serializer):
    pass


class Acl(serializers.Serializer):
    acl = serializers.ChoiceField(choices=["private", "public-read", "public-read-write"])


class Lifecycle(serializers.Serializer):
    prefix = Text(max_length=1024, default="", allow_blank=True, help_text="Objects under this prefix ('' is all).")
    days = Integer(min_value=1, max_value=3650, help_text="Days after which objects expire.")
    enabled = serializers.BooleanField(default=True)


class EipRef(serializers.Serializer):
    eip = Text(max_length=40, help_text="An EIP (inventory id) in the gateway's region.")


class SnatAdd(serializers.Serializer):
    ip_address = Text(max_length=15, help_text="An EIP address bound to the gateway.")
    vswitch_id = Text(max_length=64, help_text="The vSwitch whose instances reach out through it.")


class DnatAdd(serializers.Serializer):
    ip_address = Text(max_length=15, help_text="An EIP address bound to the gateway.")
    protocol = Text(max_length=3, default="tcp", help_text="tcp or udp.")
    external_port = Integer(min_value=1, max_value=65535)
    internal_ip = Text(max_length=15, help_text="The private address traffic is forwarded to.")
    internal_port = Integer(min_value=1, max_value=65535)

    def validate_protocol(self, value: str) -> str:
        if value not in ("tcp", "udp"):
            raise serializers.ValidationError("tcp or udp")
        return value

    def validate_ip_address(self, value: str) -> str:
        return _ipv4(value)

    def validate_internal_ip(self, value: str) -> str:
        return _ipv4(value)


class EntryRef(serializers.Serializer):
    entry_id = Text(max_length=64, help_text="The entry's cloud id.")


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise serializers.ValidationError("an IPv4 address") from None


# resource type -> operation -> (label on the page, the serializer of its arguments, states it may run in)
OPERATIONS: dict[str, dict[str, tuple[str, type[serializers.Serializer], set[str]]]] = {
    "ecs.disk": {"disk_resize": ("Resize", DiskResize, {"available", "in_use"}),
                 "snapshot_create": ("Create snapshot", SnapshotCreate, {"available", "in_use"}),
                 "snapshot_delete": ("Delete snapshot", SnapshotRef, {"available", "in_use"}),
                 "rollback": ("Roll back", SnapshotRef, {"available", "in_use"})},
    "ecs.security_group": {"rule_add": ("Add rule", SecurityGroupRuleSpec, {"available"}),
                           "rule_remove": ("Remove rule", SecurityGroupRuleSpec, {"available"})},
    "eip.eip": {"bandwidth": ("Change bandwidth", Bandwidth, {"available", "in_use"})},
    "slb.instance": {"listener_add": ("Add listener", ListenerAdd, {"running", "stopped"}),
                     "listener_remove": ("Remove listener", ListenerRemove, {"running", "stopped"}),
                     "backend_add": ("Add backend", Backend, {"running", "stopped"}),
                     "backend_remove": ("Remove backend", Backend, {"running", "stopped"})},
    "rds.instance": {"account_create": ("Create account", Account, {"running"}),
                     "database_create": ("Create database", Database, {"running"}),
                     "backup_create": ("Back up now", NoArgs, {"running"})},
    "oss.bucket": {"acl": ("Set ACL", Acl, {"available"}), "lifecycle": ("Lifecycle rule", Lifecycle, {"available"})},
    "nat.nat_gateway": {"eip_bind": ("Bind EIP", EipRef, {"available"}),
                        "eip_unbind": ("Unbind EIP", EipRef, {"available"}),
                        "snat_add": ("Add SNAT entry", SnatAdd, {"available"}),
                        "snat_remove": ("Remove SNAT entry", EntryRef, {"available"}),
                        "dnat_add": ("Add DNAT entry", DnatAdd, {"available"}),
                        "dnat_remove": ("Remove DNAT entry", EntryRef, {"available"})},
}


def _fail(errors: dict[str, Any]) -> InvalidInput:
    return InvalidInput("The operation is not valid; see detail.", detail=errors)


def clean_args(*, actor: Any, resource: Resource, params: dict[str, Any]) -> dict[str, Any]:
    """``{"operation", "args"}`` checked for ``resource``, or ``InvalidInput`` naming the field."""
    ops = OPERATIONS.get(resource.type, {})
    operation = params.get("operation")
    if not isinstance(operation, str) or operation not in ops:
        raise _fail({"operation": [f"one of {', '.join(ops) or 'none for ' + resource.type}"]})
    args = params.get("args", {})
    if not isinstance(args, dict):
        raise _fail({"args": ["must be an object"]})
    serializer = ops[operation][1](data=args)
    errors = {} if serializer.is_valid() else {f"args.{k}": v for k, v in serializer.errors.items()}
    unknown = set(args) - set(serializer.fields)
    if unknown:
        errors["args"] = [f"unknown fields: {', '.join(sorted(map(str, unknown)))}"]
    if errors:
        raise _fail(errors)
    clean = dict(serializer.validated_data)
    spec = resource.spec or {}
    if operation == "disk_resize":
        current = int(spec.get("size_gib") or resource.storage_gib or 0)
        if clean["size_gib"] <= current:
            raise _fail({"args.size_gib": [f"larger than today's {current} GiB (a disk never shrinks)"]})
        clean["attached"] = resource.status == "in_use"
    elif operation == "bandwidth" and str(clean["bandwidth_mbps"]) == str(spec.get("bandwidth_mbps")):
        raise _fail({"args.bandwidth_mbps": [f"already {clean['bandwidth_mbps']} Mbit/s"]})
    elif operation in ("backend_add", "backend_remove"):
        instance = Resource.objects.filter(pk=clean["instance"], type="ecs.instance", deleted=False).first()
        if instance is None or not authorize(actor, "ecs:instance:operate", instance):
            raise _fail({"args.instance": ["not found"]})
        if instance.platform_id != resource.platform_id or instance.region != resource.region:
            raise _fail({"args.instance": [f"the instance is in {instance.region}: a backend server must be in the "
                                           f"load balancer's region ({resource.region})"]})
        clean["instance_id"] = instance.external_id
    elif operation in ("eip_bind", "eip_unbind"):
        eip = Resource.objects.filter(pk=clean["eip"], type="eip.eip", deleted=False).first()
        if eip is None or not authorize(actor, "eip:eip:operate", eip):
            raise _fail({"args.eip": ["not found"]})
        if eip.platform_id != resource.platform_id or eip.region != resource.region:
            raise _fail({"args.eip": [f"the EIP is in {eip.region}, not in the gateway's region {resource.region}"]})
        if operation == "eip_bind" and eip.status != "available":
            raise _fail({"args.eip": [f"the EIP is {eip.status}; bind an available one"]})
        clean["eip_id"] = eip.external_id
    elif operation in ("snapshot_delete", "rollback"):
        _snapshot_of(resource, clean["snapshot"])
        if operation == "rollback" and resource.status == "in_use":
            attached = Resource.objects.filter(platform_id=resource.platform_id, type="ecs.instance", deleted=False,
                                               external_id=spec.get("instance_id") or "").first()
            if attached is not None and attached.status != "stopped":
                raise Conflict(f"The disk is attached to {attached.name or attached.external_id}, which is "
                               f"{attached.status}: stop the instance or detach the disk to roll it back.",
                               code="invalid_transition", detail={"instance_status": attached.status})
    elif operation == "account_create":
        from apps.security.crypto import encrypt

        clean["password_sealed"] = encrypt(clean.pop("password"))
    return {"operation": operation, "args": clean}


def _snapshot_of(disk: Resource, snapshot_id: str) -> None:
    """A snapshot of ``disk``: known to the inventory, else asked of the cloud (one just taken)."""
    known = Resource.objects.filter(platform_id=disk.platform_id, type="ecs.snapshot", external_id=snapshot_id,
                                    deleted=False).first()
    if known is not None:
        found_disk = (known.spec or {}).get("disk_id")
    else:
        from apps.clouds.adapters import adapter_for

        try:
            found = adapter_for(disk.platform, region=disk.region).get_resource("ecs.snapshot", disk.region,
                                                                               snapshot_id)
        except CloudCallError as exc:
            raise Conflict(f"The cloud cannot be reached to check the snapshot ({exc.code}); try again.",
                           code="cloud_unavailable") from None
        found_disk = (found.spec or {}).get("disk_id") if found is not None else None
    if found_disk != disk.external_id:
        raise _fail({"args.snapshot": [f"{snapshot_id!r} is not a snapshot of this disk"]})


def cloud_args(args: dict[str, Any]) -> dict[str, Any]:
    """The arguments as the adapter takes them (a sealed password opened)."""
    if "password_sealed" not in args:
        return args
    from apps.security.crypto import decrypt

    out = {k: v for k, v in args.items() if k != "password_sealed"}
    out["password"] = decrypt(args["password_sealed"])
    return out


def allowed(resource: Resource) -> list[dict[str, Any]]:
    """The day-2 operations the resource's state allows now: ``{"operation", "label"}``."""
    status = (resource.status or "").lower()
    return [{"operation": op, "label": label} for op, (label, _s, states) in OPERATIONS.get(resource.type, {}).items()
            if status in states and not resource.deleted]
