from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from apps.core import navigation, realtime

        realtime.register_builtin_topics()
        navigation.register_builtin_menus()
