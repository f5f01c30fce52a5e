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
        from django.apps import apps
        from django.db.models.signals import post_delete, post_migrate, post_save

        from apps.core.events import subscribe, subscribe_batch
        from apps.core.home import register_home
        from apps.core.navigation import MenuEntry, register_menu
        from apps.core.realtime import register_topic
        from apps.dashboards import (  # noqa: F401  (demo registers the demo data)
            demo,
            demo_activity,
            folder,
            homes,
            inventory_queries,
            live,
            source_services,
        )
        from apps.dashboards.selectors import dashboard_topic_org
        from apps.rbac.catalog import register_permissions

        register_permissions("dashboards", PERMISSIONS)
        register_topic("dashboard", dashboard_topic_org)
        source_services.register()
        inventory_queries.register()
        subscribe_batch("", live.data_changed_many)
        subscribe("display_token:", live.display_token_changed)
        # What live dashboards look up per event, kept per process until one of these rows changes.
        for model in ("dashboards.Dashboard", "security.DisplayToken", "organizations.Organization"):
            post_save.connect(live.lookups_changed, sender=apps.get_model(model), dispatch_uid=f"live-{model}")
            post_delete.connect(live.lookups_changed, sender=apps.get_model(model), dispatch_uid=f"live-{model}")
        register_home("console", homes.panel_for("console"))
        register_home("portal", homes.panel_for("portal"))
        post_migrate.connect(demo_activity.install_schedule, sender=self)
        post_migrate.connect(folder.load_after_migrate, sender=self)
        for entry in (
            MenuEntry("console", "Dashboards", "dashboards:list", "layout-dashboard", order=5,
                      permission="menu:console:dashboards"),
            MenuEntry("portal", "Dashboards", "dashboards-portal:list", "layout-dashboard", order=5,
                      permission="menu:portal:dashboards"),
        ):
            register_menu(entry)
