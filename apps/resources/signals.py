"""A platform's periodic collection follows the platform: model signals keep its beat entry in step
on every save and delete, whoever writes the platform (the clouds app's services, its demo seeder),
so the clouds app never needs to know that collection exists."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from apps.resources import services

# Saving a platform changes its schedule only through these fields.
SCHEDULE_FIELDS = frozenset({"sync_interval_minutes", "is_active", "name"})


def _saved(instance: Any, raw: bool = False, update_fields: Any = None, **_: Any) -> None:
    if raw or (update_fields is not None and not SCHEDULE_FIELDS & set(update_fields)):
        return
    services.sync_schedule_update(platform=instance)


def _deleted(instance: Any, **_: Any) -> None:
    services.sync_schedule_delete(platform_id=instance.pk)


def connect() -> None:
    from apps.clouds.models import CloudPlatform

    post_save.connect(_saved, sender=CloudPlatform, dispatch_uid="resources-sync-schedule-saved")
    post_delete.connect(_deleted, sender=CloudPlatform, dispatch_uid="resources-sync-schedule-deleted")
