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
