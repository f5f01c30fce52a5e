"""Metering hears the inventory: a resource's change or a finished sync reconciles its intervals at
once (the hourly pass catches anything missed)."""

from __future__ import annotations

from typing import Any

from apps.billing import metering


def resources_changed(events: list[tuple[Any, str, dict[str, Any]]]) -> None:
    """The resources a transaction announced (a poll round's finished creates): reconciled together."""
    # The topic names the resource; payloads vary by event.
    metering.meter_reconcile(resource_ids=list(dict.fromkeys(topic.split(":", 1)[1] for _org, topic, _p in events)))


def sync_finished(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    if payload.get("event") == "sync_finished":
        metering.meter_reconcile(platform_id=topic.split(":", 1)[1])
