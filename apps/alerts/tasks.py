"""Celery tasks of the alerts app: short steps that load by id (or take the time) and call one service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone


@shared_task(acks_late=True, ignore_result=True)
def metrics_collect_all_task() -> None:
    """Every collection interval: one collection task per active platform, so platforms collect in parallel."""
    from apps.clouds.models import CloudPlatform

    for platform_id in CloudPlatform.objects.filter(is_active=True).values_list("id", flat=True):
        metrics_collect_task.delay(platform_id)


@shared_task(acks_late=True, ignore_result=True)
def metrics_collect_task(platform_id: str, evaluate: bool = False) -> None:
    """Collect one platform's metrics; ``evaluate``: run the rules right after (a first collection)."""
    from apps.alerts.metrics import metrics_collect
    from apps.clouds.adapters import CloudCallError
    from apps.clouds.models import CloudPlatform

    platform = CloudPlatform.objects.filter(pk=platform_id, is_active=True).first()
    if platform is None:
        return
    try:
        metrics_collect(platform=platform)
    except CloudCallError:
        return  # an unreachable platform is the clouds app's health check to report
    if evaluate:
        alerts_cycle_task.delay()


@shared_task(acks_late=True, ignore_result=True)
def alerts_cycle_task() -> None:
    """Evaluate every threshold rule, then silence, inhibit, route, group and notify."""
    from apps.alerts.notify import notifications_dispatch
    from apps.alerts.rules import rules_evaluate
    from apps.alerts.services import alerts_announce

    now = timezone.now()
    changed_orgs = {c.alert.organization_id for ev in rules_evaluate(now=now) for c in ev.changes}
    notifications_dispatch(now=now)
    for org_id in changed_orgs:
        alerts_announce(org_id, "evaluated")


@shared_task(acks_late=True, ignore_result=True)
def metrics_rollup_task() -> None:
    from apps.alerts.metrics import metrics_expire, metrics_rollup

    now = timezone.now()
    metrics_rollup(now=now)
    metrics_expire(now=now)


@shared_task(acks_late=True, ignore_result=True)
def inspections_task() -> None:
    """The scheduled inspection of every organization that owns a platform, then notifications."""
    from apps.alerts.inspections import inspections_run_all
    from apps.alerts.notify import notifications_dispatch

    now = timezone.now()
    inspections_run_all(now=now)
    notifications_dispatch(now=now)


@shared_task(acks_late=True, ignore_result=True)
def delivery_send_task(delivery_id: str, attempt: int | None = None) -> None:
    """One try of one delivery (``attempt``: the try it was handed, already held; else it claims the
    next one); a failed try comes back after its backoff, on its own."""
    from apps.alerts.notify import delivery_attempt

    delay = delivery_attempt(delivery_id=delivery_id, attempt=attempt)
    if delay is not None:
        delivery_send_task.apply_async((delivery_id,), countdown=delay)


@shared_task(acks_late=True, ignore_result=True)
def deliveries_sweep_task() -> None:
    """Re-queue the notifications whose try was lost with its worker or process."""
    from apps.alerts.notify import deliveries_sweep

    deliveries_sweep()
