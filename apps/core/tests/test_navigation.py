"""Menus: entries of one section stay together, in the section's place, whatever order numbers apps
picked; entries the user may not see are left out."""

from __future__ import annotations

import pytest

from apps.core import navigation
from apps.core.navigation import MenuEntry


@pytest.fixture
def menus(monkeypatch):
    entries: list[MenuEntry] = []
    monkeypatch.setattr(navigation, "_entries", entries)
    return entries


def test_sections_stay_together_when_order_numbers_overlap(menus, world):
    for entry in (
        MenuEntry("console", "Overview", "console:home", "home", order=0),
        MenuEntry("console", "Platforms", "console:diagnostics", "cloud", order=300, section="Clouds"),
        MenuEntry("console", "My security", "console:diagnostics", "lock", order=300, section="Security"),
        MenuEntry("console", "Resources", "console:diagnostics", "server", order=310, section="Clouds"),
        MenuEntry("console", "Audit log", "console:diagnostics", "list", order=310, section="Security"),
    ):
        navigation.register_menu(entry)
    labels = [(i["section"], i["label"]) for i in navigation.menu_for(world.root, "console")]
    assert labels == [("", "Overview"), ("Clouds", "Platforms"), ("Clouds", "Resources"),
                      ("Security", "My security"), ("Security", "Audit log")]


def test_entries_behind_a_permission_are_hidden_from_users_without_it(menus, world):
    navigation.register_menu(MenuEntry("console", "Open", "console:home", "home", order=0))
    navigation.register_menu(MenuEntry("console", "Guarded", "console:diagnostics", "lock", order=1,
                                       permission="menu:console:nothing-granted"))
    assert [i["label"] for i in navigation.menu_for(world.alice, "console")] == ["Open"]
    assert [i["label"] for i in navigation.menu_for(world.root, "console")] == ["Open", "Guarded"]
