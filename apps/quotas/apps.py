from django.apps import AppConfig

PERMISSIONS = [
    ("quotas:limit:read", "See quota limits and usage"),
    ("quotas:limit:write", "Set and remove quota limits of the organizations and projects below"),
    ("quotas:reservation:read", "See quota reservations"),
    ("quotas:request:read", "See requests for more quota"),
    ("quotas:request:create", "Ask for more quota"),
    ("menu:console:quotas", "Console menu: quotas"),
    ("menu:portal:quotas", "Portal menu: my quotas"),
]


class QuotasConfig(AppConfig):
    name = "apps.quotas"
    label = "quotas"
    verbose_name = "Quotas and usage"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.core.events import subscribe
        from apps.core.navigation import MenuEntry, register_menu
        from apps.core.realtime import register_topic
        from apps.provisioning.hooks import install_quota_backend
        from apps.quotas import demo  # noqa: F401  (demo data)
        from apps.quotas.backend import HierarchicalQuotas
        from apps.quotas.selectors import quota_topic_org
        from apps.rbac.catalog import register_permissions

        register_permissions("quotas", PERMISSIONS)
        register_topic("quota", quota_topic_org)
        install_quota_backend(HierarchicalQuotas())
        subscribe("sync:", after_collection)
        post_migrate.connect(install_periodic_tasks, sender=self)
        register_menu(MenuEntry("console", "Quotas", "quotas:overview", "gauge", order=440, section="Operations",
                                permission="menu:console:quotas"))
        register_menu(MenuEntry("portal", "My quotas", "quotas-portal:mine", "gauge", order=130,
                                permission="menu:portal:quotas"))


def after_collection(org_id, topic: str, payload: dict) -> None:
    """A finished collection may have found resources made outside the console: recount usage."""
    if payload.get("event") == "sync_finished":
        from apps.quotas.tasks import usage_reconcile_task

        usage_reconcile_task.delay()


def install_periodic_tasks(**kwargs) -> None:
    """Kept in the beat schedule after every migration: the reservation sweeper and the reconciler."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from apps.quotas import config

    for name, task, seconds in (
        ("quotas: release expired reservations", "apps.quotas.tasks.reservations_expire_task",
         config.value("SWEEP_SECONDS")),
        ("quotas: reconcile usage with the inventory", "apps.quotas.tasks.usage_reconcile_task",
         config.value("RECONCILE_SECONDS")),
    ):
        every, _ = IntervalSchedule.objects.get_or_create(every=int(seconds), period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": every, "enabled": True})
