"""Builders of disaster-recovery objects for tests (rows made directly: no cloud is called)."""

from __future__ import annotations

from typing import Any

from apps.clouds.tests.factories import platform as make_platform
from apps.core.services import operation_create
from apps.resilience.models import (
    BackupJob,
    BackupPlan,
    PlanRun,
    PlanStep,
    ProtectedMember,
    ProtectionGroup,
    Vault,
)
from apps.resources.tests.factories import resource as make_resource


def isolation_objects(org: Any) -> list[Any]:
    """A protection group of ``org`` with a member, a finished drill with a step, a vault, a backup plan
    and a backup job."""
    platform = make_platform(org, name=f"dr-{org.pk.hex[:8]}")
    disk = make_resource(platform=platform, organization=org, type="ecs.disk")
    group = ProtectionGroup.objects.create(
        organization=org, name=f"dr-{org.pk.hex[:8]}", primary_platform=platform, primary_region="cn-hangzhou",
        secondary_platform=platform, secondary_region="cn-shanghai")
    member = ProtectedMember.objects.create(organization=org, group=group, resource=disk, resource_type=disk.type,
                                            external_id=disk.external_id, channel="disk_pair", replica_id="pair-iso")
    op = operation_create(organization=org, kind="resilience.drill", target_type="resilience.group",
                          target_id=group.id)
    run = PlanRun.objects.create(organization=org, group=group, kind="drill", status="succeeded", operation=op)
    step = PlanStep.objects.create(organization=org, run=run, member=member, batch=1, seq=1, kind="cloud",
                                   action="drill_copy", title="copy", status="succeeded")
    vault = Vault.objects.create(organization=org, name=f"v-{org.pk.hex[:8]}", platform=platform,
                                 region="cn-hangzhou", external_id="v-iso")
    plan = BackupPlan.objects.create(organization=org, name="daily", vault=vault, source_type="ECS_DISK",
                                     source_id=disk.external_id, external_id="plan-iso")
    job = BackupJob.objects.create(organization=org, plan=plan, status="succeeded", external_id="job-iso|s-iso",
                                   operation=operation_create(organization=org, kind="resilience.backup"))
    return [group, member, run, step, vault, plan, job]
