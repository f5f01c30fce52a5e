import django_filters
from django.db.models import Q

from apps.clouds.models import CloudPlatform


class PlatformFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    q = django_filters.CharFilter(method="search", label="Free text")

    class Meta:
        model = CloudPlatform
        fields = ["type", "health", "is_active", "organization"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(endpoint__icontains=value))
