import django_filters
from django.db.models import Q

from apps.core.errors import InvalidInput
from apps.resources.models import AssignmentRule, Resource, SyncRun


class ResourceFilter(django_filters.FilterSet):
    """Every filter is an indexed column (or the tag JSON and free text, which narrow a keyset walk)."""

    platform = django_filters.CharFilter(field_name="platform_id")
    organization = django_filters.UUIDFilter(field_name="organization_id")
    project = django_filters.UUIDFilter(field_name="project_id")
    unassigned = django_filters.BooleanFilter(field_name="organization", lookup_expr="isnull")
    tag = django_filters.CharFilter(method="filter_tag", label="Tag: key or key=value")
    q = django_filters.CharFilter(method="search", label="Free text: name contains, or the exact cloud id")
    deleted = django_filters.BooleanFilter()

    class Meta:
        model = Resource
        fields = ["platform", "region", "zone", "service", "type", "status", "organization", "project", "deleted"]

    def filter_tag(self, queryset, name, value):
        key, sep, tag_value = value.partition("=")
        key = key.strip()
        if not key or len(key) > 128 or not key.replace("-", "").replace("_", "").replace(".", "").replace(
                ":", "").replace("/", "").isalnum():
            raise InvalidInput("tag must be key or key=value with a plain key.", detail={"tag": ["invalid"]})
        if sep:
            return queryset.filter(**{f"tags__{key}": tag_value})
        return queryset.filter(tags__has_key=key)

    def search(self, queryset, name, value):
        value = value.strip()[:255]
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(external_id=value))


class SyncRunFilter(django_filters.FilterSet):
    platform = django_filters.CharFilter(field_name="platform_id")

    class Meta:
        model = SyncRun
        fields = ["platform", "status", "kind"]


class AssignmentRuleFilter(django_filters.FilterSet):
    platform = django_filters.CharFilter(field_name="platform_id")

    class Meta:
        model = AssignmentRule
        fields = ["platform", "match"]
