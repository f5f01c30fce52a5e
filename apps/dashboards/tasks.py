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
