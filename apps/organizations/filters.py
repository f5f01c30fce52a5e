import django_filters
from django.db.models import Q

from apps.organizations.models import Organization, Project, User, UserGroup


class _TextSearch(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Free text")
    search_fields: tuple[str, ...] = ("name",)

    def search(self, queryset, name, value):
        query = Q()
        for field in self.search_fields:
            query |= Q(**{f"{field}__icontains": value})
        return queryset.filter(query)


class OrganizationFilter(_TextSearch):
    within = django_filters.UUIDFilter(method="filter_within", label="Organization and its descendants")

    class Meta:
        model = Organization
        fields = ["parent", "kind", "is_active"]

    def filter_within(self, queryset, name, value):
        root = Organization.objects.filter(pk=value).values_list("path", flat=True).first()
        return queryset.filter(path__startswith=root) if root else queryset.none()


class UserFilter(_TextSearch):
    search_fields = ("username", "display_name", "email")
    organization = django_filters.UUIDFilter(method="filter_organization")
    project = django_filters.UUIDFilter(method="filter_project")
    group = django_filters.UUIDFilter(field_name="user_groups")

    class Meta:
        model = User
        fields = ["is_active", "is_superuser"]

    def filter_organization(self, queryset, name, value):
        return queryset.filter(pk__in=User.objects.filter(memberships__organization_id=value).values("pk"))

    def filter_project(self, queryset, name, value):
        return queryset.filter(
            pk__in=User.objects.filter(Q(projects=value) | Q(user_groups__projects=value)).values("pk"))


class UserGroupFilter(_TextSearch):
    class Meta:
        model = UserGroup
        fields = ["organization"]


class ProjectFilter(_TextSearch):
    class Meta:
        model = Project
        fields = ["organization", "is_active"]
