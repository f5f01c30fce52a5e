from django.apps import AppConfig

PERMISSIONS = [
    ("billing:bill:read", "See bills, their lines and what each line priced"),
    ("billing:bill:write", "Rate, finalize and adjust bills; set an organization's billing time zone"),
    ("billing:cost:read", "See cost analysis (spend by service, platform, region, organization, project, day)"),
    ("billing:usage:read", "See metered usage intervals"),
    ("billing:pricebook:read", "See price books, rules and discounts"),
    ("billing:pricebook:write", "Create and change price books, rules and discounts"),
    ("billing:budget:read", "See budgets and their threshold crossings"),
    ("billing:budget:write", "Create and delete budgets"),
    ("menu:console:billing", "Console menu: costs, bills, price books and budgets"),
    ("menu:portal:billing", "Portal menu: costs and bills"),
]


class BillingConfig(AppConfig):
    name = "apps.billing"
    label = "billing"
    verbose_name = "Metering and billing"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.billing import demo, estimator, subscribers
        from apps.billing.selectors import billing_topic_org
        from apps.core.events import subscribe, subscribe_batch
        from apps.core.navigation import MenuEntry, register_menu
        from apps.core.realtime import register_topic
        from apps.provisioning.hooks import install_price_estimator
        from apps.rbac.catalog import register_permissions

        register_permissions("billing", PERMISSIONS)
        register_topic("billing", billing_topic_org)
        install_price_estimator(estimator.estimate)
        subscribe_batch("resource:", subscribers.resources_changed)
        subscribe("sync:", subscribers.sync_finished)
        subscribe("sync:", demo.history_after_collection)
        post_migrate.connect(install_hourly_pass, sender=self)
        for entry in (
            MenuEntry("console", "Cost analysis", "billing:costs", "report-money", order=600, section="Billing",
                      permission="menu:console:billing"),
            MenuEntry("console", "Bills", "billing:bills", "file-invoice", order=610, section="Billing",
                      permission="menu:console:billing"),
            MenuEntry("console", "Price books", "billing:price-books", "tags", order=620, section="Billing",
                      permission="menu:console:billing"),
            MenuEntry("console", "Budgets", "billing:budgets", "pig-money", order=630, section="Billing",
                      permission="menu:console:billing"),
            MenuEntry("portal", "Costs", "billing-portal:costs", "report-money", order=140,
                      permission="menu:portal:billing"),
        ):
            register_menu(entry)


def install_hourly_pass(**kwargs) -> None:
    """Metering's hourly pass (five minutes past every hour), kept in the beat schedule."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    crontab, _ = CrontabSchedule.objects.get_or_create(minute="5", hour="*", day_of_week="*", day_of_month="*",
                                                       month_of_year="*")
    PeriodicTask.objects.update_or_create(name="billing: meter, rate and check budgets", defaults={
        "task": "apps.billing.tasks.billing_hourly_task", "crontab": crontab, "interval": None, "enabled": True})
