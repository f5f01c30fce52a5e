"""Celery tasks of billing: the hourly pass and rating a month, each one service call."""

from celery import shared_task

from apps.billing import services


@shared_task(acks_late=True, ignore_result=True)
def billing_hourly_task() -> None:
    services.billing_hourly()
