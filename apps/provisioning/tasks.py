from celery import shared_task

from apps.provisioning import services


@shared_task(acks_late=True, ignore_result=True)
def lifecycle_step_task(change_id: str, step: int) -> None:
    following = services.lifecycle_run(change_id=change_id, step=step)
    if following is not None:
        delay, next_step = following
        lifecycle_step_task.apply_async((change_id, next_step), countdown=delay)


@shared_task(acks_late=True, ignore_result=True)
def lifecycle_steps_task(steps: list) -> None:
    for change_id, delay, next_step in services.lifecycle_run_many(steps=[(c, s) for c, s in steps]):
        lifecycle_step_task.apply_async((change_id, next_step), countdown=delay)


@shared_task(acks_late=True, ignore_result=True)
def lifecycle_poll_task(platform_id: str, region: str, resource_type: str) -> None:
    def come_back(countdown: float) -> None:
        lifecycle_poll_task.apply_async((platform_id, region, resource_type), countdown=countdown)

    done = services.lifecycle_poll(platform_id=platform_id, region=region, resource_type=resource_type,
                                   hand_over=lambda finishes: lifecycle_finish_task.apply_async((finishes,)),
                                   come_back=come_back)
    if done.delay is not None and not done.scheduled:
        come_back(done.delay)


@shared_task(acks_late=True, ignore_result=True)
def lifecycle_finish_task(finishes: list) -> None:
    services.lifecycle_finish_group(finishes=finishes)


@shared_task(acks_late=True, ignore_result=True)
def reconcile_task() -> None:
    services.reconcile()


@shared_task(acks_late=True, ignore_result=True)
def scheduled_operation_task(schedule_id: str) -> None:
    services.schedule_run(schedule_id=schedule_id)
