from celery import shared_task

from apps.security import audit, services


@shared_task(acks_late=True, ignore_result=True)
def nonces_purge_task() -> int:
    """Periodic: forget the nonces of signed requests that can no longer be accepted."""
    return services.nonces_purge()


@shared_task(acks_late=True, ignore_result=True)
def audit_purge_task() -> int:
    """Daily: remove audit entries past the retention (UNIMANAGER_AUDIT_RETENTION_DAYS); the chain's
    signed anchor keeps what remains verifiable."""
    return audit.purge_expired()
