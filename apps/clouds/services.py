"""Writes of the clouds app: registering platforms, testing them, discovering what they offer.

Rules enforced here:
- the actor needs ``clouds:platform:write`` on the owning organization (create, update, delete) and
  ``clouds:platform:operate`` to test or discover;
- credentials (AccessKey pair, with a security token for STS) are validated, encrypted and never
  returned; updating them replaces them whole; a RAM role to assume needs its ARN;
- connection settings (per-product endpoint templates, ASAPI gateway, Apsara organization and
  resource set, CA bundle or no certificate check, OSS clusters) are validated before they are saved;
- testing a platform calls each product once and records which call failed and why;
- projects allowed to use a platform belong to its organization or one of its descendants.

``sync_interval_minutes`` is the platform's wish; the inventory app keeps its periodic collection in
step with it (from model signals), so nothing here knows that collection exists.
"""

from __future__ import annotations

import re
import ssl
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.clouds.adapters import adapter_class, adapter_for, adapter_types
from apps.clouds.adapters.apsara_connection import PLACEHOLDER_RE, ROLE_ARN_RE, endpoint_products
from apps.clouds.adapters.base import CloudCallError
from apps.clouds.models import CloudPlatform, CloudService, Flavor, PlatformService, Region, Zone
from apps.clouds.secrets import encrypt_json
from apps.core.errors import Conflict, InvalidInput
from apps.core.events import emit
from apps.core.scoping import require

# A bare host (the protocol field then says http or https) or a URL; a URL's scheme must be http(s).
ENDPOINT_RE = re.compile(r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://)?(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])"
                         r"(?::(?P<port>\d{1,5}))?(?P<path>/[\w\-./]*)?")
ENDPOINT_SCHEMES = ("http", "https")
MAX_INTERVAL_MINUTES = 7 * 24 * 60
CREDENTIAL_FIELDS = {"access_key": ("access_key_id", "access_key_secret"),
                     "sts_token": ("access_key_id", "access_key_secret", "security_token"),
                     "ram_role": ("access_key_id", "access_key_secret")}
HEADER_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
CLUSTER_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_CA_BUNDLE = 64 * 1024
CONNECTION_FIELDS = ("gateway", "endpoints", "apsara_organization_id", "apsara_resource_set_id", "ca_bundle",
                     "verify_tls", "oss_clusters", "credential_type", "role_arn")


def _clean_credentials(type_name: str, credentials: Any, credential_type: str = "access_key") -> dict[str, str]:
    """The credentials a platform of ``credential_type`` needs: an AccessKey pair, plus the security token
    of an STS token (an assumed role needs only the pair that may assume it)."""
    if not isinstance(credentials, dict):
        raise InvalidInput("credentials must be an object.", detail={"credentials": ["must be an object"]})
    out: dict[str, str] = {}
    for key in CREDENTIAL_FIELDS.get(credential_type, CREDENTIAL_FIELDS["access_key"]):
        value = credentials.get(key)
        limit = 8192 if key == "security_token" else 256
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise InvalidInput(f"credentials.{key} is required.", detail={f"credentials.{key}": ["required"]})
        out[key] = value.strip()
    unknown = set(credentials) - set(CREDENTIAL_FIELDS["sts_token"])
    if unknown:
        raise InvalidInput("Unknown credential fields.", detail={"credentials": [f"unknown: {sorted(unknown)}"]})
    return out


def _template_error(value: Any, placeholders: tuple[str, ...] = ("region",)) -> str | None:
    """Why ``value`` cannot be an endpoint template: an endpoint in which only ``placeholders`` may appear."""
    if not isinstance(value, str):
        return "a host name or address with an optional port, or an http(s) URL"
    unknown = sorted({m.group(1) for m in PLACEHOLDER_RE.finditer(value)} - set(placeholders))
    if unknown:
        return f"unknown placeholder {{{unknown[0]}}}; allowed: {', '.join('{' + p + '}' for p in placeholders)}"
    return _endpoint_error(PLACEHOLDER_RE.sub(lambda m: m.group(1), value))


def _ca_bundle_error(pem: Any) -> str | None:
    if not isinstance(pem, str) or len(pem) > MAX_CA_BUNDLE:
        return f"PEM text of at most {MAX_CA_BUNDLE // 1024} KiB"
    if not pem.strip():
        return None
    if "PRIVATE KEY" in pem:
        return "a CA bundle holds certificates only; never paste a private key"
    if "-----BEGIN CERTIFICATE-----" not in pem:
        return "PEM certificates (-----BEGIN CERTIFICATE-----)"
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        return f"not a readable PEM certificate bundle ({exc.__class__.__name__})"
    return None


