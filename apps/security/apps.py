from django.apps import AppConfig

SECURITY_PERMISSIONS = [
    ("security:accesskey:read", "See the AccessKey pairs of other people"),
    ("security:accesskey:write", "Disable, enable and delete the AccessKey pairs of other people"),
    ("security:policy:read", "See organizations' security policies"),
    ("security:policy:write", "Set password, lockout and MFA policies of organizations"),
    ("security:lockout:read", "See locked accounts and client addresses"),
    ("security:lockout:write", "Unlock accounts and client addresses"),
    ("security:mfa:reset", "Reset or exempt a person's multi-factor authentication"),
]
# Wall-screen tokens belong to the organization's own administration (organization administrators
# hold ``organizations:*``).
DISPLAY_TOKEN_PERMISSIONS = [
    ("organizations:displaytoken:read", "See the display tokens of wall screens"),
    ("organizations:displaytoken:write", "Create and revoke display tokens of wall screens"),
]


class SecurityConfig(AppConfig):
    name = "apps.security"
    label = "security"
    verbose_name = "Security center"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.core.events import subscribe_batch
        from apps.organizations.services import install_signin_hooks
        from apps.rbac.catalog import register_permissions
        from apps.security import audit, demo, menus, realtime, services, signals  # noqa: F401  (demo data)
        from apps.security.crypto import register_encrypted_field

        register_permissions("security", SECURITY_PERMISSIONS)
        register_permissions("security", DISPLAY_TOKEN_PERMISSIONS)
        subscribe_batch("", audit.record_events)
        install_signin_hooks(services.SIGNIN_HOOKS)
        menus.register()
        signals.connect()
        realtime.register()
        from apps.security import widget_queries

        widget_queries.register()
        post_migrate.connect(install_periodic_purges, sender=self)
        register_encrypted_field("security.AccessKey", "secret_encrypted")
        register_encrypted_field("security.AccountSecurity", "mfa_secret")
        register_encrypted_field("security.AccountSecurity", "mfa_pending_secret")


def install_periodic_purges(**kwargs) -> None:
    """Kept in the beat schedule after every migration: the purge of used nonces every ten minutes
    (signing also removes a key's expired nonces as it goes) and the audit retention once a day."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, task, seconds in (
        ("security: purge used nonces", "apps.security.tasks.nonces_purge_task", 600),
        ("security: audit retention", "apps.security.tasks.audit_purge_task", 86400),
    ):
        every, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": every, "enabled": True})
