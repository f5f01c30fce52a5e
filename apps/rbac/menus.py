"""Console menu entries of people and access, each shown by its menu permission."""

from apps.core.navigation import MenuEntry, register_menu


def register() -> None:
    for entry in (
        MenuEntry("console", "Organizations", "organizations:tree", "sitemap", order=100, section="People",
                  permission="menu:console:organizations"),
        MenuEntry("console", "Users", "organizations:users", "users", order=110, section="People",
                  permission="menu:console:organizations"),
        MenuEntry("console", "User groups", "organizations:groups", "users-group", order=120, section="People",
                  permission="menu:console:organizations"),
        MenuEntry("console", "Projects", "organizations:projects", "briefcase", order=130, section="People",
                  permission="menu:console:organizations"),
        MenuEntry("console", "Roles", "access:roles", "shield", order=200, section="Access",
                  permission="menu:console:access"),
        MenuEntry("console", "Grants", "access:grants", "key", order=210, section="Access",
                  permission="menu:console:access"),
        MenuEntry("console", "Access policies", "access:policies", "file-certificate", order=220, section="Access",
                  permission="menu:console:access"),
        MenuEntry("console", "Why?", "access:explain", "help-circle", order=230, section="Access",
                  permission="menu:console:access"),
        MenuEntry("console", "Access matrix", "access:matrix", "table", order=240, section="Access",
                  permission="menu:console:access"),
    ):
        register_menu(entry)