def _clean_connection(fields: dict[str, Any]) -> dict[str, list[str]]:
    """Errors of the connection settings among ``fields`` (only those given are checked)."""
    errors: dict[str, list[str]] = {}
    if fields.get("gateway"):
        error = _template_error(fields["gateway"])
        if error:
            errors["gateway"] = [error]
    if "endpoints" in fields:
        endpoints = fields["endpoints"]
        if not isinstance(endpoints, dict):
            errors["endpoints"] = ["an object: product -> endpoint"]
        else:
            known = endpoint_products()
            for product, value in endpoints.items():
                if product not in known:
                    errors[f"endpoints.{product}"] = [f"unknown product; known: {', '.join(known)}"]
                elif value:
                    error = _template_error(value, ("region", "cluster") if product == "oss" else ("region",))
                    if error:
                        errors[f"endpoints.{product}"] = [error]
    for key in ("apsara_organization_id", "apsara_resource_set_id"):
        value = fields.get(key)
        if value and (not isinstance(value, str) or not HEADER_ID_RE.match(value)):
            errors[key] = ["1 to 64 letters, digits, '.', '_' or '-'"]
    if "ca_bundle" in fields:
        error = _ca_bundle_error(fields["ca_bundle"])
        if error:
            errors["ca_bundle"] = [error]
    if "verify_tls" in fields and not isinstance(fields["verify_tls"], bool):
        errors["verify_tls"] = ["true or false"]
    if "oss_clusters" in fields:
        clusters = fields["oss_clusters"]
        names = [clusters[r] if isinstance(clusters[r], list) else [clusters[r]] for r in clusters] \
            if isinstance(clusters, dict) else None
        if names is None or not all(isinstance(n, str) and CLUSTER_RE.match(n) for group in names for n in group):
            errors["oss_clusters"] = ["an object: region -> list of OSS cluster names (e.g. oss-cn-hangzhou-a)"]
    if "credential_type" in fields and fields["credential_type"] not in CloudPlatform.CredentialType.values:
        errors["credential_type"] = [f"one of {', '.join(CloudPlatform.CredentialType.values)}"]
    if fields.get("role_arn") and not ROLE_ARN_RE.match(str(fields["role_arn"])):
        errors["role_arn"] = ["acs:ram::<account id>:role/<role name>"]
    return errors


def _endpoint_error(endpoint: Any) -> str | None:
    """Why ``endpoint`` cannot be a platform's endpoint: adapters call it, so it is an http(s) URL
    or a host (name, IPv4 or [IPv6]) with an optional port and path, never another scheme."""
    match = ENDPOINT_RE.fullmatch(endpoint) if isinstance(endpoint, str) and len(endpoint) <= 255 else None
    if match is None:
        return "a host name or address with an optional port, or an http(s) URL"
    if match["scheme"] and match["scheme"].lower() not in ENDPOINT_SCHEMES:
        return "only http and https URLs are accepted"
    if match["port"] and not 0 < int(match["port"]) <= 65535:
        return "the port must be 1 to 65535"
    return None


def _clean(*, type_name: str | None = None, name: str | None = None, endpoint: str | None = None,
           protocol: str | None = None, options: Any = None, sync_interval_minutes: Any = None,
           connection: dict[str, Any] | None = None) -> None:
    errors: dict[str, list[str]] = _clean_connection(connection or {})
    if type_name is not None and type_name not in adapter_types():
        errors["type"] = [f"unknown cloud type; known: {', '.join(sorted(adapter_types()))}"]
    if name is not None and (not name.strip() or len(name) > 128):
        errors["name"] = ["1 to 128 characters"]
    if endpoint is not None and endpoint:
        error = _template_error(endpoint)
        if error:
            errors["endpoint"] = [error]
    if protocol is not None and protocol not in CloudPlatform.Protocol.values:
        errors["protocol"] = ["http or https"]
    if options is not None and not isinstance(options, dict):
        errors["options"] = ["must be an object"]
    if sync_interval_minutes is not None and (not isinstance(sync_interval_minutes, int) or
                                              not 0 <= sync_interval_minutes <= MAX_INTERVAL_MINUTES):
        errors["sync_interval_minutes"] = [f"0 (off) to {MAX_INTERVAL_MINUTES}"]
    if errors:
        raise InvalidInput("The platform is not valid; see detail.", detail=errors)


def _check_projects(platform: CloudPlatform, projects: list[Any]) -> None:
    org_path = platform.organization.path
    for project in projects:
        if not project.organization.path.startswith(org_path):
            raise InvalidInput("A project must belong to the platform's organization or one below it.",
                               detail={"projects": [str(project.pk)]})


