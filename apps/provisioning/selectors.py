"""Reads of provisioning: requests, changes, schedules and policies through ``restrict``."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from apps.core.errors import NotFound
from apps.core.scoping import authorize, restrict
from apps.organizations.models import Project
from apps.provisioning.models import ApprovalPolicy, ChangeRecord, ProvisioningRequest, ScheduledOperation


def request_list(*, actor: Any) -> QuerySet:
    return ProvisioningRequest.objects.restrict(actor, "provisioning:request:read")


def approval_queue(*, actor: Any) -> QuerySet:
    return ProvisioningRequest.objects.restrict(actor, "provisioning:request:approve").filter(
        status=ProvisioningRequest.Status.PENDING)


def change_list(*, actor: Any) -> QuerySet:
    return ChangeRecord.objects.restrict(actor, "provisioning:change:read")


def schedule_list(*, actor: Any) -> QuerySet:
    return ScheduledOperation.objects.restrict(actor, "provisioning:schedule:read")


def policy_list(*, actor: Any) -> QuerySet:
    return ApprovalPolicy.objects.restrict(actor, "provisioning:policy:read")


def request_topic_org(user: Any, key: str) -> str | None:
    org_id = request_list(actor=user).filter(pk=key).values_list("organization_id", flat=True).first()
    return str(org_id) if org_id else None


def request_get(*, actor: Any, request_id: str) -> ProvisioningRequest:
    row = request_list(actor=actor).select_related("platform", "project", "requester").filter(pk=request_id).first()
    if row is None:
        raise NotFound("Request not found.")
    return row


def project_choices(*, actor: Any, platform: Any, action: str = "ecs:instance:create") -> QuerySet[Project]:
    """The projects ``platform`` serves (those of its organization and below it, and those listed
    on it) in which ``actor`` may ``action``: all of them when the actor holds it on the platform
    itself, else those ``restrict`` leaves. The request service checks the chosen one again."""
    served = Project.objects.select_related("organization").filter(
        Q(organization__path__startswith=platform.organization.path) | Q(pk__in=platform.projects.values("pk")))
    if authorize(actor, action, ProvisioningRequest(platform=platform)):
        return served
    return restrict(served, actor, action)


def resource_details(*, resource: Any) -> dict[str, Any]:
    """What the cloud lists about a resource the caller may read (rules, listeners, accounts...): a
    cloud call, so never inside a transaction. ``{}`` for a released resource or a type with none."""
    from apps.clouds.adapters import adapter_for

    if resource.deleted:
        return {}
    adapter = adapter_for(resource.platform, region=resource.region)
    return adapter.details(resource.type, resource.region, resource.external_id)


ACTION_LABELS = {"start": "Start", "stop": "Stop", "reboot": "Restart", "resize": "Resize", "attach": "Attach",
                 "detach": "Detach", "release": "Release"}


def resource_panel(*, actor: Any, resource: Any) -> dict[str, Any]:
    """What a resource page offers now (no cloud call): the lifecycle actions its state, its cloud and
    the caller's permissions allow, the day-2 operations of its state, the instances it may attach to
    or serve (a disk's zone, a load balancer's or an EIP's region) and the sizes it may be resized to."""
    from apps.clouds.adapters import adapter_class
    from apps.clouds.models import Flavor
    from apps.core.errors import Conflict
    from apps.provisioning import day2
    from apps.provisioning.lifecycle import permission_for
    from apps.provisioning.statemachine import ACTIONS, ATTACHABLE, CLOUD_CALL, check_transition
    from apps.resources.models import Resource

    caps = adapter_class(resource.platform.type).capabilities
    actions = []
    for action in ACTIONS:
        if action == "modify" or not caps.supports(resource.type, CLOUD_CALL[action]):
            continue
        if not authorize(actor, permission_for(resource.type, action), resource):
            continue
        if action in ("attach", "detach") and resource.type not in ATTACHABLE:
            continue
        try:
            check_transition(resource, action)
        except Conflict:
            continue
        actions.append({"action": action, "label": ACTION_LABELS[action]})
    may_modify = caps.supports(resource.type, "modify") and authorize(actor, permission_for(resource.type, "modify"),
                                                                        resource)
    operations = day2.allowed(resource) if may_modify else []
    instances = []
    if resource.type in ("ecs.disk", "eip.eip", "slb.instance"):
        rows = Resource.objects.restrict(actor, "ecs:instance:operate").filter(
            type="ecs.instance", deleted=False, platform_id=resource.platform_id, region=resource.region,
            status__in=["running", "stopped"])
        if resource.type == "ecs.disk":
            rows = rows.filter(zone=resource.zone)
        instances = [{"id": r.id, "name": r.name or r.external_id, "external_id": r.external_id, "zone": r.zone}
                     for r in rows.order_by("name", "id")[:200]]
    kinds = {"ecs.instance": "instance_type", "rds.instance": "rds_class", "redis.instance": "redis_class",
             "slb.instance": "slb_spec"}
    sizes = []
    if resource.type in kinds and any(a["action"] == "resize" for a in actions):
        sizes = list(Flavor.objects.filter(platform_id=resource.platform_id, region=resource.region,
                                           kind=kinds[resource.type]).order_by("code").values_list("code", flat=True))
    return {"actions": actions, "operations": operations, "instances": instances, "sizes": sizes}
