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
        from apps.core.events import subscribe
        from apps.rbac.catalog import register_permissions
        from apps.security import audit, demo, menus, realtime, signals  # noqa: F401  (demo data)

        register_permissions("security", SECURITY_PERMISSIONS)
        register_permissions("security", DISPLAY_TOKEN_PERMISSIONS)
        subscribe("", audit.record_event)
        menus.register()
        signals.connect()
        realtime.register()