def _hint(access_key_id: str) -> str:
    return f"{access_key_id[:4]}…{access_key_id[-2:]}" if len(access_key_id) > 8 else "…"


@transaction.atomic
def _check_role(credential_type: str, role_arn: str) -> None:
    if credential_type == CloudPlatform.CredentialType.RAM_ROLE and not role_arn:
        raise InvalidInput("A RAM role to assume needs its ARN.", detail={"role_arn": ["required for ram_role"]})


def platform_create(*, actor: Any, organization: Any, type: str, name: str, endpoint: str = "",
                    protocol: str = "https", default_region: str = "", edition: str = "", description: str = "",
                    credentials: dict[str, str], options: dict[str, Any] | None = None, projects: list[Any] = (),
                    sync_interval_minutes: int = 0, gateway: str = "", endpoints: dict[str, str] | None = None,
                    apsara_organization_id: str = "", apsara_resource_set_id: str = "", ca_bundle: str = "",
                    verify_tls: bool = True, oss_clusters: dict[str, Any] | None = None,
                    credential_type: str = "access_key", role_arn: str = "") -> CloudPlatform:
    connection = {"gateway": gateway, "endpoints": endpoints or {}, "apsara_organization_id": apsara_organization_id,
                  "apsara_resource_set_id": apsara_resource_set_id, "ca_bundle": ca_bundle, "verify_tls": verify_tls,
                  "oss_clusters": oss_clusters or {}, "credential_type": credential_type, "role_arn": role_arn}
    _clean(type_name=type, name=name, endpoint=endpoint, protocol=protocol, options=options or {},
           sync_interval_minutes=sync_interval_minutes, connection=connection)
    _check_role(credential_type, role_arn)
    creds = _clean_credentials(type, credentials, credential_type)
    platform = CloudPlatform(organization=organization, type=type, name=name.strip(), endpoint=endpoint,
                             protocol=protocol, default_region=default_region, edition=edition,
                             description=description, options=options or {},
                             sync_interval_minutes=sync_interval_minutes, **connection,
                             credentials_encrypted=encrypt_json(creds), access_key_hint=_hint(creds["access_key_id"]))
    require(actor, "clouds:platform:write", platform)
    _check_projects(platform, list(projects))
    try:
        with transaction.atomic():
            platform.save()
    except IntegrityError:
        raise Conflict("A platform with this name already exists in the organization.", code="duplicate_name") from None
    platform.projects.set(projects)
    emit(platform.organization_id, platform.topic, {"event": "platform_created", "id": platform.id})
    return platform


@transaction.atomic
def platform_update(*, actor: Any, platform: CloudPlatform, projects: list[Any] | None = None,
                    credentials: dict[str, str] | None = None, **fields: Any) -> CloudPlatform:
    require(actor, "clouds:platform:write", platform)
    allowed = {"name", "endpoint", "protocol", "default_region", "edition", "description", "options", "is_active",
               "sync_interval_minutes", *CONNECTION_FIELDS}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput("Unknown fields.", detail={f: ["not writable"] for f in sorted(unknown)})
    _clean(name=fields.get("name"), endpoint=fields.get("endpoint"), protocol=fields.get("protocol"),
           options=fields.get("options"), sync_interval_minutes=fields.get("sync_interval_minutes"),
           connection={k: v for k, v in fields.items() if k in CONNECTION_FIELDS})
    credential_type = fields.get("credential_type", platform.credential_type)
    _check_role(credential_type, fields.get("role_arn", platform.role_arn))
    if credentials is None and credential_type != platform.credential_type and credential_type == "sts_token":
        raise InvalidInput("An STS token needs new credentials with its security token.",
                           detail={"credentials": ["required when the credential type changes to sts_token"]})
    before = {key: getattr(platform, key) for key in fields}
    for key, value in fields.items():
        setattr(platform, key, value.strip() if key == "name" else value)
    if credentials is not None:
        creds = _clean_credentials(platform.type, credentials, credential_type)
        platform.credentials_encrypted = encrypt_json(creds)
        platform.access_key_hint = _hint(creds["access_key_id"])
    if projects is not None:
        _check_projects(platform, projects)
        platform.projects.set(projects)
    try:
        with transaction.atomic():
            platform.save()
    except IntegrityError:
        raise Conflict("A platform with this name already exists in the organization.", code="duplicate_name") from None
    after = {key: getattr(platform, key) for key in fields}
    # Credentials are never announced: only that they changed.
    emit(platform.organization_id, platform.topic, {
        "event": "platform_updated", "id": str(platform.id), "name": platform.name, "before": before, "after": after,
        "credentials_changed": credentials is not None, "projects_changed": projects is not None})
    return platform


