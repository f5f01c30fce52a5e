"""Reads of disaster recovery, each through ``restrict``: what is missing and what is not yours are the
same ``NotFound``."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from apps.core.errors import NotFound
from apps.core.scoping import authorize, restrict
from apps.organizations.models import Organization
from apps.resilience.models import BackupJob, BackupPlan, PlanRun, PlanStep, ProtectedMember, ProtectionGroup, Vault

GROUP_READ = "resilience:group:read"
PLAN_READ = "resilience:plan:read"
BACKUP_READ = "resilience:backup:read"


def group_list(*, actor: Any, action: str = GROUP_READ) -> QuerySet:
    return restrict(ProtectionGroup.objects.select_related("primary_platform", "secondary_platform"), actor, action)


def group_get(*, actor: Any, pk: Any, action: str = GROUP_READ) -> ProtectionGroup:
    group = group_list(actor=actor, action=action).filter(pk=pk).first()
    if group is None:
        raise NotFound("Protection group not found.")
    return group


def member_list(*, actor: Any, action: str = GROUP_READ) -> QuerySet:
    return restrict(ProtectedMember.objects.select_related("group"), actor, action)


def run_list(*, actor: Any, action: str = PLAN_READ) -> QuerySet:
    return restrict(PlanRun.objects.select_related("group", "operation"), actor, action)


def step_list(*, actor: Any, action: str = PLAN_READ) -> QuerySet:
    return restrict(PlanStep.objects.select_related("run", "member"), actor, action)


def vault_list(*, actor: Any, action: str = BACKUP_READ) -> QuerySet:
    return restrict(Vault.objects.select_related("platform"), actor, action)


def backup_plan_list(*, actor: Any, action: str = BACKUP_READ) -> QuerySet:
    return restrict(BackupPlan.objects.select_related("vault"), actor, action)


def backup_job_list(*, actor: Any, action: str = BACKUP_READ) -> QuerySet:
    return restrict(BackupJob.objects.select_related("plan", "operation"), actor, action)


def live_rpo(member: ProtectedMember, now: Any = None) -> float | None:
    """A member's RPO now: the age of its last recovery point as last read from the cloud."""
    if member.last_recovery_point is None:
        return None
    return max(0.0, ((now or timezone.now()) - member.last_recovery_point).total_seconds())


_REPLICATED = Q(members__state=ProtectedMember.State.JOINED) & ~Q(members__channel=ProtectedMember.Channel.NONE)


def with_live_rpo(groups: QuerySet) -> QuerySet:
    """``groups`` with what their live RPO is computed from, in the same query: the oldest last recovery
    point of their replicated members, and how many of those have none."""
    return groups.annotate(
        live_oldest_point=Min("members__last_recovery_point", filter=_REPLICATED),
        live_replicated=Count("members", filter=_REPLICATED),
        live_unreplicated=Count("members", filter=_REPLICATED & Q(members__last_recovery_point__isnull=True)))


def group_live_rpo(group: ProtectionGroup, now: Any = None) -> float | None:
    """A group's RPO now: the age of the oldest last recovery point among its replicated members (the
    points as last read from the cloud, at ``rpo_checked_at``), so it grows between reads as the truth
    does. ``None`` when a member has no recovery point yet, or nothing is replicated."""
    if not hasattr(group, "live_oldest_point"):
        row = with_live_rpo(ProtectionGroup.objects.filter(pk=group.pk)).values(
            "live_oldest_point", "live_replicated", "live_unreplicated").first() or {}
        for key in ("live_oldest_point", "live_replicated", "live_unreplicated"):
            setattr(group, key, row.get(key))
    if not group.live_replicated or group.live_unreplicated or group.live_oldest_point is None:
        return None
    return max(0.0, ((now or timezone.now()) - group.live_oldest_point).total_seconds())


def group_live_breached(group: ProtectionGroup, rpo: float | None) -> bool:
    """Whether the live RPO (``group_live_rpo``) misses the target: over it, or unknown while something is
    replicated (a member with no recovery point at all)."""
    if not getattr(group, "live_replicated", 0):
        return False
    return rpo is None or rpo > group.target_rpo_seconds


def resilience_topic_org(user: Any, key: str) -> str | None:
    """``resilience:<group id>`` for a group the user may read; ``resilience:<organization id>`` (backups,
    every group's events) for an organization where the user may read protection groups."""
    if key.startswith("pg-"):
        group = restrict(ProtectionGroup.objects.filter(pk=key), user, GROUP_READ).only("organization_id").first()
        return str(group.organization_id) if group else None
    try:
        org = Organization.objects.filter(pk=key).first()
    except Exception:  # not a UUID
        return None
    if org is None or not authorize(user, GROUP_READ, org):
        return None
    return str(org.pk)
