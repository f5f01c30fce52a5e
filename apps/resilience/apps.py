from django.apps import AppConfig

PERMISSIONS = [
    ("resilience:group:read", "See protection groups, their members, replication and RPO"),
    ("resilience:group:write", "Create, change and delete protection groups; protect drifted resources"),
    ("resilience:plan:read", "See recovery plans, their steps and evidence"),
    ("resilience:plan:run", "Run drills, switchovers, failovers, switchbacks and failbacks (and dry runs)"),
    ("resilience:plan:approve", "Approve the manual-approval steps of recovery plans"),
    ("resilience:backup:read", "See backup vaults, plans and jobs"),
    ("resilience:backup:write", "Create backup vaults and plans"),
    ("resilience:backup:run", "Run backups now and restore them"),
    ("menu:console:resilience", "Console menu: disaster recovery"),
    ("menu:portal:resilience", "Portal menu: my disaster recovery"),
]
SCHEDULE = [
    # (name, task, every seconds)
    ("resilience: coverage drift and RPO of protection groups", "apps.resilience.tasks.rpo_poll_task", 10),
    ("resilience: resume plan steps and backup jobs", "apps.resilience.tasks.reconcile_task", 30),
    ("resilience: scheduled backups and retention", "apps.resilience.tasks.backup_schedule_task", 300),
]


class ResilienceConfig(AppConfig):
    name = "apps.resilience"
    label = "resilience"
    verbose_name = "Disaster recovery"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.core.events import subscribe
        from apps.core.realtime import register_topic
        from apps.rbac.catalog import register_permissions
        from apps.resilience import demo, widget_queries  # noqa: F401  (demo registers its seeder)
        from apps.resilience.selectors import resilience_topic_org

        register_permissions("resilience", PERMISSIONS)
        register_topic("resilience", resilience_topic_org)
        widget_queries.register()
        subscribe("sync:", demo.after_collection)
        post_migrate.connect(install_schedule, sender=self)
        register_menus()


def register_menus() -> None:
    from apps.core.navigation import MenuEntry, register_menu

    for entry in (
        MenuEntry("console", "Protection groups", "resilience:groups", "shield-check", order=600,
                  section="Disaster recovery", permission="menu:console:resilience"),
        MenuEntry("console", "DR dashboard", "resilience:dashboard", "heartbeat", order=610,
                  section="Disaster recovery", permission="menu:console:resilience"),
        MenuEntry("console", "Backups", "resilience:backups", "database-export", order=620,
                  section="Disaster recovery", permission="menu:console:resilience"),
        MenuEntry("portal", "Disaster recovery", "resilience-portal:groups", "shield-check", order=160,
                  permission="menu:portal:resilience"),
    ):
        register_menu(entry)


def install_schedule(**kwargs) -> None:
    """The periodic tasks of disaster recovery, kept in the beat schedule after every migration."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, task, seconds in SCHEDULE:
        every, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": every, "enabled": True})