@transaction.atomic
def platform_delete(*, actor: Any, platform: CloudPlatform) -> None:
    """Remove a platform with its regions, catalog and inventory (the cloud itself is not touched)."""
    require(actor, "clouds:platform:write", platform)
    announcement = {"event": "platform_deleted", "id": str(platform.id), "name": platform.name,
                    "before": {"name": platform.name, "type": platform.type, "endpoint": platform.endpoint},
                    "after": None}
    org_id, topic = platform.organization_id, platform.topic
    platform.delete()
    emit(org_id, topic, announcement)


def _set_health(platform: CloudPlatform, health: str, message: str, checks: list[dict[str, Any]]) -> None:
    platform.health = health
    platform.health_message = message[:500]
    platform.health_checked_at = timezone.now()
    platform.connection_checks = [{k: (str(v)[:500] if k == "message" else v) for k, v in c.items()} for c in checks]
    CloudPlatform.objects.filter(pk=platform.pk).update(
        health=platform.health, health_message=platform.health_message, health_checked_at=platform.health_checked_at,
        connection_checks=platform.connection_checks)


def platform_test(*, actor: Any, platform: CloudPlatform, timeout: float = 8.0) -> dict[str, Any]:
    """Connect with the stored credentials and settings: one cheap call per product the adapter uses, each
    reported (``products``) with the call that failed and the cloud's code and message, then discover
    regions and zones. Healthy when every call answered; unreachable when every failure was transient."""
    require(actor, "clouds:platform:operate", platform)
    try:
        adapter = adapter_for(platform, timeout=timeout)
    except ValueError as exc:  # credentials that cannot be decrypted
        _set_health(platform, CloudPlatform.Health.DEGRADED, str(exc), [])
        return {"ok": False, "health": platform.health, "products": [],
                "error": {"code": "CredentialsUnreadable", "message": str(exc)}}
    checks = adapter.probe()
    regions: list[Region] = []
    try:
        regions = platform_discover_regions(platform=platform, adapter=adapter)
    except CloudCallError as exc:
        if all(c["ok"] for c in checks):  # a failure the per-product calls did not already report
            checks.append({"product": "regions", "action": exc.action or "regions", "ok": False, "code": exc.code,
                           "message": exc.message, "transient": exc.transient})
    failed = [c for c in checks if not c["ok"]]
    if failed:
        first = failed[0]
        health = (CloudPlatform.Health.UNREACHABLE if all(c.get("transient") for c in failed)
                  else CloudPlatform.Health.DEGRADED)
        more = f" (and {len(failed) - 1} more calls failed)" if len(failed) > 1 else ""
        _set_health(platform, health, f"{first['product']} {first['action']}: {first['code']}: "
                                      f"{first['message']}{more}", checks)
        emit(platform.organization_id, platform.topic, {"event": "health", "health": platform.health})
        return {"ok": False, "health": platform.health, "products": checks,
                "regions": [r.region_id for r in regions],
                "error": {k: first.get(k) for k in ("product", "action", "code", "message", "transient")}}
    _set_health(platform, CloudPlatform.Health.HEALTHY,
                f"{len(regions)} regions reachable; {len(checks)} calls answered", checks)
    emit(platform.organization_id, platform.topic, {"event": "health", "health": platform.health})
    return {"ok": True, "health": platform.health, "products": checks, "regions": [r.region_id for r in regions]}


def platform_check_create(*, platform: CloudPlatform, region: str, resource_type: str, params: dict[str, Any],
                          count: int = 1) -> bool:
    """Have the cloud check a create of ``count`` resources before anything exists (its DryRun), where the
    cloud offers such a check: True when it accepted, False when it has none for this type. A refusal
    raises ``CloudCallError`` with the cloud's own code and message. Call it outside a transaction."""
    adapter = adapter_for(platform, region=region)
    return adapter.validate_create(resource_type, region, {**params, "amount": count})


