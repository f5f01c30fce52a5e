import django_filters

from apps.provisioning.models import ApprovalPolicy, ChangeRecord, ProvisioningRequest, ScheduledOperation

# Related objects are matched by id, as the other apps' filters do: a choice filter would look each one
# up first, costing a query and telling an object that exists elsewhere apart from one that does not.


class RequestFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    project = django_filters.UUIDFilter(field_name="project_id")

    class Meta:
        model = ProvisioningRequest
        fields = ["status", "project", "organization"]


class ChangeRecordFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    project = django_filters.UUIDFilter(field_name="project_id")
    request = django_filters.CharFilter(field_name="request_id")
    resource = django_filters.CharFilter(field_name="resource_id")

    class Meta:
        model = ChangeRecord
        fields = ["action", "resource", "request", "organization", "project", "external_id"]


class ApprovalPolicyFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    project = django_filters.UUIDFilter(field_name="project_id")

    class Meta:
        model = ApprovalPolicy
        fields = ["organization", "project", "service"]


class ScheduleFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    resource = django_filters.CharFilter(field_name="resource_id")

    class Meta:
        model = ScheduledOperation
        fields = ["resource", "action", "organization"]
