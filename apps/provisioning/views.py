"""Portal pages (catalog -> request form -> timeline with live progress; my resources with actions)
and console pages (approval queue, change records, schedules, topology). Pages read through the
same selectors as the API; every action is an API call made by the page's script."""

from __future__ import annotations

import json
from dataclasses import replace

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from apps.clouds.adapters import adapter_class
from apps.clouds.adapters.base import CloudCallError
from apps.clouds.models import CloudPlatform
from apps.core.pages import searched
from apps.core.pagination import Page, page_of
from apps.organizations.models import Project
from apps.provisioning import offers, requests, selectors, specs
from apps.resources.selectors import resource_list

# The catalog names a few of the projects each cloud serves you; the request form searches them all.
CATALOG_PROJECTS = 6


def _active_platforms():
    return CloudPlatform.objects.filter(is_active=True).select_related("organization")


@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    platforms = []
    for platform in _active_platforms()[:100]:
        named = list(selectors.project_choices(actor=request.user, platform=platform)
                     .order_by("name", "id")[:CATALOG_PROJECTS + 1])
        if named:
            platforms.append((platform, named[:CATALOG_PROJECTS], len(named) > CATALOG_PROJECTS,
                              requestable_types(platform)))
    return render(request, "provisioning/catalog.html", {"platforms": platforms})


def _project_options(request: HttpRequest, platform: CloudPlatform) -> Page:
    """A page of the projects the request form offers on ``platform``, searched by ``?q=``."""
    projects = selectors.project_choices(actor=request.user, platform=platform)
    q = searched(request)
    if q:
        projects = projects.filter(Q(name__icontains=q) | Q(organization__name__icontains=q))
    page = page_of(projects, request, ("name", "id"))
    return replace(page, rows=[(p.pk, f"{p.name} ({p.organization.name})") for p in page.rows])


def _usable_platform(request: HttpRequest, platform_id: str) -> CloudPlatform:
    """An active platform serving at least one project the user may provision in, else 404."""
    platform = _active_platforms().filter(pk=platform_id).first()
    if platform is None or not selectors.project_choices(actor=request.user, platform=platform).exists():
        raise Http404
    return platform


@login_required
def request_form_projects(request: HttpRequest, platform_id: str) -> HttpResponse:
    """The options of the request form's project picker, as the user types."""
    options = _project_options(request, _usable_platform(request, platform_id))
    return render(request, "partials/picker_options.html", {"options": options})


TYPE_LABELS = {"ecs.instance": "ECS instances", "ecs.disk": "Disk", "ecs.security_group": "Security group",
               "vpc.vpc": "VPC", "vpc.vswitch": "vSwitch", "eip.eip": "Elastic IP", "slb.instance": "Load balancer",
               "rds.instance": "RDS database", "redis.instance": "Redis cache", "oss.bucket": "OSS bucket",
               "nat.nat_gateway": "NAT gateway"}


def requestable_types(platform: CloudPlatform) -> list[tuple[str, str]]:
    """(type, label) of every type a request may ask for that the platform's adapter creates."""
    caps = adapter_class(platform.type).capabilities
    return [(t, TYPE_LABELS.get(t, t)) for t in specs.SPECS if caps.supports(t, "create")]


@login_required
def request_form(request: HttpRequest, platform_id: str) -> HttpResponse:
    """The request form of one resource type (``?type=``), generated from what the platform offers in
    the region: zones, classes, engines and specs from the catalog, VPCs, vSwitches and security
    groups from the cloud, and the instances of your projects a new disk may attach to."""
    platform = _usable_platform(request, platform_id)
    types = requestable_types(platform)
    rtype = request.GET.get("type") or "ecs.instance"
    if rtype not in dict(types):
        raise Http404
    projects = _project_options(request, platform)
    region = request.GET.get("region") or platform.default_region
    form = offers.catalog_offers(platform, region)
    error = ""
    try:
        form.update(offers.cloud_offers(platform, region))
    except CloudCallError as exc:
        error = f"The cloud cannot be reached ({exc.code}); the form is incomplete."
        form.update(images=[], vswitches=[], security_groups=[], vpcs=[])
    instances = []
    if rtype == "ecs.disk":
        rows = resource_list(actor=request.user, action="ecs:instance:operate").filter(
            type="ecs.instance", deleted=False, platform=platform, region=region, status__in=["running", "stopped"])
        instances = [{"id": r.id, "name": r.name or r.external_id, "zone": r.zone}
                     for r in rows.order_by("name", "id")[:200]]
    return render(request, "provisioning/request_form.html", {
        "platform": platform, "region": region, "form": form, "projects": projects, "error": error,
        "rtype": rtype, "types": types, "type_name": dict(types)[rtype], "countable": rtype in specs.COUNTABLE,
        "default_name": {"oss.bucket": ""}.get(rtype, rtype.split(".")[1].replace("_", "-")),
        "form_json": json.dumps({"vswitches": form["vswitches"], "security_groups": form["security_groups"],
                                 "engines": form["engines"], "instances": instances})})


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.request_list(actor=request.user).select_related("project", "platform", "requester")[:100]
    return render(request, "provisioning/requests.html", {"rows": rows})


@login_required
def request_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    row = selectors.request_get(actor=request.user, request_id=request_id)
    changes = list(row.changes.select_related("operation", "resource").order_by("name"))
    return render(request, "provisioning/request_detail.html", {
        "r": row, "changes": changes, "events": row.events.select_related("actor"),
        "can_decide": requests.eligible(request.user, row)})


