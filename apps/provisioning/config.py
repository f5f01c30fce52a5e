"""Tunables of the lifecycle engine: ``PROVISIONING_<NAME>`` in settings, overridden by the
environment variable ``UNIMANAGER_PROVISIONING_<NAME>`` (workers and tests set them there)."""

from __future__ import annotations

import os

from django.conf import settings

DEFAULTS = {
    "POLL_SECONDS": 1.0,  # between two looks at the cloud while waiting for a state
    "MAX_ATTEMPTS": 8,  # transient failures of one step before the operation fails
    "CREATE_TIMEOUT": 900.0,  # seconds from request to the target state
    "OPERATE_TIMEOUT": 600.0,
    "STALE_SECONDS": 120.0,  # an unfinished change without a step for this long is resumed
    "CLOUD_TIMEOUT": 10.0,  # each cloud call
}


def value(name: str) -> float:
    raw = os.environ.get(f"UNIMANAGER_PROVISIONING_{name}")
    if raw:
        try:
            return float(raw)
        except ValueError:
            pass
    return float(getattr(settings, f"PROVISIONING_{name}", DEFAULTS[name]))
