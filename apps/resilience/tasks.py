"""Celery tasks of disaster recovery: each loads by id, calls one service step and re-queues itself with
a countdown instead of sleeping."""

from celery import shared_task

from apps.resilience import backups, plans, services


@shared_task(acks_late=True, ignore_result=True)
def plan_step_task(step_id: str, tick: int) -> None:
    more, delay, next_tick = plans.step_run(step_id=step_id, tick=tick)
    if more:
        plan_step_task.apply_async((step_id, next_tick), countdown=delay)


@shared_task(acks_late=True, ignore_result=True)
def plan_round_task(run_id: str, tick: int) -> None:
    more, delay, next_tick = plans.batch_round(run_id=run_id, tick=tick)
    if more:
        plan_round_task.apply_async((run_id, next_tick), countdown=delay)


@shared_task(acks_late=True, ignore_result=True)
def group_setup_task(group_id: str, attempt: int = 1) -> None:
    counts = services.group_setup(group_id=group_id)
    if counts["pending"] and attempt < 30:
        group_setup_task.apply_async((group_id, attempt + 1), countdown=min(10, attempt))


@shared_task(acks_late=True, ignore_result=True)
def rpo_poll_task() -> None:
    services.poll_all()


@shared_task(acks_late=True, ignore_result=True)
def reconcile_task() -> None:
    plans.reconcile()
    backups.reconcile()


@shared_task(acks_late=True, ignore_result=True)
def backup_job_task(job_id: str, tick: int) -> None:
    more, delay, next_tick = backups.job_step(job_id=job_id, tick=tick)
    if more:
        backup_job_task.apply_async((job_id, next_tick), countdown=delay)


@shared_task(acks_late=True, ignore_result=True)
def backup_schedule_task() -> None:
    backups.run_due()
