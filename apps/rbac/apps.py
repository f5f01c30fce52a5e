from django.apps import AppConfig


class RbacConfig(AppConfig):
    name = "apps.rbac"
    label = "rbac"
    verbose_name = "Roles and access"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.core.scoping import install_backend
        from apps.organizations.services import register_duties_lookup, register_membership_guard
        from apps.rbac import demo, menus, signals, topics  # noqa: F401  (demo data)
        from apps.rbac.backend import RbacScoping
        from apps.rbac.catalog import register_permissions
        from apps.rbac.roles import AUDIT_PERMISSIONS, CORE_PERMISSIONS, ORGANIZATIONS_PERMISSIONS, RBAC_PERMISSIONS
        from apps.rbac.services import membership_guard, sync_predefined_roles, user_duties

        register_permissions("core", CORE_PERMISSIONS)
        register_permissions("organizations", ORGANIZATIONS_PERMISSIONS)
        register_permissions("rbac", RBAC_PERMISSIONS)
        register_permissions("audit", AUDIT_PERMISSIONS)
        install_backend(RbacScoping())
        register_membership_guard(membership_guard)
        register_duties_lookup(user_duties)
        post_migrate.connect(sync_predefined_roles, sender=self)
        topics.register()
        menus.register()
        signals.connect()
