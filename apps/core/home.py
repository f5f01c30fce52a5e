"""What the console's overview and the portal's home show above their own cards.

A later app (dashboards) registers a provider per surface from its ``AppConfig.ready``:
``register_home("console", provider)``. ``provider(request)`` returns ``None`` (nothing to add) or
a dict with ``template`` (a template name the home page includes) and whatever that template reads.
The core pages never name the later app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

SURFACES = ("console", "portal")
Provider = Callable[[Any], "dict[str, Any] | None"]
_providers: dict[str, Provider] = {}


def register_home(surface: str, provider: Provider) -> None:
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}")
    _providers[surface] = provider


def home_panel(request: Any, surface: str) -> dict[str, Any] | None:
    """The registered provider's panel for ``request`` on ``surface``, or ``None``. A provider that
    fails costs the page its panel, never the page."""
    provider = _providers.get(surface)
    if provider is None:
        return None
    try:
        panel = provider(request)
    except Exception:
        logger.exception("the %s home panel failed", surface)
        return None
    return panel if isinstance(panel, dict) and panel.get("template") else None
