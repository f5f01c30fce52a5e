from celery import shared_task

from apps.provisioning import services


@shared_task(acks_late=True, ignore_result=True)
def lifecycle_step_task(change_id: str, step: int) -> None:
    more, delay, next_step = services.lifecycle_step(change_id=change_id, step=step)
    if more:
        lifecycle_step_task.apply_async((change_id, next_step), countdown=delay)


@shared_task(acks_late=True, ignore_result=True)
def reconcile_task() -> None:
    services.reconcile()


@shared_task(acks_late=True, ignore_result=True)
def scheduled_operation_task(schedule_id: str) -> None:
    services.schedule_run(schedule_id=schedule_id)
