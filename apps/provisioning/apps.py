from django.apps import AppConfig

PERMISSIONS = [
    ("provisioning:request:read", "See provisioning requests and their timelines"),
    ("provisioning:request:approve", "Approve or deny provisioning requests"),
    ("provisioning:policy:read", "See approval policies"),
    ("provisioning:policy:write", "Create and delete approval policies"),
    ("provisioning:change:read", "See change records of lifecycle operations"),
    ("provisioning:schedule:read", "See scheduled operations"),
    ("provisioning:topology:read", "See dependency topology and root-cause hints"),
    ("provisioning:script:read", "See saved scripts and script runs with their output"),
    ("provisioning:script:write", "Create, change and delete saved scripts"),
    ("ecs:instance:command", "Run scripts on ECS instances (Cloud Assistant, SSM Run Command)"),
    ("menu:portal:provisioning", "Portal menu: catalog, requests and my resources"),
    ("menu:console:provisioning", "Console menu: approvals, changes, schedules and topology"),
]


class ProvisioningConfig(AppConfig):
    name = "apps.provisioning"
    label = "provisioning"
    verbose_name = "Provisioning and operations"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.core.navigation import MenuEntry, register_menu
        from apps.core.realtime import register_topic
        from apps.provisioning import script_tasks  # noqa: F401 (workers learn the script run tasks)
        from apps.provisioning.scripts import script_run_topic_org, script_topic_org
        from apps.provisioning.selectors import request_topic_org
        from apps.rbac.catalog import register_permissions

        register_permissions("provisioning", PERMISSIONS)
        register_topic("request", request_topic_org)
        register_topic("script", script_topic_org)
        register_topic("script_run", script_run_topic_org)
        from apps.core.events import subscribe
        from apps.provisioning.demo import first_run_after_collection

        subscribe("sync:", first_run_after_collection)
        from apps.provisioning import widget_queries

        widget_queries.register()
        post_migrate.connect(install_reconciler, sender=self)
        for entry in (
            MenuEntry("portal", "Catalog", "provisioning:catalog", "apps", order=100,
                      permission="menu:portal:provisioning"),
            MenuEntry("portal", "My requests", "provisioning:requests", "file-text", order=110,
                      permission="menu:portal:provisioning"),
            MenuEntry("portal", "My resources", "provisioning:my-resources", "server", order=120,
                      permission="menu:portal:provisioning"),
            MenuEntry("portal", "Scripts", "provisioning:scripts", "terminal-2", order=125,
                      permission="menu:portal:provisioning"),
            MenuEntry("console", "Scripts", "provisioning-console:scripts", "terminal-2", order=425,
                      section="Operations", permission="menu:console:provisioning"),
            MenuEntry("console", "Approvals", "provisioning-console:approvals", "checklist", order=400,
                      section="Operations", permission="menu:console:provisioning"),
            MenuEntry("console", "Change records", "provisioning-console:changes", "history", order=410,
                      section="Operations", permission="menu:console:provisioning"),
            MenuEntry("console", "Schedules", "provisioning-console:schedules", "calendar-time", order=420,
                      section="Operations", permission="menu:console:provisioning"),
            MenuEntry("console", "Topology", "provisioning-console:topology", "topology-star-3", order=430,
                      section="Operations", permission="menu:console:provisioning"),
        ):
            register_menu(entry)


def install_reconciler(**kwargs) -> None:
    """The periodic reconciler (every minute), kept in the beat schedule after every migration."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(name="provisioning: reconcile stuck operations", defaults={
        "task": "apps.provisioning.tasks.reconcile_task", "interval": every, "enabled": True})
    PeriodicTask.objects.update_or_create(name="provisioning: resume script runs", defaults={
        "task": "apps.provisioning.script_tasks.script_run_reconcile_task", "interval": every, "enabled": True})
