import django_filters

from apps.core.models import Operation


class OperationFilter(django_filters.FilterSet):
    # A plain id match: a choice filter would look the organization up first, costing a query and
    # telling apart an organization that exists elsewhere from one that does not.
    organization = django_filters.UUIDFilter(field_name="organization_id")

    class Meta:
        model = Operation
        fields = ["kind", "status", "target_type", "target_id", "organization"]
