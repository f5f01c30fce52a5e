"""Console menu entries of the security center."""

from apps.core.navigation import MenuEntry, register_menu


def register() -> None:
    for entry in (
        MenuEntry("console", "My security", "security:account", "lock", order=300, section="Security"),
        MenuEntry("console", "Audit log", "security:audit", "list-search", order=310, section="Security",
                  permission="menu:console:audit"),
        MenuEntry("console", "Sign-in protection", "security:lockouts", "shield-lock", order=320, section="Security",
                  permission="menu:console:access"),
        # Shown to those with the access pages; the list holds only organizations whose policy they may see.
        MenuEntry("console", "Security policies", "security:policies", "shield-check", order=325, section="Security",
                  permission="menu:console:access"),
        MenuEntry("console", "Display tokens", "security:display-tokens", "device-tv", order=330, section="Security",
                  permission="menu:console:organizations"),
        MenuEntry("portal", "My security", "security:account", "lock", order=900),
    ):
        register_menu(entry)
