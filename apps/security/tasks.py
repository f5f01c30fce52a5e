from celery import shared_task

from apps.security import services


@shared_task(acks_late=True, ignore_result=True)
def nonces_purge_task() -> int:
    """Periodic: forget the nonces of signed requests that can no longer be accepted."""
    return services.nonces_purge()
