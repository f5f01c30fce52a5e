"""Scheduled operations: one run at a time, or a recurring power schedule (crontab, UTC), each a
django-celery-beat periodic task that starts the operation as its author would have."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from apps.core.errors import ApplicationError, Forbidden, InvalidInput
from apps.core.events import emit
from apps.core.scoping import authorize
from apps.provisioning.lifecycle import operation_start, permission_for
from apps.provisioning.models import ScheduledOperation

TASK = "apps.provisioning.tasks.scheduled_operation_task"
SCHEDULABLE = ("start", "stop", "reboot")


def _crontab(cron: str) -> CrontabSchedule:
    parts = cron.split()
    if len(parts) != 5:
        raise InvalidInput("cron takes five fields: minute hour day-of-month month day-of-week.",
                           detail={"cron": ["five fields"]})
    minute, hour, dom, month, dow = parts
    schedule = CrontabSchedule(minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow,
                               timezone="UTC")
    try:
        schedule.schedule  # noqa: B018 - parses the fields
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"cron is not valid: {exc}", detail={"cron": [str(exc)]}) from None
    found = CrontabSchedule.objects.filter(minute=minute, hour=hour, day_of_month=dom, month_of_year=month,
                                           day_of_week=dow, timezone="UTC").first()
    if found:
        return found
    schedule.save()
    return schedule


@transaction.atomic
def schedule_create(*, actor: Any, resource: Any, action: str, run_at: Any = None, cron: str = "",
                    comment: str = "") -> ScheduledOperation:
    """Needs the operation's own permission on the resource; exactly one of ``run_at`` (future) and ``cron``."""
    if action not in SCHEDULABLE:
        raise InvalidInput(f"Schedulable actions: {', '.join(SCHEDULABLE)}.", detail={"action": ["not schedulable"]})
    if not authorize(actor, permission_for(resource.type, action), resource):
        raise Forbidden(f"You may not {action} this resource.")
    if bool(run_at) == bool(cron):
        raise InvalidInput("Give either run_at or cron.", detail={"run_at": ["run_at or cron"]})
    if run_at and run_at <= timezone.now():
        raise InvalidInput("run_at must be in the future.", detail={"run_at": ["in the past"]})
    if len(comment) > 500:
        raise InvalidInput("comment is at most 500 characters.", detail={"comment": ["too long"]})
    sched = ScheduledOperation.objects.create(
        organization_id=resource.organization_id, project_id=resource.project_id, resource=resource, action=action,
        run_at=run_at, cron=cron.strip(), comment=comment,
        created_by=actor if getattr(actor, "is_authenticated", False) else None)
    kwargs: dict[str, Any] = {"name": f"provisioning {sched.id}", "task": TASK, "args": json.dumps([sched.id])}
    if run_at:
        kwargs.update(clocked=ClockedSchedule.objects.create(clocked_time=run_at), one_off=True)
    else:
        kwargs["crontab"] = _crontab(cron)
    sched.periodic_task = PeriodicTask.objects.create(**kwargs)
    sched.save(update_fields=["periodic_task"])
    emit(sched.organization_id, f"schedule:{sched.id}", {"event": "created", "id": str(sched.id),
                                                        "resource": str(resource.id), "action": sched.action},
         also=[(sched.organization_id, f"resource:{resource.id}")])
    return sched


@transaction.atomic
def schedule_delete(*, actor: Any, schedule: ScheduledOperation) -> None:
    if not authorize(actor, permission_for(schedule.resource.type, schedule.action), schedule.resource):
        raise Forbidden()
    task = schedule.periodic_task
    schedule_id = schedule.id
    schedule.delete()
    if task is not None:
        task.delete()
    emit(schedule.organization_id, f"schedule:{schedule_id}", {"event": "deleted", "id": str(schedule_id),
                                                              "resource": str(schedule.resource_id)},
         also=[(schedule.organization_id, f"resource:{schedule.resource_id}")])


def schedule_run(*, schedule_id: str) -> str | None:
    """Start the scheduled operation now; a refusal (busy, wrong state) is recorded on the schedule."""
    sched = ScheduledOperation.objects.select_related("resource", "created_by").filter(pk=schedule_id).first()
    if sched is None or not sched.enabled:
        return None
    sched.last_run_at = timezone.now()
    try:
        change = operation_start(actor=sched.created_by, resource=sched.resource, action=sched.action,
                                 comment=sched.comment or f"Scheduled {sched.action}", schedule=sched,
                                 check=sched.created_by is not None)
        sched.last_operation_id, sched.last_error = change.operation_id, ""
    except ApplicationError as exc:
        sched.last_error = exc.message[:500]
    if sched.run_at:
        sched.enabled = False
    sched.save(update_fields=["last_run_at", "last_operation_id", "last_error", "enabled"])
    return sched.last_operation_id or None
