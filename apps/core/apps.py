from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from apps.core import navigation, realtime, widget_queries, widgets

        realtime.register_builtin_topics()
        navigation.register_builtin_menus()
        widgets.register_builtin_widget_kinds()
        widget_queries.register()
