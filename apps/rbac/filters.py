import django_filters
from django.db.models import Q

from apps.rbac.models import AccessPolicy, Grant, Role


class RoleFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search")

    class Meta:
        model = Role
        fields = ["organization", "is_predefined", "duty", "key"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(key__icontains=value))


class GrantFilter(django_filters.FilterSet):
    class Meta:
        model = Grant
        fields = ["role", "grantee_type", "user", "group", "grantee_organization", "grantee_project", "scope_type",
                  "scope_organization", "scope_project", "scope_key", "organization"]


class PolicyFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    user = django_filters.UUIDFilter(field_name="users")
    group = django_filters.UUIDFilter(field_name="groups")

    class Meta:
        model = AccessPolicy
        fields = ["organization"]
