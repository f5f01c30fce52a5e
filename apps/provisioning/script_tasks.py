"""Celery tasks of script runs (``apps.provisioning.scripts``): one step per task, re-queued with a
countdown while the cloud runs the script; the reconciler resumes runs whose worker died.

Imported by the app's ``ready()`` so every worker (the embedded one and the distributed ones) knows
them; Celery's autodiscovery imports only ``tasks`` modules."""

from celery import shared_task

from apps.provisioning import scripts


@shared_task(acks_late=True, ignore_result=True)
def script_run_step_task(run_id: str, step: int) -> None:
    more, delay, next_step = scripts.script_run_step(run_id=run_id, step=step)
    if more:
        script_run_step_task.apply_async((run_id, next_step), countdown=delay)


@shared_task(acks_late=True, ignore_result=True)
def script_run_reconcile_task() -> None:
    scripts.script_run_reconcile()
