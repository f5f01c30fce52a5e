from django.apps import AppConfig

PERMISSIONS = [
    ("clouds:platform:read", "See cloud platforms, their regions, services, flavors and health"),
    ("clouds:platform:write", "Register, edit and remove cloud platforms and their credentials"),
    ("clouds:platform:operate", "Test connectivity of cloud platforms and start inventory syncs"),
    ("clouds:catalog:read", "See the unified service catalog"),
    ("menu:console:clouds", "Console menu: cloud platforms and service catalog"),
]


class CloudsConfig(AppConfig):
    name = "apps.clouds"
    label = "clouds"
    verbose_name = "Cloud platforms"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.clouds import demo  # noqa: F401  (demo data)
        from apps.clouds.catalog import catalog_sync
        from apps.clouds.selectors import platform_topic_org
        from apps.core.navigation import MenuEntry, register_menu
        from apps.core.realtime import register_topic
        from apps.rbac.catalog import register_permissions
        from apps.security.crypto import register_encrypted_field

        register_permissions("clouds", PERMISSIONS)
        register_encrypted_field("clouds.CloudPlatform", "credentials_encrypted")
        register_topic("sync", platform_topic_org)
        from apps.clouds import widget_queries

        widget_queries.register()
        post_migrate.connect(catalog_sync, sender=self)
        for entry in (
            MenuEntry("console", "Cloud platforms", "clouds:platforms", "cloud", order=300, section="Clouds",
                      permission="menu:console:clouds"),
            MenuEntry("console", "Service catalog", "clouds:catalog", "category", order=330, section="Clouds",
                      permission="menu:console:clouds"),
        ):
            register_menu(entry)
