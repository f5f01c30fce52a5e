from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "apps.organizations"
    label = "organizations"
    verbose_name = "Organizations"

    def ready(self) -> None:
        from apps.core.scoping import install_membership_source
        from apps.organizations import demo  # noqa: F401  (registers demo data)
        from apps.organizations.selectors import organization_ids_of_user

        install_membership_source(organization_ids_of_user)

        from apps.core.widgets import install_organization_tree
        from apps.organizations import widget_queries

        install_organization_tree(widget_queries.subtree_ids, widget_queries.ancestor_ids)
        widget_queries.register()
