"""Celery tasks of dashboards."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def demo_activity_task() -> None:
    """Make the demo move (``apps.dashboards.demo_activity``); best effort, never retried."""
    import logging

    from apps.dashboards import demo_activity

    try:
        demo_activity.run()
    except Exception:  # noqa: BLE001 - a demo that cannot move this time tries again next time
        logging.getLogger(__name__).exception("demo activity failed")


@shared_task(acks_late=True, ignore_result=True)
def demo_activity_settle_task() -> None:
    """Collect the instance the demo activity changed, once the cloud has finished; best effort."""
    import logging

    from apps.dashboards import demo_activity

    try:
        demo_activity.run_settle()
    except Exception:  # noqa: BLE001 - the next move collects it anyway
        logging.getLogger(__name__).exception("demo activity settle failed")
