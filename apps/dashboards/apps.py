from django.apps import AppConfig

PERMISSIONS = [
    ("dashboards:dashboard:read", "See dashboards and the data of their widgets"),
    ("dashboards:dashboard:write", "Create, edit, share, import, restore and delete dashboards"),
    ("dashboards:datasource:read", "See data sources (HTTP JSON, uploaded tables) and read them"),
    ("dashboards:datasource:write", "Add and remove data sources"),
    ("menu:console:dashboards", "Console menu: dashboards"),
    ("menu:portal:dashboards", "Portal menu: dashboards"),
]


class DashboardsConfig(AppConfig):
    name = "apps.dashboards"
    label = "dashboards"
    verbose_name = "Dashboards and wall screens"

    def ready(self) -> None:
        from apps.core.events import subscribe
        from apps.core.navigation import MenuEntry, register_menu
        from apps.core.realtime import register_topic
        from apps.dashboards import demo, live, source_services  # noqa: F401  (demo data)
        from apps.dashboards.selectors import dashboard_topic_org
        from apps.rbac.catalog import register_permissions

        register_permissions("dashboards", PERMISSIONS)
        register_topic("dashboard", dashboard_topic_org)
        source_services.register()
        subscribe("", live.data_changed)
        for entry in (
            MenuEntry("console", "Dashboards", "dashboards:list", "layout-dashboard", order=5,
                      permission="menu:console:dashboards"),
            MenuEntry("portal", "Dashboards", "dashboards-portal:list", "layout-dashboard", order=5,
                      permission="menu:portal:dashboards"),
        ):
            register_menu(entry)