@login_required
def my_resources(request: HttpRequest) -> HttpResponse:
    rows = resource_list(actor=request.user).filter(type="ecs.instance", deleted=False, project__isnull=False) \
        .select_related("platform")[:200]
    types = sorted({(f["code"], f["vcpu"], f["memory_mib"]) for r in rows[:1] for f in
                    offers.catalog_offers(r.platform, r.region)["instance_types"]})
    others = resource_list(actor=request.user).filter(deleted=False, project__isnull=False, type__in=[
        t for t in specs.SPECS if t != "ecs.instance"]).select_related("project").order_by("type", "name")[:300]
    return render(request, "provisioning/my_resources.html", {"rows": rows, "types": types, "others": others})


FACTS = (("Status", "status"), ("Zone", "zone"), ("Class", "class"), ("Spec", "spec"), ("Engine", "engine"),
         ("Version", "engine_version"), ("Category", "category"), ("Size (GiB)", "size_gib"),
         ("Attached to", "instance_id"), ("CIDR block", "cidr_block"), ("VPC", "vpc_id"), ("Address", "ip_address"),
         ("Address", "address"), ("Bandwidth (Mbit/s)", "bandwidth_mbps"), ("Storage (GiB)", "storage_gib"),
         ("Connection", "connection_string"), ("Connection", "connection_domain"), ("ACL", "acl"),
         ("Storage class", "storage_class"), ("Instance type", "instance_type"), ("Private IP", "private_ip"))


@login_required
def resource_page(request: HttpRequest, resource_id: str) -> HttpResponse:
    """A resource of your projects with the operations its state allows (the portal's resource page)."""
    from apps.clouds.catalog import type_name
    from apps.resources.selectors import resource_get

    resource = resource_get(actor=request.user, resource_id=resource_id)
    spec = {**(resource.spec or {}), "status": resource.status, "zone": resource.zone}
    facts = [(label, spec[key]) for label, key in FACTS if spec.get(key) not in (None, "", [])]
    return render(request, "provisioning/resource.html", {"r": resource, "type_name": type_name(resource.type),
                                                           "facts": facts})


@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    rows = list(selectors.approval_queue(actor=request.user).select_related("project", "platform", "requester")[:100])
    for row in rows:
        row.can_decide = requests.eligible(request.user, row)
    recent = selectors.request_list(actor=request.user).exclude(status="pending").select_related(
        "project", "requester")[:20]
    return render(request, "provisioning/approvals.html", {"rows": rows, "recent": recent})


@login_required
def changes(request: HttpRequest) -> HttpResponse:
    rows = selectors.change_list(actor=request.user).select_related("actor", "operation")[:200]
    return render(request, "provisioning/changes.html", {"rows": rows})


@login_required
def schedules(request: HttpRequest) -> HttpResponse:
    rows = selectors.schedule_list(actor=request.user).select_related("resource", "created_by")[:200]
    return render(request, "provisioning/schedules.html", {"rows": rows})


@login_required
def topology(request: HttpRequest) -> HttpResponse:
    projects = Project.objects.filter(pk__in=resource_list(actor=request.user).filter(deleted=False)
                                      .values("project_id")).order_by("name")[:200]
    return render(request, "provisioning/topology.html", {
        "projects": projects, "resource": request.GET.get("resource", ""), "project": request.GET.get("project", "")})


# -- scripts on instances (portal and console share the templates) ----------------------------------

def _surface(request: HttpRequest) -> tuple[str, str]:
    """(base template, URL namespace) of the surface the page is served on."""
    if request.resolver_match and request.resolver_match.namespace == "provisioning-console":
        return "console/base.html", "provisioning-console"
    return "portal/base.html", "provisioning"


@login_required
def scripts_page(request: HttpRequest) -> HttpResponse:
    """The script library (list, create, edit), the run form (a saved or typed-in script, its parameters,
    instances picked by search) and the latest runs. ``?instance=`` picks an instance to start with."""
    from apps.core.scoping import restrict
    from apps.organizations.models import Organization
    from apps.provisioning import scripts

    base, namespace = _surface(request)
    library = list(scripts.script_list(actor=request.user).select_related("project", "updated_by")[:200])
    runs = list(scripts.script_run_list(actor=request.user).select_related("operation", "actor")[:50])
    picked = []
    wanted = request.GET.get("instance", "")
    if wanted:
        row = scripts.instance_choices(actor=request.user).filter(pk=wanted).first()
        if row is not None:
            picked.append({"id": row.pk, "name": row.name or row.external_id, "external_id": row.external_id,
                           "status": row.status})
    places = [{"kind": "project", "id": str(p.pk), "label": f"{p.name} ({p.organization.name})"}
              for p in restrict(Project.objects.select_related("organization"), request.user, scripts.WRITE)
              .order_by("name")[:100]]
    places += [{"kind": "organization", "id": str(o.pk), "label": f"{o.name} (whole organization)"}
               for o in restrict(Organization.objects.all(), request.user, scripts.WRITE).order_by("name")[:50]]
    return render(request, "provisioning/scripts.html", {
        "base": base, "namespace": namespace, "library": library, "runs": runs,
        "page_data": {"picked": picked, "places": places, "run_url": reverse(f"{namespace}:scripts") + "runs/"}})


@login_required
def script_run_page(request: HttpRequest, run_id: str) -> HttpResponse:
    """One run: each instance's status, exit code and output, followed live."""
    from apps.provisioning import scripts

    base, namespace = _surface(request)
    run = scripts.script_run_get(actor=request.user, run_id=run_id)
    return render(request, "provisioning/script_run.html", {
        "base": base, "namespace": namespace, "run": run,
        "targets": run.targets.select_related("resource").order_by("name", "id")})
