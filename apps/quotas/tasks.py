from celery import shared_task

from apps.quotas import services


@shared_task(ignore_result=True)
def reservations_expire_task() -> int:
    """Release the quota of reservations nobody committed or released in time (a worker died)."""
    return services.reservations_expire()


@shared_task(ignore_result=True)
def usage_reconcile_task() -> int:
    """Recompute committed usage from the inventory; returns how many limits had drifted."""
    return len(services.usage_reconcile(apply=True))