@transaction.atomic
def _store_regions(platform: CloudPlatform, found: list[Any], enable_new: bool) -> list[Region]:
    existing = {r.region_id: r for r in Region.objects.filter(platform=platform)}
    wanted = {r.region_id for r in found}
    Region.objects.filter(platform=platform).exclude(region_id__in=wanted).delete()
    out = []
    for info in found:
        region = existing.get(info.region_id)
        if region is None:
            region = Region.objects.create(platform=platform, region_id=info.region_id, name=info.name,
                                           enabled=enable_new or info.region_id == platform.default_region)
        elif region.name != info.name:
            region.name = info.name
            region.save(update_fields=["name", "discovered_at"])
        zones = {z.zone_id for z in info.zones}
        Zone.objects.filter(region=region).exclude(zone_id__in=zones).delete()
        have = set(Zone.objects.filter(region=region).values_list("zone_id", flat=True))
        Zone.objects.bulk_create([Zone(region=region, zone_id=z.zone_id, name=z.name) for z in info.zones
                                  if z.zone_id not in have])
        out.append(region)
    return out


def platform_discover_regions(*, platform: CloudPlatform, adapter: Any = None) -> list[Region]:
    adapter = adapter or adapter_for(platform)
    found = adapter.regions()
    # A private cloud has a handful of regions, all in use; a public cloud has dozens: only the
    # default one is collected until an administrator enables more.
    enable_new = platform.type != "aws"
    return _store_regions(platform, found, enable_new)


def platform_discover_catalog(*, platform: CloudPlatform, adapter: Any = None) -> dict[str, int]:
    """The services the platform offers (with its names for them) and the flavors of enabled regions."""
    adapter = adapter or adapter_for(platform)
    caps = adapter_class(platform.type).capabilities
    flavors: list[Flavor] = []
    regions = list(Region.objects.filter(platform=platform, enabled=True).values_list("region_id", flat=True))
    for region in regions:
        for f in adapter.flavors(region):
            flavors.append(Flavor(platform=platform, region=region, kind=f.kind, code=f.code, name=f.name or f.code,
                                  vcpu=f.vcpu, memory_mib=f.memory_mib, attributes=f.attributes))
    known = set(CloudService.objects.filter(code__in=caps.services).values_list("code", flat=True))
    with transaction.atomic():
        for code in caps.services:
            if code in known:
                PlatformService.objects.update_or_create(
                    platform=platform, service_id=code,
                    defaults={"display_name": caps.display_names.get(code, code)})
        PlatformService.objects.filter(platform=platform).exclude(service_id__in=caps.services).delete()
        current = {(f.region, f.kind, f.code): f for f in Flavor.objects.filter(platform=platform)}
        fresh = {(f.region, f.kind, f.code): f for f in flavors}
        stale = [f.pk for k, f in current.items() if k not in fresh]
        if stale:
            Flavor.objects.filter(pk__in=stale).delete()
        changed = []
        for key, f in fresh.items():
            old = current.get(key)
            if old is None:
                continue
            if (old.name, old.vcpu, old.memory_mib, old.attributes) != (f.name, f.vcpu, f.memory_mib, f.attributes):
                old.name, old.vcpu, old.memory_mib, old.attributes = f.name, f.vcpu, f.memory_mib, f.attributes
                changed.append(old)
        Flavor.objects.bulk_create([f for k, f in fresh.items() if k not in current])
        if changed:
            Flavor.objects.bulk_update(changed, ["name", "vcpu", "memory_mib", "attributes"])
    return {"services": len(caps.services), "flavors": len(flavors), "regions": len(regions)}


@transaction.atomic
def region_set_enabled(*, actor: Any, platform: CloudPlatform, region_id: str, enabled: bool) -> Region:
    require(actor, "clouds:platform:write", platform)
    region = Region.objects.filter(platform=platform, region_id=region_id).first()
    if region is None:
        raise InvalidInput("No such region on this platform.", detail={"region": ["not found"]})
    region.enabled = enabled
    region.save(update_fields=["enabled"])
    return region


@transaction.atomic
def platform_service_set_enabled(*, actor: Any, platform: CloudPlatform, service: str,
                                 enabled: bool) -> PlatformService:
    """Switch one service of a platform on or off: a switched-off service is not collected (its resources
    stay as last seen). Only a service the platform's adapter offers."""
    require(actor, "clouds:platform:write", platform)
    if service not in adapter_class(platform.type).capabilities.services:
        raise InvalidInput("The platform does not offer this service.", detail={"service": ["not offered"]})
    if not CloudService.objects.filter(code=service).exists():
        raise InvalidInput("This service is not in the catalog.", detail={"service": ["not in the catalog"]})
    caps = adapter_class(platform.type).capabilities
    row, _created = PlatformService.objects.get_or_create(
        platform=platform, service_id=service, defaults={"display_name": caps.display_names.get(service, service)})
    if row.enabled != enabled:
        row.enabled = enabled
        row.save(update_fields=["enabled"])
        emit(platform.organization_id, platform.topic, {"event": "service_switched", "service": service,
                                                        "enabled": enabled})
    return row
