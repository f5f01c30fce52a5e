from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.billing.models import (
    Bill,
    BillAdjustment,
    BillLine,
    Budget,
    BudgetCrossing,
    Dimension,
    Discount,
    PriceBook,
    PriceRule,
    UsageInterval,
)

MONEY = {"max_digits": 20, "decimal_places": 6, "coerce_to_string": True}


def _moment(value: int | None) -> str | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC).isoformat().replace("+00:00", "Z")


class PriceBookSerializer(serializers.ModelSerializer):
    class Meta:
        model = PriceBook
        fields = ["id", "organization", "name", "currency", "minor_unit", "is_active", "created_at"]


class PriceBookCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField(help_text="The organization that owns the book.")
    name = serializers.CharField(max_length=128)
    currency = serializers.CharField(max_length=3, help_text="ISO 4217 code, such as CNY.")
    minor_unit = serializers.IntegerField(min_value=0, max_value=4, default=2)
    is_active = serializers.BooleanField(default=False)


class TierSerializer(serializers.Serializer):
    up_to = serializers.DecimalField(max_digits=24, decimal_places=6, allow_null=True,
                                     help_text="Upper bound of the step's quantity; null for the last step.")
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=6)


class PriceRuleSerializer(serializers.ModelSerializer):
    tiers = TierSerializer(many=True)

    class Meta:
        model = PriceRule
        fields = ["id", "price_book", "service", "resource_type", "dimension", "sku", "platform", "region",
                  "organization", "unit", "unit_price", "tiers", "fixed_amount", "bill_stopped", "valid_from",
                  "valid_to", "description", "created_at"]


class PriceRuleWriteSerializer(serializers.Serializer):
    price_book = serializers.CharField(max_length=32, required=False)
    resource_type = serializers.CharField(max_length=64)
    dimension = serializers.ChoiceField(choices=Dimension.choices)
    sku = serializers.CharField(max_length=64, required=False, allow_blank=True)
    platform = serializers.CharField(max_length=32, required=False, allow_null=True)
    region = serializers.CharField(max_length=64, required=False, allow_blank=True)
    organization = serializers.UUIDField(required=False, allow_null=True)
    unit = serializers.ChoiceField(choices=PriceRule.Unit.choices, required=False)
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=6)
    tiers = TierSerializer(many=True, required=False)
    fixed_amount = serializers.DecimalField(max_digits=18, decimal_places=6, required=False)
    bill_stopped = serializers.BooleanField(required=False)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_to = serializers.DateField(required=False, allow_null=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)


class DiscountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Discount
        fields = ["id", "organization", "percent", "valid_from", "valid_to", "description", "created_at"]


class DiscountCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_to = serializers.DateField(required=False, allow_null=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class BillSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="`draft` (rated again at will) or `finalized` (frozen).")
    organization_name = serializers.CharField(source="organization.name", read_only=True)

    class Meta:
        model = Bill
        fields = ["id", "organization", "organization_name", "period", "time_zone", "currency", "status",
                  "price_book", "subtotal", "discount", "total", "rated_at", "finalized_at", "created_at"]


class BillLineSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="`usage` (priced by a rule) or `discount`.")
    tiers = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = BillLine
        fields = ["id", "kind", "project", "rule", "service", "resource_type", "dimension", "sku", "description",
                  "quantity", "unit", "unit_price", "fixed_amount", "amount", "tiers"]


class BillAdjustmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = BillAdjustment
        fields = ["id", "bill", "amount", "reason", "actor", "created_at"]


class BillDetailSerializer(BillSerializer):
    lines = BillLineSerializer(many=True, read_only=True)
    adjustments = BillAdjustmentSerializer(many=True, read_only=True)

    class Meta(BillSerializer.Meta):
        fields = [*BillSerializer.Meta.fields, "lines", "adjustments"]


class BillRateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    period = serializers.RegexField(r"^\d{4}-\d{2}$", help_text="The month, YYYY-MM.")


class AdjustmentCreateSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=20, decimal_places=6,
                                      help_text="Negative for a credit, positive for a debit.")
    reason = serializers.CharField(max_length=500)


class UsageIntervalSerializer(serializers.ModelSerializer):
    started_at = serializers.SerializerMethodField()
    ended_at = serializers.SerializerMethodField()

    class Meta:
        model = UsageInterval
        fields = ["id", "resource", "organization", "project", "platform", "region", "service", "type", "sku",
                  "state", "vcpu", "memory_mib", "storage_gib", "started_at", "ended_at"]

    @extend_schema_field(serializers.DateTimeField())
    def get_started_at(self, obj: UsageInterval) -> str | None:
        return _moment(obj.start_s)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_ended_at(self, obj: UsageInterval) -> str | None:
        return _moment(obj.end_s)


class ExplainedIntervalSerializer(serializers.Serializer):
    interval = UsageIntervalSerializer()
    seconds = serializers.IntegerField(help_text="Seconds of the interval inside the bill's month.")
    quantity = serializers.DecimalField(max_digits=24, decimal_places=6,
                                        help_text="What those seconds add to the line, in the dimension's hours.")


class ExplainSerializer(serializers.Serializer):
    line = BillLineSerializer()
    rule = PriceRuleSerializer(allow_null=True)
    month_hours = serializers.DecimalField(max_digits=10, decimal_places=2)
    intervals = ExplainedIntervalSerializer(many=True)


class RollupRowSerializer(serializers.Serializer):
    bill = serializers.CharField(source="bill.id")
    organization = serializers.UUIDField(source="organization.id")
    organization_name = serializers.CharField(source="organization.name")
    status = serializers.CharField(source="bill.status")
    total = serializers.DecimalField(max_digits=20, decimal_places=6)


class RollupSerializer(serializers.Serializer):
    organization = serializers.UUIDField(source="organization.id")
    period = serializers.DateField()
    currency = serializers.CharField()
    total = serializers.DecimalField(max_digits=20, decimal_places=6)
    rows = RollupRowSerializer(many=True)


class BudgetSerializer(serializers.ModelSerializer):
    thresholds = serializers.ListField(child=serializers.IntegerField())

    class Meta:
        model = Budget
        fields = ["id", "organization", "project", "name", "amount", "thresholds", "created_at"]


class BudgetCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    project = serializers.UUIDField(required=False, allow_null=True)
    name = serializers.CharField(max_length=128)
    amount = serializers.DecimalField(max_digits=20, decimal_places=2)
    thresholds = serializers.ListField(child=serializers.IntegerField(), required=False)


class BudgetCrossingSerializer(serializers.ModelSerializer):
    budget_name = serializers.CharField(source="budget.name", read_only=True)

    class Meta:
        model = BudgetCrossing
        fields = ["id", "budget", "budget_name", "period", "threshold", "basis", "spend", "crossed_at"]


class CostRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The group's value: a service, a name, or a date for day and month.")
    amount = serializers.DecimalField(max_digits=20, decimal_places=2)


class CostSummarySerializer(serializers.Serializer):
    month = serializers.CharField()
    currency = serializers.CharField()
    month_to_date = serializers.DecimalField(max_digits=20, decimal_places=2)
    forecast = serializers.DecimalField(max_digits=20, decimal_places=2)
    last_month = serializers.DecimalField(max_digits=20, decimal_places=2)
    elapsed = serializers.DecimalField(max_digits=6, decimal_places=4,
                                       help_text="The share of this month that has passed (0 to 1).")


class ProfileSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    time_zone = serializers.CharField(max_length=64)


def tiers_in(data: dict[str, Any]) -> dict[str, Any]:
    """Write data with tiers as the plain strings the rule stores."""
    if "tiers" in data:
        data["tiers"] = [{"up_to": None if t["up_to"] is None else str(t["up_to"]), "unit_price": str(t["unit_price"])}
                         for t in data["tiers"]]
    return data
