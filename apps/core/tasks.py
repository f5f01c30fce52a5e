from celery import shared_task

from apps.core import services


@shared_task(acks_late=True, ignore_result=True)
def diagnostic_step_task(operation_id: str, step: int) -> None:
    more, delay = services.diagnostic_step(operation_id=operation_id, step=step)
    if more:
        diagnostic_step_task.apply_async((operation_id, step + 1), countdown=delay)
