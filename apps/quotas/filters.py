import django_filters

from apps.quotas.models import QuotaLimit, QuotaRequest, Reservation

# Related objects are matched by id, as the other apps' filters do.


class QuotaLimitFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    project = django_filters.UUIDFilter(field_name="project_id")
    platform = django_filters.UUIDFilter(field_name="platform_id")

    class Meta:
        model = QuotaLimit
        fields = ["organization", "project", "platform", "dimension", "region"]


class ReservationFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    project = django_filters.UUIDFilter(field_name="project_id")

    class Meta:
        model = Reservation
        fields = ["organization", "project", "status", "resource_type"]


class QuotaRequestFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    project = django_filters.UUIDFilter(field_name="project_id")

    class Meta:
        model = QuotaRequest
        fields = ["organization", "project", "status", "dimension"]
