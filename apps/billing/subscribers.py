"""Metering hears the inventory: a resource's change or a finished sync reconciles its intervals at
once (the hourly pass catches anything missed)."""

from __future__ import annotations

from typing import Any

from apps.billing import metering


def resource_changed(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    resource_id = topic.split(":", 1)[1]  # the topic names the resource; payloads vary by event
    metering.meter_reconcile(resource_ids=[resource_id])


def sync_finished(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    if payload.get("event") == "sync_finished":
        metering.meter_reconcile(platform_id=topic.split(":", 1)[1])
