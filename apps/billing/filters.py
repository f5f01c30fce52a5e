import django_filters

from apps.billing.models import Bill, Budget, BudgetCrossing, Discount, PriceBook, PriceRule, UsageInterval

# Related objects are matched by id, as the other apps' filters do (no look-up, no existence oracle).


class BillFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    period = django_filters.DateFilter(field_name="period")

    class Meta:
        model = Bill
        fields = ["organization", "period", "status"]


class PriceBookFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")

    class Meta:
        model = PriceBook
        fields = ["organization", "is_active", "currency"]


class PriceRuleFilter(django_filters.FilterSet):
    price_book = django_filters.CharFilter(field_name="price_book_id")

    class Meta:
        model = PriceRule
        fields = ["price_book", "resource_type", "dimension", "service"]


class DiscountFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")

    class Meta:
        model = Discount
        fields = ["organization"]


class BudgetFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    project = django_filters.UUIDFilter(field_name="project_id")

    class Meta:
        model = Budget
        fields = ["organization", "project"]


class BudgetCrossingFilter(django_filters.FilterSet):
    budget = django_filters.CharFilter(field_name="budget_id")
    period = django_filters.DateFilter(field_name="period")

    class Meta:
        model = BudgetCrossing
        fields = ["budget", "period", "basis"]


class UsageIntervalFilter(django_filters.FilterSet):
    organization = django_filters.UUIDFilter(field_name="organization_id")
    project = django_filters.UUIDFilter(field_name="project_id")
    resource = django_filters.CharFilter(field_name="resource_id")

    class Meta:
        model = UsageInterval
        fields = ["organization", "project", "resource", "type", "state"]
