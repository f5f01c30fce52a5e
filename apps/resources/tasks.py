"""Celery tasks of the inventory: short steps that load by id and call a service."""

from celery import shared_task

from apps.resources import services


@shared_task(acks_late=True, ignore_result=True)
def sync_step_task(run_id: str, step: int) -> None:
    more, delay, next_step = services.sync_step(run_id=run_id, step=step)
    if more:
        sync_step_task.apply_async((run_id, next_step), countdown=delay)


@shared_task(acks_late=True, ignore_result=True)
def platform_sync_scheduled_task(platform_id: str) -> None:
    """The periodic sync (django-celery-beat): skipped while another sync of the platform runs."""
    from apps.clouds.models import CloudPlatform
    from apps.core.errors import Conflict

    platform = CloudPlatform.objects.filter(pk=platform_id, is_active=True).first()
    if platform is None:
        return
    try:
        services.sync_start(actor=None, platform=platform, check=False)
    except Conflict:
        pass
