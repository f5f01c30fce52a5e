"""Console pages of cloud platforms: the list with a registration form, a platform's detail (health,
the per-product result of "Test connection", connection settings, regions, services, flavors, schedule,
sync history and "Sync now" followed live), the catalog.

Pages call the same selectors and services as the API; the sync history and the sync itself go
through the inventory API from the page's script (the clouds app does not import the inventory).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.clouds import selectors, services
from apps.clouds.adapters import adapter_types
from apps.clouds.models import CloudPlatform, Flavor, PlatformService, Region
from apps.core.errors import ApplicationError, InvalidInput
from apps.organizations import selectors as org_selectors


def _lines(text: str, name: str, *, lists: bool = False) -> dict[str, Any]:
    """The ``key=value`` lines of a text area (values split at commas when ``lists``)."""
    out: dict[str, Any] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        key, sep, value = line.strip().partition("=")
        if not line.strip():
            continue
        if not sep or not key.strip():
            raise InvalidInput(f"{name}: line {number} is not key=value.", detail={name: [f"line {number}"]})
        out[key.strip()] = [v.strip() for v in value.split(",") if v.strip()] if lists else value.strip()
    return out


def _connection(post: Any) -> dict[str, Any]:
    """The connection settings of a platform form."""
    return {"gateway": post.get("gateway", "").strip(), "endpoints": _lines(post.get("endpoints", ""), "endpoints"),
            "apsara_organization_id": post.get("apsara_organization_id", "").strip(),
            "apsara_resource_set_id": post.get("apsara_resource_set_id", "").strip(),
            "ca_bundle": post.get("ca_bundle", "").strip(), "verify_tls": post.get("skip_tls_verify") != "1",
            "oss_clusters": _lines(post.get("oss_clusters", ""), "oss_clusters", lists=True),
            "credential_type": post.get("credential_type", "access_key"), "role_arn": post.get("role_arn", "").strip()}


def _credentials(post: Any) -> dict[str, str]:
    credentials = {"access_key_id": post.get("access_key_id", ""),
                   "access_key_secret": post.get("access_key_secret", "")}
    if post.get("security_token", "").strip():
        credentials["security_token"] = post["security_token"].strip()
    return credentials


@login_required
def platform_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            org = org_selectors.organization_get(actor=request.user, organization_id=request.POST.get("organization"))
            platform = services.platform_create(
                actor=request.user, organization=org, type=request.POST.get("type", ""),
                name=request.POST.get("name", ""), endpoint=request.POST.get("endpoint", "").strip(),
                protocol=request.POST.get("protocol", "https"),
                default_region=request.POST.get("default_region", "").strip(),
                credentials=_credentials(request.POST), **_connection(request.POST))
            messages.success(request, f"Registered {platform.name}.")
            return redirect("clouds:platform", platform_id=platform.pk)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("clouds:platforms")
    platforms = selectors.platform_list(actor=request.user).order_by("name")[:500]
    orgs = org_selectors.organization_list(actor=request.user)[:500]
    return render(request, "clouds/platforms.html", {
        "platforms": platforms, "organizations": orgs, "credential_types": CloudPlatform.CredentialType.choices,
        "types": [(name, cls.display_name) for name, cls in sorted(adapter_types().items())],
    })


@login_required
def platform_detail(request: HttpRequest, platform_id: str) -> HttpResponse:
    platform = selectors.platform_get(actor=request.user, platform_id=platform_id)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "test":
                result = services.platform_test(actor=request.user, platform=platform)
                if result["ok"]:
                    messages.success(request, f"Connected: {len(result['regions'])} regions, "
                                              f"{len(result['products'])} calls answered.")
                else:
                    error = result["error"]
                    where = f"{error['product']} {error['action']}: " if error.get("product") else ""
                    messages.error(request, f"{where}{error['code']}: {error['message']}")
            elif request.POST.get("action") == "connection":
                credentials = _credentials(request.POST) if request.POST.get("access_key_secret") else None
                services.platform_update(actor=request.user, platform=platform, credentials=credentials,
                                         **_connection(request.POST))
                messages.success(request, "Connection settings saved; test the connection to check them.")
            elif request.POST.get("action") == "schedule":
                try:
                    minutes = int(request.POST.get("sync_interval_minutes", "0"))
                except ValueError:
                    minutes = -1
                services.platform_update(actor=request.user, platform=platform, sync_interval_minutes=minutes)
                messages.success(request, "Schedule saved.")
            elif request.POST.get("action") == "region":
                services.region_set_enabled(actor=request.user, platform=platform,
                                            region_id=request.POST.get("region", ""),
                                            enabled=request.POST.get("enabled") == "1")
                messages.success(request, "Region updated.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("clouds:platform", platform_id=platform.pk)
    regions = Region.objects.filter(platform=platform).annotate(zone_count=Count("zones"))
    flavors = (Flavor.objects.filter(platform=platform, kind="instance_type").order_by("region", "vcpu", "memory_mib")
               [:200])
    return render(request, "clouds/platform_detail.html", {
        "platform": platform, "regions": regions, "flavors": flavors,
        "endpoint_lines": "\n".join(f"{k}={v}" for k, v in sorted((platform.endpoints or {}).items())),
        "cluster_lines": "\n".join(f"{k}={','.join(v if isinstance(v, list) else [v])}"
                                   for k, v in sorted((platform.oss_clusters or {}).items())),
        "credential_types": platform.CredentialType.choices,
        "services": PlatformService.objects.filter(platform=platform).select_related("service"),
        "capabilities": adapter_types()[platform.type].capabilities if platform.type in adapter_types() else None,
    })


@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    """The shared catalog, and per platform the user may read: each service, the types collected and those
    that can be requested, with a switch (for those who may change the platform)."""
    if request.method == "POST":
        try:
            platform = selectors.platform_get(actor=request.user, platform_id=request.POST.get("platform", ""))
            enabled = request.POST.get("enabled") == "1"
            service = request.POST.get("service", "")
            row = services.platform_service_set_enabled(actor=request.user, platform=platform, service=service,
                                                        enabled=enabled)
            messages.success(request, f"{row.display_name} is {'collected' if enabled else 'no longer collected'} "
                                      f"on {platform.name}.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("clouds:catalog")
    platforms = list(selectors.platform_list(actor=request.user).order_by("name"))
    writable = set(selectors.platform_list(actor=request.user, action="clouds:platform:write")
                   .values_list("pk", flat=True))
    known = adapter_types()
    return render(request, "clouds/catalog.html", {
        "categories": selectors.catalog_tree(),
        "platforms": [{"platform": p, "can_switch": p.pk in writable,
                       "services": selectors.platform_service_states(p) if p.type in known else []}
                      for p in platforms],
    })
