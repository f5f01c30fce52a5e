from django.apps import AppConfig

PERMISSIONS = [
    ("resources:resource:read", "See the inventory of cloud resources, their relations and usage"),
    ("resources:resource:write", "Assign resources to organizations and projects"),
    ("resources:resource:operate", "Refresh a resource from its cloud"),
    ("resources:rule:read", "See assignment rules"),
    ("resources:rule:write", "Create and delete assignment rules"),
    ("resources:sync:read", "See inventory syncs and their history"),
    ("resources:usage:read", "See usage statistics across clouds"),
    ("menu:console:inventory", "Console menu: resources and usage"),
]
# Per-service codes of the collected types: lifecycle operations are authorized by these.
SERVICE_PERMISSIONS = [
    (f"{service}:{kind}:{verb}", f"{verb.capitalize()} {service.upper()} {kind.replace('_', ' ')}s")
    for service, kind in (("ecs", "instance"), ("ecs", "disk"), ("ecs", "security_group"), ("vpc", "vpc"),
                          ("vpc", "vswitch"), ("eip", "eip"), ("slb", "instance"), ("rds", "instance"),
                          ("redis", "instance"), ("oss", "bucket"))
    for verb in ("read", "create", "operate", "delete")
]


class ResourcesConfig(AppConfig):
    name = "apps.resources"
    label = "resources"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from apps.core.navigation import MenuEntry, register_menu
        from apps.core.realtime import register_topic
        from apps.rbac.catalog import register_permissions
        from apps.resources import signals
        from apps.resources.selectors import resource_topic_org

        signals.connect()
        register_permissions("resources", PERMISSIONS)
        register_permissions("resources", SERVICE_PERMISSIONS)
        register_topic("resource", resource_topic_org)
        from apps.resources import widget_queries

        widget_queries.register()
        for entry in (
            MenuEntry("console", "Resources", "inventory:resources", "server", order=310, section="Clouds",
                      permission="menu:console:inventory"),
            MenuEntry("console", "Usage", "inventory:usage", "chart-bar", order=320, section="Clouds",
                      permission="menu:console:inventory"),
        ):
            register_menu(entry)
