import django_filters

from apps.security.models import AccessKey, AuditEntry, DisplayToken, SecurityPolicy


class AuditEntryFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_name", lookup_expr="iexact", label="Actor user name")
    actor_id = django_filters.CharFilter(field_name="actor_id")
    action = django_filters.CharFilter(method="filter_action", label="Action, or its prefix ending in '.'")
    target_type = django_filters.CharFilter(field_name="target_type")
    target_id = django_filters.CharFilter(field_name="target_id")
    result = django_filters.ChoiceFilter(choices=AuditEntry.Result.choices)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    organization = django_filters.UUIDFilter(field_name="organization_id")
    request_id = django_filters.CharFilter(field_name="request_id")

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def filter_action(self, queryset, name, value):
        if value.endswith("."):
            return queryset.filter(action__startswith=value)
        return queryset.filter(action=value)


class AccessKeyFilter(django_filters.FilterSet):
    class Meta:
        model = AccessKey
        fields = ["status", "organization", "user"]


class DisplayTokenFilter(django_filters.FilterSet):
    class Meta:
        model = DisplayToken
        fields = ["organization"]


class SecurityPolicyFilter(django_filters.FilterSet):
    class Meta:
        model = SecurityPolicy
        fields = ["organization"]
