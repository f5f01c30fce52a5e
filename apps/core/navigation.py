"""Menus of the console and the portal, registered by each app.

An entry names the permission that shows it (a menu permission such as ``menu:console:clouds``);
``None`` shows it to every signed-in user. Templates get the entries the user may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class MenuEntry:
    surface: str  # "console" or "portal"
    label: str
    url_name: str
    icon: str
    order: int = 100
    permission: str | None = None
    section: str = ""


_entries: list[MenuEntry] = []


def register_menu(entry: MenuEntry) -> None:
    if entry not in _entries:
        _entries.append(entry)


def menu_for(user: Any, surface: str, current_url_name: str = "") -> list[dict[str, Any]]:
    from apps.core.scoping import authorize

    entries = [e for e in _entries if e.surface == surface]
    # A section sits where its first entry would; entries of one section stay together even when
    # two apps picked overlapping order numbers.
    section_rank: dict[str, int] = {}
    for e in entries:
        section_rank[e.section] = min(section_rank.get(e.section, e.order), e.order)
    items = []
    for entry in sorted(entries, key=lambda e: (section_rank[e.section], e.section, e.order, e.label)):
        if entry.permission and not authorize(user, entry.permission, None):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        items.append({"label": entry.label, "url": url, "icon": entry.icon, "section": entry.section,
                      "active": entry.url_name == current_url_name})
    return items


def register_builtin_menus() -> None:
    for entry in (
        MenuEntry("console", "Overview", "console:home", "layout-dashboard", order=0),
        MenuEntry("console", "Diagnostics", "console:diagnostics", "stethoscope", order=900, section="Platform"),
        MenuEntry("console", "Wall screens", "screens:home", "device-tv", order=910, section="Platform"),
        MenuEntry("console", "API reference", "api-docs", "api", order=990, section="Platform"),
        MenuEntry("portal", "Home", "portal:home", "home", order=0),
    ):
        register_menu(entry)
