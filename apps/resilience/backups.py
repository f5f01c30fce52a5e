"""Backup and recovery: vaults (local or cross-region), backup plans per tenant for ECS disks, RDS, OSS and
NAS, backups run now or on schedule, retention, and restores in place or as a new resource.

A backup or a restore is a ``BackupJob`` with its ``Operation``: the cloud job is started once (its id
saved in the same transaction as the step) and then watched by short re-queued tasks; its progress is
announced live, and a failed job fails its operation (which the alerts app turns into an alert).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.clouds.adapters.base import CloudCallError
from apps.clouds.models import CloudPlatform
from apps.core.errors import Conflict, InvalidInput
from apps.core.events import emit
from apps.core.scoping import require
from apps.core.services import operation_advance, operation_create, operation_fail, operation_succeed
from apps.resilience import cloud
from apps.resilience.models import BackupJob, BackupPlan, Vault

BACKUP_WRITE = "resilience:backup:write"
BACKUP_RUN = "resilience:backup:run"
POLL_SECONDS = 1.0
MAX_ATTEMPTS = 8
SCHEDULE_RE = re.compile(r"^every (?P<hours>[1-9][0-9]{0,3})h$")
DONE = {"COMPLETE", "PARTIAL_COMPLETE", "FINISHED", "SUCCESS"}
FAILED = {"FAILED", "CANCELED", "CANCELLED", "EXPIRED"}


def _topic(org_id: Any) -> str:
    return f"resilience:{org_id}"


def _name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        raise InvalidInput(f"{field} is required (at most 128 characters).", detail={field: ["1..128 characters"]})
    return value.strip()


@transaction.atomic
def vault_create(*, actor: Any, organization: Any, name: str, platform: CloudPlatform, region: str,
                 kind: str = "local", dest_region: str = "") -> Vault:
    """A backup vault of ``organization`` in the cloud (a cross-region one copies to ``dest_region``)."""
    require(actor, BACKUP_WRITE, organization)
    name = _name(name)
    if kind not in Vault.Kind.values:
        raise InvalidInput("kind is local or cross_region.", detail={"kind": ["local or cross_region"]})
    if not isinstance(region, str) or not region:
        raise InvalidInput("region is required.", detail={"region": ["required"]})
    if kind == Vault.Kind.CROSS_REGION and (not dest_region or dest_region == region):
        raise InvalidInput("A cross-region vault needs another dest_region.", detail={"dest_region": ["required"]})
    if Vault.objects.filter(organization=organization, name=name).exists():
        raise Conflict(f"A vault named {name!r} exists.", code="duplicate_name", detail={"name": ["already used"]})
    external = cloud.call(platform, region, "vault_create", name=name, kind=kind,
                          dest_region=dest_region or None)
    vault = Vault.objects.create(organization=organization, name=name, platform=platform, region=region, kind=kind,
                                 dest_region=dest_region if kind == Vault.Kind.CROSS_REGION else "",
                                 external_id=external)
    emit(organization.pk, _topic(organization.pk), {"event": "vault_created", "name": name, "id": vault.id})
    return vault


def _schedule(schedule: Any) -> tuple[str, str]:
    """("every <n>h" or "", HBR's schedule string)."""
    if schedule in (None, ""):
        return "", f"I|{int(timezone.now().timestamp())}|P3650D"
    match = SCHEDULE_RE.match(str(schedule)) if isinstance(schedule, str) else None
    if match is None:
        raise InvalidInput("schedule is empty (manual) or 'every <n>h'.", detail={"schedule": ["every <n>h"]})
    return schedule, f"I|{int(timezone.now().timestamp())}|PT{int(match['hours'])}H"


@transaction.atomic
def backup_plan_create(*, actor: Any, vault: Vault, name: str, source_type: str, source_id: str,
                       schedule: str = "", retention_days: int = 7) -> BackupPlan:
    """A periodic or manual backup plan of a tenant's ECS disk, RDS instance, OSS bucket or NAS file system."""
    require(actor, BACKUP_WRITE, vault)
    name = _name(name)
    if source_type not in BackupPlan.Source.values:
        raise InvalidInput("source_type is ECS_DISK, RDS, OSS or NAS.", detail={"source_type": ["unknown"]})
    if not isinstance(source_id, str) or not source_id.strip():
        raise InvalidInput("source_id is required.", detail={"source_id": ["required"]})
    if not isinstance(retention_days, int) or isinstance(retention_days, bool) or not 1 <= retention_days <= 3650:
        raise InvalidInput("retention_days must be from 1 to 3650.", detail={"retention_days": ["1..3650"]})
    schedule, hbr_schedule = _schedule(schedule)
    external = cloud.call(vault.platform, vault.region, "backup_plan_create", vault_id=vault.external_id,
                          source_type=source_type, source_id=source_id.strip(), schedule=hbr_schedule,
                          retention_days=retention_days, name=name)
    plan = BackupPlan.objects.create(organization_id=vault.organization_id, name=name, vault=vault,
                                     source_type=source_type, source_id=source_id.strip(), schedule=schedule,
                                     retention_days=retention_days, external_id=external)
    emit(vault.organization_id, _topic(vault.organization_id), {"event": "plan_created", "name": name,
                                                                "id": plan.id})
    return plan


def _job_start(plan: BackupPlan, *, kind: str, actor: Any, target: str = "", params: dict[str, Any] | None = None
               ) -> BackupJob:
    op = operation_create(organization=plan.organization, kind=f"resilience.{kind}", actor=actor,
                          target_type="resilience.backup_plan", target_id=plan.id, target_name=plan.name,
                          params={"plan": plan.id, **(params or {})}, message="Queued")
    job = BackupJob.objects.create(organization_id=plan.organization_id, plan=plan, kind=kind, target=target,
                                   operation=op, expires_at=timezone.now() + timedelta(days=plan.retention_days)
                                   if kind == BackupJob.Kind.BACKUP else None)
    job_id = job.id
    from apps.resilience.tasks import backup_job_task

    transaction.on_commit(lambda: backup_job_task.apply_async((job_id, 1)))
    return job


@transaction.atomic
def backup_run(*, actor: Any, plan: BackupPlan) -> BackupJob:
    """Back the plan's source up now; refused (409) while one of its backups is running."""
    require(actor, BACKUP_RUN, plan)
    locked = BackupPlan.objects.select_for_update().get(pk=plan.pk)
    if locked.jobs.filter(kind=BackupJob.Kind.BACKUP, status="running").exists():
        raise Conflict("A backup of this plan is running.", code="backup_running")
    return _job_start(locked, kind=BackupJob.Kind.BACKUP, actor=actor)


@transaction.atomic
def restore_start(*, actor: Any, backup: BackupJob, target: str) -> BackupJob:
    """Restore a finished backup over its source (``in_place``) or as a new resource (``new``)."""
    require(actor, BACKUP_RUN, backup.plan)
    if target not in ("in_place", "new"):
        raise InvalidInput("target is in_place or new.", detail={"target": ["in_place or new"]})
    if backup.kind != BackupJob.Kind.BACKUP or backup.status != "succeeded" or not backup.external_id:
        raise Conflict("Only a finished backup can be restored.", code="backup_not_ready",
                       detail={"status": backup.status})
    return _job_start(backup.plan, kind=BackupJob.Kind.RESTORE, actor=actor, target=target,
                      params={"backup": backup.id, "target": target, "snapshot": _snapshot_of(backup)})


def _snapshot_of(backup: BackupJob) -> str:
    return backup.external_id.split("|", 1)[1] if "|" in backup.external_id else ""


def job_step(*, job_id: str, tick: int) -> tuple[bool, float, int]:
    """One tick of a backup or restore job: start it in the cloud once, then follow it to its end."""
    job = BackupJob.objects.select_related("plan__vault__platform", "operation").filter(pk=job_id).first()
    if job is None or job.status != "running" or job.operation.is_final:
        return False, 0.0, tick
    vault = job.plan.vault
    platform, region = vault.platform, vault.region
    try:
        if not job.external_id:
            if job.kind == BackupJob.Kind.BACKUP:
                external = cloud.call(platform, region, "backup_job_run", job.plan.external_id)
            else:
                params = job.operation.params or {}
                external = cloud.call(platform, region, "restore_job_create", snapshot_id=params.get("snapshot", ""),
                                      target=job.target, name=f"restore-{job.id}")
            with transaction.atomic():
                updated = BackupJob.objects.filter(pk=job.pk, external_id="").update(external_id=external)
                if updated:
                    operation_advance(operation_id=job.operation_id, step=tick, progress=5, message="Started")
            return True, POLL_SECONDS, tick + 1
        fn = "backup_job_get" if job.kind == BackupJob.Kind.BACKUP else "restore_job_get"
        remote_id = job.external_id.split("|", 1)[0]
        state = cloud.call(platform, region, fn, remote_id)
    except CloudCallError as exc:
        if exc.transient and tick < 1000:
            return True, POLL_SECONDS * 2, tick
        _job_end(job, ok=False, error=f"{exc.code}: {exc.message}")
        return False, 0.0, tick
    if state is None:
        _job_end(job, ok=False, error="The cloud no longer reports the job.")
        return False, 0.0, tick
    status = str(state.get("status", "")).upper()
    progress = int(state.get("progress") or 0)
    BackupJob.objects.filter(pk=job.pk).update(progress=min(100, progress), bytes_done=int(state.get("bytes") or 0))
    if status in DONE:
        if job.kind == BackupJob.Kind.BACKUP and state.get("snapshot_id"):
            BackupJob.objects.filter(pk=job.pk).update(external_id=f"{remote_id}|{state['snapshot_id']}")
        _job_end(job, ok=True, result={"status": status, "target_id": state.get("target_id") or "",
                                       "snapshot_id": state.get("snapshot_id") or ""})
        return False, 0.0, tick
    if status in FAILED:
        _job_end(job, ok=False, error=f"The cloud job ended {status}.")
        return False, 0.0, tick
    operation_advance(operation_id=job.operation_id, step=tick, progress=max(5, min(95, progress)),
                      message=f"{status.title()} {progress}%")
    return True, POLL_SECONDS, tick + 1


def _job_end(job: BackupJob, *, ok: bool, error: str = "", result: dict[str, Any] | None = None) -> None:
    with transaction.atomic():
        current = BackupJob.objects.select_for_update().get(pk=job.pk)
        if current.status != "running":
            return
        current.status = "succeeded" if ok else "failed"
        current.progress = 100 if ok else current.progress
        current.error = error[:1000]
        current.finished_at = timezone.now()
        current.save()
        if ok:
            operation_succeed(operation_id=current.operation_id, message=f"{current.get_kind_display()} finished",
                              result=result or {})
        else:
            operation_fail(operation_id=current.operation_id, error=error,
                           message=f"{current.get_kind_display()} failed")
        emit(current.organization_id, _topic(current.organization_id),
             {"event": f"{current.kind}_{current.status}", "name": job.plan.name, "id": current.id, "error": error})


def run_due() -> dict[str, int]:
    """Start the backups whose schedule is due, and forget backups past their retention."""
    now = timezone.now()
    started = 0
    for plan in BackupPlan.objects.exclude(schedule=""):
        match = SCHEDULE_RE.match(plan.schedule)
        if match is None:
            continue
        last = plan.jobs.filter(kind=BackupJob.Kind.BACKUP).order_by("-created_at").first()
        if last is not None and last.created_at > now - timedelta(hours=int(match["hours"])):
            continue
        try:
            backup_run(actor=None, plan=plan)
            started += 1
        except Conflict:
            continue
    expired = BackupJob.objects.filter(kind=BackupJob.Kind.BACKUP, expires_at__lt=now).exclude(status="expired") \
        .update(status="expired")
    return {"started": started, "expired": expired}


def reconcile() -> dict[str, int]:
    """Re-queue running jobs whose task was lost (nothing has moved their operation for a while)."""
    from apps.resilience.tasks import backup_job_task

    cutoff = timezone.now() - timedelta(seconds=120)
    resumed = 0
    for job in BackupJob.objects.filter(status="running", operation__updated_at__lt=cutoff)[:200]:
        backup_job_task.apply_async((job.id, job.operation.step + 1))
        resumed += 1
    return {"resumed": resumed}
