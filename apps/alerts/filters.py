import django_filters
from django.db.models import Q

from apps.alerts.models import Alert, AlertRule, Delivery


class AlertFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    rule = django_filters.CharFilter(field_name="rule_id")
    platform = django_filters.CharFilter(field_name="platform_id")
    resource = django_filters.CharFilter(field_name="resource_id")
    active = django_filters.BooleanFilter(method="filter_active", label="Firing or pending (true), or neither")

    class Meta:
        model = Alert
        fields = ["state", "severity", "source", "organization", "rule", "platform", "resource"]

    def filter_active(self, queryset, name, value):
        active = Q(state__in=[Alert.State.FIRING, Alert.State.PENDING])
        return queryset.filter(active) if value else queryset.exclude(active)


class AlertRuleFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")

    class Meta:
        model = AlertRule
        fields = ["kind", "severity", "enabled", "organization"]


class DeliveryFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    contact_point = django_filters.CharFilter(field_name="contact_point_id")

    class Meta:
        model = Delivery
        fields = ["status", "event_type", "organization", "contact_point"]
