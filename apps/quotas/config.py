"""Tunables of quotas: ``QUOTAS_<NAME>`` in settings, overridden by ``UNIMANAGER_QUOTAS_<NAME>``."""

from __future__ import annotations

import os

from django.conf import settings

DEFAULTS = {
    # A reservation not committed or released by then is released by the sweeper. It covers a
    # request's wait for approval and its provisioning; a request approved later is still counted
    # when the cloud confirms it (the commit adds the usage).
    "RESERVATION_SECONDS": 86400.0,
    "SWEEP_SECONDS": 60.0,  # how often the sweeper runs
    "RECONCILE_SECONDS": 600.0,  # how often usage is recomputed from the inventory
}


def value(name: str) -> float:
    raw = os.environ.get(f"UNIMANAGER_QUOTAS_{name}")
    if raw:
        try:
            return float(raw)
        except ValueError:
            pass
    return float(getattr(settings, f"QUOTAS_{name}", DEFAULTS[name]))
