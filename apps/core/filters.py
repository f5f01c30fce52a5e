import django_filters

from apps.core.models import Operation


class OperationFilter(django_filters.FilterSet):
    class Meta:
        model = Operation
        fields = ["kind", "status", "target_type", "target_id", "organization"]
