from django.apps import AppConfig

PERMISSIONS = [
    ("alerts:metric:read", "See metrics of resources"),
    ("alerts:alert:read", "See alerts and their history"),
    ("alerts:alert:operate", "Acknowledge, assign, comment on and resolve alerts"),
    ("alerts:alert:ingest", "Send alerts from outside (Prometheus / Alertmanager format)"),
    ("alerts:rule:read", "See alert rules"),
    ("alerts:rule:write", "Create, change and delete alert rules"),
    ("alerts:silence:read", "See silences"),
    ("alerts:silence:write", "Create and expire silences"),
    ("alerts:contact:read", "See contact points, notification routes, templates and deliveries"),
    ("alerts:contact:write", "Change contact points, notification routes and templates"),
    ("alerts:inspection:read", "See inspection reports"),
    ("alerts:inspection:run", "Run an inspection now"),
    ("menu:console:alerts", "Console menu: alerts, rules, silences and notifications"),
]
SCHEDULE = [
    # (name, task, every seconds)
    ("alerts: collect metrics", "apps.alerts.tasks.metrics_collect_all_task", 60),
    ("alerts: evaluate rules and notify", "apps.alerts.tasks.alerts_cycle_task", 20),
    ("alerts: roll up and expire metrics", "apps.alerts.tasks.metrics_rollup_task", 300),
    ("alerts: inspections", "apps.alerts.tasks.inspections_task", 6 * 3600),
    ("alerts: re-queue lost notifications", "apps.alerts.tasks.deliveries_sweep_task", 60),
]


class AlertsConfig(AppConfig):
    name = "apps.alerts"
    label = "alerts"
    verbose_name = "Monitoring and alerts"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.alerts import demo, events  # noqa: F401 (demo registers its seeder)
        from apps.alerts.selectors import alerts_topic_org, inbox_topic_org
        from apps.core.navigation import MenuEntry, register_menu
        from apps.core.realtime import register_topic
        from apps.rbac.catalog import register_permissions

        register_permissions("alerts", PERMISSIONS)
        register_topic("alerts", alerts_topic_org)
        register_topic("inbox", inbox_topic_org)
        events.connect()
        from apps.alerts.notify import connect_config_signals

        connect_config_signals()
        from apps.alerts import widget_queries

        widget_queries.register()
        post_migrate.connect(install_schedule, sender=self)
        for entry in (
            MenuEntry("console", "Alerts", "alerts:alerts", "alert-triangle", order=500, section="Monitoring",
                      permission="menu:console:alerts"),
            MenuEntry("console", "Alert rules", "alerts:rules", "adjustments-alt", order=510, section="Monitoring",
                      permission="menu:console:alerts"),
            MenuEntry("console", "Silences", "alerts:silences", "bell-off", order=520, section="Monitoring",
                      permission="menu:console:alerts"),
            MenuEntry("console", "Notifications", "alerts:notifications", "send", order=530, section="Monitoring",
                      permission="menu:console:alerts"),
            MenuEntry("console", "Inspections", "alerts:inspections", "report-search", order=535, section="Monitoring",
                      permission="menu:console:alerts"),
            MenuEntry("console", "Inbox", "alerts:inbox", "inbox", order=540, section="Monitoring"),
        ):
            register_menu(entry)


def install_schedule(**kwargs) -> None:
    """The periodic tasks of metrics and alerts, kept in the beat schedule after every migration."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, task, seconds in SCHEDULE:
        every, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": every, "enabled": True})
